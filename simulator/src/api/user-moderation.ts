import { DAY_MS } from '../clock.js';
import type { ApiRoute, RouteCtx } from '../http/app.js';
import { requireAdmin } from '../http/auth.js';
import { apiError, badRequest, forbidden, notFound } from '../http/errors.js';
import { requires } from '../http/grape.js';
import {
  sendAdminApproval,
  sendAdminRejection,
  sendTwoFactorDisabled,
  sendUserDeactivated,
} from '../mail/user-mails.js';
import type { Store } from '../model/store.js';
import type { User, UserState } from '../model/types.js';
import { isBlocked, isInternal } from '../model/user-rules.js';
import { acceptPendingInvitations } from './invitations.js';
import { scheduleUserDeletion, USER_ID } from './users.js';

/**
 * The moderation endpoints of `lib/api/users.rb` with the services behind them
 * (`app/services/users/{block,unblock,deactivate,activate,ban,unban,approve,reject}_service.rb`,
 * `app/services/two_factor/destroy_service.rb`). They answer `true` on success (201, Grape's POST
 * default), `null` where the endpoint `break`s early, and `false` where the state machine refuses.
 */

function findUser(ctx: RouteCtx): User {
  const user = ctx.store.users.get(Number(ctx.params.id));
  if (!user) throw notFound('User');
  return user;
}

function setState(store: Store, user: User, state: UserState): void {
  store.updateUser(user, { state });
}

/** `User#no_recent_activity?`: the later of `last_activity_on` and `current_sign_in_at` is old enough. */
function dormant(store: Store, user: User): boolean {
  const lastActivity = user.lastActivityOn === null ? null : Date.parse(`${user.lastActivityOn}T00:00:00Z`);
  const lastActiveAt = Math.max(lastActivity ?? 0, user.currentSignInAt ?? 0);
  const cutoff = store.clock.nowMs() - store.settings.deactivateDormantUsersPeriod * DAY_MS;
  return Math.floor(lastActiveAt / 1000) <= Math.floor(cutoff / 1000);
}

function block(ctx: RouteCtx): unknown {
  const admin = requireAdmin(ctx.store, ctx.caller);
  const user = findUser(ctx);
  if (user.state === 'ldap_blocked') throw forbidden('LDAP blocked users cannot be modified by the API');
  if (admin.user.id === user.id) throw forbidden('The API initiating user cannot be blocked by the API');
  if (isBlocked(user)) return null;
  if (isInternal(user)) throw apiError('An internal user cannot be blocked', 403);
  setState(ctx.store, user, 'blocked');
  return true;
}

/** `Users::UnblockService` fires `activate`, which also lifts bans and pending approvals. */
function unblock(ctx: RouteCtx): unknown {
  requireAdmin(ctx.store, ctx.caller);
  const user = findUser(ctx);
  if (user.state === 'ldap_blocked') throw forbidden('LDAP blocked users cannot be unblocked by the API');
  if (user.state === 'deactivated') throw forbidden('Deactivated users cannot be unblocked by the API');
  if (user.state === 'active') return false;
  setState(ctx.store, user, 'active');
  return true;
}

function deactivate(ctx: RouteCtx): unknown {
  const { store } = ctx;
  requireAdmin(store, ctx.caller);
  const user = findUser(ctx);
  if (user.state === 'deactivated') return null;
  if (isBlocked(user)) throw apiError('Error occurred. A blocked user cannot be deactivated', 403);
  if (isInternal(user)) throw apiError('Internal users cannot be deactivated', 403);
  if (!dormant(store, user)) {
    throw apiError(
      `The user you are trying to deactivate has been active in the past ${store.settings.deactivateDormantUsersPeriod} days and cannot be deactivated`,
      403,
    );
  }
  setState(store, user, 'deactivated');
  sendUserDeactivated(store, user);
  return true;
}

function activate(ctx: RouteCtx): unknown {
  requireAdmin(ctx.store, ctx.caller);
  const user = findUser(ctx);
  if (isBlocked(user))
    throw apiError('Error occurred. A blocked user must be unblocked to be activated', 403);
  if (user.state !== 'active') setState(ctx.store, user, 'active');
  return true;
}

function ban(ctx: RouteCtx): unknown {
  requireAdmin(ctx.store, ctx.caller);
  const user = findUser(ctx);
  if (user.state !== 'active') throw apiError(`You cannot ban ${user.state} users.`, 403);
  setState(ctx.store, user, 'banned');
  return true;
}

function unban(ctx: RouteCtx): unknown {
  requireAdmin(ctx.store, ctx.caller);
  const user = findUser(ctx);
  if (user.state !== 'banned') throw apiError(`You cannot unban ${user.state} users.`, 403);
  setState(ctx.store, user, 'active');
  return true;
}

/**
 * `Users::ApproveService`: the user becomes active and takes up the invitations sent to their
 * confirmed addresses. The endpoint tests `result[:success]`, a key the service never sets, so even
 * success is rendered through `render_api_error!`: `{"message":"Success"}` with the service's 201.
 */
function approve(ctx: RouteCtx): unknown {
  const user = findUser(ctx);
  if (!ctx.isAdmin) throw apiError('You are not allowed to approve a user', 403);
  if (user.state !== 'blocked_pending_approval')
    throw apiError('The user you are trying to approve is not pending approval', 409);
  setState(ctx.store, user, 'active');
  acceptPendingInvitations(ctx.store, user);
  sendAdminApproval(ctx.store, user);
  ctx.status = 201;
  return { message: 'Success' };
}

/** Like approve: `{"message":"Success"}`, here with `Users::RejectService`'s 200; the user is hard-deleted. */
function reject(ctx: RouteCtx): unknown {
  const user = findUser(ctx);
  if (!ctx.isAdmin) throw apiError('You are not allowed to reject a user', 403);
  if (user.state !== 'blocked_pending_approval') throw apiError('User does not have a pending request', 409);
  scheduleUserDeletion(ctx.store, user, true);
  sendAdminRejection(ctx.store, user);
  ctx.status = 200;
  return { message: 'Success' };
}

function disableTwoFactor(ctx: RouteCtx): unknown {
  requireAdmin(ctx.store, ctx.caller);
  const user = findUser(ctx);
  if (user.admin) {
    throw forbidden(
      'Two-factor authentication for admins cannot be disabled via the API. Use the Rails console',
    );
  }
  if (!user.twoFactorEnabled) throw badRequest('Two-factor authentication is not enabled for this user');
  ctx.store.updateUser(user, { twoFactorEnabled: false });
  sendTwoFactorDisabled(ctx.store, user);
  ctx.status = 204;
  return undefined;
}

const moderation = (
  method: 'POST' | 'PATCH',
  action: string,
  handler: (ctx: RouteCtx) => unknown,
): ApiRoute => ({
  method,
  path: `/users/:id/${action}`,
  requirements: { id: USER_ID },
  auth: 'non_get',
  params: [requires('id', 'Integer')],
  handler,
});

export const userModerationRoutes: ApiRoute[] = [
  moderation('POST', 'block', block),
  moderation('POST', 'unblock', unblock),
  moderation('POST', 'deactivate', deactivate),
  moderation('POST', 'activate', activate),
  moderation('POST', 'ban', ban),
  moderation('POST', 'unban', unban),
  moderation('POST', 'approve', approve),
  moderation('POST', 'reject', reject),
  moderation('PATCH', 'disable_two_factor', disableTwoFactor),
];
