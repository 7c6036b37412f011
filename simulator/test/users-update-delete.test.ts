import { describe, expect, it } from 'vitest';
import { verifyPassword } from '../src/model/secrets.js';
import { del, get, put, useSimulator } from './helpers.js';

describe('PUT /users/:id (lib/api/users.rb, app/services/users/update_service.rb)', () => {
  const sim = useSimulator();

  it('updates attributes and answers 200 with UserWithAdmin — lib/api/users.rb', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const res = await put(s, `/users/${alice.id}`, { note: 'contract ends 2026', name: 'Alice A.' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: alice.id,
      note: 'contract ends 2026',
      name: 'Alice A.',
      is_admin: false,
    });
  });

  it('an unknown user → 404 "404 User Not Found" — lib/api/users.rb', async () => {
    const res = await put(sim(), '/users/999', { note: 'x' });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: '404 User Not Found' });
  });

  it('another user’s e-mail → 409 "Email has already been taken"; the user’s own is fine — lib/api/users.rb', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    s.givenUser({ username: 'bob' });
    const res = await put(s, `/users/${alice.id}`, { email: 'BOB@example.com' });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ message: 'Email has already been taken' });
    expect((await put(s, `/users/${alice.id}`, { email: 'alice@example.com' })).status).toBe(200);
  });

  it('another user’s username → 409 "Username has already been taken" — lib/api/users.rb', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    s.givenUser({ username: 'bob' });
    const res = await put(s, `/users/${alice.id}`, { username: 'Bob' });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ message: 'Username has already been taken' });
  });

  it('invalid attributes → 400 hash — render_validation_error!', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const res = await put(s, `/users/${alice.id}`, { name: 'x'.repeat(256), projects_limit: -5 });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      message: {
        name: ['is too long (maximum is 255 characters)'],
        projects_limit: ['must be greater than or equal to 0'],
      },
    });
  });

  it('a password set by an admin expires at once and mails the user — send_only_admin_changed_your_password_notification!', async () => {
    const s = sim();
    s.clock.freeze();
    const alice = s.givenUser({ username: 'alice', password: 'Old!pass-2024x' });
    const token = s.givenToken(alice);
    const res = await put(s, `/users/${alice.id}`, { password: 'Vx7!pQ2#mR9z' });
    expect(res.status).toBe(200);
    expect(alice.passwordExpiresAt).toBe(s.clock.nowMs());
    expect(verifyPassword('Vx7!pQ2#mR9z', alice.passwordHash)).toBe(true);
    expect(s.mails({ to: 'alice@example.com', kind: 'password_change_by_admin' })).toHaveLength(1);
    const denied = await get(s, '/user', { token });
    expect(denied.status).toBe(403);
    expect(denied.body.message).toContain('Your password expired');
  });

  it('a new e-mail waits for reconfirmation and is mailed a confirmation link — Devise reconfirmable', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const res = await put(s, `/users/${alice.id}`, { email: 'alice@new.test' });
    expect(res.status).toBe(200);
    expect(res.body.email).toBe('alice@example.com');
    expect(alice.unconfirmedEmail).toBe('alice@new.test');
    const [mail] = s.mails({ to: 'alice@new.test', kind: 'confirmation' });
    expect(mail!.confirmationLink).toBe(
      `${s.url}/users/confirmation?confirmation_token=${alice.confirmationToken}`,
    );
  });

  it('skip_reconfirmation switches at once; the old address stays the user’s secondary e-mail — update_emails_with_primary_email', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const bob = s.givenUser({ username: 'bob' });
    const res = await put(s, `/users/${alice.id}`, {
      email: 'alice@new.test',
      skip_reconfirmation: true,
    });
    expect(res.body.email).toBe('alice@new.test');
    expect(s.mails()).toEqual([]);
    expect((await put(s, `/users/${bob.id}`, { email: 'alice@example.com' })).status).toBe(409);
  });

  it('turning external on zeroes the limits; turning it off restores the instance defaults — ensure_user_rights_and_limits', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const on = await put(s, `/users/${alice.id}`, { external: true });
    expect(on.body).toMatchObject({ external: true, projects_limit: 0, can_create_group: false });
    const off = await put(s, `/users/${alice.id}`, { external: false });
    expect(off.body).toMatchObject({
      external: false,
      projects_limit: s.settings.defaultProjectsLimit,
      can_create_group: s.settings.canCreateGroup,
    });
  });

  it('turning external off keeps limits changed in the same update — ensure_user_rights_and_limits', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', external: true });
    const res = await put(s, `/users/${alice.id}`, { external: false, projects_limit: 5 });
    expect(res.body).toMatchObject({ external: false, projects_limit: 5, can_create_group: true });
  });

  it('an update that changes nothing keeps updated_at — ActiveRecord dirty tracking', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', note: 'same' });
    const before = alice.updatedAt;
    s.advanceTime(5000);
    expect((await put(s, `/users/${alice.id}`, { note: 'same' })).status).toBe(200);
    expect(alice.updatedAt).toBe(before);
  });

  it('non-admin → 403, anonymous → 401 — authenticated_as_admin!, authenticate_non_get!', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    expect((await put(s, `/users/${alice.id}`, { note: 'x' }, { token: s.givenToken(alice) })).status).toBe(
      403,
    );
    expect((await put(s, `/users/${alice.id}`, { note: 'x' }, { token: null })).status).toBe(401);
  });
});

describe('DELETE /users/:id (lib/api/users.rb, app/models/user.rb#delete_async)', () => {
  const sim = useSimulator({ settings: { userDeletionDelayMs: 60_000 } });

  it('204 with an empty body; the user stays visible until DeleteUserWorker ran — delete_async', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const res = await del(s, `/users/${alice.id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect(alice.deletionScheduledAt).not.toBeNull();
    expect((await get(s, `/users/${alice.id}`)).status).toBe(200);
    s.advanceTime(60_000);
    expect((await get(s, `/users/${alice.id}`)).status).toBe(404);
  });

  it('an unknown user → 404 "404 User Not Found"', async () => {
    const res = await del(sim(), '/users/999');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: '404 User Not Found' });
  });

  it('the sole owner of a group → 409 — User#can_be_removed?', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    s.givenMember(s.givenGroup({ path: 'acme' }), alice, 50);
    const res = await del(s, `/users/${alice.id}`);
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ message: 'User cannot be removed while is the sole-owner of a group' });
  });

  it('hard_delete removes a sole owner anyway and blocks them first — User#delete_async', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    s.givenMember(s.givenGroup({ path: 'acme' }), alice, 50);
    const res = await del(s, `/users/${alice.id}`, { query: { hard_delete: true } });
    expect(res.status).toBe(204);
    expect(alice.state).toBe('blocked');
  });

  it('an owner of a group with another owner can be removed — Group#last_owner?', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const bob = s.givenUser({ username: 'bob' });
    const parent = s.givenGroup({ path: 'acme' });
    s.givenMember(s.givenGroup({ path: 'team', parent }), alice, 50);
    s.givenMember(parent, bob, 50);
    expect((await del(s, `/users/${alice.id}`)).status).toBe(204);
  });

  it('If-Unmodified-Since older than updated_at → 412 — check_unmodified_since!', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const headers = { 'if-unmodified-since': new Date(alice.updatedAt - 60_000).toUTCString() };
    const res = await del(s, `/users/${alice.id}`, { headers });
    expect(res.status).toBe(412);
    expect(res.body).toEqual({ message: '412 Precondition Failed' });
    expect(alice.deletionScheduledAt).toBeNull();
  });

  it('non-admin → 403 — authenticated_as_admin!', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const res = await del(s, '/users/1', { token: s.givenToken(alice) });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: '403 Forbidden' });
  });
});

describe('GET /users/:user_id/memberships (lib/api/users.rb, lib/api/entities/membership.rb)', () => {
  const sim = useSimulator();

  it('lists direct memberships, filtered by type — Entities::Membership', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const group = s.givenGroup({ path: 'acme', name: 'ACME' });
    const project = s.givenProject({ path: 'app', name: 'App', namespace: group });
    s.givenMember(group, alice, 30);
    s.givenMember(project, alice, 40);
    const all = await get(s, `/users/${alice.id}/memberships`);
    expect(all.status).toBe(200);
    expect(all.body).toEqual([
      { source_id: group.id, source_name: 'ACME', source_type: 'Namespace', access_level: 30 },
      { source_id: project.id, source_name: 'App', source_type: 'Project', access_level: 40 },
    ]);
    const projects = await get(s, `/users/${alice.id}/memberships`, { query: { type: 'Project' } });
    expect(projects.body).toEqual([all.body[1]]);
    expect(projects.headers.get('x-total')).toBe('1');
  });

  it('an unknown type → 400 "type does not have a valid value" — Grape values', async () => {
    const res = await get(sim(), '/users/1/memberships', { query: { type: 'Group' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'type does not have a valid value' });
  });

  it('non-admin → 403; unknown user → 404 User Not Found — authenticated_as_admin!, find_user_by_id', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    expect((await get(s, '/users/1/memberships', { token: s.givenToken(alice) })).status).toBe(403);
    const missing = await get(s, '/users/999/memberships');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ message: '404 User Not Found' });
  });
});
