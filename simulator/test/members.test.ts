import { describe, expect, it } from 'vitest';
import type { Simulator, User } from '../src/index.js';
import { del, get, post, put, useSimulator } from './helpers.js';

const usernames = (body: { username: string }[]) => body.map((m) => m.username);

/** A private group project with a Maintainer, as most member tests need. */
function scene(s: Simulator) {
  const group = s.givenGroup({ path: 'research', name: 'Research' });
  const project = s.givenProject({ path: 'analysis', name: 'Analysis', namespace: group });
  const maintainer = s.givenUser({ username: 'maria', name: 'Maria' });
  s.givenMember(project, maintainer, 40);
  return { group, project, maintainer, token: s.givenToken(maintainer) };
}

function basic(s: Simulator, u: User) {
  return {
    id: u.id,
    username: u.username,
    name: u.name,
    state: 'active',
    locked: false,
    avatar_url: s.store.userAvatarUrl(u),
    web_url: `${s.url}/${u.username}`,
  };
}

describe('GET …/members (lib/api/members.rb)', () => {
  const sim = useSimulator();

  it('lists direct members as Member entities — lib/api/entities/member.rb', async () => {
    const s = sim();
    s.clock.freeze(new Date('2026-03-01T10:00:00Z'));
    const { project, maintainer, token } = scene(s);
    const bob = s.givenUser({ username: 'bob', name: 'Bob' });
    s.givenMember(project, bob, 30, '2026-06-30');
    const res = await get(s, `/projects/${project.id}/members`, { token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      { ...basic(s, maintainer), access_level: 40, created_at: '2026-03-01T10:00:00.000Z', expires_at: null },
      {
        ...basic(s, bob),
        access_level: 30,
        created_at: '2026-03-01T10:00:00.000Z',
        expires_at: '2026-06-30',
      },
    ]);
  });

  it('no token → 401 — lib/api/members.rb (before { authenticate! })', async () => {
    const s = sim();
    const { project } = scene(s);
    const res = await get(s, `/projects/${project.id}/members`, { token: null });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ message: '401 Unauthorized' });
  });

  it('unknown or invisible sources → 404 Project/Group Not Found — lib/api/helpers/members_helpers.rb find_source', async () => {
    const s = sim();
    const { group, project } = scene(s);
    const alice = s.givenUser({ username: 'alice' });
    const token = s.givenToken(alice);
    expect((await get(s, `/projects/${project.id}/members`, { token })).body).toEqual({
      message: '404 Project Not Found',
    });
    expect((await get(s, `/groups/${group.id}/members`, { token })).body).toEqual({
      message: '404 Group Not Found',
    });
    expect((await get(s, '/projects/999/members')).status).toBe(404);
  });

  it('query, user_ids and skip_users filter the list; pending invitations are left out — members_helpers.rb retrieve_members', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const bob = s.givenUser({ username: 'bob', name: 'Bob Builder' });
    const carol = s.givenUser({ username: 'carol', name: 'Carol' });
    s.givenMember(project, bob, 30);
    s.givenMember(project, carol, 30);
    await post(s, `/projects/${project.id}/invitations`, { email: 'new@example.org', access_level: 30 });
    const path = `/projects/${project.id}/members`;
    expect(usernames((await get(s, path, { token })).body)).toEqual(['maria', 'bob', 'carol']);
    expect(usernames((await get(s, path, { token, query: { query: 'build' } })).body)).toEqual(['bob']);
    expect(
      usernames((await get(s, path, { token, query: { user_ids: `${carol.id},${bob.id}` } })).body),
    ).toEqual(['bob', 'carol']);
    expect(usernames((await get(s, path, { token, query: { skip_users: String(bob.id) } })).body)).toEqual([
      'maria',
      'carol',
    ]);
  });

  it('paginates with GitLab headers — lib/gitlab/pagination/offset_header_builder.rb', async () => {
    const s = sim();
    const { project, token } = scene(s);
    for (let i = 0; i < 4; i++) s.givenMember(project, s.givenUser({ username: `u${i}` }), 30);
    const res = await get(s, `/projects/${project.id}/members`, { token, query: { per_page: 2, page: 2 } });
    expect(usernames(res.body)).toEqual(['u1', 'u2']);
    expect(res.headers.get('x-total')).toBe('5');
    expect(res.headers.get('x-total-pages')).toBe('3');
    expect(res.headers.get('x-page')).toBe('2');
    expect(res.headers.get('x-per-page')).toBe('2');
    expect(res.headers.get('x-next-page')).toBe('3');
    expect(res.headers.get('x-prev-page')).toBe('1');
    const base = `${s.url}/api/v4/projects/${project.id}/members`;
    expect(res.headers.get('link')).toBe(
      [
        `<${base}?page=1&per_page=2>; rel="prev"`,
        `<${base}?page=3&per_page=2>; rel="next"`,
        `<${base}?page=1&per_page=2>; rel="first"`,
        `<${base}?page=3&per_page=2>; rel="last"`,
      ].join(', '),
    );
  });

  it('GET …/members/:user_id: a direct member, else 404 "Not found"; a non-numeric id → 400 — lib/api/members.rb', async () => {
    const s = sim();
    const { project, maintainer, token } = scene(s);
    const one = await get(s, `/projects/${project.id}/members/${maintainer.id}`, { token });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: maintainer.id, access_level: 40 });
    const missing = await get(s, `/projects/${project.id}/members/1`, { token });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ message: '404 Not found' });
    const bad = await get(s, `/projects/${project.id}/members/abc`, { token });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: 'user_id is invalid' });
  });

  it('a public group lists its members to any signed-in user — app/policies/group_policy.rb read_group_member', async () => {
    const s = sim();
    const g = s.givenGroup({ path: 'open', visibility: 'public' });
    const owner = s.givenUser({ username: 'owner' });
    s.givenMember(g, owner, 50);
    const alice = s.givenUser({ username: 'alice' });
    const res = await get(s, '/groups/open/members', { token: s.givenToken(alice) });
    expect(usernames(res.body)).toEqual(['owner']);
  });
});

describe('POST …/members (lib/api/members.rb, app/services/members/create_service.rb)', () => {
  const sim = useSimulator();

  it('a project Maintainer adds a Developer: 201 Member with created_by, and the access-granted mail — app/mailers/emails/members.rb', async () => {
    const s = sim();
    const { project, maintainer, token } = scene(s);
    const bob = s.givenUser({ username: 'bob', name: 'Bob <b>' });
    const res = await post(
      s,
      `/projects/${project.id}/members`,
      { user_id: bob.id, access_level: 30, expires_at: '2099-01-31' },
      { token },
    );
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      ...basic(s, bob),
      access_level: 30,
      expires_at: '2099-01-31',
      created_by: basic(s, maintainer),
    });
    const mails = s.mails({ to: 'bob@example.com', kind: 'member_access_granted' });
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toBe('Access to the Research / Analysis project was granted');
    expect(mails[0]!.text).toContain(
      'You have been granted Developer access to the Research / Analysis project.',
    );
  });

  it('adds by username too — lib/api/members.rb (user_id or username)', async () => {
    const s = sim();
    const { project, token } = scene(s);
    s.givenUser({ username: 'bob' });
    const res = await post(
      s,
      `/projects/${project.id}/members`,
      { username: 'bob', access_level: 20 },
      { token },
    );
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ username: 'bob', access_level: 20 });
  });

  it('missing access_level → 400 "access_level is missing" — lib/api/members.rb params', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const res = await post(s, `/projects/${project.id}/members`, { user_id: 1 }, { token });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'access_level is missing' });
  });

  it('user_id and username together, or neither → Grape 400 — lib/api/members.rb mutually_exclusive/at_least_one_of', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const both = await post(
      s,
      `/projects/${project.id}/members`,
      { user_id: 1, username: 'root', access_level: 30 },
      { token },
    );
    expect(both.body).toEqual({ error: 'user_id, username are mutually exclusive' });
    const none = await post(s, `/projects/${project.id}/members`, { access_level: 30 }, { token });
    expect(none.status).toBe(400);
    expect(none.body).toEqual({
      error: 'user_id, username are missing, at least one parameter must be provided',
    });
  });

  it('unknown user → 404 User Not Found — lib/api/helpers/members_helpers.rb check_existing_membership', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const res = await post(
      s,
      `/projects/${project.id}/members`,
      { user_id: 9999, access_level: 30 },
      { token },
    );
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: '404 User Not Found' });
  });

  it('an existing member → 409 "Member already exists" — members_helpers.rb check_existing_membership', async () => {
    const s = sim();
    const { project, maintainer, token } = scene(s);
    const res = await post(
      s,
      `/projects/${project.id}/members`,
      { user_id: maintainer.id, access_level: 30 },
      { token },
    );
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ message: 'Member already exists' });
  });

  it('a project Maintainer cannot add an Owner → 403 — app/services/members/create_service.rb manage_owners', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const bob = s.givenUser({ username: 'bob' });
    const res = await post(
      s,
      `/projects/${project.id}/members`,
      { user_id: bob.id, access_level: 50 },
      { token },
    );
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: '403 Forbidden' });
    expect(s.store.directMember({ type: 'Project', id: project.id }, bob.id)).toBeUndefined();
  });

  it('a group Owner, Owner of its projects, may add a project Owner — app/policies/project_policy.rb manage_owners', async () => {
    const s = sim();
    const { group, project } = scene(s);
    const boss = s.givenUser({ username: 'boss' });
    s.givenMember(group, boss, 50);
    const bob = s.givenUser({ username: 'bob' });
    const res = await post(
      s,
      `/projects/${project.id}/members`,
      { user_id: bob.id, access_level: 50 },
      { token: s.givenToken(boss) },
    );
    expect(res.status).toBe(201);
    expect(res.body.access_level).toBe(50);
  });

  it('group Maintainers cannot add group members → 403 — app/policies/group_policy.rb admin_group_member', async () => {
    const s = sim();
    const { group } = scene(s);
    const gm = s.givenUser({ username: 'gm' });
    s.givenMember(group, gm, 40);
    const bob = s.givenUser({ username: 'bob' });
    const res = await post(
      s,
      `/groups/${group.id}/members`,
      { user_id: bob.id, access_level: 30 },
      { token: s.givenToken(gm) },
    );
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: '403 Forbidden' });
  });

  it('a group Maintainer offering the Owner role adds nobody: 201 with body null — Members::Groups::CreatorService.cannot_manage_owners?', async () => {
    const s = sim();
    const { group } = scene(s);
    const gm = s.givenUser({ username: 'gm' });
    s.givenMember(group, gm, 40);
    const bob = s.givenUser({ username: 'bob' });
    const res = await post(
      s,
      `/groups/${group.id}/members`,
      { user_id: bob.id, access_level: 50 },
      { token: s.givenToken(gm) },
    );
    expect(res.status).toBe(201);
    expect(res.text).toBe('null');
    expect(s.store.directMember({ type: 'Namespace', id: group.id }, bob.id)).toBeUndefined();
  });

  it('a reader who is no member cannot add members → 403 — app/services/members/projects/creator_service.rb', async () => {
    const s = sim();
    const g = s.givenGroup({ path: 'open', visibility: 'public' });
    const p = s.givenProject({ path: 'p', namespace: g, visibility: 'public' });
    const alice = s.givenUser({ username: 'alice' });
    const bob = s.givenUser({ username: 'bob' });
    const res = await post(
      s,
      `/projects/${p.id}/members`,
      { user_id: bob.id, access_level: 30 },
      { token: s.givenToken(alice) },
    );
    expect(res.status).toBe(403);
  });

  it('admins add members anywhere, Owners included — app/policies/base_policy.rb (admin)', async () => {
    const s = sim();
    const { group } = scene(s);
    const bob = s.givenUser({ username: 'bob' });
    const res = await post(s, `/groups/${group.id}/members`, { user_id: bob.id, access_level: 50 });
    expect(res.status).toBe(201);
    expect(res.body.created_by).toMatchObject({ username: 'root' });
  });

  it('an access_level outside Gitlab::Access.all_values → 400 validation hash — app/models/member.rb', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const bob = s.givenUser({ username: 'bob' });
    const res = await post(
      s,
      `/projects/${project.id}/members`,
      { user_id: bob.id, access_level: 35 },
      { token },
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: { access_level: ['is not included in the list'] } });
  });

  it('expires_at in the past → 400 "cannot be a date in the past" — app/validators/future_date_validator.rb', async () => {
    const s = sim();
    s.clock.freeze(new Date('2026-03-01T10:00:00Z'));
    const { project, token } = scene(s);
    const bob = s.givenUser({ username: 'bob' });
    const res = await post(
      s,
      `/projects/${project.id}/members`,
      { user_id: bob.id, access_level: 30, expires_at: '2026-02-28' },
      { token },
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: { expires_at: ['cannot be a date in the past'] } });
  });

  it('an unparseable expires_at → 400 "expires_at is invalid" — Grape DateTime coercion', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const res = await post(
      s,
      `/projects/${project.id}/members`,
      { user_id: 1, access_level: 30, expires_at: 'soon' },
      { token },
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'expires_at is invalid' });
  });

  it('comma-separated user_ids answer with the service hash — app/services/members/create_service.rb', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const bob = s.givenUser({ username: 'bob' });
    const carol = s.givenUser({ username: 'carol' });
    const ok = await post(
      s,
      `/projects/${project.id}/members`,
      { user_id: `${bob.id},${carol.id},99999`, access_level: 30 },
      { token },
    );
    expect(ok.status).toBe(201);
    expect(ok.body).toEqual({ status: 'success' });
    expect(usernames((await get(s, `/projects/${project.id}/members`, { token })).body)).toEqual([
      'maria',
      'bob',
      'carol',
    ]);
  });

  it('comma-separated user_ids with failures → 201 {"status":"error","message":"<user>: <errors>"} — create_service.rb', async () => {
    const s = sim();
    s.clock.freeze(new Date('2026-03-01T10:00:00Z'));
    const { project, token } = scene(s);
    const bob = s.givenUser({ username: 'bob' });
    const carol = s.givenUser({ username: 'carol' });
    const res = await post(
      s,
      `/projects/${project.id}/members`,
      { user_id: `${bob.id},${carol.id}`, access_level: 30, expires_at: '2020-01-01' },
      { token },
    );
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      message:
        'bob: Expires at cannot be a date in the past and carol: Expires at cannot be a date in the past',
      status: 'error',
    });
  });

  it('a user_id of only commas → 201 {"message":"No users specified.","status":"error"} — app/services/members/create_service.rb', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const res = await post(
      s,
      `/projects/${project.id}/members`,
      { user_id: ',', access_level: 30 },
      { token },
    );
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ message: 'No users specified.', status: 'error' });
  });

  it('external users can be added like anyone else — app/models/member.rb (no external restriction)', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const ext = s.givenUser({ username: 'ext', external: true });
    const res = await post(
      s,
      `/projects/${project.id}/members`,
      { user_id: ext.id, access_level: 40 },
      { token },
    );
    expect(res.status).toBe(201);
    expect(s.store.projectAccess(project, ext.id)).toBe(40);
  });

  it('blocked users are added but get no mail — Member#notifiable?', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const blocked = s.givenUser({ username: 'blocked', state: 'blocked' });
    const res = await post(
      s,
      `/projects/${project.id}/members`,
      { user_id: blocked.id, access_level: 30 },
      { token },
    );
    expect(res.status).toBe(201);
    expect(s.mails({ to: 'blocked@example.com' })).toEqual([]);
  });
});

describe('PUT …/members/:user_id (lib/api/members.rb, app/services/members/update_service.rb)', () => {
  const sim = useSimulator();

  it('updates access level and expiry; the user is mailed about the new role — app/models/project_member.rb post_update_hook', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const bob = s.givenUser({ username: 'bob' });
    s.givenMember(project, bob, 30);
    const res = await put(
      s,
      `/projects/${project.id}/members/${bob.id}`,
      { access_level: 40, expires_at: '2099-12-31' },
      { token },
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: bob.id, access_level: 40, expires_at: '2099-12-31' });
    expect(s.mails({ to: 'bob@example.com', kind: 'member_access_granted' })[0]!.text).toContain(
      'granted Maintainer access',
    );
  });

  it('not a direct member → 404 "Not found" — lib/api/members.rb find_by!', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const res = await put(s, `/projects/${project.id}/members/1`, { access_level: 30 }, { token });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: '404 Not found' });
  });

  it('a Maintainer cannot promote to Owner → 403 — update_service.rb prevent_upgrade_to_owner?', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const bob = s.givenUser({ username: 'bob' });
    s.givenMember(project, bob, 30);
    const res = await put(s, `/projects/${project.id}/members/${bob.id}`, { access_level: 50 }, { token });
    expect(res.status).toBe(403);
    expect(s.store.directMember({ type: 'Project', id: project.id }, bob.id)?.accessLevel).toBe(30);
  });

  it('a Maintainer cannot change an Owner → 403 — app/policies/project_member_policy.rb', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const boss = s.givenUser({ username: 'boss' });
    s.givenMember(project, boss, 50);
    const res = await put(s, `/projects/${project.id}/members/${boss.id}`, { access_level: 30 }, { token });
    expect(res.status).toBe(403);
  });

  it('an invalid level → 400 validation hash; a missing access_level → Grape 400 — app/models/member.rb', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const bob = s.givenUser({ username: 'bob' });
    s.givenMember(project, bob, 30);
    const bad = await put(s, `/projects/${project.id}/members/${bob.id}`, { access_level: 7 }, { token });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ message: { access_level: ['is not included in the list'] } });
    const missing = await put(s, `/projects/${project.id}/members/${bob.id}`, {}, { token });
    expect(missing.body).toEqual({ error: 'access_level is missing' });
  });

  it('the last Owner of a group cannot be changed, even by an admin → 403 — app/policies/group_member_policy.rb last_owner', async () => {
    const s = sim();
    const { group } = scene(s);
    const boss = s.givenUser({ username: 'boss' });
    s.givenMember(group, boss, 50);
    const res = await put(s, `/groups/${group.id}/members/${boss.id}`, { access_level: 40 });
    expect(res.status).toBe(403);
  });
});

describe('DELETE …/members/:user_id (lib/api/members.rb, app/services/members/destroy_service.rb)', () => {
  const sim = useSimulator();

  it('removes a member → 204 and the access is gone — destroy_conditionally!', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const bob = s.givenUser({ username: 'bob' });
    s.givenMember(project, bob, 30);
    const res = await del(s, `/projects/${project.id}/members/${bob.id}`, { token });
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect(s.store.projectAccess(project, bob.id)).toBe(0);
    expect((await del(s, `/projects/${project.id}/members/${bob.id}`, { token })).body).toEqual({
      message: '404 Not found',
    });
  });

  it('a Maintainer cannot remove an Owner → 403 — app/policies/project_member_policy.rb', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const boss = s.givenUser({ username: 'boss' });
    s.givenMember(project, boss, 50);
    const res = await del(s, `/projects/${project.id}/members/${boss.id}`, { token });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: '403 Forbidden' });
  });

  it('a member may leave on their own; another Developer may not remove them — project_member_policy.rb', async () => {
    const s = sim();
    const { project } = scene(s);
    const bob = s.givenUser({ username: 'bob' });
    const carol = s.givenUser({ username: 'carol' });
    s.givenMember(project, bob, 30);
    s.givenMember(project, carol, 30);
    const other = await del(s, `/projects/${project.id}/members/${bob.id}`, { token: s.givenToken(carol) });
    expect(other.status).toBe(403);
    const self = await del(s, `/projects/${project.id}/members/${bob.id}`, { token: s.givenToken(bob) });
    expect(self.status).toBe(204);
  });

  it('the last group Owner cannot be removed → 403 — app/policies/group_member_policy.rb', async () => {
    const s = sim();
    const { group } = scene(s);
    const boss = s.givenUser({ username: 'boss' });
    s.givenMember(group, boss, 50);
    expect((await del(s, `/groups/${group.id}/members/${boss.id}`)).status).toBe(403);
  });

  it('removing a group member also removes their subgroup and project memberships unless skip_subresources — destroy_service.rb', async () => {
    const s = sim();
    const { group, project } = scene(s);
    const sub = s.givenGroup({ path: 'sub', parent: group });
    const bob = s.givenUser({ username: 'bob' });
    const carol = s.givenUser({ username: 'carol' });
    for (const u of [bob, carol]) {
      s.givenMember(group, u, 30);
      s.givenMember(sub, u, 30);
      s.givenMember(project, u, 30);
    }
    expect((await del(s, `/groups/${group.id}/members/${bob.id}`)).status).toBe(204);
    expect(s.store.membershipsOf(bob.id)).toEqual([]);
    const skip = await del(s, `/groups/${group.id}/members/${carol.id}`, {
      query: { skip_subresources: true },
    });
    expect(skip.status).toBe(204);
    expect(s.store.membershipsOf(carol.id)).toHaveLength(2);
  });

  it('If-Unmodified-Since before the last change → 412 — lib/api/helpers.rb check_unmodified_since!', async () => {
    const s = sim();
    const { project, token } = scene(s);
    const bob = s.givenUser({ username: 'bob' });
    s.givenMember(project, bob, 30);
    const res = await del(s, `/projects/${project.id}/members/${bob.id}`, {
      token,
      headers: { 'if-unmodified-since': 'Mon, 01 Jan 2001 00:00:00 GMT' },
    });
    expect(res.status).toBe(412);
    expect(res.body).toEqual({ message: '412 Precondition Failed' });
  });
});
