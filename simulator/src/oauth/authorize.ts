import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SimContext } from '../context.js';
import { requestParams } from '../http/app.js';
import { hexToken } from '../model/secrets.js';
import type { OAuthApplication, OAuthGrant, User } from '../model/types.js';
import {
  formFields,
  hiddenField,
  html,
  page,
  redirect,
  SafeHtml,
  sendCsrfRejected,
  sendHtml,
} from '../web/html.js';
import { type BrowserSession, csrfValid, ensureSession } from '../web/session.js';
import {
  blank,
  defaultScopesFor,
  OAuthError,
  OOB_URI,
  parseScopes,
  redirectUriAllowed,
  SERVER_SCOPES,
  scopesValid,
  sendJsonUtf8,
  str,
  uriWithFragment,
  uriWithQuery,
} from './doorkeeper.js';

/**
 * `/oauth/authorize`: GitLab's `Oauth::AuthorizationsController` on top of doorkeeper's
 * `AuthorizationsController` and `OAuth::PreAuthorization` (GET = consent page, POST = approve,
 * DELETE = deny), plus doorkeeper-openid_connect's `nonce`.
 */

/** Doorkeeper's default `authorization_code_expires_in` (10 minutes). */
export const AUTHORIZATION_CODE_EXPIRES_IN = 600;

type ResponseMode = 'query' | 'fragment' | 'form_post';

interface PreAuthorization {
  app: OAuthApplication;
  redirectUri: string;
  responseType: string;
  responseMode: ResponseMode;
  /** The scope string as requested or defaulted. */
  scope: string;
  scopes: string[];
  state: string | undefined;
  codeChallenge: string | undefined;
  codeChallengeMethod: 'plain' | 'S256' | undefined;
  nonce: string | undefined;
}

type PreAuthResult =
  | { ok: true; pre: PreAuthorization }
  | {
      ok: false;
      error: OAuthError;
      /** Set once the redirect URI was validated (the error may then go back to the client). */
      redirectUri?: string;
      responseMode: ResponseMode;
      state: string | undefined;
    };

/**
 * `PreAuthorization` validations, in doorkeeper 5.9's order: client_id present → client exists →
 * redirect_uri valid for the client → response_type present → response_type supported →
 * response_mode → scopes → code_challenge_method (explicit `plain`/`S256` whenever a challenge is given).
 */
function preAuthorize(sim: SimContext, params: Record<string, unknown>): PreAuthResult {
  const state = str(params.state);
  const responseType = str(params.response_type);
  const modeParam = str(params.response_mode);
  let responseMode: ResponseMode = 'query';
  const fail = (error: OAuthError, redirectUri?: string): PreAuthResult => ({
    ok: false,
    error,
    redirectUri,
    responseMode,
    state,
  });

  const clientId = str(params.client_id);
  if (blank(clientId)) return fail(new OAuthError('invalid_request', 'client_id'));
  const app = sim.store.applicationsByUid.get(clientId);
  if (!app) return fail(new OAuthError('invalid_client'));
  const redirectUri = str(params.redirect_uri);
  if (blank(redirectUri) || !redirectUriAllowed(redirectUri, app.redirectUris)) {
    return fail(new OAuthError('invalid_redirect_uri'));
  }
  if (blank(responseType)) return fail(new OAuthError('invalid_request', 'response_type'), redirectUri);
  if (responseType !== 'code') return fail(new OAuthError('unsupported_response_type'), redirectUri);
  if (!blank(modeParam)) {
    if (modeParam !== 'query' && modeParam !== 'fragment' && modeParam !== 'form_post') {
      return fail(new OAuthError('unsupported_response_mode'), redirectUri);
    }
    responseMode = modeParam;
  }
  const requested = str(params.scope);
  const scope = blank(requested) ? defaultScopesFor(app).join(' ') : requested;
  if (!scopesValid(scope, SERVER_SCOPES, app.scopes))
    return fail(new OAuthError('invalid_scope'), redirectUri);
  const codeChallenge = str(params.code_challenge);
  const method = str(params.code_challenge_method);
  if (!blank(codeChallenge) && method !== 'plain' && method !== 'S256') {
    return fail(new OAuthError('invalid_code_challenge_method'), redirectUri);
  }
  return {
    ok: true,
    pre: {
      app,
      redirectUri,
      responseType,
      responseMode,
      scope,
      scopes: parseScopes(scope),
      state,
      codeChallenge: blank(codeChallenge) ? undefined : codeChallenge,
      codeChallengeMethod: blank(codeChallenge) ? undefined : (method as 'plain' | 'S256'),
      nonce: str(params.nonce),
    },
  };
}

/**
 * GitLab's `downgrade_scopes!` for `gl_auth_type=login` ("Sign in with GitLab"): an application that
 * has `api` but not `read_user` is given `read_user` (saved), and the request is narrowed to `read_user`.
 */
function downgradeScopes(sim: SimContext, params: Record<string, unknown>): Record<string, unknown> {
  const { gl_auth_type: authType, ...rest } = params;
  if (authType !== 'login') return rest;
  const clientId = str(params.client_id);
  const app = clientId ? sim.store.applicationsByUid.get(clientId) : undefined;
  if (!app) return rest;
  if (!app.scopes.includes('read_user') && app.scopes.includes('api'))
    app.scopes = [...app.scopes, 'read_user'];
  if (app.scopes.includes('read_user')) rest.scope = 'read_user';
  return rest;
}

/** `Authorization::Code#issue_token!`: a single-use code, valid for 10 minutes. */
function issueGrant(sim: SimContext, pre: PreAuthorization, user: User): OAuthGrant {
  const grant: OAuthGrant = {
    code: hexToken(32),
    applicationId: pre.app.id,
    userId: user.id,
    redirectUri: pre.redirectUri,
    scopes: pre.scopes,
    createdAt: sim.clock.nowMs(),
    expiresIn: AUTHORIZATION_CODE_EXPIRES_IN,
    codeChallenge: pre.codeChallenge ?? null,
    codeChallengeMethod: pre.codeChallengeMethod ?? null,
    nonce: blank(pre.nonce) ? null : pre.nonce,
    revoked: false,
  };
  sim.store.grants.set(grant.code, grant);
  return grant;
}

/**
 * Doorkeeper's `matching_token?`: an active (unrevoked, unexpired) token of this user for this
 * application with exactly the requested scopes.
 */
function matchingToken(sim: SimContext, pre: PreAuthorization, user: User): boolean {
  const wanted = [...pre.scopes].sort().join(' ');
  for (const token of sim.store.accessTokens.values()) {
    if (token.applicationId !== pre.app.id || token.userId !== user.id) continue;
    if (token.revokedAt !== null || sim.store.accessTokenExpired(token)) continue;
    if ([...token.scopes].sort().join(' ') === wanted) return true;
  }
  return false;
}

/** Where the browser goes with the response parameters (`CodeResponse` / `ErrorResponse#redirect_uri`). */
function responseLocation(
  sim: SimContext,
  redirectUri: string,
  mode: ResponseMode,
  params: Record<string, string | undefined>,
): string {
  if (redirectUri === OOB_URI) return `${sim.store.baseUrl}/oauth/authorize/native?code=${params.code ?? ''}`;
  return mode === 'fragment' ? uriWithFragment(redirectUri, params) : uriWithQuery(redirectUri, params);
}

/** doorkeeper's `form_post` page: the browser posts the parameters to the client. */
function formPostPage(redirectUri: string, params: Record<string, string | undefined>): string {
  return page({
    title: 'Submit This Form',
    head: html`<script>window.addEventListener('load',function(){document.forms[0].submit()})</script>`,
    body: html`<form method="post" action="${redirectUri}">${Object.entries(params)
      .filter(([, v]) => v)
      .map(([k, v]) =>
        hiddenField(k, v),
      )}<noscript><button class="btn btn-confirm" type="submit">Continue</button></noscript></form>`,
  });
}

/** `redirect_or_render`: a 302 to the client (or the form_post page). */
function redirectOrRender(
  sim: SimContext,
  reply: FastifyReply,
  redirectUri: string,
  mode: ResponseMode,
  params: Record<string, string | undefined>,
) {
  if (mode === 'form_post' && redirectUri !== OOB_URI) {
    return sendHtml(reply, 200, formPostPage(redirectUri, params));
  }
  return redirect(reply, sim.store.baseUrl, responseLocation(sim, redirectUri, mode, params));
}

function pageUser(user: User | undefined) {
  return user ? { name: user.name, username: user.username } : null;
}

/** `doorkeeper/authorizations/error`, rendered without an explicit status. */
function errorPage(reply: FastifyReply, error: OAuthError, user: User | undefined) {
  return sendHtml(
    reply,
    200,
    page({
      title: 'An error has occurred',
      user: pageUser(user),
      body: html`<div class="card"><h1>An error has occurred</h1><main role="main"><pre>${error.description}</pre></main></div>`,
    }),
  );
}

/** Titles and descriptions of the scopes shown on the consent page (`config/locales/doorkeeper.en.yml`). */
const SCOPE_TEXT: Record<string, [string, string]> = {
  api: [
    "Access the authenticated user's API",
    'Grants complete read/write access to the API, including all groups and projects, the container registry, the dependency proxy, and the package registry.',
  ],
  read_api: [
    "Read the authenticated user's API",
    'Grants read access to the API, including all groups and projects, the container registry, and the package registry.',
  ],
  read_user: [
    "Read the authenticated user's personal information",
    'Grants read-only access to your profile through the /user API endpoint, which includes username, public email, and full name. Also grants access to read-only API endpoints under /users.',
  ],
  read_repository: [
    'Allows read-only access to the repository',
    'Grants read-only access to repositories on private projects using Git-over-HTTP or the Repository Files API.',
  ],
  write_repository: [
    'Allows read-write access to the repository',
    'Grants read-write access to repositories on private projects using Git-over-HTTP (not using the API).',
  ],
  sudo: [
    'Perform API actions as any user in the system',
    'Grants permission to perform API actions as any user in the system, when authenticated as an admin user.',
  ],
  admin_mode: [
    'Admin Mode is a functionality for administrators to limit their access',
    'Grants permission to perform API actions as an administrator, when Admin Mode is enabled.',
  ],
  openid: [
    'Authenticate using OpenID Connect',
    "Grants permission to authenticate with GitLab using OpenID Connect. Also gives read-only access to the user's profile and group memberships.",
  ],
  profile: [
    "Allows read-only access to the user's personal information using OpenID Connect",
    "Grants read-only access to the user's profile data using OpenID Connect.",
  ],
  email: [
    "Allows read-only access to the user's primary email address using OpenID Connect",
    "Grants read-only access to the user's primary email address using OpenID Connect.",
  ],
};

/**
 * The hidden fields both consent forms carry (GitLab's `doorkeeper/authorizations/new.html.haml`).
 * GitLab's form has no `response_mode`, so an approval on this page always answers in the query.
 */
function preAuthFields(pre: PreAuthorization): SafeHtml {
  return html`${hiddenField('client_id', pre.app.uid)}${hiddenField('redirect_uri', pre.redirectUri)}${hiddenField(
    'state',
    pre.state,
  )}${hiddenField('response_type', pre.responseType)}${hiddenField(
    'scope',
    pre.scope,
  )}${hiddenField('nonce', pre.nonce)}${hiddenField('code_challenge', pre.codeChallenge)}${hiddenField(
    'code_challenge_method',
    pre.codeChallengeMethod,
  )}`;
}

function redirectHost(uri: string): string | undefined {
  if (!/^https?:\/\//.test(uri)) return undefined;
  const host = new URL(uri).hostname.replace(/^www\./, '');
  return host === 'localhost' ? undefined : host;
}

/** `doorkeeper/authorizations/new`: who asks for what, with Authorize and Cancel. */
function consentPage(pre: PreAuthorization, user: User, session: BrowserSession): string {
  const host = redirectHost(pre.redirectUri);
  const scopes = pre.scopes.map((s) => {
    const [title, description] = SCOPE_TEXT[s] ?? [s, ''];
    return html`<li><strong>${title}</strong><span class="muted">${description}</span> <code>${s}</code></li>`;
  });
  return page({
    title: 'Authorize application',
    user: pageUser(user),
    body: html`<div class="card">
<h1><strong>${pre.app.name}</strong> is requesting access to your account on GitLab.</h1>
<p><strong>${user.name}</strong> · <span class="muted">@${user.username}</span></p>
${
  user.admin
    ? html`<div class="warning">You are an administrator, which means authorizing access to <strong>${pre.app.name}</strong> will allow it to interact with GitLab as an administrator as well.</div>`
    : ''
}
<ul class="scopes">${scopes}</ul>
<div class="warning">Make sure you trust <strong>${pre.app.name}</strong> before authorizing.${
      host ? html` You will be redirected to <strong>${host}</strong> after authorizing.` : ''
    }</div>
<div class="actions">
<form method="post" action="/oauth/authorize">${formFields(session.data.csrfToken)}${preAuthFields(pre)}<button class="btn btn-confirm" type="submit" data-testid="authorization-button">Authorize ${pre.app.name}</button></form>
<form method="post" action="/oauth/authorize">${formFields(session.data.csrfToken, 'delete')}${preAuthFields(pre)}<button class="btn" type="submit">Cancel</button></form>
</div>
</div>`,
  });
}

/** `doorkeeper/authorizations/redirect` (GitLab): shown when the request is approved without asking. */
function redirectPage(location: string, user: User): string {
  return page({
    title: 'Redirecting',
    user: pageUser(user),
    head: html`<meta http-equiv="refresh" content="0; url=${location}">`,
    body: html`<h3 class="page-title">Redirecting</h3>
<div><a href="${location}">Click here to redirect to ${location}</a></div>
<script>window.location = ${new SafeHtml(JSON.stringify(location).replaceAll('<', '\\u003c'))};</script>`,
  });
}

/**
 * Doorkeeper's `authenticate_resource_owner!` with GitLab's authenticator: anonymous visitors are
 * sent to sign in, and come back here afterwards.
 */
function requireSignedIn(
  sim: SimContext,
  req: FastifyRequest,
  reply: FastifyReply,
): { session: BrowserSession; user: User } | undefined {
  const session = ensureSession(sim, req, reply);
  if (session.user) return { session, user: session.user };
  session.data.returnTo = req.url;
  redirect(reply, sim.store.baseUrl, '/users/sign_in');
  return undefined;
}

async function showConsent(sim: SimContext, req: FastifyRequest, reply: FastifyReply) {
  const signedIn = requireSignedIn(sim, req, reply);
  if (!signedIn) return reply;
  const { session, user } = signedIn;
  const params = downgradeScopes(sim, requestParams(req));
  if (user.confirmedAt === null) return errorPage(reply, new OAuthError('unconfirmed_email'), user);
  const result = preAuthorize(sim, params);
  // GitLab never sends the browser back to the client for a pre-authorization error on GET.
  if (!result.ok) return errorPage(reply, result.error, user);
  const { pre } = result;
  if (pre.app.trusted || (pre.app.confidential && matchingToken(sim, pre, user))) {
    const grant = issueGrant(sim, pre, user);
    const params = { code: grant.code, state: pre.state };
    if (pre.responseMode === 'form_post') return sendHtml(reply, 200, formPostPage(pre.redirectUri, params));
    return sendHtml(
      reply,
      200,
      redirectPage(responseLocation(sim, pre.redirectUri, pre.responseMode, params), user),
    );
  }
  return sendHtml(reply, 200, consentPage(pre, user, session));
}

/** `create` (approve) and `destroy` (deny): POST and DELETE, with Rails' `_method` override. */
async function decide(sim: SimContext, req: FastifyRequest, reply: FastifyReply, approve: boolean) {
  const params = requestParams(req);
  const signedIn = requireSignedIn(sim, req, reply);
  if (!signedIn) return reply;
  const { session, user } = signedIn;
  if (!csrfValid(session, params)) return sendCsrfRejected(reply);
  if (user.confirmedAt === null) return errorPage(reply, new OAuthError('unconfirmed_email'), user);
  const result = preAuthorize(sim, params);
  if (!result.ok) {
    const { error, redirectUri, responseMode, state } = result;
    if (redirectUri && error.redirectable) {
      return redirectOrRender(sim, reply, redirectUri, responseMode, error.body(state));
    }
    return sendJsonUtf8(reply, error.status, error.body(state));
  }
  const { pre } = result;
  if (!approve) {
    const denied = new OAuthError('access_denied');
    return redirectOrRender(sim, reply, pre.redirectUri, pre.responseMode, denied.body(pre.state));
  }
  const grant = issueGrant(sim, pre, user);
  return redirectOrRender(sim, reply, pre.redirectUri, pre.responseMode, {
    code: grant.code,
    state: pre.state,
  });
}

/** `doorkeeper/authorizations/show`: the code for `urn:ietf:wg:oauth:2.0:oob` clients. */
async function showNativeCode(sim: SimContext, req: FastifyRequest, reply: FastifyReply) {
  const signedIn = requireSignedIn(sim, req, reply);
  if (!signedIn) return reply;
  const code = str(requestParams(req).code) ?? '';
  return sendHtml(
    reply,
    200,
    page({
      title: 'Authorization code',
      user: pageUser(signedIn.user),
      body: html`<div class="card"><h1>Authorization code:</h1><pre><code id="authorization_code">${code}</code></pre></div>`,
    }),
  );
}

export function registerAuthorizeRoutes(app: FastifyInstance, sim: SimContext): void {
  app.get('/oauth/authorize', (req, reply) => showConsent(sim, req, reply));
  app.post('/oauth/authorize', (req, reply) => {
    const method = str(requestParams(req)._method)?.toLowerCase();
    return decide(sim, req, reply, method !== 'delete');
  });
  app.delete('/oauth/authorize', (req, reply) => decide(sim, req, reply, false));
  app.get('/oauth/authorize/native', (req, reply) => showNativeCode(sim, req, reply));
}
