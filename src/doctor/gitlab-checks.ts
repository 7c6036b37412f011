import type { Clock } from '../clock.js';
import type { Config } from '../config/config.js';
import { GitLabClient } from '../gitlab/client.js';
import { GitLabError } from '../gitlab/errors.js';
import { GitLabTransport } from '../gitlab/transport.js';
import type { GitLabTokenInfo, GitLabVersion } from '../gitlab/types.js';
import { isLoopbackHost } from '../net.js';
import { type CheckId, type CheckResult, fail, networkProblem, ok, skipAll, skipped, warn } from './check.js';

/**
 * The oldest GitLab the portal supports. From 16.0 every personal access token has an expiry date, so
 * the admin token's rotation can be planned and checked (security.md F2); the `admin_mode` token scope
 * (15.8) and `GET /personal_access_tokens/self` (15.5) exist in every supported version; 15.x and older
 * no longer receive security fixes.
 */
export const MINIMUM_GITLAB_VERSION = { major: 16, minor: 0 } as const;
const MINIMUM = `${MINIMUM_GITLAB_VERSION.major}.${MINIMUM_GITLAB_VERSION.minor}`;

const DAY_MS = 86_400_000;

/** Below these numbers of days left, the token's expiry is a failure / a warning. */
export const TOKEN_EXPIRY_FAIL_DAYS = 7;
export const TOKEN_EXPIRY_WARN_DAYS = 30;

const GITLAB_IDS: readonly CheckId[] = [
  'gitlab.reachable',
  'gitlab.version',
  'token.active',
  'token.scopes',
  'token.expiry',
  'token.admin',
];

export type Blocked = (id: CheckId) => string | undefined;

export interface GitLabOutcome {
  results: CheckResult[];
  /** GitLab answered at GITLAB_URL: the OAuth endpoints are worth asking. */
  reachable: boolean;
  /** A client whose token can make admin API calls (active, `api`, an administrator's). */
  admin: GitLabClient | undefined;
  /** Why `admin` is unset, for the checks that need it. */
  adminUnavailable: string;
}

const NEW_TOKEN_FIX =
  'As a GitLab administrator, create a personal access token (User settings > Access tokens) with the api scope (and admin_mode when Admin Mode is on), put it in GITLAB_ADMIN_TOKEN (or the file GITLAB_ADMIN_TOKEN_FILE names) and restart the portal.';

const ROTATE_FIX =
  'Rotate it before then: create a new token with the same scopes (or call POST /api/v4/personal_access_tokens/self/rotate with it), put it in GITLAB_ADMIN_TOKEN and restart the portal.';

/** One attempt per call: the doctor reports what GitLab does now; a retry would hide a flaky GitLab. */
function doctorClient(gitlab: Config['gitlab']): GitLabClient {
  const transport = new GitLabTransport({
    url: gitlab.url,
    token: gitlab.adminToken,
    timeoutMs: gitlab.timeoutMs,
    maxAttempts: 1,
    userAgent: 'gitlab-extern doctor',
  });
  return new GitLabClient(transport);
}

function reachableResult(url: string): CheckResult {
  if (new URL(url).protocol === 'http:' && !isLoopbackHost(new URL(url).hostname)) {
    return warn(
      'gitlab.reachable',
      `${url} answers, over plain http://`,
      "Use GitLab's https:// address in GITLAB_URL: over http:// the admin token and the OAuth client secret cross the network unencrypted.",
    );
  }
  return ok('gitlab.reachable', `${url} answers`);
}

/** Why GITLAB_URL does not lead to GitLab's API, and what to do. */
function unreachable(err: GitLabError, gitlab: Config['gitlab']): CheckResult {
  const api = `${gitlab.url}/api/v4`;
  const urlFix =
    'Set GITLAB_URL to the address of GitLab, including its relative URL root if it has one (e.g. https://example.com/gitlab).';
  const status = err.status;
  if (err.kind === 'unavailable' && status === undefined) {
    const { detail, fix } = networkProblem(gitlab.url, err.networkCode);
    return fail('gitlab.reachable', detail, fix);
  }
  if (err.kind === 'timeout') {
    return fail(
      'gitlab.reachable',
      `${gitlab.url} did not answer within ${gitlab.timeoutMs} ms`,
      'Check that this machine can reach GitLab (firewall, outgoing proxy); if GitLab is just slow, raise GITLAB_TIMEOUT_MS.',
    );
  }
  if (err.kind === 'malformed') {
    return fail(
      'gitlab.reachable',
      `${api}/version answered, but not with GitLab's JSON (a sign-in proxy or another web server?)`,
      `${urlFix} If a proxy in front of GitLab asks for a sign-in, let the portal's requests to /api/v4 through.`,
    );
  }
  if (err.kind === 'http' && status !== undefined && status >= 300 && status < 400) {
    return fail(
      'gitlab.reachable',
      `${api}/version redirects (HTTP ${status})`,
      "Set GITLAB_URL to GitLab's own address (its external_url: scheme, host and path exactly). The portal never follows redirects, so that the admin token cannot be sent anywhere else.",
    );
  }
  if (err.kind === 'http' && status === 404) {
    return fail('gitlab.reachable', `no GitLab API at ${api} (HTTP 404)`, urlFix);
  }
  return fail(
    'gitlab.reachable',
    `${api}/version failed: ${err.message}`,
    'GitLab or a proxy in front of it is failing; check its status (gitlab-ctl status) and logs, then run the doctor again.',
  );
}

function versionResult(v: GitLabVersion): CheckResult {
  const m = /^(\d+)\.(\d+)/.exec(v.version);
  if (!m) {
    return warn(
      'gitlab.version',
      `GitLab reports the version "${v.version}", which the doctor cannot read`,
      `Check that GITLAB_URL points to GitLab ${MINIMUM} or newer.`,
    );
  }
  const major = Number(m[1]);
  const minor = Number(m[2]);
  const { major: minMajor, minor: minMinor } = MINIMUM_GITLAB_VERSION;
  if (major < minMajor || (major === minMajor && minor < minMinor)) {
    return warn(
      'gitlab.version',
      `GitLab ${v.version} is older than ${MINIMUM}, the oldest version gitlab-extern supports`,
      `Upgrade GitLab to ${MINIMUM} or newer: older versions get no security fixes and let admin tokens live without an expiry date.`,
    );
  }
  return ok('gitlab.version', `GitLab ${v.version} (${MINIMUM} or newer is supported)`);
}

/** GitLab's `error_description`/`message` of a refused call, as the transport kept it (token removed). */
function saidBy(err: GitLabError): string {
  return typeof err.gitlabMessage === 'string' ? err.gitlabMessage : '';
}

function isInsufficientScope(err: unknown): boolean {
  return err instanceof GitLabError && err.status === 403 && saidBy(err).startsWith('insufficient_scope');
}

/** Why GitLab refused `GET /personal_access_tokens/self`. */
function refusedToken(err: unknown): CheckResult {
  if (!(err instanceof GitLabError)) throw err;
  const said = saidBy(err);
  if (err.status === 401) {
    if (/revoked/i.test(said))
      return fail('token.active', 'GitLab says the admin token was revoked', NEW_TOKEN_FIX);
    if (/expired/i.test(said)) return fail('token.active', 'the admin token has expired', NEW_TOKEN_FIX);
    return fail(
      'token.active',
      'GitLab does not know the admin token',
      `Check that GITLAB_ADMIN_TOKEN (or its file) holds the whole token, with no quotes or spaces. ${NEW_TOKEN_FIX}`,
    );
  }
  if (err.status === 403) {
    const reason = said.replace(/^403 Forbidden( - )?/, '') || 'no reason given';
    return fail(
      'token.active',
      `GitLab refuses the token's owner: ${reason}`,
      "Unblock or reactivate the token's owner (Admin area > Users), or use a token of another administrator.",
    );
  }
  if (err.status === 400) {
    return fail(
      'token.active',
      'GITLAB_ADMIN_TOKEN is not a personal access token',
      `Use a personal access token, not an OAuth or deploy token. ${NEW_TOKEN_FIX}`,
    );
  }
  return fail(
    'token.active',
    err.message,
    'Run the doctor again; if this persists, check GitLab and its logs.',
  );
}

function inDays(days: number): string {
  if (days <= 0) return 'within a day';
  return days === 1 ? 'in 1 day' : `in ${days} days`;
}

/**
 * Days until GitLab stops accepting a token whose `expires_at` is `date`: a personal access token
 * stops working at the start (00:00 UTC) of its expiry date.
 */
export function daysUntilExpiry(date: string, now: Date): number | undefined {
  const at = Date.parse(`${date}T00:00:00Z`);
  return Number.isNaN(at) ? undefined : Math.floor((at - now.getTime()) / DAY_MS);
}

function expiryResult(token: GitLabTokenInfo, now: Date): CheckResult {
  if (token.expiresAt === null) return ok('token.expiry', 'has no expiry date');
  const days = daysUntilExpiry(token.expiresAt, now);
  if (days === undefined) {
    return warn('token.expiry', `GitLab reports an unreadable expiry date "${token.expiresAt}"`, ROTATE_FIX);
  }
  const when = `expires on ${token.expiresAt} (${inDays(days)})`;
  if (days < TOKEN_EXPIRY_FAIL_DAYS) return fail('token.expiry', when, ROTATE_FIX);
  if (days < TOKEN_EXPIRY_WARN_DAYS) return warn('token.expiry', when, ROTATE_FIX);
  return ok('token.expiry', when);
}

function scopesResult(scopes: readonly string[]): CheckResult {
  const list = scopes.length > 0 ? scopes.join(', ') : 'no scopes';
  if (!scopes.includes('api')) {
    return fail(
      'token.scopes',
      `has ${list}, but not api`,
      `A token's scopes cannot be changed. ${NEW_TOKEN_FIX}`,
    );
  }
  if (scopes.includes('sudo')) {
    return warn(
      'token.scopes',
      `${list}: the portal does not need sudo`,
      'Replace the token with one without the sudo scope: the portal never acts as another user, so sudo only widens what a leaked token could do.',
    );
  }
  return ok('token.scopes', list);
}

/**
 * With Admin Mode on, GitLab treats a token without the `admin_mode` scope as a non-administrator's
 * everywhere, `GET /user` included (no `is_admin`), so for such a token "not an administrator" and
 * "Admin Mode is on" look the same through the API. A token that has the scope is judged on the user.
 */
function adminResult(username: string, isAdmin: boolean, scopes: readonly string[]): CheckResult {
  const who = `@${username}`;
  if (isAdmin) {
    return ok(
      'token.admin',
      scopes.includes('admin_mode')
        ? `${who} is an administrator; the token has the admin_mode scope`
        : `${who} is an administrator; Admin Mode is off, so the token needs no admin_mode scope (add it before turning Admin Mode on)`,
    );
  }
  const makeAdmin = `make ${who} one (Admin area > Users > ${who} > Edit > Access level: Administrator)`;
  if (scopes.includes('admin_mode')) {
    return fail(
      'token.admin',
      `${who} is not a GitLab administrator`,
      `Use a personal access token of a GitLab administrator, or ${makeAdmin}.`,
    );
  }
  return fail(
    'token.admin',
    `GitLab does not treat this token as an administrator's: ${who} is not an administrator, or Admin Mode is on and the token lacks the admin_mode scope`,
    `If ${who} is an administrator, Admin Mode is on: create a token with the api and admin_mode scopes, put it in GITLAB_ADMIN_TOKEN and restart the portal. Otherwise use a token of an administrator, or ${makeAdmin}.`,
  );
}

/** Checks 2 and 3: GitLab's reachability and version, then the admin token (security.md F2). */
export async function checkGitLab(
  gitlab: Config['gitlab'],
  clock: Clock,
  blocked: Blocked,
): Promise<GitLabOutcome> {
  const configProblem = blocked('gitlab.reachable');
  if (configProblem !== undefined) {
    return {
      results: skipAll(GITLAB_IDS, configProblem),
      reachable: false,
      admin: undefined,
      adminUnavailable: configProblem,
    };
  }
  const client = doctorClient(gitlab);
  const results: CheckResult[] = [];

  try {
    const version = await client.version();
    results.push(reachableResult(gitlab.url), versionResult(version));
  } catch (err) {
    if (!(err instanceof GitLabError)) throw err;
    if (err.kind !== 'http' || (err.status !== 401 && err.status !== 403)) {
      const notReachable = 'needs a reachable GitLab (see GitLab)';
      results.push(unreachable(err, gitlab), ...skipAll(GITLAB_IDS.slice(1), notReachable));
      return { results, reachable: false, admin: undefined, adminUnavailable: notReachable };
    }
    // GitLab answered, but refused the token (explained by the token check below).
    results.push(
      reachableResult(gitlab.url),
      skipped('gitlab.version', 'GitLab shows its version only to a token it accepts with the api scope'),
    );
  }

  let token: GitLabTokenInfo;
  try {
    token = await client.tokenSelf();
  } catch (err) {
    const refused = 'needs an admin token GitLab accepts (see Admin token)';
    results.push(refusedToken(err), ...skipAll(['token.scopes', 'token.expiry', 'token.admin'], refused));
    return { results, reachable: true, admin: undefined, adminUnavailable: refused };
  }
  if (!token.active) {
    const inactive = 'needs an active admin token (see Admin token)';
    results.push(
      fail(
        'token.active',
        `the token “${token.name}” is ${token.revoked ? 'revoked' : 'expired'}`,
        NEW_TOKEN_FIX,
      ),
      ...skipAll(['token.scopes', 'token.expiry', 'token.admin'], inactive),
    );
    return { results, reachable: true, admin: undefined, adminUnavailable: inactive };
  }
  results.push(
    ok('token.active', `“${token.name}” (id ${token.id}) is active`),
    scopesResult(token.scopes),
    expiryResult(token, clock.now()),
  );

  let isAdmin = false;
  try {
    const user = await client.currentUser();
    isAdmin = user.isAdmin;
    results.push(adminResult(user.username, user.isAdmin, token.scopes));
  } catch (err) {
    if (isInsufficientScope(err)) {
      results.push(skipped('token.admin', 'GitLab answers GET /user only to a token with the api scope'));
    } else if (err instanceof GitLabError) {
      results.push(fail('token.admin', err.message, 'Run the doctor again; if this persists, check GitLab.'));
    } else {
      throw err;
    }
  }

  if (isAdmin && token.scopes.includes('api')) {
    return { results, reachable: true, admin: client, adminUnavailable: '' };
  }
  return {
    results,
    reachable: true,
    admin: undefined,
    adminUnavailable: 'needs an administrator token with the api scope (see Admin token)',
  };
}
