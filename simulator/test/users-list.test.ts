import { describe, expect, it } from 'vitest';
import { generateUsers } from '../src/index.js';
import { get, useSimulator } from './helpers.js';

const basicKeys = ['id', 'username', 'name', 'state', 'locked', 'avatar_url', 'web_url'];
const usernames = (body: { username: string }[]) => body.map((u) => u.username);

describe('GET /users — entities and visibility (lib/api/users.rb, app/finders/users_finder.rb)', () => {
  const sim = useSimulator();

  it('admins get UserWithAdmin, newest first, without IPs or highest_role — lib/api/entities/user_with_admin.rb', async () => {
    const s = sim();
    s.givenUser({ username: 'alice' });
    s.givenUser({ username: 'bob' });
    const res = await get(s, '/users');
    expect(res.status).toBe(200);
    expect(usernames(res.body)).toEqual(['bob', 'alice', 'root']);
    expect(res.body[0]).toMatchObject({
      username: 'bob',
      is_admin: false,
      email: 'bob@example.com',
      note: null,
    });
    expect(res.body[0]).toHaveProperty('created_by', null);
    expect(res.body[0]).not.toHaveProperty('current_sign_in_ip');
    expect(res.body[0]).not.toHaveProperty('highest_role');
  });

  it('non-admins get UserBasic only — lib/api/entities/user_basic.rb', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const res = await get(s, '/users', { token: s.givenToken(alice) });
    expect(res.status).toBe(200);
    for (const u of res.body) expect(Object.keys(u)).toEqual(basicKeys);
  });

  it('non-admins never see blocked, banned or ldap_blocked users — User.without_forbidden_states', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    s.givenUser({ username: 'blocked1', state: 'blocked' });
    s.givenUser({ username: 'banned1', state: 'banned' });
    s.givenUser({ username: 'ldap1', state: 'ldap_blocked' });
    s.givenUser({ username: 'dormant', state: 'deactivated' });
    const res = await get(s, '/users', { token: s.givenToken(alice) });
    expect(usernames(res.body)).toEqual(['dormant', 'alice', 'root']);
  });

  it('blocked=true is empty for non-admins, blocked + ldap_blocked for admins — User.blocked', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    s.givenUser({ username: 'blocked1', state: 'blocked' });
    s.givenUser({ username: 'ldap1', state: 'ldap_blocked' });
    s.givenUser({ username: 'banned1', state: 'banned' });
    const query = { blocked: true };
    expect((await get(s, '/users', { token: s.givenToken(alice), query })).body).toEqual([]);
    expect(usernames((await get(s, '/users', { query })).body)).toEqual(['ldap1', 'blocked1']);
  });

  it('anonymous without username → 403 "Not authorized to access /api/v4/users" — lib/api/users.rb', async () => {
    const res = await get(sim(), '/users', { token: null });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: '403 Forbidden - Not authorized to access /api/v4/users' });
  });

  it('anonymous with username gets that user as UserBasic, case-insensitively — User.by_username', async () => {
    const s = sim();
    s.givenUser({ username: 'Alice' });
    const res = await get(s, '/users', { token: null, query: { username: 'alice' } });
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(1);
    expect(res.body[0].username).toBe('Alice');
    expect(Object.keys(res.body[0])).toEqual(basicKeys);
  });

  it('with_custom_attributes adds the attributes for admins only — lib/api/helpers/custom_attributes.rb', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', custom_attributes: { team: 'red' } });
    const query = { with_custom_attributes: true, username: 'alice' };
    const adminRes = await get(s, '/users', { query });
    expect(adminRes.body[0].custom_attributes).toEqual([{ key: 'team', value: 'red' }]);
    const userRes = await get(s, '/users', { query, token: s.givenToken(alice) });
    expect(userRes.body[0]).not.toHaveProperty('custom_attributes');
  });
});

describe('GET /users — filters (app/finders/users_finder.rb, app/models/user.rb)', () => {
  const sim = useSimulator();

  it('search matches name or username substrings from 3 characters — Gitlab::SQL::Pattern', async () => {
    const s = sim();
    s.givenUser({ username: 'jdoe', name: 'Jane Doe' });
    s.givenUser({ username: 'doering', name: 'Max' });
    s.givenUser({ username: 'other', name: 'Other' });
    const res = await get(s, '/users', { query: { search: 'doe' } });
    expect(usernames(res.body).sort()).toEqual(['doering', 'jdoe']);
  });

  it('search shorter than 3 characters only matches exactly — User.search (lower_exact_match)', async () => {
    const s = sim();
    s.givenUser({ username: 'al', name: 'Al' });
    s.givenUser({ username: 'alice', name: 'Alice' });
    const res = await get(s, '/users', { query: { search: 'AL' } });
    expect(usernames(res.body)).toEqual(['al']);
  });

  it('search drops a leading @ — User.search', async () => {
    const s = sim();
    s.givenUser({ username: 'alice' });
    const res = await get(s, '/users', { query: { search: '@alice' } });
    expect(usernames(res.body)).toEqual(['alice']);
  });

  it('non-admin search matches the public e-mail exactly, never the private one — User.with_public_email', async () => {
    const s = sim();
    const viewer = s.givenUser({ username: 'viewer' });
    const alice = s.givenUser({ username: 'alice', email: 'alice.private@corp.test' });
    s.store.updateUser(alice, { publicEmail: 'alice.private@corp.test' });
    s.givenUser({ username: 'bob', email: 'bob.private@corp.test' });
    const token = s.givenToken(viewer);
    expect(
      usernames((await get(s, '/users', { token, query: { search: 'alice.private@corp.test' } })).body),
    ).toEqual(['alice']);
    expect((await get(s, '/users', { token, query: { search: 'bob.private@corp.test' } })).body).toEqual([]);
  });

  it('admin search matches primary e-mails exactly but not partially — User#with_primary_or_secondary_email', async () => {
    const s = sim();
    s.givenUser({ username: 'bob', email: 'bob.private@corp.test' });
    expect(usernames((await get(s, '/users', { query: { search: 'BOB.private@corp.test' } })).body)).toEqual([
      'bob',
    ]);
    expect((await get(s, '/users', { query: { search: 'private@corp.test' } })).body).toEqual([]);
  });

  it('search orders exact username, then exact name, then name and id — lib/api/users.rb#reorder_users', async () => {
    const s = sim();
    s.givenUser({ username: 'zed-ann', name: 'Zed' });
    s.givenUser({ username: 'someone', name: 'ann' });
    s.givenUser({ username: 'ann', name: 'Zzz' });
    s.givenUser({ username: 'b-ann', name: 'Bea' });
    const res = await get(s, '/users', { query: { search: 'ann' } });
    expect(usernames(res.body)).toEqual(['ann', 'someone', 'b-ann', 'zed-ann']);
  });

  it('search with order_by uses that order instead of relevance — lib/api/users.rb#custom_order_by_or_sort?', async () => {
    const s = sim();
    s.givenUser({ username: 'b-ann', name: 'Bea' });
    s.givenUser({ username: 'ann', name: 'Zzz' });
    const res = await get(s, '/users', { query: { search: 'ann', order_by: 'username', sort: 'asc' } });
    expect(usernames(res.body)).toEqual(['ann', 'b-ann']);
  });

  it('active=true keeps active, non-internal users; exclude_active keeps the rest — User.active/without_active', async () => {
    const s = sim();
    s.givenUser({ username: 'dormant', state: 'deactivated' });
    s.givenUser({ username: 'pending', state: 'blocked_pending_approval' });
    expect(usernames((await get(s, '/users', { query: { active: true } })).body)).toEqual(['root']);
    expect(usernames((await get(s, '/users', { query: { exclude_active: true } })).body)).toEqual([
      'pending',
      'dormant',
    ]);
  });

  it('active=false is no filter at all (declared default) — lib/api/users.rb', async () => {
    const s = sim();
    s.givenUser({ username: 'dormant', state: 'deactivated' });
    expect(usernames((await get(s, '/users', { query: { active: false } })).body)).toEqual([
      'dormant',
      'root',
    ]);
  });

  it('humans and exclude_humans split human users from bots — User.human/without_humans', async () => {
    const s = sim();
    s.givenUser({ username: 'bot1', bot: true });
    expect(usernames((await get(s, '/users', { query: { humans: true } })).body)).toEqual(['root']);
    expect(usernames((await get(s, '/users', { query: { exclude_humans: true } })).body)).toEqual(['bot1']);
  });

  it('external and exclude_external — User.external/non_external', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    s.givenUser({ username: 'ext', external: true });
    const token = s.givenToken(alice);
    expect(usernames((await get(s, '/users', { token, query: { external: true } })).body)).toEqual(['ext']);
    expect(usernames((await get(s, '/users', { query: { exclude_external: true } })).body)).toEqual([
      'alice',
      'root',
    ]);
  });

  it('without_project_bots drops project bots — User.without_project_bot', async () => {
    const s = sim();
    s.givenUser({ username: 'bot1', bot: true });
    expect(usernames((await get(s, '/users', { query: { without_project_bots: true } })).body)).toEqual([
      'root',
    ]);
  });

  it('exclude_internal drops ghost/support-bot users — User.non_internal', async () => {
    const s = sim();
    const ghost = s.givenUser({ username: 'ghost' });
    s.store.updateUser(ghost, { userType: 'ghost' });
    expect(usernames((await get(s, '/users', { query: { exclude_internal: true } })).body)).toEqual(['root']);
  });

  it('admins=true lists admins for admins and is ignored for others — UsersFinder#by_admins', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    expect(usernames((await get(s, '/users', { query: { admins: true } })).body)).toEqual(['root']);
    const res = await get(s, '/users', { token: s.givenToken(alice), query: { admins: true } });
    expect(usernames(res.body)).toEqual(['alice', 'root']);
  });

  it('created_after/created_before filter for admins and are dropped for others — CreatedAtFilter', async () => {
    const s = sim();
    const viewer = s.givenUser({ username: 'viewer', created_at: '2020-01-01T00:00:00Z' });
    s.givenUser({ username: 'old', created_at: '2021-01-01T00:00:00Z' });
    s.givenUser({ username: 'new', created_at: '2023-01-01T00:00:00Z' });
    const query = { created_after: '2020-06-01T00:00:00Z', created_before: '2022-01-01T00:00:00Z' };
    expect(usernames((await get(s, '/users', { query })).body)).toEqual(['old']);
    const res = await get(s, '/users', { token: s.givenToken(viewer), query });
    expect(usernames(res.body)).toEqual(['new', 'old', 'viewer', 'root']);
  });

  it('two_factor=enabled|disabled filters for admins — UsersFinder#by_2fa', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    s.store.updateUser(alice, { twoFactorEnabled: true });
    expect(usernames((await get(s, '/users', { query: { two_factor: 'enabled' } })).body)).toEqual(['alice']);
    expect(usernames((await get(s, '/users', { query: { two_factor: 'disabled' } })).body)).toEqual(['root']);
  });

  it('without_projects keeps users without any project authorization — User.without_projects', async () => {
    const s = sim();
    const member = s.givenUser({ username: 'member' });
    s.givenUser({ username: 'loner' });
    const group = s.givenGroup({ path: 'acme' });
    s.givenProject({ path: 'app', namespace: group });
    s.givenMember(group, member, 30);
    s.givenMember(group, s.user('root')!, 50);
    expect(usernames((await get(s, '/users', { query: { without_projects: true } })).body)).toEqual([
      'loner',
    ]);
  });

  it('custom_attributes[k]=v ANDs pairs for admins and is silently ignored for others — custom_attributes_filter.rb', async () => {
    const s = sim();
    const viewer = s.givenUser({ username: 'viewer' });
    s.givenUser({ username: 'ua', custom_attributes: { team: 'red', site: 'x' } });
    s.givenUser({ username: 'ub', custom_attributes: { team: 'red', site: 'y' } });
    const query = { 'custom_attributes[team]': 'red', 'custom_attributes[site]': 'y' };
    expect(usernames((await get(s, '/users', { query })).body)).toEqual(['ub']);
    const res = await get(s, '/users', { token: s.givenToken(viewer), query });
    expect(res.body).toHaveLength(4);
  });

  it('custom_attributes that is not a hash → 400 "custom_attributes is invalid" — Grape Hash type', async () => {
    const res = await get(sim(), '/users', { query: { custom_attributes: 'x' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'custom_attributes is invalid' });
  });

  it('extern_uid + provider finds the identity for admins, 403 for others — UsersFinder#by_external_identity', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    s.store.updateUser(alice, { identities: [{ provider: 'saml', externUid: 'A-1' }] });
    const query = { extern_uid: 'A-1', provider: 'saml' };
    expect(usernames((await get(s, '/users', { query })).body)).toEqual(['alice']);
    const res = await get(s, '/users', { token: s.givenToken(alice), query });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: '403 Forbidden' });
  });

  it('extern_uid without provider → 400 all-or-none — lib/api/users.rb all_or_none_of', async () => {
    const res = await get(sim(), '/users', { query: { extern_uid: 'A-1' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'extern_uid, provider provide all or none of parameters' });
  });
});

describe('GET /users — ordering (lib/api/users.rb#reorder_users, lib/api/helpers.rb)', () => {
  const sim = useSimulator();

  it('order_by=name sort=asc breaks ties by id — order_options_with_tie_breaker', async () => {
    const s = sim();
    s.givenUser({ username: 'b2', name: 'Bea' });
    s.givenUser({ username: 'a1', name: 'Ann' });
    s.givenUser({ username: 'b1', name: 'Bea' });
    const res = await get(s, '/users', { query: { order_by: 'name', sort: 'asc' } });
    expect(usernames(res.body)).toEqual(['root', 'a1', 'b2', 'b1']);
  });

  it('order_by=created_at orders by id — order_options_with_tie_breaker', async () => {
    const s = sim();
    s.givenUser({ username: 'later-id', created_at: '2020-01-01T00:00:00Z' });
    s.givenUser({ username: 'latest-id', created_at: '2019-01-01T00:00:00Z' });
    const res = await get(s, '/users', { query: { order_by: 'created_at', sort: 'asc' } });
    expect(usernames(res.body)).toEqual(['root', 'later-id', 'latest-id']);
  });

  it('non-admin order_by/sort still apply (reorder_users reads raw params) — lib/api/users.rb', async () => {
    const s = sim();
    const zed = s.givenUser({ username: 'zed' });
    s.givenUser({ username: 'amy' });
    const res = await get(s, '/users', {
      token: s.givenToken(zed),
      query: { order_by: 'username', sort: 'asc' },
    });
    expect(usernames(res.body)).toEqual(['amy', 'root', 'zed']);
  });

  it('invalid sort → 400 "sort does not have a valid value" — Grape values', async () => {
    const res = await get(sim(), '/users', { query: { sort: 'sideways' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'sort does not have a valid value' });
  });
});

describe('GET /users — pagination (lib/gitlab/pagination/*)', () => {
  const sim = useSimulator();

  it('offset headers and a Link with every declared default, sorted — offset_header_builder.rb', async () => {
    const s = sim();
    generateUsers(s.store, 4);
    const res = await get(s, '/users', { query: { per_page: 2, page: 2 } });
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(2);
    expect(res.headers.get('x-page')).toBe('2');
    expect(res.headers.get('x-per-page')).toBe('2');
    expect(res.headers.get('x-next-page')).toBe('3');
    expect(res.headers.get('x-prev-page')).toBe('1');
    expect(res.headers.get('x-total')).toBe('5');
    expect(res.headers.get('x-total-pages')).toBe('3');
    const q = (page: number) =>
      `${s.url}/api/v4/users?active=false&admins=false&blocked=false&exclude_active=false&exclude_external=false` +
      `&exclude_humans=false&exclude_internal=false&external=false&humans=false&order_by=id&page=${page}` +
      `&per_page=2&sort=desc&with_custom_attributes=false&without_project_bots=false&without_projects=false`;
    expect(res.headers.get('link')).toBe(
      `<${q(1)}>; rel="prev", <${q(3)}>; rel="next", <${q(1)}>; rel="first", <${q(3)}>; rel="last"`,
    );
  });

  it('the last page has an empty X-Next-Page and no rel="next" — offset_header_builder.rb', async () => {
    const s = sim();
    generateUsers(s.store, 2);
    const res = await get(s, '/users', { query: { per_page: 2, page: 2 } });
    expect(res.headers.get('x-next-page')).toBe('');
    expect(res.headers.get('link')).not.toContain('rel="next"');
    expect(usernames(res.body)).toEqual(['root']);
  });

  it('per_page above 100 is capped at 100 — Kaminari max_per_page', async () => {
    const s = sim();
    generateUsers(s.store, 120);
    const res = await get(s, '/users', { query: { per_page: 500 } });
    expect(res.body).toHaveLength(100);
    expect(res.headers.get('x-per-page')).toBe('100');
  });

  it('above 10,000 rows there is no X-Total, X-Total-Pages or rel="last" — OffsetPagination MAX_COUNT_LIMIT', async () => {
    const s = sim();
    generateUsers(s.store, 10_001);
    const res = await get(s, '/users');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-total')).toBeNull();
    expect(res.headers.get('x-total-pages')).toBeNull();
    expect(res.headers.get('link')).not.toContain('rel="last"');
    expect(res.headers.get('x-next-page')).toBe('2');
  });

  it('offset past 50,000 → 405 pointing to keyset pagination — OffsetPagination ENFORCED_TYPES', async () => {
    const res = await get(sim(), '/users', { query: { page: 501, per_page: 100 } });
    expect(res.status).toBe(405);
    expect(res.body).toEqual({
      error:
        'Offset pagination has a maximum allowed offset of 50000 for requests that return objects of type User. Remaining records can be retrieved using keyset pagination.',
    });
  });

  it('keyset mode sends only Link rel="next" with a cursor, and the cursor continues — cursor_pager.rb', async () => {
    const s = sim();
    generateUsers(s.store, 4);
    const first = await get(s, '/users', { query: { pagination: 'keyset', per_page: 2 } });
    expect(usernames(first.body)).toEqual(['user5', 'user4']);
    expect(first.headers.get('x-total')).toBeNull();
    expect(first.headers.get('x-page')).toBeNull();
    expect(first.headers.get('x-next-page')).toBeNull();
    const link = first.headers.get('link')!;
    expect(link).toMatch(/^<[^>]+cursor=[^>]+>; rel="next"$/);
    const next = new URL(link.slice(1, link.indexOf('>')));
    expect(next.searchParams.get('pagination')).toBe('keyset');
    expect(next.searchParams.get('order_by')).toBe('id');
    const second = await get(s, `/users?${next.searchParams}`);
    expect(usernames(second.body)).toEqual(['user3', 'user2']);
    const third = await get(s, `/users?${new URL(second.headers.get('link')!.slice(1, -13)).searchParams}`);
    expect(usernames(third.body)).toEqual(['root']);
    expect(third.headers.get('link')).toBeNull();
  });

  it('keyset mode follows order_by=username asc — User.supported_keyset_orderings', async () => {
    const s = sim();
    s.givenUser({ username: 'carol' });
    s.givenUser({ username: 'anna' });
    s.givenUser({ username: 'bert' });
    const query = { pagination: 'keyset', per_page: 2, order_by: 'username', sort: 'asc' };
    const first = await get(s, '/users', { query });
    expect(usernames(first.body)).toEqual(['anna', 'bert']);
    const link = first.headers.get('link')!;
    const second = await get(s, `/users?${new URL(link.slice(1, link.indexOf('>'))).searchParams}`);
    expect(usernames(second.body)).toEqual(['carol', 'root']);
  });

  it('finds the one user with a custom attribute among 100,000 — custom attribute index', async () => {
    const s = sim();
    generateUsers(s.store, 100_000, { custom_attributes: { employee: 'E{i}' } });
    const res = await get(s, '/users', { query: { 'custom_attributes[employee]': 'E54321' } });
    expect(res.status).toBe(200);
    expect(usernames(res.body)).toEqual(['user54321']);
    expect(res.headers.get('x-total')).toBe('1');
  }, 30_000);
});
