import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type CallOptions, get, post, useSimulator } from './helpers.js';

// Each test names the GitLab source it mirrors.
describe('authentication (lib/gitlab/auth/auth_finders.rb, lib/api/api_guard.rb, lib/api/helpers.rb)', () => {
  const sim = useSimulator();

  it('accepts the admin token in PRIVATE-TOKEN, Bearer, private_token and access_token — auth_finders.rb', async () => {
    for (const opts of <CallOptions[]>[
      {},
      { bearer: ADMIN_TOKEN },
      { token: null, query: { private_token: ADMIN_TOKEN } },
      { token: null, query: { access_token: ADMIN_TOKEN } },
    ]) {
      const res = await get(sim(), '/user', opts);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: 1, username: 'root', is_admin: true });
    }
  });

  it('unknown token → 401 {"message":"401 Unauthorized"} — lib/api/helpers.rb#unauthorized!', async () => {
    const res = await get(sim(), '/user', { token: 'glpat-nope' });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ message: '401 Unauthorized' });
  });

  it('no credentials on /user → 401 — lib/api/users.rb (authenticate!)', async () => {
    const res = await get(sim(), '/user', { token: null });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ message: '401 Unauthorized' });
  });

  it('expired PAT → 401 invalid_token with WWW-Authenticate — lib/gitlab/auth/auth_finders.rb', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const token = s.givenToken(alice, ['api'], '2026-12-01');
    s.clock.freeze(new Date('2026-12-01T00:00:01Z'));
    const res = await get(s, '/user', { token });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      error: 'invalid_token',
      error_description: 'Token is expired. You can either do re-authorization or token refresh.',
    });
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('revoked PAT → 401 "Token was revoked…" — lib/gitlab/auth/auth_finders.rb', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const token = s.givenToken(alice, ['api']);
    s.store.personalAccessTokens.get(token)!.revoked = true;
    const res = await get(s, '/user', { token });
    expect(res.status).toBe(401);
    expect(res.body.error_description).toBe('Token was revoked. You have to re-authorize from the user.');
  });

  it('token without a fitting scope → 403 insufficient_scope listing the allowed scopes — rack-oauth2 Forbidden', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const token = s.givenToken(alice, ['read_repository']);
    const res = await get(s, '/user', { token });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      error: 'insufficient_scope',
      error_description: 'The request requires higher privileges than provided by the access token.',
      scope: 'api read_api read_user',
    });
    expect(res.headers.get('www-authenticate')).toBeNull();
  });

  it('read_user is enough for GET /user but not for GET /version — lib/api/users.rb allow_access_with_scope', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const token = s.givenToken(alice, ['read_user']);
    expect((await get(s, '/user', { token })).status).toBe(200);
    const version = await get(s, '/version', { token });
    expect(version.status).toBe(403);
    expect(version.body.scope).toBe('api read_api');
  });

  it('read_api does not allow writes — lib/api/api.rb', async () => {
    const s = sim();
    const token = s.givenToken(s.user('root')!, ['read_api']);
    const res = await post(s, '/users', { username: 'x' }, { token });
    expect(res.status).toBe(403);
    expect(res.body.scope).toBe('api');
  });

  it.each([
    ['blocked', 'Your account has been blocked.'],
    ['banned', 'Your account has been blocked.'],
    [
      'blocked_pending_approval',
      'Your account is pending approval from your administrator and hence blocked.',
    ],
  ] as const)(
    'a %s user’s token → 403 with the reason — lib/gitlab/auth/user_access_denied_reason.rb',
    async (state, reason) => {
      const s = sim();
      const u = s.givenUser({ username: 'mallory', state });
      const token = s.givenToken(u);
      const res = await get(s, '/user', { token });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ message: `403 Forbidden - ${reason}` });
    },
  );

  it('a deactivated user’s token → 403 telling them to sign in from a browser — user_access_denied_reason.rb', async () => {
    const s = sim();
    const u = s.givenUser({ username: 'dormant', state: 'deactivated' });
    const res = await get(s, '/user', { token: s.givenToken(u) });
    expect(res.status).toBe(403);
    expect(res.body.message).toBe(
      `403 Forbidden - Your account has been deactivated by your administrator. Please log back in from a web browser to reactivate your account at ${s.url}`,
    );
  });

  it('non-admin /user has no is_admin key (UserPublic) — lib/api/entities/user_public.rb', async () => {
    const s = sim();
    const u = s.givenUser({ username: 'alice', name: 'Alice' });
    const res = await get(s, '/user', { token: s.givenToken(u) });
    expect(res.status).toBe(200);
    expect(res.body).not.toHaveProperty('is_admin');
    expect(res.body).toMatchObject({ username: 'alice', external: false, email: 'alice@example.com' });
  });

  it('API use moves last_activity_on — app/services/users/activity_service.rb', async () => {
    const s = sim();
    const u = s.givenUser({ username: 'alice', last_activity_on: '2020-01-01' });
    await get(s, '/user', { token: s.givenToken(u) });
    expect(u.lastActivityOn).toBe(s.clock.today());
  });
});

describe('sudo (lib/api/helpers.rb#sudo!)', () => {
  const sim = useSimulator();

  it('admin token with sudo scope acts as the target user (by id or username)', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    for (const ref of ['alice', String(alice.id)]) {
      const res = await get(s, '/user', { headers: { sudo: ref } });
      expect(res.status).toBe(200);
      expect(res.body.username).toBe('alice');
      expect(res.body).not.toHaveProperty('is_admin');
    }
  });

  it('non-admin → 403 "Must be admin to use sudo"', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const res = await get(s, '/user', {
      token: s.givenToken(alice, ['api', 'sudo']),
      headers: { sudo: 'root' },
    });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: '403 Forbidden - Must be admin to use sudo' });
  });

  it('admin token without the sudo scope → 403 insufficient_scope (scope "sudo")', async () => {
    const s = sim();
    s.givenUser({ username: 'alice' });
    const token = s.givenToken(s.user('root')!, ['api']);
    const res = await get(s, '/user', { token, headers: { sudo: 'alice' } });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'insufficient_scope', scope: 'sudo' });
  });

  it('unknown target → 404 "User with ID or username \'<x>\' Not Found"', async () => {
    const res = await get(sim(), '/user', { query: { sudo: 'ghost' } });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: "404 User with ID or username 'ghost' Not Found" });
  });
});

describe('GET /personal_access_tokens/self (lib/api/personal_access_tokens/self_information.rb)', () => {
  const sim = useSimulator();

  it('describes the calling PAT with any scope, in the newest field order — lib/api/entities/personal_access_token.rb', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const token = s.givenToken(alice, ['read_repository'], '2027-06-30');
    const res = await get(s, '/personal_access_tokens/self', { token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      revoked: false,
      expired: false,
      granular: false,
      scopes: ['read_repository'],
      user_id: alice.id,
      active: true,
      expires_at: '2027-06-30',
    });
    expect(Object.keys(res.body)).toEqual([
      'id',
      'name',
      'active',
      'revoked',
      'expired',
      'granular',
      'created_at',
      'description',
      'scopes',
      'user_id',
      'last_used_at',
      'expires_at',
    ]);
  });

  it('the generated admin token has api, sudo, admin_mode and read_user', async () => {
    const res = await get(sim(), '/personal_access_tokens/self');
    expect(res.body.scopes).toEqual(['api', 'sudo', 'admin_mode', 'read_user']);
  });

  it('401 without a token', async () => {
    expect((await get(sim(), '/personal_access_tokens/self', { token: null })).status).toBe(401);
  });
});

describe('routing (lib/api/api.rb)', () => {
  const sim = useSimulator({ strict: false });

  it('unmatched API route → 404 {"error":"404 Not Found"} (catch-all)', async () => {
    const res = await get(sim(), '/no/such/endpoint');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: '404 Not Found' });
  });

  it('API responses carry X-Frame-Options and X-Content-Type-Options', async () => {
    const res = await get(sim(), '/version');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.body).toEqual({
      version: expect.stringMatching(/^\d+\.\d+\.\d+$/),
      revision: expect.any(String),
    });
  });

  it('API v3 → 410', async () => {
    const res = await get(sim(), '/../v3/user');
    expect(res.status).toBe(410);
  });
});
