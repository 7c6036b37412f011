import { describe, expect, it } from 'vitest';
import { get, post, useSimulator } from './helpers.js';

const names = (body: { full_path: string }[]) => body.map((g) => g.full_path);

const GROUP_KEYS = [
  'id',
  'web_url',
  'name',
  'path',
  'description',
  'visibility',
  'share_with_group_lock',
  'require_two_factor_authentication',
  'two_factor_grace_period',
  'project_creation_level',
  'auto_devops_enabled',
  'subgroup_creation_level',
  'emails_disabled',
  'emails_enabled',
  'show_diff_preview_in_email',
  'mentions_disabled',
  'lfs_enabled',
  'archived',
  'math_rendering_limits_enabled',
  'lock_math_rendering_limits_enabled',
  'default_branch',
  'default_branch_protection',
  'default_branch_protection_defaults',
  'avatar_url',
  'request_access_enabled',
  'full_name',
  'full_path',
  'created_at',
  'parent_id',
  'organization_id',
  'shared_runners_setting',
  'max_artifacts_size',
  'marked_for_deletion_on',
];

describe('POST /groups (lib/api/groups.rb, app/services/groups/create_service.rb)', () => {
  const sim = useSimulator();

  it('an admin creates a group: 201 GroupDetail, creator becomes Owner — lib/api/groups.rb', async () => {
    const s = sim();
    const res = await post(s, '/groups', { name: 'Research', path: 'research', description: 'R&D' });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body)).toEqual([
      ...GROUP_KEYS,
      'shared_with_groups',
      'prevent_sharing_groups_outside_hierarchy',
      'projects',
      'shared_projects',
    ]);
    expect(res.body).toMatchObject({
      name: 'Research',
      path: 'research',
      full_path: 'research',
      full_name: 'Research',
      description: 'R&D',
      visibility: 'private',
      parent_id: null,
      web_url: `${s.url}/groups/research`,
      projects: [],
    });
    const group = s.store.findGroup('research')!;
    expect(s.store.directMember({ type: 'Namespace', id: group.id }, 1)?.accessLevel).toBe(50);
  });

  it('no token → 401 before validation — lib/api/groups.rb (authenticate_non_get!)', async () => {
    const res = await post(sim(), '/groups', {}, { token: null });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ message: '401 Unauthorized' });
  });

  it('missing name and path → 400 Grape error — lib/api/groups.rb params', async () => {
    const res = await post(sim(), '/groups', {});
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'name is missing, path is missing' });
  });

  it('a user allowed to create groups becomes Owner of the new group — app/policies/global_policy.rb', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const res = await post(s, '/groups', { name: 'Alpha', path: 'alpha' }, { token: s.givenToken(alice) });
    expect(res.status).toBe(201);
    const group = s.store.findGroup('alpha')!;
    expect(s.store.groupAccess(group, alice.id)).toBe(50);
  });

  it('an external user cannot create groups → 403 — app/models/user.rb (external forces can_create_group=false)', async () => {
    const s = sim();
    const ext = s.givenUser({ username: 'ext', external: true });
    const res = await post(s, '/groups', { name: 'Ext', path: 'ext-group' }, { token: s.givenToken(ext) });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: '403 Forbidden' });
  });

  it('taken path → 400 "Failed to save group {:path=>[…]}" — lib/api/groups.rb render_api_error!', async () => {
    const s = sim();
    s.givenGroup({ path: 'research' });
    const res = await post(s, '/groups', { name: 'Research 2', path: 'research' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: 'Failed to save group {:path=>["has already been taken"]}' });
  });

  it('a path clashing with a username is taken too — app/models/route.rb uniqueness', async () => {
    const s = sim();
    s.givenUser({ username: 'alice' });
    const res = await post(s, '/groups', { name: 'Alice', path: 'alice' });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe('Failed to save group {:path=>["has already been taken"]}');
  });

  it('badly formed path → both path format messages — app/validators/namespace_path_validator.rb, lib/gitlab/regex.rb', async () => {
    const res = await post(sim(), '/groups', { name: 'Bad', path: '-bad' });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe(
      "Failed to save group {:path=>[\"can contain only letters, digits, '_', '-' and '.'. Cannot start with '-' or end in '.', '.git' or '.atom'.\", \"can only include non-accented letters, digits, '_', '-' and '.'. It must not start with '-', '_', or '.', nor end with '-', '_', '.', '.git', or '.atom'.\"]}",
    );
  });

  it('a reserved top-level path → "<path> is a reserved name" — lib/gitlab/path_regex.rb TOP_LEVEL_ROUTES', async () => {
    const res = await post(sim(), '/groups', { name: 'Admin', path: 'admin' });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe('Failed to save group {:path=>["admin is a reserved name"]}');
  });

  it('a name with forbidden characters → group_name_regex message — lib/gitlab/regex.rb', async () => {
    const res = await post(sim(), '/groups', { name: '<b>', path: 'bold' });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe(
      "Failed to save group {:name=>[\"can contain only letters, digits, emoji, '_', '.', dash, space, parenthesis. It must start with letter, digit, emoji or '_'.\"]}",
    );
  });

  it('a parent-group Maintainer creates a subgroup — app/policies/group_policy.rb create_subgroup', async () => {
    const s = sim();
    const parent = s.givenGroup({ path: 'research', name: 'Research' });
    const maria = s.givenUser({ username: 'maria' });
    s.givenMember(parent, maria, 40);
    const res = await post(
      s,
      '/groups',
      { name: 'Analysis', path: 'analysis', parent_id: parent.id },
      { token: s.givenToken(maria) },
    );
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      full_path: 'research/analysis',
      full_name: 'Research / Analysis',
      parent_id: parent.id,
      web_url: `${s.url}/groups/research/analysis`,
    });
  });

  it('a parent-group Developer cannot create a subgroup → 403 — app/policies/group_policy.rb', async () => {
    const s = sim();
    const parent = s.givenGroup({ path: 'research' });
    const dev = s.givenUser({ username: 'dev' });
    s.givenMember(parent, dev, 30);
    const res = await post(
      s,
      '/groups',
      { name: 'Sub', path: 'sub', parent_id: parent.id },
      { token: s.givenToken(dev) },
    );
    expect(res.status).toBe(403);
  });

  it('unknown parent_id → 404 Group Not Found — lib/api/groups.rb find_group!', async () => {
    const res = await post(sim(), '/groups', { name: 'Sub', path: 'sub', parent_id: 999 });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: '404 Group Not Found' });
  });

  it('a subgroup more visible than its parent → 400 visibility_level — app/models/group.rb', async () => {
    const s = sim();
    const parent = s.givenGroup({ path: 'research', visibility: 'private' });
    const res = await post(s, '/groups', {
      name: 'Pub',
      path: 'pub',
      parent_id: parent.id,
      visibility: 'public',
    });
    expect(res.status).toBe(400);
    expect(res.body.message).toBe(
      'Failed to save group {:visibility_level=>["public is not allowed since the parent group has a private visibility."]}',
    );
  });
});

describe('GET /groups (lib/api/groups.rb, app/finders/groups_finder.rb)', () => {
  const sim = useSimulator();

  it('non-admins see the groups they belong to and their subgroups, not other public groups — GroupsFinder (all_available=false)', async () => {
    const s = sim();
    const mine = s.givenGroup({ path: 'mine' });
    s.givenGroup({ path: 'sub', parent: mine });
    s.givenGroup({ path: 'open', visibility: 'public' });
    s.givenGroup({ path: 'secret' });
    const alice = s.givenUser({ username: 'alice' });
    s.givenMember(mine, alice, 10);
    const res = await get(s, '/groups', { token: s.givenToken(alice) });
    expect(res.status).toBe(200);
    expect(names(res.body)).toEqual(['mine', 'mine/sub']);
    expect(Object.keys(res.body[0])).toEqual(GROUP_KEYS);
  });

  it('all_available=true adds public and internal groups — GroupsFinder#include_public_groups?', async () => {
    const s = sim();
    s.givenGroup({ path: 'open', visibility: 'public' });
    s.givenGroup({ path: 'corp', visibility: 'internal' });
    s.givenGroup({ path: 'secret' });
    const alice = s.givenUser({ username: 'alice' });
    const res = await get(s, '/groups', { token: s.givenToken(alice), query: { all_available: true } });
    expect(names(res.body)).toEqual(['corp', 'open']);
  });

  it('admins see every group by default — lib/api/groups.rb (all_available defaults to can_read_all_resources?)', async () => {
    const s = sim();
    s.givenGroup({ path: 'b-secret' });
    s.givenGroup({ path: 'a-open', visibility: 'public' });
    const res = await get(s, '/groups');
    expect(names(res.body)).toEqual(['a-open', 'b-secret']);
  });

  it('anonymous callers see public groups only — GroupsFinder', async () => {
    const s = sim();
    s.givenGroup({ path: 'open', visibility: 'public' });
    s.givenGroup({ path: 'corp', visibility: 'internal' });
    const res = await get(s, '/groups', { token: null });
    expect(res.status).toBe(200);
    expect(names(res.body)).toEqual(['open']);
  });

  it('orders by name asc with an id tie-breaker; order_by=id&sort=desc reverses — lib/api/groups.rb order_groups', async () => {
    const s = sim();
    const b = s.givenGroup({ path: 'g1', name: 'Beta' });
    const a = s.givenGroup({ path: 'g2', name: 'Alpha' });
    const a2 = s.givenGroup({ path: 'g3', name: 'Alpha' });
    expect((await get(s, '/groups')).body.map((g: { id: number }) => g.id)).toEqual([a.id, a2.id, b.id]);
    const byId = await get(s, '/groups', { query: { order_by: 'id', sort: 'desc' } });
    expect(byId.body.map((g: { id: number }) => g.id)).toEqual([a2.id, a.id, b.id]);
  });

  it('min_access_level=40 lists groups where inherited access is at least Maintainer — GroupsFinder#groups_with_min_access_level', async () => {
    const s = sim();
    const top = s.givenGroup({ path: 'top' });
    s.givenGroup({ path: 'child', parent: top });
    const other = s.givenGroup({ path: 'other' });
    const alice = s.givenUser({ username: 'alice' });
    s.givenMember(top, alice, 40);
    s.givenMember(other, alice, 30);
    const res = await get(s, '/groups', { token: s.givenToken(alice), query: { min_access_level: 40 } });
    // ordered by name: 'child' before 'top'
    expect(names(res.body)).toEqual(['top/child', 'top']);
  });

  it('an invalid min_access_level → 400 "does not have a valid value" — lib/api/groups.rb params', async () => {
    const res = await get(sim(), '/groups', { query: { min_access_level: 35 } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'min_access_level does not have a valid value' });
  });

  it('owned=true lists direct Owner memberships only — User#owned_groups', async () => {
    const s = sim();
    const top = s.givenGroup({ path: 'top' });
    s.givenGroup({ path: 'child', parent: top });
    const mine = s.givenGroup({ path: 'mine' });
    const alice = s.givenUser({ username: 'alice' });
    s.givenMember(top, alice, 40);
    s.givenMember(mine, alice, 50);
    const res = await get(s, '/groups', { token: s.givenToken(alice), query: { owned: true } });
    expect(names(res.body)).toEqual(['mine']);
  });

  it('search, skip_groups, top_level_only and visibility filter the list — lib/api/groups.rb find_groups', async () => {
    const s = sim();
    const research = s.givenGroup({ path: 'research', visibility: 'public' });
    s.givenGroup({ path: 'analysis', parent: research });
    const lab = s.givenGroup({ path: 'research-lab' });
    // ordered by name: 'analysis', 'research', 'research-lab'
    expect(names((await get(s, '/groups', { query: { search: 'research' } })).body)).toEqual([
      'research/analysis',
      'research',
      'research-lab',
    ]);
    expect(
      names((await get(s, '/groups', { query: { search: 'research', skip_groups: String(lab.id) } })).body),
    ).toEqual(['research/analysis', 'research']);
    expect(
      names((await get(s, '/groups', { query: { search: 'research', top_level_only: true } })).body),
    ).toEqual(['research', 'research-lab']);
    expect(names((await get(s, '/groups', { query: { visibility: 'public' } })).body)).toEqual(['research']);
  });

  it('offset pagination headers, and the 405 past an offset of 50,000 — lib/gitlab/pagination/offset_pagination.rb', async () => {
    const s = sim();
    for (let i = 0; i < 3; i++) s.givenGroup({ path: `g${i}` });
    const res = await get(s, '/groups', { query: { per_page: 2 } });
    expect(res.headers.get('x-total')).toBe('3');
    expect(res.headers.get('x-total-pages')).toBe('2');
    expect(res.headers.get('x-next-page')).toBe('2');
    expect(res.headers.get('x-prev-page')).toBe('');
    const far = await get(s, '/groups', { query: { page: 501, per_page: 100 } });
    expect(far.status).toBe(405);
    expect(far.body).toEqual({
      error:
        'Offset pagination has a maximum allowed offset of 50000 for requests that return objects of type Group. Remaining records can be retrieved using keyset pagination.',
    });
  });

  it('keyset pagination by name follows the cursor; other orders → 405 — lib/api/helpers/pagination_strategies.rb', async () => {
    const s = sim();
    for (const n of ['c', 'a', 'b']) s.givenGroup({ path: `grp-${n}`, name: n.toUpperCase() });
    const first = await get(s, '/groups', { query: { pagination: 'keyset', per_page: 2 } });
    expect(first.body.map((g: { name: string }) => g.name)).toEqual(['A', 'B']);
    expect(first.headers.get('x-total')).toBeNull();
    const link = first.headers.get('link')!;
    expect(link).toMatch(/rel="next"$/);
    const next = new URL(/<([^>]+)>/.exec(link)![1]!);
    const second = await get(s, `/groups?${next.searchParams.toString()}`);
    expect(second.body.map((g: { name: string }) => g.name)).toEqual(['C']);
    expect(second.headers.get('link')).toBeNull();
    const bad = await get(s, '/groups', { query: { pagination: 'keyset', order_by: 'id' } });
    expect(bad.status).toBe(405);
    expect(bad.body).toEqual({ error: 'Keyset pagination is not yet available for this type of request' });
  });

  it('with_custom_attributes adds custom_attributes for admins only — lib/api/helpers/custom_attributes.rb', async () => {
    const s = sim();
    const g = s.givenGroup({ path: 'tagged', visibility: 'public' });
    g.customAttributes.set('tier', 'gold');
    const admin = await get(s, '/groups', { query: { with_custom_attributes: true } });
    expect(admin.body[0].custom_attributes).toEqual([{ key: 'tier', value: 'gold' }]);
    const alice = s.givenUser({ username: 'alice' });
    const user = await get(s, '/groups', {
      token: s.givenToken(alice),
      query: { with_custom_attributes: true, all_available: true },
    });
    expect(user.body[0]).not.toHaveProperty('custom_attributes');
  });
});

describe('GET /groups/:id and its listings (lib/api/groups.rb)', () => {
  const sim = useSimulator();

  it('a URL-encoded full path finds a subgroup, with its projects — lib/api/helpers.rb find_group!', async () => {
    const s = sim();
    const research = s.givenGroup({ path: 'research', name: 'Research' });
    const analysis = s.givenGroup({ path: 'analysis', name: 'Analysis', parent: research });
    s.givenProject({ path: 'pipeline', namespace: analysis });
    const res = await get(s, '/groups/research%2Fanalysis');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: analysis.id, full_path: 'research/analysis' });
    expect(res.body.projects.map((p: { path_with_namespace: string }) => p.path_with_namespace)).toEqual([
      'research/analysis/pipeline',
    ]);
    const plain = await get(s, `/groups/${analysis.id}`, { query: { with_projects: false } });
    expect(Object.keys(plain.body)).toEqual(GROUP_KEYS);
  });

  it('a private group is 404 to non-members, as is an unknown one — app/policies/group_policy.rb read_group', async () => {
    const s = sim();
    const secret = s.givenGroup({ path: 'secret' });
    const alice = s.givenUser({ username: 'alice' });
    const token = s.givenToken(alice);
    for (const ref of [String(secret.id), 'secret', '999', 'nope']) {
      const res = await get(s, `/groups/${ref}`, { token });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ message: '404 Group Not Found' });
    }
  });

  it('members of a subgroup may see the private parent — app/policies/group_policy.rb', async () => {
    const s = sim();
    const parent = s.givenGroup({ path: 'parent' });
    const child = s.givenGroup({ path: 'child', parent });
    const alice = s.givenUser({ username: 'alice' });
    s.givenMember(child, alice, 10);
    expect((await get(s, '/groups/parent', { token: s.givenToken(alice) })).status).toBe(200);
  });

  it('internal groups are visible to internal users but not to external ones — app/policies/base_policy.rb', async () => {
    const s = sim();
    s.givenGroup({ path: 'corp', visibility: 'internal' });
    const alice = s.givenUser({ username: 'alice' });
    const ext = s.givenUser({ username: 'ext', external: true });
    expect((await get(s, '/groups/corp', { token: s.givenToken(alice) })).status).toBe(200);
    expect((await get(s, '/groups/corp', { token: s.givenToken(ext) })).status).toBe(404);
  });

  it('subgroups lists direct children, descendant_groups the whole tree — lib/api/groups.rb', async () => {
    const s = sim();
    const top = s.givenGroup({ path: 'top' });
    const mid = s.givenGroup({ path: 'mid', parent: top });
    s.givenGroup({ path: 'leaf', parent: mid });
    expect(names((await get(s, '/groups/top/subgroups')).body)).toEqual(['top/mid']);
    expect(names((await get(s, `/groups/${top.id}/descendant_groups`)).body)).toEqual([
      'top/mid/leaf',
      'top/mid',
    ]);
  });

  it('GET /groups/:id/projects honours include_subgroups and with_shared — app/finders/group_projects_finder.rb', async () => {
    const s = sim();
    const top = s.givenGroup({ path: 'top' });
    const sub = s.givenGroup({ path: 'sub', parent: top });
    const partner = s.givenGroup({ path: 'partner' });
    s.givenProject({ path: 'own', namespace: top });
    s.givenProject({ path: 'deep', namespace: sub });
    const shared = s.givenProject({ path: 'shared', namespace: partner });
    s.givenProjectShare(shared, top, 30);
    const paths = (body: { path_with_namespace: string }[]) => body.map((p) => p.path_with_namespace);
    expect(paths((await get(s, '/groups/top/projects')).body)).toEqual(['partner/shared', 'top/own']);
    expect(paths((await get(s, '/groups/top/projects', { query: { with_shared: false } })).body)).toEqual([
      'top/own',
    ]);
    expect(
      paths(
        (await get(s, '/groups/top/projects', { query: { with_shared: false, include_subgroups: true } }))
          .body,
      ),
    ).toEqual(['top/sub/deep', 'top/own']);
  });
});
