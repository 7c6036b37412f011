import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Config } from '../config/config.js';
import type { GitLabClient } from '../gitlab/client.js';
import { GitLabError } from '../gitlab/errors.js';
import { path } from '../gitlab/path.js';
import {
  type CheckId,
  type CheckResult,
  errorCodeOf,
  fail,
  networkProblem,
  ok,
  skipAll,
  skipped,
  warn,
} from './check.js';
import type { Blocked } from './gitlab-checks.js';

/** Where GitLab sends users back after sign-in, below `PUBLIC_URL`. */
export const CALLBACK_PATH = '/oauth/callback';

/** The scopes the portal asks for at sign-in, and the only ones its application needs. */
const SIGN_IN_SCOPES = ['openid', 'profile', 'email'] as const;

const APPLICATION_IDS: readonly CheckId[] = [
  'oauth.application',
  'oauth.redirect_uri',
  'oauth.scopes',
  'oauth.confidential',
];

const discoverySchema = z.object({
  issuer: z.string(),
  authorization_endpoint: z.string().optional(),
  token_endpoint: z.string().optional(),
  jwks_uri: z.string().optional(),
  scopes_supported: z.array(z.string()).optional(),
  code_challenge_methods_supported: z.array(z.string()).optional(),
});

/** `lib/api/entities/application.rb`; `confidential` and `scopes` are not shown by every GitLab version. */
const applicationSchema = z.object({
  id: z.number().int(),
  application_id: z.string(),
  application_name: z.string(),
  callback_url: z.string(),
  confidential: z.boolean().optional(),
  scopes: z
    .union([z.array(z.string()), z.string().transform((s) => s.split(/\s+/).filter(Boolean))])
    .optional(),
});

type Application = z.output<typeof applicationSchema>;

const tokenErrorSchema = z.object({ error: z.string().regex(/^[a-z_]{1,64}$/) });

export interface OAuthInput {
  gitlab: Config['gitlab'];
  publicUrl: string;
  reachable: boolean;
  admin: GitLabClient | undefined;
  adminUnavailable: string;
  blocked: Blocked;
}

interface HttpAnswer {
  status: number;
  json: unknown;
}

/**
 * A request to GitLab's OAuth endpoints: never the admin token, never a redirect followed (the client
 * secret must reach GitLab only), at most `timeoutMs`.
 */
async function request(url: string, init: RequestInit, timeoutMs: number): Promise<HttpAnswer> {
  const res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json };
}

function requestFailure(id: CheckId, what: string, err: unknown, timeoutMs: number): CheckResult {
  if (err instanceof Error && err.name === 'TimeoutError') {
    return fail(
      id,
      `${what} did not answer within ${timeoutMs} ms`,
      'Check that this machine can reach GitLab; if GitLab is just slow, raise GITLAB_TIMEOUT_MS.',
    );
  }
  const { detail, fix } = networkProblem(what, errorCodeOf(err));
  return fail(id, detail, fix);
}

const ADDRESS_FIX =
  "GITLAB_URL must be GitLab's own address (its external_url), including any relative URL root; a reverse proxy in front of GitLab must pass /.well-known/ and /oauth/ through unchanged.";

/** The sign-in provider as openid-client will see it (gitlab.md §9.6). */
async function checkDiscovery(gitlab: Config['gitlab']): Promise<CheckResult> {
  const where = `${gitlab.url}/.well-known/openid-configuration`;
  let answer: HttpAnswer;
  try {
    answer = await request(where, { headers: { accept: 'application/json' } }, gitlab.timeoutMs);
  } catch (err) {
    return requestFailure('oauth.discovery', where, err, gitlab.timeoutMs);
  }
  if (answer.status !== 200) {
    const redirect = answer.status >= 300 && answer.status < 400;
    return fail(
      'oauth.discovery',
      `${where} ${redirect ? 'redirects' : 'answered'} (HTTP ${answer.status})`,
      ADDRESS_FIX,
    );
  }
  const parsed = discoverySchema.safeParse(answer.json);
  if (!parsed.success) return fail('oauth.discovery', `${where} is not an OpenID configuration`, ADDRESS_FIX);
  const doc = parsed.data;

  const problems: string[] = [];
  const fixes: string[] = [];
  if (doc.issuer !== gitlab.url) {
    problems.push(`GitLab's issuer is ${doc.issuer}, but GITLAB_URL is ${gitlab.url}`);
    fixes.push(
      `Set GITLAB_URL=${doc.issuer} exactly (sign-in refuses an issuer that differs), or, if the issuer is wrong, correct external_url in GitLab's configuration (gitlab.rb) and reconfigure GitLab.`,
    );
  }
  const endpoints = (['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const).filter(
    (key) => !doc[key],
  );
  if (endpoints.length > 0) {
    problems.push(`it lacks ${endpoints.join(', ')}`);
    fixes.push("Check that no proxy rewrites GitLab's /.well-known/openid-configuration.");
  }
  if (!doc.code_challenge_methods_supported?.includes('S256')) {
    problems.push('it does not offer PKCE with S256');
    fixes.push('Upgrade GitLab: the portal signs in only with PKCE (S256).');
  }
  const missingScopes = SIGN_IN_SCOPES.filter(
    (s) => doc.scopes_supported && !doc.scopes_supported.includes(s),
  );
  if (missingScopes.length > 0) {
    problems.push(`it does not offer the scopes ${missingScopes.join(' ')}`);
    fixes.push("Check that GitLab's OpenID Connect provider is enabled.");
  }
  if (problems.length > 0) return fail('oauth.discovery', problems.join('; '), fixes.join('\n'));
  return ok('oauth.discovery', `issuer ${doc.issuer}; PKCE S256; scopes ${SIGN_IN_SCOPES.join(' ')}`);
}

type ClientVerdict = { accepted: boolean } | { result: CheckResult };

/**
 * Asks the token endpoint to redeem a random code that was never issued, authenticating as the
 * portal (HTTP Basic). Doorkeeper checks the client before the code, so `invalid_grant` means the
 * client id and secret are right and `invalid_client` that they are wrong; nothing can be granted.
 */
async function probeClient(input: OAuthInput, redirectUri: string): Promise<ClientVerdict> {
  const { gitlab } = input;
  const where = `${gitlab.url}/oauth/token`;
  const basic = Buffer.from(`${gitlab.clientId}:${gitlab.clientSecret}`).toString('base64');
  let answer: HttpAnswer;
  try {
    answer = await request(
      where,
      {
        method: 'POST',
        headers: {
          authorization: `Basic ${basic}`,
          accept: 'application/json',
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: randomBytes(32).toString('hex'),
          redirect_uri: redirectUri,
        }).toString(),
      },
      gitlab.timeoutMs,
    );
  } catch (err) {
    return { result: requestFailure('oauth.client', where, err, gitlab.timeoutMs) };
  }
  const error = tokenErrorSchema.safeParse(answer.json);
  if (error.success && error.data.error === 'invalid_grant') return { accepted: true };
  if (error.success && error.data.error === 'invalid_client') return { accepted: false };
  const said = error.success ? `error ${error.data.error}` : 'no OAuth error';
  return {
    result: fail('oauth.client', `${where} answered HTTP ${answer.status} with ${said}`, ADDRESS_FIX),
  };
}

function clientResult(verdict: ClientVerdict, app: Application | undefined, listed: boolean): CheckResult {
  if ('result' in verdict) return verdict.result;
  if (verdict.accepted) {
    return ok(
      'oauth.client',
      'GitLab accepts GITLAB_CLIENT_ID and GITLAB_CLIENT_SECRET (checked with an unusable code)',
    );
  }
  if (app) {
    return fail(
      'oauth.client',
      `GITLAB_CLIENT_ID names the application “${app.application_name}”, but GitLab rejects GITLAB_CLIENT_SECRET`,
      `Copy the Secret again from Admin area > Applications > ${app.application_name} (if it is no longer shown, use Renew secret), put it in GITLAB_CLIENT_SECRET (or its file) and restart the portal.`,
    );
  }
  return fail(
    'oauth.client',
    listed
      ? 'GitLab rejects the client credentials: no instance-wide application has GITLAB_CLIENT_ID, or GITLAB_CLIENT_SECRET is wrong'
      : 'GitLab rejects GITLAB_CLIENT_ID or GITLAB_CLIENT_SECRET',
    "Copy the Application ID and the Secret of the portal's application (Admin area > Applications) into GITLAB_CLIENT_ID and GITLAB_CLIENT_SECRET, and restart the portal.",
  );
}

function editApp(app: Application): string {
  return `Admin area > Applications > ${app.application_name} > Edit`;
}

function redirectResult(app: Application, expected: string): CheckResult {
  const registered = app.callback_url.split(/\s+/).filter(Boolean);
  if (registered.includes(expected)) return ok('oauth.redirect_uri', expected);
  const shown = registered.length > 0 ? registered.join(', ') : 'none';
  return fail(
    'oauth.redirect_uri',
    `GitLab has ${shown}, but the portal sends ${expected} (PUBLIC_URL + ${CALLBACK_PATH})`,
    `In GitLab, ${editApp(app)}: set the Callback URL to ${expected} (one URL per line). If the registered URL is the right one, change PUBLIC_URL instead.`,
  );
}

function scopesResult(app: Application): CheckResult {
  const wanted = SIGN_IN_SCOPES.join(' ');
  if (app.scopes === undefined) {
    return skipped(
      'oauth.scopes',
      `GitLab's API does not show an application's scopes; check in ${editApp(app)} that exactly ${wanted} are ticked`,
    );
  }
  const missing = SIGN_IN_SCOPES.filter((s) => !app.scopes?.includes(s));
  const extra = app.scopes.filter((s) => !(SIGN_IN_SCOPES as readonly string[]).includes(s));
  const fix = `In GitLab, ${editApp(app)}: tick exactly ${wanted}.`;
  if (missing.length > 0) return fail('oauth.scopes', `the application lacks ${missing.join(' ')}`, fix);
  if (extra.length > 0) {
    return warn(
      'oauth.scopes',
      `the application also allows ${extra.join(' ')}, which sign-in does not need`,
      `${fix} Every extra scope widens what a stolen sign-in token could do in GitLab.`,
    );
  }
  return ok('oauth.scopes', wanted);
}

function confidentialResult(app: Application): CheckResult {
  if (app.confidential === undefined) {
    return skipped(
      'oauth.confidential',
      `GitLab's API does not show it; check that Confidential is ticked in ${editApp(app)}`,
    );
  }
  if (app.confidential) return ok('oauth.confidential', 'yes: GitLab requires the client secret');
  return fail(
    'oauth.confidential',
    'no: GitLab accepts the client id without the secret',
    `In GitLab, ${editApp(app)}: tick Confidential. The portal keeps the secret on the server, so only it can redeem sign-in codes.`,
  );
}

async function findApplication(
  admin: GitLabClient,
  clientId: string,
): Promise<{ app: Application | undefined } | { error: GitLabError }> {
  try {
    const apps = await admin.list(path`applications`, {}, applicationSchema);
    return { app: apps.find((a) => a.application_id === clientId) };
  } catch (err) {
    if (err instanceof GitLabError) return { error: err };
    throw err;
  }
}

/** Check 4: the portal's OAuth application, as GitLab's sign-in and admin API show it. */
export async function checkOAuth(input: OAuthInput): Promise<CheckResult[]> {
  const { gitlab, blocked } = input;
  if (!input.reachable) {
    return skipAll(
      ['oauth.discovery', 'oauth.client', ...APPLICATION_IDS],
      'needs a reachable GitLab (see GitLab)',
    );
  }
  const results = [await checkDiscovery(gitlab)];

  let app: Application | undefined;
  let listed = false;
  const appProblem = blocked('oauth.application');
  if (appProblem !== undefined || !input.admin) {
    results.push(...skipAll(APPLICATION_IDS, appProblem ?? input.adminUnavailable));
  } else {
    const found = await findApplication(input.admin, gitlab.clientId);
    if ('error' in found) {
      results.push(
        fail(
          'oauth.application',
          `listing the applications failed: ${found.error.message}`,
          'Run the doctor again.',
        ),
        ...skipAll(APPLICATION_IDS.slice(1), 'needs the applications list'),
      );
    } else if (!found.app) {
      listed = true;
      results.push(
        skipped(
          'oauth.application',
          `no instance-wide application has the Application ID ${gitlab.clientId}; one owned by a user or group is not in the admin list, so check its callback URL, scopes and Confidential flag where it was created`,
        ),
        ...skipAll(APPLICATION_IDS.slice(1), 'the application is not in the admin list'),
      );
    } else {
      listed = true;
      app = found.app;
      const redirectProblem = blocked('oauth.redirect_uri');
      results.push(
        ok('oauth.application', `“${app.application_name}” (Application ID ${app.application_id})`),
        redirectProblem === undefined
          ? redirectResult(app, `${input.publicUrl}${CALLBACK_PATH}`)
          : skipped('oauth.redirect_uri', redirectProblem),
        scopesResult(app),
        confidentialResult(app),
      );
    }
  }

  const clientProblem = blocked('oauth.client');
  if (clientProblem !== undefined) {
    results.push(skipped('oauth.client', clientProblem));
  } else {
    const verdict = await probeClient(input, `${input.publicUrl}${CALLBACK_PATH}`);
    results.push(clientResult(verdict, app, listed));
  }
  return results;
}
