import type { FastifyRequest } from 'fastify';
import type { Store } from '../model/store.js';
import type { OAuthAccessToken, PersonalAccessToken, User } from '../model/types.js';
import { revokePreviousRefreshToken } from '../oauth/doorkeeper.js';
import { forbidden, insufficientScope, invalidToken, notFound, unauthorized } from './errors.js';

export type Credential =
  | { kind: 'personal_access_token'; pat: PersonalAccessToken }
  | { kind: 'oauth'; token: OAuthAccessToken }
  | { kind: 'session'; sessionId: string };

export interface Caller {
  /** The user the request acts as (the sudo target when sudo is used). */
  user: User;
  /** The token's owner. */
  authenticatedUser: User;
  credential: Credential;
  scopes: readonly string[];
  sudo: boolean;
}

/** Where GitLab reads a token from (`lib/gitlab/auth/auth_finders.rb`, doorkeeper's access_token_methods). */
export function tokenFromRequest(req: FastifyRequest, params: Record<string, unknown>): string | undefined {
  const header = req.headers['private-token'];
  if (typeof header === 'string' && header !== '') return header;
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth);
    if (m) return m[1]!.trim();
  }
  for (const name of ['private_token', 'access_token']) {
    const v = params[name];
    if (typeof v === 'string' && v !== '') return v;
  }
  return undefined;
}

export function sudoIdentifier(req: FastifyRequest, params: Record<string, unknown>): string | undefined {
  const header = req.headers.sudo;
  if (typeof header === 'string' && header !== '') return header;
  const p = params.sudo;
  if (typeof p === 'string' && p !== '') return p;
  if (typeof p === 'number') return String(p);
  return undefined;
}

/**
 * Why a valid token's owner may not use the API (`lib/gitlab/auth/user_access_denied_reason.rb`).
 * Returns undefined when access is allowed.
 */
export function apiAccessDeniedReason(store: Store, user: User): string | undefined {
  switch (user.state) {
    case 'blocked_pending_approval':
      return 'Your account is pending approval from your administrator and hence blocked.';
    case 'blocked':
    case 'ldap_blocked':
    case 'banned':
      return 'Your account has been blocked.';
    case 'deactivated':
      return `Your account has been deactivated by your administrator. Please log back in from a web browser to reactivate your account at ${store.baseUrl}`;
    default:
      break;
  }
  if (user.userType === 'ghost' || user.userType === 'support_bot' || user.userType === 'alert_bot') {
    return 'This action cannot be performed by internal users';
  }
  if (
    user.passwordExpiresAt !== null &&
    user.passwordExpiresAt <= store.clock.nowMs() &&
    !user.passwordAutomaticallySet &&
    user.userType === 'human'
  ) {
    return 'Your password expired. Please access GitLab from a web browser to update your password.';
  }
  return undefined;
}

export interface AuthOptions {
  /** Scopes that grant access to this endpoint, in GitLab's registration order; `any` skips the check. */
  allowedScopes: readonly string[] | 'any';
}

/**
 * Finds the calling user like `API::APIGuard#find_current_user!` + `API::Helpers#sudo!`:
 * token lookup (401 on unknown), revoked/expired (401 invalid_token), scopes (403
 * insufficient_scope), user state (403 with reason), then sudo. Returns undefined when the request
 * carries no credentials at all.
 */
export function resolveCaller(
  store: Store,
  req: FastifyRequest,
  params: Record<string, unknown>,
  opts: AuthOptions,
): Caller | undefined {
  const raw = tokenFromRequest(req, params);
  const sudoRef = sudoIdentifier(req, params);
  if (raw === undefined) {
    if (sudoRef !== undefined) throw unauthorized();
    return undefined;
  }

  let credential: Credential;
  let scopes: readonly string[];
  let userId: number;
  const pat = store.personalAccessTokens.get(raw);
  if (pat) {
    if (pat.revoked) throw invalidToken('Token was revoked. You have to re-authorize from the user.');
    if (store.patExpired(pat))
      throw invalidToken('Token is expired. You can either do re-authorization or token refresh.');
    credential = { kind: 'personal_access_token', pat };
    scopes = pat.scopes;
    userId = pat.userId;
  } else {
    const token = store.accessTokens.get(raw);
    if (!token) throw unauthorized();
    if (token.revokedAt !== null)
      throw invalidToken('Token was revoked. You have to re-authorize from the user.');
    if (store.accessTokenExpired(token)) {
      throw invalidToken('Token is expired. You can either do re-authorization or token refresh.');
    }
    credential = { kind: 'oauth', token };
    scopes = token.scopes;
    userId = token.userId;
  }

  const user = store.users.get(userId);
  if (!user) throw unauthorized();

  // Scopes are not validated for the endpoint when sudo is in effect (it needs the sudo scope instead).
  const allowed = opts.allowedScopes;
  if (sudoRef === undefined && allowed !== 'any' && !scopes.some((s) => allowed.includes(s))) {
    throw insufficientScope(allowed);
  }

  const denied = apiAccessDeniedReason(store, user);
  if (denied) throw forbidden(denied);

  // doorkeeper "revoke on use": the first use of a refreshed token revokes the one it replaced.
  if (credential.kind === 'oauth') revokePreviousRefreshToken(store, credential.token);
  if (credential.kind === 'personal_access_token') credential.pat.lastUsedAt = store.clock.nowMs();
  store.touchActivity(user);

  const caller: Caller = { user, authenticatedUser: user, credential, scopes, sudo: false };
  if (sudoRef === undefined) return caller;

  if (!isAdmin(store, caller)) throw forbidden('Must be admin to use sudo');
  if (!scopes.includes('sudo')) throw insufficientScope(['sudo']);
  const target = store.findUserByIdOrUsername(sudoRef);
  if (!target) throw notFound(`User with ID or username '${sudoRef}'`);
  return { ...caller, user: target, sudo: true };
}

/**
 * `can_admin_all_resources?`: an admin, and with Admin Mode on, a token carrying `admin_mode`
 * (a sudo target is judged by its own admin flag).
 */
export function isAdmin(store: Store, caller: Caller | undefined): boolean {
  if (!caller?.user.admin) return false;
  if (caller.sudo) return true;
  if (!store.settings.adminMode) return true;
  return caller.scopes.includes('admin_mode');
}

/** `authenticated_as_admin!` */
export function requireAdmin(store: Store, caller: Caller | undefined): Caller {
  if (!caller) throw unauthorized();
  if (!isAdmin(store, caller)) throw forbidden();
  return caller;
}

/** `authenticate!` */
export function requireUser(caller: Caller | undefined): Caller {
  if (!caller) throw unauthorized();
  return caller;
}
