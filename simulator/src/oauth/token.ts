import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SimContext } from '../context.js';
import { requestParams } from '../http/app.js';
import { sha256Base64Url, verifyPassword } from '../model/secrets.js';
import type { OAuthAccessToken, OAuthApplication, OAuthGrant, User } from '../model/types.js';
import {
  authenticateClient,
  blank,
  type ClientCredentials,
  clientCredentials,
  defaultScopesFor,
  doorkeeperToken,
  expiresInSeconds,
  JSON_UTF8,
  OAuthError,
  parseScopes,
  redirectUriAllowed,
  SERVER_SCOPES,
  scopesValid,
  sendInvalidToken,
  sendJsonUtf8,
  sendOAuthError,
  str,
  tokenAccessible,
} from './doorkeeper.js';
import { activeResourceOwner, idTokenClaims, RAILS_500, signIdToken } from './oidc.js';

/**
 * `POST /oauth/token` (`Oauth::TokensController` < doorkeeper `TokensController#create` and the
 * `AuthorizationCodeRequest`, `RefreshTokenRequest`, `PasswordAccessTokenRequest` and
 * `ClientCredentialsRequest` classes), `POST /oauth/revoke`, `POST /oauth/introspect` and
 * `GET /oauth/token/info` (`Oauth::TokenInfoController`).
 */

/**
 * A client-credentials token has no resource owner. User ids start at 1, so 0 never resolves to a
 * user: the API answers such a token with 401, as GitLab does.
 */
const NO_RESOURCE_OWNER = 0;

class TokenRequestError {
  constructor(
    readonly error: OAuthError,
    /** Errors raised from the strategy (missing `grant_type`/`code`, unknown grant type) echo `state`. */
    readonly echoState = false,
  ) {}
}

const fail = (name: OAuthError['name'], missingParam?: string, echoState = false) =>
  new TokenRequestError(new OAuthError(name, missingParam), echoState);

interface Issued {
  token: OAuthAccessToken;
  /** The ID token's `nonce` (authorization code and password grants), when `openid` was granted. */
  nonce: string | null;
}

interface TokenRequest {
  sim: SimContext;
  params: Record<string, unknown>;
  credentials: ClientCredentials | undefined;
  /** `server.client`: the authenticated application, if the credentials are good. */
  client: OAuthApplication | undefined;
}

function issue(sim: SimContext, userId: number, app: OAuthApplication | undefined, scopes: string[]) {
  return sim.store.issueAccessToken({ userId, applicationId: app?.id ?? null, scopes });
}

/** `AuthorizationCodeRequest`: validations in doorkeeper's order, then the code is used up. */
function authorizationCodeGrant({ sim, params, client }: TokenRequest): Issued {
  const code = str(params.code);
  if (blank(code)) throw fail('invalid_request', 'code', true);
  const grant = sim.store.grants.get(code);
  const redirectUri = str(params.redirect_uri);
  const verifier = str(params.code_verifier);
  if (grant?.codeChallenge && blank(verifier)) throw fail('invalid_request', 'code_verifier');
  if (blank(redirectUri)) throw fail('invalid_request', 'redirect_uri');
  if (!client) throw fail('invalid_client');
  if (!grant || grant.applicationId !== client.id || !grantAccessible(sim, grant))
    throw fail('invalid_grant');
  if (!redirectUriAllowed(redirectUri, [grant.redirectUri])) throw fail('invalid_grant');
  if (
    (grant.codeChallenge || verifier !== undefined) &&
    codeChallengeFor(verifier ?? '', grant) !== grant.codeChallenge
  ) {
    throw fail('invalid_grant');
  }
  grant.revoked = true;
  return { token: issue(sim, grant.userId, client, grant.scopes), nonce: grant.nonce };
}

function grantAccessible(sim: SimContext, grant: OAuthGrant): boolean {
  return !grant.revoked && sim.clock.nowMs() < grant.createdAt + grant.expiresIn * 1000;
}

/** `AccessGrant.generate_code_challenge`: S256 is base64url(sha256(verifier)), anything else is plain. */
function codeChallengeFor(verifier: string, grant: OAuthGrant): string {
  return grant.codeChallengeMethod === 'S256' ? sha256Base64Url(verifier) : verifier;
}

/**
 * `RefreshTokenRequest` in revoke-on-use mode (GitLab keeps `previous_refresh_token`): the old token
 * stays usable until the new one is first used.
 */
function refreshTokenGrant({ sim, params, credentials, client }: TokenRequest): Issued {
  const value = str(params.refresh_token);
  if (blank(value)) throw fail('invalid_request', 'refresh_token');
  const old = sim.store.accessTokensByRefresh.get(value);
  if (!old || old.revokedAt !== null) throw fail('invalid_grant');
  if (credentials && !client) throw fail('invalid_client');
  if (old.applicationId !== null && old.applicationId !== client?.id) throw fail('invalid_grant');
  const requested = str(params.scope) ?? str(params.scopes);
  if (!blank(requested) && !scopesValid(requested, old.scopes)) throw fail('invalid_scope');
  const token = sim.store.issueAccessToken({
    userId: old.userId,
    applicationId: old.applicationId,
    scopes: blank(requested) ? [...old.scopes] : parseScopes(requested),
    previousRefreshToken: old.refreshToken,
  });
  return { token, nonce: null };
}

/** GitLab's `resource_owner_from_credentials` (`config/initializers/doorkeeper.rb`). */
function resourceOwnerFromCredentials(sim: SimContext, params: Record<string, unknown>): User | undefined {
  const login = str(params.username);
  const password = str(params.password);
  if (blank(login)) return undefined;
  const user = sim.store.findUserByUsername(login) ?? sim.store.findUserByEmail(login);
  if (!user) return undefined;
  if (user.passwordAutomaticallySet) return undefined;
  if (user.twoFactorEnabled) return undefined;
  // `Gitlab::Auth.find_with_user_password`: credentials present, user active, password valid.
  if (blank(password) || user.state !== 'active') return undefined;
  return verifyPassword(password, user.passwordHash) ? user : undefined;
}

/** `PasswordAccessTokenRequest`, with GitLab's `validate_client` override for `ropc_without_client_credentials`. */
function passwordGrant({ sim, params, credentials, client }: TokenRequest): Issued {
  const clientOk = sim.settings.ropcWithoutClientCredentials
    ? client !== undefined || (blank(str(params.client_id)) && !credentials)
    : client !== undefined;
  if (!clientOk) throw fail('invalid_client');
  const user = resourceOwnerFromCredentials(sim, params);
  if (!user) throw fail('invalid_grant');
  const requested = str(params.scope);
  const scopes = blank(requested) ? defaultScopesFor(client) : parseScopes(requested);
  if (scopes.length > 0 && !scopesValid(scopes.join(' '), SERVER_SCOPES, client?.scopes))
    throw fail('invalid_scope');
  const nonce = str(params.nonce);
  return { token: issue(sim, user.id, client, scopes), nonce: blank(nonce) ? null : nonce };
}

/** `ClientCredentialsRequest`: an application token with no user and no refresh token. */
function clientCredentialsGrant({ sim, params, client }: TokenRequest): Issued {
  if (!client) throw fail('invalid_client');
  const requested = str(params.scope);
  const scopes = blank(requested) ? defaultScopesFor(client) : parseScopes(requested);
  const unscoped = scopes.length === 0 && client.scopes.length === 0;
  if (!unscoped && !scopesValid(scopes.join(' '), SERVER_SCOPES, client.scopes)) throw fail('invalid_scope');
  const token = issue(sim, NO_RESOURCE_OWNER, client, scopes);
  sim.store.accessTokensByRefresh.delete(token.refreshToken);
  token.refreshToken = '';
  return { token, nonce: null };
}

const GRANTS: Record<string, (r: TokenRequest) => Issued> = {
  authorization_code: authorizationCodeGrant,
  refresh_token: refreshTokenGrant,
  password: passwordGrant,
  client_credentials: clientCredentialsGrant,
};

/** `TokenResponse#body` (blank values dropped) plus doorkeeper-openid_connect's `id_token`. */
async function tokenBody(
  sim: SimContext,
  { token, nonce }: Issued,
): Promise<Record<string, unknown> | undefined> {
  const body: Record<string, unknown> = {
    access_token: token.token,
    token_type: 'Bearer',
    expires_in: expiresInSeconds(sim.store, token),
  };
  if (token.refreshToken) body.refresh_token = token.refreshToken;
  if (token.scopes.length > 0) body.scope = token.scopes.join(' ');
  body.created_at = Math.floor(token.createdAt / 1000);
  if (token.scopes.includes('openid') && token.userId !== NO_RESOURCE_OWNER) {
    const user = activeResourceOwner(sim.store, token);
    if (!user) return undefined;
    const app = token.applicationId === null ? undefined : sim.store.applications.get(token.applicationId);
    body.id_token = await signIdToken(sim, idTokenClaims(sim, token, app, user, nonce));
  }
  return body;
}

async function createToken(sim: SimContext, req: FastifyRequest, reply: FastifyReply) {
  const params = requestParams(req);
  const credentials = clientCredentials(req, params);
  const request: TokenRequest = {
    sim,
    params,
    credentials,
    client: authenticateClient(sim.store, credentials),
  };
  try {
    const grantType = str(params.grant_type);
    if (blank(grantType)) throw fail('invalid_request', 'grant_type', true);
    const grant = GRANTS[grantType];
    if (!grant) throw fail('unsupported_grant_type', undefined, true);
    const body = await tokenBody(sim, grant(request));
    if (!body) return reply.code(500).type('text/html; charset=utf-8').send(RAILS_500);
    return reply
      .code(200)
      .headers({ 'cache-control': 'no-store, no-cache', pragma: 'no-cache' })
      .type(JSON_UTF8)
      .send(JSON.stringify(body));
  } catch (e) {
    if (!(e instanceof TokenRequestError)) throw e;
    return sendOAuthError(reply, e.error, e.echoState ? str(params.state) : undefined);
  }
}

/** `TokensController#token`: by refresh token first when hinted, else by access token first. */
function tokenByValue(sim: SimContext, params: Record<string, unknown>): OAuthAccessToken | undefined {
  const value = str(params.token);
  if (blank(value)) return undefined;
  const byAccess = () => sim.store.accessTokens.get(value);
  const byRefresh = () => sim.store.accessTokensByRefresh.get(value);
  return params.token_type_hint === 'refresh_token'
    ? (byRefresh() ?? byAccess())
    : (byAccess() ?? byRefresh());
}

const REVOCATION_ERROR = {
  error: 'unauthorized_client',
  error_description: 'You are not authorized to revoke this token',
};

/** `TokensController#revoke` (RFC 7009) with GitLab's `validate_presence_of_client` override. */
async function revokeToken(sim: SimContext, req: FastifyRequest, reply: FastifyReply) {
  const params = requestParams(req);
  const client = authenticateClient(sim.store, clientCredentials(req, params));
  if (!sim.settings.ropcWithoutClientCredentials && !client)
    return sendJsonUtf8(reply, 403, REVOCATION_ERROR);
  const token = tokenByValue(sim, params);
  if (!token) return sendJsonUtf8(reply, 200, {});
  // A confidential application's token may only be revoked by that application.
  const app = token.applicationId === null ? undefined : sim.store.applications.get(token.applicationId);
  if (app?.confidential && client?.id !== app.id) return sendJsonUtf8(reply, 403, REVOCATION_ERROR);
  sim.store.revokeAccessToken(token);
  return sendJsonUtf8(reply, 200, {});
}

/** `TokenIntrospection` (RFC 7662): the caller authenticates as a client or with another bearer token. */
async function introspect(sim: SimContext, req: FastifyRequest, reply: FastifyReply) {
  const params = requestParams(req);
  const credentials = clientCredentials(req, params);
  const token = tokenByValue(sim, params);
  let active: boolean;
  if (credentials) {
    const client = authenticateClient(sim.store, credentials);
    if (!client) return sendOAuthError(reply, new OAuthError('invalid_client'));
    // `allow_token_introspection`: an application may introspect its own tokens and app-less ones.
    active =
      token !== undefined &&
      tokenAccessible(sim.store, token) &&
      (token.applicationId === null || token.applicationId === client.id);
  } else {
    const authorizing = doorkeeperToken(sim.store, req, params);
    if (!authorizing) {
      return sendOAuthError(reply, new OAuthError('invalid_request', undefined, 'request_not_authorized'));
    }
    // A bearer token may introspect tokens of its own application, never itself.
    if (
      !tokenAccessible(sim.store, authorizing) ||
      authorizing.token === token?.token ||
      authorizing.applicationId !== (token?.applicationId ?? null)
    ) {
      return sendInvalidToken(reply);
    }
    active = token !== undefined && tokenAccessible(sim.store, token);
  }
  if (!token || !active) return sendJsonUtf8(reply, 200, { active: false });
  const app = token.applicationId === null ? undefined : sim.store.applications.get(token.applicationId);
  const body: Record<string, unknown> = { active: true, scope: token.scopes.join(' ') };
  if (app) body.client_id = app.uid;
  body.token_type = 'Bearer';
  if (token.expiresIn !== null) body.exp = Math.floor(token.createdAt / 1000) + token.expiresIn;
  body.iat = Math.floor(token.createdAt / 1000);
  return sendJsonUtf8(reply, 200, body);
}

/** `Oauth::TokenInfoController#show`: doorkeeper's `AccessToken#as_json` plus GitLab's aliases. */
async function tokenInfo(sim: SimContext, req: FastifyRequest, reply: FastifyReply) {
  const token = doorkeeperToken(sim.store, req, requestParams(req));
  if (!token || !tokenAccessible(sim.store, token)) return sendInvalidToken(reply);
  const app = token.applicationId === null ? undefined : sim.store.applications.get(token.applicationId);
  const expiresIn = expiresInSeconds(sim.store, token);
  return sendJsonUtf8(reply, 200, {
    resource_owner_id: token.userId === NO_RESOURCE_OWNER ? null : token.userId,
    scope: token.scopes,
    expires_in: expiresIn,
    application: { uid: app?.uid ?? null },
    created_at: Math.floor(token.createdAt / 1000),
    scopes: token.scopes,
    expires_in_seconds: expiresIn,
  });
}

export function registerTokenRoutes(app: FastifyInstance, sim: SimContext): void {
  app.post('/oauth/token', (req, reply) => createToken(sim, req, reply));
  app.post('/oauth/revoke', (req, reply) => revokeToken(sim, req, reply));
  app.post('/oauth/introspect', (req, reply) => introspect(sim, req, reply));
  app.get('/oauth/token/info', (req, reply) => tokenInfo(sim, req, reply));
}
