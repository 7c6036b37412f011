import type { FastifyReply, FastifyRequest } from 'fastify';
import { sameSecret } from '../model/secrets.js';
import type { Store } from '../model/store.js';
import type { OAuthAccessToken, OAuthApplication } from '../model/types.js';

/**
 * The pieces of doorkeeper 5.9 that GitLab's OAuth endpoints share: the configured scopes, error
 * responses (`lib/doorkeeper/oauth/error_response.rb`, `invalid_request_response.rb`), redirect-URI
 * matching (`lib/doorkeeper/oauth/helpers/uri_checker.rb`), scope checks (`helpers/scope_checker.rb`),
 * client authentication (`lib/doorkeeper/oauth/client/credentials.rb`, `Application.by_uid_and_secret`)
 * and bearer-token lookup (`lib/doorkeeper/oauth/token.rb`).
 */

/**
 * `Doorkeeper.configuration.scopes` as GitLab configures them (`config/initializers/doorkeeper.rb`):
 * `default_scopes` (`api`) followed by `Gitlab::Auth.optional_scopes`, in `lib/gitlab/auth.rb` order.
 */
export const SERVER_SCOPES: readonly string[] = [
  'api',
  'read_api',
  'read_user',
  'create_runner',
  'manage_runner',
  'k8s_proxy',
  'self_rotate',
  'read_repository',
  'write_repository',
  'read_registry',
  'write_registry',
  'read_virtual_registry',
  'write_virtual_registry',
  'read_observability',
  'write_observability',
  'ai_features',
  'sudo',
  'admin_mode',
  'read_service_ping',
  'openid',
  'profile',
  'email',
  'ai_workflows',
];

/** `Gitlab::Auth::DEFAULT_SCOPES` */
export const DEFAULT_SCOPES: readonly string[] = ['api'];

/** Grant flows GitLab enables, plus `refresh_token` (`use_refresh_token`). */
export const GRANT_TYPES: readonly string[] = [
  'authorization_code',
  'password',
  'client_credentials',
  'device_code',
  'refresh_token',
];

export type OAuthErrorName =
  | 'invalid_request'
  | 'invalid_client'
  | 'unauthorized_client'
  | 'invalid_redirect_uri'
  | 'unsupported_response_type'
  | 'unsupported_response_mode'
  | 'invalid_scope'
  | 'invalid_code_challenge_method'
  | 'access_denied'
  | 'invalid_grant'
  | 'unsupported_grant_type'
  | 'unconfirmed_email';

/** `config/locales/en.yml` of doorkeeper 5.9 and GitLab's `config/locales/doorkeeper.en.yml`. */
const DESCRIPTIONS: Record<Exclude<OAuthErrorName, 'invalid_request'>, string> = {
  invalid_client:
    'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.',
  unauthorized_client: 'The client is not authorized to perform this request using this method.',
  invalid_redirect_uri: "The requested redirect uri is malformed or doesn't match client redirect URI.",
  unsupported_response_type: 'The authorization server does not support this response type.',
  unsupported_response_mode: 'The authorization server does not support this response mode.',
  invalid_scope: 'The requested scope is invalid, unknown, or malformed.',
  invalid_code_challenge_method: 'The code_challenge_method must be one of plain, S256.',
  access_denied: 'The resource owner or authorization server denied the request.',
  invalid_grant:
    'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.',
  unsupported_grant_type: 'The authorization grant type is not supported by the authorization server.',
  unconfirmed_email: 'Verify the email address in your account profile before you sign in.',
};

const INVALID_REQUEST_UNKNOWN =
  'The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed.';
const REQUEST_NOT_AUTHORIZED =
  'Request need to be authorized. Required parameter for authorizing request is missing or invalid.';

export class OAuthError {
  constructor(
    readonly name: OAuthErrorName,
    /** For `invalid_request`: the missing parameter (`Missing required parameter: code.`). */
    readonly missingParam?: string,
    /** For `invalid_request` without a missing parameter (`request_not_authorized`). */
    readonly reason?: 'request_not_authorized',
  ) {}

  get description(): string {
    if (this.name !== 'invalid_request') return DESCRIPTIONS[this.name];
    if (this.missingParam) return `Missing required parameter: ${this.missingParam}.`;
    if (this.reason === 'request_not_authorized') return REQUEST_NOT_AUTHORIZED;
    return INVALID_REQUEST_UNKNOWN;
  }

  /** `ErrorResponse#status`: 401 for client errors, 400 otherwise. */
  get status(): number {
    return this.name === 'invalid_client' || this.name === 'unauthorized_client' ? 401 : 400;
  }

  /** `ErrorResponse#body`, blank values dropped. */
  body(state?: string | null): Record<string, string> {
    const body: Record<string, string> = { error: this.name, error_description: this.description };
    if (state) body.state = state;
    return body;
  }

  /**
   * `ErrorResponse#redirectable?` (and `InvalidRequestResponse`'s): never back to an unverified
   * client or redirect URI.
   */
  get redirectable(): boolean {
    if (this.name === 'invalid_redirect_uri' || this.name === 'invalid_client') return false;
    return this.missingParam !== 'client_id';
  }
}

export const JSON_UTF8 = 'application/json; charset=utf-8';

/** `ErrorResponse#headers` (token endpoint): no caching, and the error in `WWW-Authenticate`. */
export function sendOAuthError(reply: FastifyReply, error: OAuthError, state?: string | null) {
  return reply
    .code(error.status)
    .headers({
      'cache-control': 'no-store, no-cache',
      pragma: 'no-cache',
      'www-authenticate': `Bearer realm="Doorkeeper", error="${error.name}", error_description="${error.description}"`,
    })
    .type(JSON_UTF8)
    .send(JSON.stringify(error.body(state)));
}

/** Rails' `render json:`. */
export function sendJsonUtf8(
  reply: FastifyReply,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return reply.code(status).headers(headers).type(JSON_UTF8).send(JSON.stringify(body));
}

/** `InvalidTokenResponse`: GitLab's token info and userinfo answer an unusable token with this. */
export function sendInvalidToken(reply: FastifyReply) {
  const description = 'The access token is invalid';
  return reply
    .code(401)
    .headers({
      'cache-control': 'no-store, no-cache',
      pragma: 'no-cache',
      'www-authenticate': `Bearer realm="Doorkeeper", error="invalid_token", error_description="${description}"`,
    })
    .type(JSON_UTF8)
    .send(JSON.stringify({ error: 'invalid_token', error_description: description }));
}

/** A request parameter as Rails sees a scalar: strings only (arrays and hashes do not count). */
export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Ruby's `blank?` for a parameter. */
export function blank(value: string | undefined | null): value is undefined | null | '' {
  return value === undefined || value === null || value.trim() === '';
}

// ------------------------------------------------------------------ scopes

/** `OAuth::Scopes.from_string`: whitespace-separated, duplicates dropped. */
export function parseScopes(scope: string | undefined | null): string[] {
  if (!scope) return [];
  return [...new Set(scope.split(/\s+/).filter(Boolean))];
}

/**
 * `ScopeChecker.valid?`: present, no control whitespace, and every scope allowed — by the
 * application's scopes (intersected with the server's) when it has any, else by the server's.
 */
export function scopesValid(
  scope: string | undefined | null,
  serverScopes: readonly string[],
  appScopes: readonly string[] = [],
): boolean {
  if (blank(scope) || /[\n\r\t]/.test(scope)) return false;
  const allowed = appScopes.length > 0 ? appScopes.filter((s) => serverScopes.includes(s)) : serverScopes;
  return parseScopes(scope).every((s) => allowed.includes(s));
}

/** `BaseRequest#build_scopes` / `PreAuthorization#build_scopes`: default scopes the app also has. */
export function defaultScopesFor(app: OAuthApplication | undefined): string[] {
  if (!app || app.scopes.length === 0) return [...DEFAULT_SCOPES];
  return DEFAULT_SCOPES.filter((s) => app.scopes.includes(s));
}

// ------------------------------------------------------------------ redirect URIs

export const OOB_URI = 'urn:ietf:wg:oauth:2.0:oob';
const SCRIPT_SCHEMES = ['javascript', 'vbscript', 'data'];

/** Ruby's `URI.parse` refuses these characters outright. */
function parseUri(url: string): URL | undefined {
  if (/[\s<>"{}|\\^`]/.test(url)) return undefined;
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

function scheme(uri: URL): string {
  return uri.protocol.slice(0, -1).toLowerCase();
}

/** `URIChecker.valid?`: absolute, a usable scheme, a host for http(s), no fragment, not opaque. */
export function redirectUriValid(url: string): boolean {
  if (url === OOB_URI) return true;
  const uri = parseUri(url);
  if (!uri) return false;
  const s = scheme(uri);
  if (SCRIPT_SCHEMES.includes(s) || s === 'localhost') return false;
  if ((s === 'http' || s === 'https') && uri.hostname === '') return false;
  if (url.includes('#')) return false;
  // An opaque URI (`myapp:callback`) has no `/` after the scheme.
  return url.slice(uri.protocol.length).startsWith('/');
}

/** `IPAddr#loopback?` for the URI's host: 127.0.0.0/8 and ::1 (not the name `localhost`). */
function loopback(uri: URL): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(uri.hostname) || uri.hostname === '[::1]';
}

function queryPairs(search: string): string[] {
  return search.replace(/^\?/, '').split('&').sort();
}

/**
 * `URIChecker.matches?`: equal scheme, userinfo, host, port and path. A query on the registered URI
 * must be matched pair for pair (any order); without one, the request's query is ignored. For
 * loopback IP literals the port may differ (RFC 8252 §7.3).
 */
export function redirectUriMatches(url: string, registered: string): boolean {
  if (url === registered) return true;
  const a = parseUri(url);
  const b = parseUri(registered);
  if (!a || !b) return false;
  if (b.search !== '') {
    if (a.search === '') return false;
    const want = queryPairs(b.search);
    const got = queryPairs(a.search);
    if (want.length !== got.length || want.some((p, i) => p !== got[i])) return false;
  }
  const ignorePort = loopback(a) && loopback(b);
  return (
    a.protocol === b.protocol &&
    a.username === b.username &&
    a.password === b.password &&
    a.hostname === b.hostname &&
    (ignorePort || a.port === b.port) &&
    a.pathname === b.pathname &&
    a.hash === b.hash
  );
}

/** `URIChecker.valid_for_authorization?` against every registered URI of the application. */
export function redirectUriAllowed(url: string, registered: readonly string[]): boolean {
  return redirectUriValid(url) && registered.some((r) => redirectUriMatches(url, r));
}

/**
 * `Authorization::URIBuilder.uri_with_query`: the parameters merged into the URI's query (blank
 * values dropped), keeping what the URI already had.
 */
export function uriWithQuery(url: string, params: Record<string, string | null | undefined>): string {
  const uri = new URL(url);
  for (const [k, v] of Object.entries(params)) if (v) uri.searchParams.set(k, v);
  return uri.toString();
}

/** `uri_with_fragment`: the parameters become the fragment. */
export function uriWithFragment(url: string, params: Record<string, string | null | undefined>): string {
  const uri = new URL(url);
  const fragment = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) fragment.set(k, v);
  uri.hash = fragment.toString();
  return uri.toString();
}

// ------------------------------------------------------------------ clients

export interface ClientCredentials {
  uid: string;
  secret: string | undefined;
}

/**
 * `Client::Credentials.from_request` with `:from_basic, :from_params`: HTTP Basic first, then
 * `client_id`/`client_secret`. Credentials count as present when a client id is (public clients
 * send no secret).
 */
export function clientCredentials(
  req: FastifyRequest,
  params: Record<string, unknown>,
): ClientCredentials | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Basic (.*)/s.exec(auth);
    if (m) {
      const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const uid = colon < 0 ? decoded : decoded.slice(0, colon);
      if (!blank(uid)) return { uid, secret: colon < 0 ? undefined : decoded.slice(colon + 1) };
    }
  }
  const uid = str(params.client_id);
  if (blank(uid)) return undefined;
  return { uid, secret: str(params.client_secret) };
}

/**
 * `Application.by_uid_and_secret`: a public (non-confidential) application is accepted without a
 * secret; any secret that is given must match.
 */
export function authenticateClient(
  store: Store,
  credentials: ClientCredentials | undefined,
): OAuthApplication | undefined {
  if (!credentials) return undefined;
  const app = store.applicationsByUid.get(credentials.uid);
  if (!app) return undefined;
  if (blank(credentials.secret)) return app.confidential ? undefined : app;
  return sameSecret(credentials.secret, app.secret) ? app : undefined;
}

// ------------------------------------------------------------------ access tokens

/**
 * `Doorkeeper::OAuth::Token.authenticate` with GitLab's `access_token_methods`
 * (`:from_access_token_param, :from_bearer_authorization, :from_bearer_param`). Looking a token up
 * revokes the refresh token it was minted from (revoke-on-use rotation).
 */
export function doorkeeperToken(
  store: Store,
  req: FastifyRequest,
  params: Record<string, unknown>,
): OAuthAccessToken | undefined {
  let raw = str(params.access_token);
  if (blank(raw)) {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer (.*)$/is.exec(header) : null;
    raw = m ? m[1] : str(params.bearer_token);
  }
  if (blank(raw)) return undefined;
  const token = store.accessTokens.get(raw);
  if (token) revokePreviousRefreshToken(store, token);
  return token;
}

/** `AccessToken#revoke_previous_refresh_token!` */
export function revokePreviousRefreshToken(store: Store, token: OAuthAccessToken): void {
  if (!token.previousRefreshToken) return;
  const previous = store.accessTokensByRefresh.get(token.previousRefreshToken);
  if (previous) store.revokeAccessToken(previous);
  token.previousRefreshToken = null;
}

/** `AccessToken#accessible?`: neither revoked nor expired. */
export function tokenAccessible(store: Store, token: OAuthAccessToken): boolean {
  return token.revokedAt === null && !store.accessTokenExpired(token);
}

/** `AccessToken#expires_in_seconds`: whole seconds left, never negative; null for non-expiring tokens. */
export function expiresInSeconds(store: Store, token: OAuthAccessToken): number | null {
  if (token.expiresIn === null) return null;
  const left = Math.round((token.createdAt + token.expiresIn * 1000 - store.clock.nowMs()) / 1000);
  return Math.max(left, 0);
}
