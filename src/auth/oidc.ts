import * as client from 'openid-client';
import { isLoopbackHost } from '../net.js';

/**
 * Sign-in with GitLab's OpenID Connect provider, over openid-client (Authorization Code + PKCE S256,
 * state and nonce).
 *
 * The portal asks only for `openid profile email`: enough to learn who signed in. It never calls
 * GitLab with the sponsor's token; every GitLab change is made with the admin token after the portal
 * has checked the sponsor's live rights. The sponsor's tokens are kept (encrypted) only to notice when
 * GitLab ends the sign-in (a refresh that fails) and to revoke them at sign-out.
 *
 * Security properties held here:
 * - the issuer is pinned to `GITLAB_URL`: discovery whose `issuer` differs is refused, and so is an
 *   authorization response whose `iss` differs;
 * - the redirect URI is `PUBLIC_URL/oauth/callback`, from configuration only, byte-identical in the
 *   authorization and token requests;
 * - ID tokens are checked by openid-client: RS256 signature against the issuer's JWKS (also for
 *   tokens received straight from the token endpoint), `iss`, `aud`, `exp`/`iat` within 30 s, `nonce`,
 *   `sub`;
 * - plain HTTP is allowed only for a GitLab on a loopback address (demo mode, tests);
 * - every request to GitLab has a timeout.
 */

/** What the portal asks GitLab for: identity only. */
const SIGN_IN_SCOPES = ['openid', 'profile', 'email'] as const;

/** Seconds of clock difference tolerated when checking ID token times. */
const CLOCK_TOLERANCE_SECONDS = 30;
/**
 * Oldest `iat` accepted for an ID token fresh from the token endpoint. GitLab's ID tokens live two
 * minutes; openid-client alone would accept an `iat` up to an hour old as long as `exp` is ahead.
 */
const MAX_ID_TOKEN_AGE_SECONDS = 300;

/** Why a sign-in step failed; recorded as the audit reason. Never contains a secret. */
export type OidcFailureReason =
  /** GitLab's OpenID configuration could not be loaded. */
  | 'discovery_failed'
  /** Discovery, the authorization response or the ID token named another issuer. */
  | 'issuer_mismatch'
  /** `GITLAB_URL` is plain HTTP on a non-loopback host. */
  | 'insecure_gitlab_url'
  | 'state_mismatch'
  | 'audience_mismatch'
  | 'nonce_mismatch'
  | 'bad_signature'
  | 'unsupported_alg'
  | 'token_expired'
  | 'missing_claim'
  | 'subject_mismatch'
  | 'invalid_id_token'
  /** GitLab refused the code or refresh token (`invalid_grant`): the grant is gone. */
  | 'invalid_grant'
  /** GitLab answered the token request with another error or an unusable answer. */
  | 'token_exchange_failed'
  /** GitLab could not be reached, timed out or failed (5xx): nothing is known about the grant. */
  | 'gitlab_unavailable';

/** A failed OpenID step. The message is for operators and never carries tokens, codes or secrets. */
export class OidcError extends Error {
  override readonly name = 'OidcError';

  constructor(
    readonly reason: OidcFailureReason,
    message: string,
  ) {
    super(message);
  }
}

export interface AuthorizationRequest {
  state: string;
  nonce: string;
  /** S256 challenge of the PKCE verifier. */
  codeChallenge: string;
}

export interface CallbackChecks {
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** The verified ID token claims the portal reads. */
export interface IdentityClaims {
  /** GitLab user id, as a string. */
  sub: string;
  email?: string;
  name?: string;
  nickname?: string;
}

export interface OidcTokens {
  accessToken: string;
  refreshToken: string | null;
  /** Lifetime in seconds as GitLab reports it; null when it did not say. */
  expiresIn: number | null;
  /** Present after a code exchange; after a refresh only when GitLab sent a new ID token. */
  claims: IdentityClaims | null;
}

export interface OidcClient {
  /** `PUBLIC_URL/oauth/callback`. */
  readonly redirectUri: string;
  readonly scopes: readonly string[];
  /** Loads (once) and checks GitLab's OpenID configuration. */
  ready(): Promise<void>;
  authorizationUrl(request: AuthorizationRequest): Promise<URL>;
  /**
   * Exchanges the authorization response (the callback's query parameters) for tokens and checks the
   * ID token. The callback URL is rebuilt from the configured redirect URI, never from the request.
   */
  exchange(
    callbackParams: URLSearchParams,
    checks: CallbackChecks,
  ): Promise<OidcTokens & { claims: IdentityClaims }>;
  /** @param expectedSubject the signed-in user's `sub`; a new ID token for anyone else is refused. */
  refresh(refreshToken: string, expectedSubject: string): Promise<OidcTokens>;
  /** RFC 7009 revocation; revoking a refresh token also revokes its access token at GitLab. */
  revoke(token: string, hint: 'access_token' | 'refresh_token'): Promise<void>;
}

export interface OidcClientOptions {
  /** GitLab's base URL (`GITLAB_URL`); it is also the expected issuer. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** `PUBLIC_URL`. */
  publicUrl: string;
  timeoutMs: number;
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

function causeOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null && 'cause' in err ? err.cause : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : '';
}

/** The OAuth error code (`invalid_grant`, …) and HTTP status of an error answer from GitLab. */
function oauthErrorOf(err: unknown): { error?: string; status?: number } {
  if (err instanceof client.ResponseBodyError) return { error: err.error, status: err.status };
  if (err instanceof client.WWWAuthenticateChallengeError) {
    const challenges = err.cause as client.WWWAuthenticateChallenge[];
    const error = challenges.find((c) => typeof c.parameters.error === 'string')?.parameters.error;
    return { error, status: err.status };
  }
  return {};
}

const CLAIM_REASONS: Record<string, OidcFailureReason> = {
  iss: 'issuer_mismatch',
  aud: 'audience_mismatch',
  azp: 'audience_mismatch',
  nonce: 'nonce_mismatch',
};

/**
 * Maps whatever openid-client (or fetch) threw to a reason. The check that failed is read from the
 * error codes and the claim name openid-client reports; nothing of the error is kept beyond that.
 */
export function classifyOidcError(err: unknown): OidcFailureReason {
  if (err instanceof OidcError) return err.reason;
  const oauth = oauthErrorOf(err);
  if (oauth.status !== undefined) {
    if (oauth.status >= 500) return 'gitlab_unavailable';
    return oauth.error === 'invalid_grant' ? 'invalid_grant' : 'token_exchange_failed';
  }
  const code = errorCode(err);
  const inner = causeOf(err);
  const detail = causeOf(inner);
  const claim =
    typeof detail === 'object' && detail !== null && 'claim' in detail ? String(detail.claim) : undefined;
  switch (code) {
    case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED':
      return 'issuer_mismatch';
    case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
      return (claim === undefined ? undefined : CLAIM_REASONS[claim]) ?? 'invalid_id_token';
    case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
      return 'token_expired';
    case 'OAUTH_KEY_SELECTION_FAILED':
      return 'bad_signature';
    case 'OAUTH_INVALID_RESPONSE':
    case 'OAUTH_PARSE_ERROR': {
      const message = messageOf(inner);
      if (/signature verification failed/.test(message)) return 'bad_signature';
      if (/"alg" header/.test(message)) return 'unsupported_alg';
      if (/claim missing/.test(message)) return 'missing_claim';
      if (/"state"/.test(message)) return 'state_mismatch';
      if (/JWT|ID Token/.test(message)) return 'invalid_id_token';
      return 'token_exchange_failed';
    }
    case 'OAUTH_RESPONSE_IS_NOT_CONFORM':
    case 'OAUTH_RESPONSE_IS_NOT_JSON': {
      const status = inner instanceof Response ? inner.status : undefined;
      return status !== undefined && status >= 500 ? 'gitlab_unavailable' : 'token_exchange_failed';
    }
    case 'OAUTH_HTTP_REQUEST_FORBIDDEN':
    case 'OAUTH_REQUEST_PROTOCOL_FORBIDDEN':
      return 'insecure_gitlab_url';
    default:
      break;
  }
  // fetch failures (connection refused, reset, DNS) and the request timeout.
  if (err instanceof TypeError || (err instanceof Error && /abort|timeout/i.test(err.name))) {
    return 'gitlab_unavailable';
  }
  return 'token_exchange_failed';
}

/** An ID token must have been issued just now: not long ago, not in the future. */
function checkIssuedAt(iat: number | undefined): void {
  const now = Math.floor(Date.now() / 1000);
  if (iat === undefined || iat < now - MAX_ID_TOKEN_AGE_SECONDS - CLOCK_TOLERANCE_SECONDS) {
    throw new OidcError('token_expired', 'The ID token was issued too long ago');
  }
  if (iat > now + CLOCK_TOLERANCE_SECONDS) {
    throw new OidcError('invalid_id_token', 'The ID token was issued in the future');
  }
}

function identityOf(claims: client.IDToken | undefined): IdentityClaims | null {
  if (!claims) return null;
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  return {
    sub: claims.sub,
    email: text(claims.email),
    name: text(claims.name),
    nickname: text(claims.nickname),
  };
}

function tokensOf(response: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers): OidcTokens {
  return {
    accessToken: response.access_token,
    refreshToken: response.refresh_token ?? null,
    expiresIn: typeof response.expires_in === 'number' ? response.expires_in : null,
    claims: identityOf(response.claims()),
  };
}

/** The `OidcClient` for GitLab, built on openid-client. */
class GitLabOidcClient implements OidcClient {
  readonly redirectUri: string;
  readonly scopes = SIGN_IN_SCOPES;
  readonly #options: OidcClientOptions;
  #configuration: Promise<client.Configuration> | undefined;

  constructor(options: OidcClientOptions) {
    this.#options = options;
    this.redirectUri = `${options.publicUrl.replace(/\/+$/, '')}/oauth/callback`;
  }

  async ready(): Promise<void> {
    await this.#config();
  }

  /** Discovery once; a failure is not remembered, so the next sign-in tries again. */
  #config(): Promise<client.Configuration> {
    this.#configuration ??= this.#discover().catch((err: unknown) => {
      this.#configuration = undefined;
      throw err;
    });
    return this.#configuration;
  }

  async #discover(): Promise<client.Configuration> {
    const { issuer, clientId, clientSecret, timeoutMs } = this.#options;
    const url = new URL(issuer);
    const plainHttp = url.protocol === 'http:';
    if (plainHttp && !isLoopbackHost(url.hostname)) {
      throw new OidcError(
        'insecure_gitlab_url',
        'GITLAB_URL uses plain http:// on a host that is not this machine; sign-in needs https://',
      );
    }
    const execute = [client.enableNonRepudiationChecks];
    if (plainHttp) execute.push(client.allowInsecureRequests);
    try {
      return await client.discovery(
        url,
        clientId,
        {
          client_secret: clientSecret,
          id_token_signed_response_alg: 'RS256',
          token_endpoint_auth_method: 'client_secret_post',
          [client.clockTolerance]: CLOCK_TOLERANCE_SECONDS,
        },
        // Not client_secret_basic: openid-client form-encodes the credentials first (RFC 6749
        // §2.3.1), turning the '-' of GitLab's `gloas-` secrets into %2D, and GitLab (doorkeeper)
        // does not decode them, so every token request would fail with invalid_client.
        client.ClientSecretPost(clientSecret),
        { execute, timeout: Math.max(1, Math.ceil(timeoutMs / 1000)) },
      );
    } catch (err) {
      const reason = classifyOidcError(err);
      if (reason === 'issuer_mismatch') {
        throw new OidcError(
          'issuer_mismatch',
          `GitLab's OpenID configuration names an issuer other than GITLAB_URL (${issuer}); refusing to sign anyone in`,
        );
      }
      throw new OidcError(
        'discovery_failed',
        `GitLab's OpenID configuration could not be loaded from ${issuer}`,
      );
    }
  }

  async authorizationUrl(request: AuthorizationRequest): Promise<URL> {
    const config = await this.#config();
    return client.buildAuthorizationUrl(config, {
      response_type: 'code',
      redirect_uri: this.redirectUri,
      scope: this.scopes.join(' '),
      state: request.state,
      nonce: request.nonce,
      code_challenge: request.codeChallenge,
      code_challenge_method: 'S256',
    });
  }

  async exchange(
    callbackParams: URLSearchParams,
    checks: CallbackChecks,
  ): Promise<OidcTokens & { claims: IdentityClaims }> {
    const config = await this.#config();
    const issuer = config.serverMetadata().issuer;
    const iss = callbackParams.getAll('iss');
    if (iss.length > 1 || (iss.length === 1 && iss[0] !== issuer)) {
      throw new OidcError('issuer_mismatch', 'The authorization response names another issuer');
    }
    const callbackUrl = new URL(this.redirectUri);
    for (const name of ['code', 'state', 'iss']) {
      for (const value of callbackParams.getAll(name)) callbackUrl.searchParams.append(name, value);
    }
    try {
      const response = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      });
      const tokens = tokensOf(response);
      if (!tokens.claims) throw new OidcError('missing_claim', 'GitLab sent no ID token');
      checkIssuedAt(response.claims()?.iat);
      return { ...tokens, claims: tokens.claims };
    } catch (err) {
      throw new OidcError(classifyOidcError(err), 'The authorization code could not be exchanged');
    }
  }

  async refresh(refreshToken: string, expectedSubject: string): Promise<OidcTokens> {
    const config = await this.#config();
    let tokens: OidcTokens;
    try {
      tokens = tokensOf(await client.refreshTokenGrant(config, refreshToken));
    } catch (err) {
      throw new OidcError(classifyOidcError(err), 'The refresh token could not be used');
    }
    if (tokens.claims && tokens.claims.sub !== expectedSubject) {
      throw new OidcError('subject_mismatch', 'The refreshed ID token is for another user');
    }
    return tokens;
  }

  async revoke(token: string, hint: 'access_token' | 'refresh_token'): Promise<void> {
    const config = await this.#config();
    try {
      await client.tokenRevocation(config, token, { token_type_hint: hint });
    } catch (err) {
      throw new OidcError(classifyOidcError(err), 'The token could not be revoked');
    }
  }
}

/** The sign-in client for the configured GitLab and public URL. */
export function createOidcClient(config: {
  readonly publicUrl: string;
  readonly gitlab: {
    readonly url: string;
    readonly clientId: string;
    readonly clientSecret: string;
    readonly timeoutMs: number;
  };
}): OidcClient {
  return new GitLabOidcClient({
    issuer: config.gitlab.url,
    clientId: config.gitlab.clientId,
    clientSecret: config.gitlab.clientSecret,
    publicUrl: config.publicUrl,
    timeoutMs: config.gitlab.timeoutMs,
  });
}
