import { describe, expect, it } from 'vitest';
import { DAY_MS } from '../src/index.js';
import { call, post, useSimulator } from './helpers.js';

describe('POST /users/:id/block and /unblock (lib/api/users.rb, Users::BlockService, Users::UnblockService)', () => {
  const sim = useSimulator();

  it('block → 201 true and the user is blocked', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const res = await post(s, `/users/${alice.id}/block`);
    expect(res.status).toBe(201);
    expect(res.text).toBe('true');
    expect(alice.state).toBe('blocked');
  });

  it('blocking an already blocked (or banned) user → 201 null — `break if user.blocked?`', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', state: 'banned' });
    const res = await post(s, `/users/${alice.id}/block`);
    expect(res.status).toBe(201);
    expect(res.text).toBe('null');
    expect(alice.state).toBe('banned');
  });

  it('an LDAP-blocked user → 403 "LDAP blocked users cannot be modified by the API"', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', state: 'ldap_blocked' });
    const res = await post(s, `/users/${alice.id}/block`);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: '403 Forbidden - LDAP blocked users cannot be modified by the API' });
  });

  it('blocking yourself → 403 "The API initiating user cannot be blocked by the API"', async () => {
    const res = await post(sim(), '/users/1/block');
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      message: '403 Forbidden - The API initiating user cannot be blocked by the API',
    });
  });

  it('an internal user → 403 {"message":"An internal user cannot be blocked"} — Users::BlockService', async () => {
    const s = sim();
    const ghost = s.givenUser({ username: 'ghost' });
    s.store.updateUser(ghost, { userType: 'ghost' });
    const res = await post(s, `/users/${ghost.id}/block`);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: 'An internal user cannot be blocked' });
  });

  it('unknown user → 404; non-admin → 403; anonymous → 401', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    expect((await post(s, '/users/999/block')).body).toEqual({ message: '404 User Not Found' });
    expect((await post(s, '/users/1/block', undefined, { token: s.givenToken(alice) })).status).toBe(403);
    expect((await post(s, '/users/1/block', undefined, { token: null })).status).toBe(401);
  });

  it('unblock → 201 true; unblocking an active user → 201 false — state_machine activate', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', state: 'blocked' });
    const res = await post(s, `/users/${alice.id}/unblock`);
    expect(res.status).toBe(201);
    expect(res.text).toBe('true');
    expect(alice.state).toBe('active');
    const again = await post(s, `/users/${alice.id}/unblock`);
    expect(again.status).toBe(201);
    expect(again.text).toBe('false');
  });

  it('unblock also lifts a ban (it fires activate) — Users::UnblockService', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', state: 'banned' });
    expect((await post(s, `/users/${alice.id}/unblock`)).text).toBe('true');
    expect(alice.state).toBe('active');
  });

  it('unblock refuses LDAP-blocked and deactivated users with their own 403 texts', async () => {
    const s = sim();
    const ldap = s.givenUser({ username: 'ldap1', state: 'ldap_blocked' });
    const dormant = s.givenUser({ username: 'dormant', state: 'deactivated' });
    expect((await post(s, `/users/${ldap.id}/unblock`)).body).toEqual({
      message: '403 Forbidden - LDAP blocked users cannot be unblocked by the API',
    });
    const res = await post(s, `/users/${dormant.id}/unblock`);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: '403 Forbidden - Deactivated users cannot be unblocked by the API' });
  });
});

describe('POST /users/:id/deactivate and /activate (Users::DeactivateService, Users::ActivateService)', () => {
  const sim = useSimulator();

  it('a dormant user → 201 true, deactivated, and mailed — User#no_recent_activity?', async () => {
    const s = sim();
    const old = new Date(s.clock.nowMs() - 91 * DAY_MS).toISOString().slice(0, 10);
    const alice = s.givenUser({ username: 'alice', last_activity_on: old });
    const res = await post(s, `/users/${alice.id}/deactivate`);
    expect(res.status).toBe(201);
    expect(res.text).toBe('true');
    expect(alice.state).toBe('deactivated');
    expect(s.mails({ to: 'alice@example.com', kind: 'user_deactivated' })).toHaveLength(1);
  });

  it('a user with no recorded activity at all can be deactivated', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    expect((await post(s, `/users/${alice.id}/deactivate`)).text).toBe('true');
  });

  it('recent activity → 403 naming deactivate_dormant_users_period — Users::DeactivateService', async () => {
    const s = sim();
    s.settings.deactivateDormantUsersPeriod = 30;
    const recent = new Date(s.clock.nowMs() - 29 * DAY_MS).toISOString().slice(0, 10);
    const alice = s.givenUser({ username: 'alice', last_activity_on: recent });
    const res = await post(s, `/users/${alice.id}/deactivate`);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      message:
        'The user you are trying to deactivate has been active in the past 30 days and cannot be deactivated',
    });
  });

  it('a recent sign-in counts even when last_activity_on is old — User#last_active_at', async () => {
    const s = sim();
    const old = new Date(s.clock.nowMs() - 200 * DAY_MS).toISOString().slice(0, 10);
    const alice = s.givenUser({
      username: 'alice',
      last_activity_on: old,
      current_sign_in_at: new Date(s.clock.nowMs() - DAY_MS).toISOString(),
    });
    expect((await post(s, `/users/${alice.id}/deactivate`)).status).toBe(403);
  });

  it('deactivating a deactivated user → 201 null — `break if user.deactivated?`', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', state: 'deactivated' });
    const res = await post(s, `/users/${alice.id}/deactivate`);
    expect(res.status).toBe(201);
    expect(res.text).toBe('null');
  });

  it('a blocked user cannot be deactivated → 403 — Users::DeactivateService', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', state: 'blocked' });
    const res = await post(s, `/users/${alice.id}/deactivate`);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: 'Error occurred. A blocked user cannot be deactivated' });
  });

  it('activate → 201 true for deactivated and already active users', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', state: 'deactivated' });
    expect((await post(s, `/users/${alice.id}/activate`)).text).toBe('true');
    expect(alice.state).toBe('active');
    const again = await post(s, `/users/${alice.id}/activate`);
    expect(again.status).toBe(201);
    expect(again.text).toBe('true');
  });

  it('activating a blocked user → 403 "…must be unblocked to be activated" — Users::ActivateService', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', state: 'blocked' });
    const res = await post(s, `/users/${alice.id}/activate`);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: 'Error occurred. A blocked user must be unblocked to be activated' });
  });
});

describe('POST /users/:id/ban and /unban (Users::BanService, Users::UnbanService)', () => {
  const sim = useSimulator();

  it('ban an active user → 201 true; unban → 201 true', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    expect((await post(s, `/users/${alice.id}/ban`)).text).toBe('true');
    expect(alice.state).toBe('banned');
    expect((await post(s, `/users/${alice.id}/unban`)).text).toBe('true');
    expect(alice.state).toBe('active');
  });

  it('ban a non-active user → 403 "You cannot ban <state> users."', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', state: 'blocked' });
    const res = await post(s, `/users/${alice.id}/ban`);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: 'You cannot ban blocked users.' });
  });

  it('unban a user who is not banned → 403 "You cannot unban active users."', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const res = await post(s, `/users/${alice.id}/unban`);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: 'You cannot unban active users.' });
  });

  it('ban an unknown user → 404 "404 User Not Found" — find_user_by_id', async () => {
    const res = await post(sim(), '/users/999/ban');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: '404 User Not Found' });
  });
});

describe('POST /users/:id/approve and /reject (Users::ApproveService, Users::RejectService)', () => {
  const sim = useSimulator();

  it('approve a pending user → 201 {"message":"Success"}, active and welcomed', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', state: 'blocked_pending_approval' });
    const res = await post(s, `/users/${alice.id}/approve`);
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ message: 'Success' });
    expect(alice.state).toBe('active');
    expect(s.mails({ kind: 'user_admin_approval' })).toHaveLength(1);
  });

  it('approve turns the invitations sent to the user’s confirmed address into memberships — Users::ApproveService accept_pending_invitations!', async () => {
    const s = sim();
    const group = s.givenGroup({ path: 'research' });
    await post(s, `/groups/${group.id}/invitations`, { email: 'alice@corp.example', access_level: 30 });
    const alice = s.givenUser({
      username: 'alice',
      email: 'alice@corp.example',
      state: 'blocked_pending_approval',
    });
    expect((await post(s, `/users/${alice.id}/approve`)).status).toBe(201);
    const ref = { type: 'Namespace' as const, id: group.id };
    expect(s.store.directMember(ref, alice.id)?.accessLevel).toBe(30);
    expect(s.store.findInvitation(ref, 'alice@corp.example')).toBeUndefined();
  });

  it('approve a user who is not pending → 409 (not 403)', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', state: 'blocked' });
    const res = await post(s, `/users/${alice.id}/approve`);
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ message: 'The user you are trying to approve is not pending approval' });
  });

  it('approve as a non-admin → 403 "You are not allowed to approve a user"; unknown user → 404', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', state: 'blocked_pending_approval' });
    const token = s.givenToken(s.givenUser({ username: 'bob' }));
    const res = await post(s, `/users/${alice.id}/approve`, undefined, { token });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: 'You are not allowed to approve a user' });
    expect((await post(s, '/users/999/approve')).body).toEqual({ message: '404 User Not Found' });
  });

  it('reject a pending user → 200 {"message":"Success"}; the user is blocked and deleted — delete_async(hard_delete)', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', state: 'blocked_pending_approval' });
    const res = await post(s, `/users/${alice.id}/reject`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ message: 'Success' });
    expect(s.mails({ kind: 'user_admin_rejection' })).toHaveLength(1);
    s.runJobs();
    expect(s.user('alice')).toBeUndefined();
  });

  it('reject a user who is not pending → 409 "User does not have a pending request"', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const res = await post(s, `/users/${alice.id}/reject`);
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ message: 'User does not have a pending request' });
  });

  it('reject as a non-admin → 403 "You are not allowed to reject a user"', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', state: 'blocked_pending_approval' });
    const token = s.givenToken(s.givenUser({ username: 'bob' }));
    const res = await post(s, `/users/${alice.id}/reject`, undefined, { token });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: 'You are not allowed to reject a user' });
  });
});

describe('PATCH /users/:id/disable_two_factor (lib/api/users.rb, TwoFactor::DestroyService)', () => {
  const sim = useSimulator();

  it('disables 2FA → 204 and mails the user', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    s.store.updateUser(alice, { twoFactorEnabled: true });
    const res = await call(s, 'PATCH', `/users/${alice.id}/disable_two_factor`);
    expect(res.status).toBe(204);
    expect(alice.twoFactorEnabled).toBe(false);
    expect(s.mails({ kind: 'disabled_two_factor' })).toHaveLength(1);
  });

  it('an admin target → 403 "…cannot be disabled via the API. Use the Rails console"', async () => {
    const res = await call(sim(), 'PATCH', '/users/1/disable_two_factor');
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      message:
        '403 Forbidden - Two-factor authentication for admins cannot be disabled via the API. Use the Rails console',
    });
  });

  it('2FA not enabled → 400 bad request', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const res = await call(s, 'PATCH', `/users/${alice.id}/disable_two_factor`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      message: '400 Bad request - Two-factor authentication is not enabled for this user',
    });
  });
});
