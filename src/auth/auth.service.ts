import type { Kysely } from 'kysely';
import type { AuditService } from '../audit/audit.service.js';
import type { Clock } from '../clock.js';
import type { TokenCipher } from '../crypto/aead.js';
import { TokenDecryptionError } from '../crypto/aead.js';
import { keyedHash, randomToken, sha256Hex } from '../crypto/random.js';
import type { Database, SessionRow } from '../db/schema.js';
import { DomainError } from '../errors.js';
import type { GitLabAdminApi } from '../gitlab/client.js';
import { fromGitLabError, GitLabError } from '../gitlab/errors.js';
import type { GitLabUser } from '../gitlab/types.js';
import type { Logger } from '../logging/logger.js';
import { LoginStateRepository } from './login-state.repository.js';
import {
  classifyOidcError,
  type OidcClient,
  OidcError,
  type OidcFailureReason,
  type OidcTokens,
} from './oidc.js';
import { safeReturnTo } from './return-to.js';
import { SessionRepository, type SessionTokenColumns } from './session.repository.js';
import type { AuthenticatedSession } from './session.types.js';
import { refusalMessage, type SponsorRefusal, sponsorRefusal, terminationReason } from './sponsor-policy.js';

/** How long a started sign-in may take (RFC 9700: short-lived state; GitLab codes live 10 minutes). */
export const LOGIN_TTL_MS = 10 * 60_000;
/** Pending sign-ins kept per client address; older ones are dropped (tabs left open, retries). */
export const LOGIN_STATES_PER_IP = 20;
/** Pending sign-ins kept in all; beyond this new sign-ins are refused until some finish or expire. */
const LOGIN_STATES_MAX = 10_000;
/** A session's `last_seen_at` and `checked_at` are written at most this often. */
const TOUCH_INTERVAL_MS = 60_000;
/** Page views re-check the sponsor against GitLab at most this often. */
const RECHECK_INTERVAL_MS = 5 * 60_000;
/** Tokens expiring within this margin are refreshed before use. */
const REFRESH_MARGIN_MS = 60_000;

/** Who is acting and from where, for the audit log. */
export interface RequestMeta {
  requestId: string;
  ip: string;
  userAgent?: string | undefined;
}

/** Why a sign-in ended without a session, as the user is told (the audit reason is finer). */
export type SignInProblem =
  /** The state is unknown, used, expired, or belongs to another browser. */
  | 'expired_link'
  /** The user said no at GitLab. */
  | 'cancelled'
  /** GitLab answered with an error, or the answer did not verify. */
  | 'failed'
  /** GitLab could not be reached. */
  | 'unavailable'
  /** Sign-in is misconfigured (discovery refused). */
  | 'misconfigured';

export type SignInResult =
  | {
      kind: 'signed_in';
      /** The new session cookie's value. */
      sessionToken: string;
      returnTo: string;
      /** No other sign-in of this browser is pending: the pre-login cookie can go. */
      browserDone: boolean;
    }
  | { kind: 'refused'; refusal: SponsorRefusal; message: string }
  | { kind: 'failed'; problem: SignInProblem };

export type ResolvedSession =
  | { status: 'none' }
  /** The cookie named a session that is over (or never existed): clear it. */
  | { status: 'ended' }
  | { status: 'active'; session: AuthenticatedSession; checkDue: boolean };

export type SponsorCheck =
  | { ok: true; session: AuthenticatedSession; gitlabUser: GitLabUser }
  | { ok: false; message: string };

export interface AuthServiceDeps {
  db: Kysely<Database>;
  oidc: OidcClient;
  gitlab: Pick<GitLabAdminApi, 'getUser' | 'effectiveAccess'>;
  cipher: TokenCipher;
  clock: Clock;
  audit: AuditService;
  logger: Logger;
  /** Path prefix of the portal ('' or e.g. `/extern`). */
  base: string;
  /** `SESSION_SECRET`: keys the hashes under which sessions and sign-ins are stored; changing it signs everyone out. */
  secret: string;
  settings: { idleMinutes: number; absoluteHours: number; sponsorGroup: string | undefined };
}

function toAuthenticated(row: SessionRow): AuthenticatedSession {
  return {
    idHash: row.id_hash,
    userId: row.user_id,
    username: row.username,
    name: row.name,
    csrfToken: row.csrf_token,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

/** The S256 PKCE challenge of a verifier. */
function s256(verifier: string): string {
  return Buffer.from(sha256Hex(verifier), 'hex').toString('base64url');
}

/** What the user is told about an OpenID failure at the callback (the audit keeps the reason). */
function problemFor(reason: OidcFailureReason): SignInProblem {
  if (reason === 'gitlab_unavailable' || reason === 'discovery_failed') return 'unavailable';
  if (reason === 'insecure_gitlab_url') return 'misconfigured';
  return 'failed';
}

/**
 * Sign-in with GitLab and the sessions that follow it. Decides from GitLab's live data (admin token)
 * who may sign in and keeps checking it; never sees HTTP.
 */
export class AuthService {
  readonly #deps: AuthServiceDeps;
  readonly #sessions: SessionRepository;
  readonly #loginStates: LoginStateRepository;
  /** One sponsor check (and token refresh) at a time per session; concurrent callers share it. */
  readonly #checks = new Map<string, Promise<SponsorCheck>>();
  readonly #hash: (value: string) => string;

  constructor(deps: AuthServiceDeps) {
    this.#deps = deps;
    this.#hash = keyedHash(deps.secret);
    this.#sessions = new SessionRepository(deps.db);
    this.#loginStates = new LoginStateRepository(deps.db);
  }

  #now(): Date {
    return this.#deps.clock.now();
  }

  #iso(offsetMs = 0): string {
    return new Date(this.#now().getTime() + offsetMs).toISOString();
  }

  // ---------------------------------------------------------------- sign-in

  /**
   * Starts a sign-in: a fresh state, nonce and PKCE verifier, stored (verifier encrypted) under the
   * state's hash and bound to the browser's pre-login secret. Returns GitLab's authorization URL and
   * the pre-login secret to keep in the browser (the one it sent, or a new one).
   * When GitLab's OpenID configuration cannot be loaded or is refused, says so instead.
   * @throws DomainError `rate_limited` when too many sign-ins are pending.
   */
  async beginSignIn(input: {
    browserSecret: string | undefined;
    returnTo: unknown;
    meta: RequestMeta;
  }): Promise<
    | { kind: 'redirect'; authorizationUrl: URL; browserSecret: string }
    | { kind: 'failed'; problem: 'unavailable' | 'misconfigured' }
  > {
    const now = this.#iso();
    await this.#loginStates.purgeExpired(now);
    await this.#loginStates.trimForIp(input.meta.ip, LOGIN_STATES_PER_IP - 1);
    if ((await this.#loginStates.count()) >= LOGIN_STATES_MAX) {
      this.#deps.logger.warn({ pending: LOGIN_STATES_MAX }, 'too many sign-ins pending; refusing new ones');
      throw new DomainError(
        'rate_limited',
        'Too many sign-ins are in progress. Please try again in a few minutes.',
        {
          retryAfterSeconds: 60,
        },
      );
    }
    const state = randomToken();
    const nonce = randomToken();
    const verifier = randomToken();
    const browserSecret = input.browserSecret ?? randomToken();
    let authorizationUrl: URL;
    try {
      authorizationUrl = await this.#deps.oidc.authorizationUrl({
        state,
        nonce,
        codeChallenge: s256(verifier),
      });
    } catch (err) {
      const reason = classifyOidcError(err);
      this.#deps.logger.error(
        { reason },
        err instanceof OidcError ? err.message : "GitLab's OpenID configuration could not be loaded",
      );
      const misconfigured = reason === 'issuer_mismatch' || reason === 'insecure_gitlab_url';
      return { kind: 'failed', problem: misconfigured ? 'misconfigured' : 'unavailable' };
    }
    const idHash = this.#hash(state);
    await this.#loginStates.insert({
      id_hash: idHash,
      browser_hash: this.#hash(browserSecret),
      nonce,
      code_verifier_enc: this.#deps.cipher.encrypt(verifier, idHash),
      return_to: safeReturnTo(input.returnTo, this.#deps.base) ?? `${this.#deps.base}/`,
      created_at: now,
      expires_at: this.#iso(LOGIN_TTL_MS),
      ip: input.meta.ip,
    });
    return { kind: 'redirect', authorizationUrl, browserSecret };
  }

  /**
   * Finishes a sign-in from GitLab's redirect. The state is looked up and consumed before anything
   * else; nothing is sent to GitLab unless it is known, unexpired and bound to this browser. Then the
   * code is exchanged (ID token verified), the user is checked live with the admin token, and a new
   * session is created. Every outcome is audited.
   */
  async completeSignIn(input: {
    params: URLSearchParams;
    browserSecret: string | undefined;
    meta: RequestMeta;
  }): Promise<SignInResult> {
    const { params, meta } = input;
    const failed = async (reason: string, problem: SignInProblem) => {
      await this.#audit(meta, { action: 'login.failed', outcome: 'failure', reason });
      return { kind: 'failed', problem } as const;
    };

    const states = params.getAll('state');
    if (states.length !== 1 || !states[0] || states[0].length > 256) {
      return failed(states.length > 1 ? 'state_duplicated' : 'state_missing', 'expired_link');
    }
    const pending = await this.#loginStates.take(this.#hash(states[0]));
    if (!pending) return failed('state_mismatch', 'expired_link');
    if (pending.expires_at <= this.#iso()) return failed('state_expired', 'expired_link');
    if (!input.browserSecret || this.#hash(input.browserSecret) !== pending.browser_hash) {
      return failed('state_not_bound_to_browser', 'expired_link');
    }

    const error = params.get('error');
    if (error !== null) {
      return failed(
        error === 'access_denied' ? 'access_denied' : 'authorization_error',
        error === 'access_denied' ? 'cancelled' : 'failed',
      );
    }
    if (params.getAll('code').length !== 1) return failed('code_missing', 'failed');

    let verifier: string;
    try {
      verifier = this.#deps.cipher.decrypt(pending.code_verifier_enc, pending.id_hash);
    } catch {
      return failed('state_unreadable', 'expired_link');
    }

    let tokens: OidcTokens & { claims: { sub: string; email?: string } };
    try {
      tokens = await this.#deps.oidc.exchange(params, {
        state: states[0],
        nonce: pending.nonce,
        codeVerifier: verifier,
      });
    } catch (err) {
      const reason = classifyOidcError(err);
      return failed(reason, problemFor(reason));
    }

    const userId = Number(tokens.claims.sub);
    if (!Number.isSafeInteger(userId) || userId < 1) {
      await this.#revokeQuietly(tokens);
      return failed('invalid_subject', 'failed');
    }

    let user: GitLabUser | null;
    let refusal: SponsorRefusal | null;
    try {
      user = await this.#deps.gitlab.getUser(userId);
      refusal = await sponsorRefusal(this.#deps.gitlab, user, this.#deps.settings.sponsorGroup);
    } catch (err) {
      this.#deps.logger.warn({ reason: gitlabReason(err) }, 'sign-in: GitLab user check failed');
      await this.#revokeQuietly(tokens);
      return failed('gitlab_unavailable', 'unavailable');
    }
    if (refusal !== null || user === null) {
      const reason = refusal ?? 'unknown_user';
      await this.#revokeQuietly(tokens);
      await this.#audit(meta, {
        action: 'login.refused',
        outcome: 'denied',
        reason,
        actor: user ? { id: user.id, username: user.username } : undefined,
        target: { type: 'user', id: userId },
        details: reason === 'not_in_group' ? { group: this.#deps.settings.sponsorGroup } : undefined,
      });
      return {
        kind: 'refused',
        refusal: reason,
        message: refusalMessage(reason, this.#deps.settings.sponsorGroup),
      };
    }

    const now = this.#iso();
    const sessionToken = randomToken();
    const idHash = this.#hash(sessionToken);
    await this.#sessions.upsertUser(
      {
        gitlabId: user.id,
        username: user.username,
        name: user.name,
        email: user.email ?? tokens.claims.email ?? null,
      },
      now,
    );
    const row = {
      id_hash: idHash,
      user_id: user.id,
      username: user.username,
      name: user.name,
      csrf_token: randomToken(),
      created_at: now,
      last_seen_at: now,
      checked_at: now,
      expires_at: this.#iso(this.#deps.settings.absoluteHours * 3_600_000),
      ...this.#sealTokens(idHash, tokens),
      ip: meta.ip,
      user_agent: meta.userAgent?.slice(0, 512) ?? null,
    };
    await this.#sessions.insert(row);
    const actor = { id: user.id, username: user.username };
    await this.#audit(meta, { action: 'login.success', outcome: 'success', actor });
    const browserDone = (await this.#loginStates.countForBrowser(pending.browser_hash)) === 0;
    return {
      kind: 'signed_in',
      sessionToken,
      returnTo: safeReturnTo(pending.return_to, this.#deps.base) ?? `${this.#deps.base}/`,
      browserDone,
    };
  }

  #sealTokens(idHash: string, tokens: OidcTokens): SessionTokenColumns {
    const { cipher } = this.#deps;
    return {
      access_token_enc: cipher.encrypt(tokens.accessToken, idHash),
      refresh_token_enc: tokens.refreshToken === null ? null : cipher.encrypt(tokens.refreshToken, idHash),
      token_expires_at: tokens.expiresIn === null ? null : this.#iso(tokens.expiresIn * 1000),
      key_id: cipher.currentKeyId,
    };
  }

  /** Revokes a grant at GitLab; a failure is logged, never raised (the portal forgets the tokens anyway). */
  async #revokeQuietly(tokens: { accessToken: string; refreshToken: string | null }): Promise<void> {
    // Revoking by refresh token revokes the whole grant, access token included.
    const [token, hint] =
      tokens.refreshToken === null
        ? [tokens.accessToken, 'access_token' as const]
        : [tokens.refreshToken, 'refresh_token' as const];
    try {
      await this.#deps.oidc.revoke(token, hint);
    } catch (err) {
      this.#deps.logger.warn({ reason: classifyOidcError(err) }, 'revoking a GitLab token failed');
    }
  }

  // ---------------------------------------------------------------- sessions

  /**
   * The session a cookie token names, if it is still valid: within the idle and absolute timeouts
   * (server-side timestamps) and with tokens that still decrypt. Ended sessions are deleted.
   */
  async resolveSession(token: string | undefined, meta: RequestMeta): Promise<ResolvedSession> {
    if (token === undefined) return { status: 'none' };
    const idHash = this.#hash(token);
    const row = await this.#sessions.find(idHash);
    if (!row) return { status: 'ended' };
    const now = this.#now().getTime();
    const idleMs = this.#deps.settings.idleMinutes * 60_000;
    let ended: string | undefined;
    if (Date.parse(row.expires_at) <= now) ended = 'absolute_timeout';
    else if (now - Date.parse(row.last_seen_at) > idleMs) ended = 'idle_timeout';
    else if (!this.#tokensReadable(row)) ended = 'token_decryption_failed';
    if (ended !== undefined) {
      await this.#end(row, ended, meta, ended === 'token_decryption_failed' ? 'failure' : 'success');
      return { status: 'ended' };
    }
    if (now - Date.parse(row.last_seen_at) >= TOUCH_INTERVAL_MS) {
      await this.#sessions.touch(idHash, new Date(now).toISOString());
    }
    if (this.#deps.cipher.needsReEncryption(row.access_token_enc)) await this.#reEncrypt(row);
    const checkDue = row.checked_at === null || now - Date.parse(row.checked_at) >= RECHECK_INTERVAL_MS;
    return { status: 'active', session: toAuthenticated(row), checkDue };
  }

  #openTokens(row: SessionRow): { accessToken: string; refreshToken: string | null } {
    const { cipher } = this.#deps;
    return {
      accessToken: cipher.decrypt(row.access_token_enc, row.id_hash),
      refreshToken:
        row.refresh_token_enc === null ? null : cipher.decrypt(row.refresh_token_enc, row.id_hash),
    };
  }

  #tokensReadable(row: SessionRow): boolean {
    try {
      this.#openTokens(row);
      return true;
    } catch (err) {
      if (err instanceof TokenDecryptionError) return false;
      throw err;
    }
  }

  /** Key rotation: tokens sealed with the previous key are sealed again with the current one. */
  async #reEncrypt(row: SessionRow): Promise<void> {
    const tokens = this.#openTokens(row);
    const { cipher } = this.#deps;
    await this.#sessions.replaceTokens(row.id_hash, row.access_token_enc, {
      access_token_enc: cipher.encrypt(tokens.accessToken, row.id_hash),
      refresh_token_enc:
        tokens.refreshToken === null ? null : cipher.encrypt(tokens.refreshToken, row.id_hash),
      token_expires_at: row.token_expires_at,
      key_id: cipher.currentKeyId,
    });
  }

  /** Deletes a session, revokes its tokens at GitLab (when they can be read) and audits why. */
  async #end(
    row: SessionRow,
    reason: string,
    meta: RequestMeta | null,
    outcome: 'success' | 'failure' = 'success',
    action = 'session.terminated',
  ): Promise<void> {
    const deleted = await this.#sessions.delete(row.id_hash);
    if (!deleted) return;
    await this.#revokeGrantOf(deleted);
    await this.#audit(meta, {
      action,
      outcome,
      reason,
      actor: { id: deleted.user_id, username: deleted.username },
    });
  }

  /**
   * Is the signed-in sponsor still allowed to sponsor? Asks GitLab with the admin token (active,
   * internal, human, in `SPONSOR_GROUP`) and refreshes the session's OAuth token when it expires
   * within a minute. One check runs per session at a time; concurrent callers share its result. A
   * refusal or a refused refresh ends the session.
   * @throws DomainError `upstream_unavailable`/`upstream_timeout` when GitLab cannot answer (the
   *   session is kept).
   */
  checkSponsor(session: AuthenticatedSession, meta: RequestMeta): Promise<SponsorCheck> {
    const running = this.#checks.get(session.idHash);
    if (running) return running;
    const check = this.#runCheck(session.idHash, meta).finally(() => this.#checks.delete(session.idHash));
    this.#checks.set(session.idHash, check);
    return check;
  }

  async #runCheck(idHash: string, meta: RequestMeta): Promise<SponsorCheck> {
    const ended: SponsorCheck = {
      ok: false,
      message: 'Your session has ended. Sign in with GitLab to continue.',
    };
    const row = await this.#sessions.find(idHash);
    if (!row) return ended;
    const { gitlab, settings } = this.#deps;
    let user: GitLabUser | null;
    let refusal: SponsorRefusal | null;
    try {
      user = await gitlab.getUser(row.user_id);
      refusal = await sponsorRefusal(gitlab, user, settings.sponsorGroup);
    } catch (err) {
      throw upstreamError(err);
    }
    if (refusal !== null || user === null) {
      const why = refusal ?? 'unknown_user';
      await this.#end(row, terminationReason(why), meta);
      return {
        ok: false,
        message: `Your GitLab account can no longer sponsor collaborators. ${refusalMessage(why, settings.sponsorGroup)} You have been signed out.`,
      };
    }

    const current = (await this.#refreshIfDue(row, meta)) ?? row;
    if (current === 'ended') {
      return { ok: false, message: 'GitLab has ended your sign-in. Sign in with GitLab again to continue.' };
    }
    const renamed = user.username !== row.username || user.name !== row.name;
    // `checked_at` only decides when page views check again. Like `last_seen_at` it is written at most
    // once a minute, so a state-changing request costs no commit for it, and page views check at most
    // a minute sooner than the last check would allow.
    const lastRecorded = row.checked_at === null ? Number.NEGATIVE_INFINITY : Date.parse(row.checked_at);
    if (renamed || this.#now().getTime() - lastRecorded >= TOUCH_INTERVAL_MS) {
      const checkedAt = this.#iso();
      await this.#sessions.markChecked(idHash, { checkedAt, username: user.username, name: user.name });
    }
    if (renamed) await this.#sessions.renameUser(user.id, user.username, user.name);
    return {
      ok: true,
      gitlabUser: user,
      session: { ...toAuthenticated(current), username: user.username, name: user.name },
    };
  }

  /**
   * Refreshes the session's tokens when they expire within the margin. Returns the updated row, null
   * when no refresh was due, or 'ended' when GitLab refused the refresh token (session deleted).
   */
  async #refreshIfDue(row: SessionRow, meta: RequestMeta): Promise<SessionRow | null | 'ended'> {
    if (row.token_expires_at === null || row.refresh_token_enc === null) return null;
    if (Date.parse(row.token_expires_at) - this.#now().getTime() > REFRESH_MARGIN_MS) return null;
    const old = this.#openTokens(row);
    let tokens: OidcTokens;
    try {
      tokens = await this.#deps.oidc.refresh(old.refreshToken!, String(row.user_id));
    } catch (err) {
      const reason = classifyOidcError(err);
      if (reason === 'gitlab_unavailable' || reason === 'discovery_failed') {
        throw new DomainError('upstream_unavailable', 'GitLab did not answer.', { cause: err });
      }
      // Another process may have refreshed first; then its tokens are the session's now.
      const latest = await this.#sessions.find(row.id_hash);
      if (latest && latest.refresh_token_enc !== row.refresh_token_enc) return latest;
      await this.#end(row, 'token_refresh_failed', meta);
      return 'ended';
    }
    const columns = this.#sealTokens(row.id_hash, tokens);
    const stored = await this.#sessions.replaceTokens(row.id_hash, row.access_token_enc, columns);
    if (!stored) return (await this.#sessions.find(row.id_hash)) ?? 'ended';
    // The superseded grant stays valid at GitLab until the new token is used, which the portal never
    // does; revoke it so no usable token is left behind.
    await this.#revokeQuietly(old);
    return { ...row, ...columns };
  }

  /** Sign-out: the session is deleted and its tokens revoked at GitLab. */
  async signOut(session: AuthenticatedSession, meta: RequestMeta): Promise<void> {
    const row = await this.#sessions.find(session.idHash);
    if (row) await this.#end(row, 'user_signed_out', meta, 'success', 'logout');
  }

  /** Ends a session for another reason than sign-out (e.g. replaced by a new sign-in). */
  async endSession(session: AuthenticatedSession, reason: string, meta: RequestMeta): Promise<void> {
    const row = await this.#sessions.find(session.idHash);
    if (row) await this.#end(row, reason, meta);
  }

  /**
   * Someone who has signed in to the portal, by GitLab user id or username (any case, with or
   * without a leading `@`); a number-only reference is tried as an id first.
   */
  async findUser(ref: string): Promise<{ id: number; username: string } | undefined> {
    const text = ref.trim().replace(/^@/, '');
    if (/^\d{1,15}$/.test(text)) {
      const byId = await this.#sessions.findUser(Number(text));
      if (byId) return byId;
    }
    return text === '' ? undefined : this.#sessions.findUser(text);
  }

  /**
   * Ends every session of one GitLab user, or every session (`sessions revoke --user` / `--all`), and
   * revokes their tokens at GitLab. `details` (e.g. who ran the command) goes into each audit event.
   * Returns how many sessions ended.
   */
  async revokeSessions(
    target: { userId: number } | { all: true },
    actor: { id: number; username: string } | null = null,
    details?: Record<string, unknown>,
  ): Promise<number> {
    const rows =
      'userId' in target
        ? await this.#sessions.deleteForUser(target.userId)
        : await this.#sessions.deleteAll();
    await this.#forget(rows, 'revoked_by_admin', actor, details);
    return rows.length;
  }

  /**
   * Housekeeping for a periodic job: pending sign-ins past their lifetime, and sessions past either
   * timeout that were never presented again (their grants are revoked at GitLab, where refresh
   * tokens do not expire by themselves).
   */
  async purgeExpired(): Promise<{ loginStates: number; sessions: number }> {
    const now = this.#iso();
    const loginStates = await this.#loginStates.purgeExpired(now);
    const idleSince = this.#iso(-this.#deps.settings.idleMinutes * 60_000);
    const sessions = await this.#sessions.deleteExpired(now, idleSince);
    await this.#forget(sessions, 'expired', null);
    return { loginStates, sessions: sessions.length };
  }

  /** Revokes a deleted session's grant at GitLab, when its tokens can still be read. */
  async #revokeGrantOf(row: SessionRow): Promise<void> {
    let tokens: { accessToken: string; refreshToken: string | null };
    try {
      tokens = this.#openTokens(row);
    } catch {
      return;
    }
    await this.#revokeQuietly(tokens);
  }

  /** For sessions already deleted: revoke their grants at GitLab and audit each. */
  async #forget(
    rows: SessionRow[],
    reason: string,
    actor: { id: number; username: string } | null,
    details?: Record<string, unknown>,
  ): Promise<void> {
    for (const row of rows) {
      await this.#revokeGrantOf(row);
      await this.#deps.audit.record({
        action: 'session.terminated',
        outcome: 'success',
        reason,
        actor: actor ?? { id: row.user_id, username: row.username },
        target: { type: 'user', id: row.user_id, name: row.username },
        details: details ?? null,
      });
    }
  }

  async #audit(
    meta: RequestMeta | null,
    event: {
      action: string;
      outcome: 'success' | 'failure' | 'denied';
      reason?: string;
      actor?: { id: number; username: string } | undefined;
      target?: { type: string; id: number } | undefined;
      details?: Record<string, unknown> | undefined;
    },
  ): Promise<void> {
    await this.#deps.audit.record({
      action: event.action,
      outcome: event.outcome,
      reason: event.reason ?? null,
      actor: event.actor ?? null,
      target: event.target ?? null,
      details: event.details ?? null,
      requestId: meta?.requestId ?? null,
      ip: meta?.ip ?? null,
    });
  }
}

function gitlabReason(err: unknown): string {
  return err instanceof GitLabError ? err.kind : 'error';
}

/** A GitLab failure during a check, as the error the user sees (never GitLab's own message). */
function upstreamError(err: unknown): DomainError {
  if (err instanceof GitLabError) {
    const mapped = fromGitLabError(err);
    if (mapped.status >= 500 || mapped.code === 'rate_limited') return mapped;
  }
  return new DomainError('upstream_unavailable', 'GitLab could not check your account.', { cause: err });
}
