import { describe, expect, it } from 'vitest';
import { get, useSimulator } from './helpers.js';

describe('GET /users/:id (lib/api/users.rb)', () => {
  const sim = useSimulator();

  it('admins get UserDetailsWithAdmin with highest_role and sign-in IPs — user_details_with_admin.rb', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    s.givenMember(s.givenGroup({ path: 'acme' }), alice, 40);
    s.store.recordSignIn(alice, '10.0.0.7');
    const res = await get(s, `/users/${alice.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: alice.id,
      username: 'alice',
      is_admin: false,
      highest_role: 40,
      current_sign_in_ip: '10.0.0.7',
      last_sign_in_ip: '10.0.0.7',
    });
  });

  it('non-admins get the User entity: no e-mail, no admin fields — lib/api/entities/user.rb', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const bob = s.givenUser({ username: 'bob' });
    const res = await get(s, `/users/${alice.id}`, { token: s.givenToken(bob) });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: alice.id, username: 'alice', bot: false });
    expect(res.body.created_at).toEqual(expect.any(String));
    for (const key of ['email', 'is_admin', 'note', 'external', 'highest_role'])
      expect(res.body).not.toHaveProperty(key);
  });

  it('anonymous → 403 "Not authorized!" (not 401) — lib/api/users.rb', async () => {
    const s = sim();
    const res = await get(s, '/users/1', { token: null });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: '403 Forbidden - Not authorized!' });
  });

  it('a non-numeric id is an unmatched route → {"error":"404 Not Found"} — resource requirements', async () => {
    const res = await get(sim(), '/users/alice');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: '404 Not Found' });
  });

  it('an unknown id → 404 "404 User Not Found" — lib/api/helpers.rb#not_found!', async () => {
    const res = await get(sim(), '/users/4242');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: '404 User Not Found' });
  });

  it('a private profile hides created_at from other users but not from the user — UserPolicy read_user_profile', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    s.store.updateUser(alice, { privateProfile: true });
    const bob = s.givenUser({ username: 'bob' });
    expect((await get(s, `/users/${alice.id}`, { token: s.givenToken(bob) })).body).not.toHaveProperty(
      'created_at',
    );
    expect((await get(s, `/users/${alice.id}`, { token: s.givenToken(alice) })).body).toHaveProperty(
      'created_at',
    );
  });

  it('a blocked user is still readable by others, without created_at — UserPolicy', async () => {
    const s = sim();
    const blocked = s.givenUser({ username: 'blocked1', state: 'blocked' });
    const bob = s.givenUser({ username: 'bob' });
    const res = await get(s, `/users/${blocked.id}`, { token: s.givenToken(bob) });
    expect(res.status).toBe(200);
    expect(res.body.state).toBe('blocked');
    expect(res.body).not.toHaveProperty('created_at');
  });

  it('with_custom_attributes=true adds custom_attributes for admins — lib/api/helpers/custom_attributes.rb', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', custom_attributes: { sponsor: 'root' } });
    const res = await get(s, `/users/${alice.id}`, { query: { with_custom_attributes: true } });
    expect(res.body.custom_attributes).toEqual([{ key: 'sponsor', value: 'root' }]);
    const plain = await get(s, `/users/${alice.id}`);
    expect(plain.body).not.toHaveProperty('custom_attributes');
  });

  it('a read_user token is enough — lib/api/users.rb allow_access_with_scope :read_user', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const res = await get(s, `/users/${alice.id}`, { token: s.givenToken(alice, ['read_user']) });
    expect(res.status).toBe(200);
  });

  it('the 301st lookup within 10 minutes by a non-admin → 429 — ApplicationRateLimiter users_get_by_id', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const token = s.givenToken(alice);
    // A frozen clock keeps all 301 requests in one 10-minute window.
    s.clock.freeze();
    // Fifty at a time: the count is what matters, not the order.
    const statuses: number[] = [];
    for (let batch = 0; batch < 6; batch++) {
      const answers = await Promise.all(Array.from({ length: 50 }, () => get(s, '/users/1', { token })));
      statuses.push(...answers.map((r) => r.status));
    }
    expect(statuses).toEqual(Array(300).fill(200));
    const res = await get(s, '/users/1', { token });
    expect(res.status).toBe(429);
    expect(res.body).toEqual({
      message: { error: 'This endpoint has been requested too many times. Try again later.' },
    });
    expect((await get(s, '/users/1')).status).toBe(200);
    s.advanceTime(10 * 60 * 1000);
    expect((await get(s, '/users/1', { token })).status).toBe(200);
  });
});
