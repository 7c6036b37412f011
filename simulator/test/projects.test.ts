import { describe, expect, it } from 'vitest';
import { get, post, useSimulator } from './helpers.js';

const paths = (body: { path_with_namespace: string }[]) => body.map((p) => p.path_with_namespace);

const BASIC_KEYS = [
  'id',
  'description',
  'name',
  'name_with_namespace',
  'path',
  'path_with_namespace',
  'created_at',
  'default_branch',
  'tag_list',
  'topics',
  'ssh_url_to_repo',
  'http_url_to_repo',
  'web_url',
  'readme_url',
  'forks_count',
  'avatar_url',
  'star_count',
  'last_activity_at',
  'namespace',
];

describe('POST /projects (lib/api/projects.rb, app/services/projects/create_service.rb)', () => {
  const sim = useSimulator();

  it('creates a personal project whose owner is its Owner member — app/services/projects/create_service.rb', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', name: 'Alice' });
    const res = await post(s, '/projects', { name: 'Notes' }, { token: s.givenToken(alice) });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'Notes',
      path: 'notes',
      path_with_namespace: 'alice/notes',
      name_with_namespace: 'Alice / Notes',
      visibility: 'private',
      creator_id: alice.id,
      owner: { id: alice.id, username: 'alice' },
      namespace: { id: alice.namespaceId, kind: 'user', path: 'alice', full_path: 'alice', parent_id: null },
      web_url: `${s.url}/alice/notes`,
    });
    expect(res.body).not.toHaveProperty('permissions');
    const project = s.store.findProject('alice/notes')!;
    expect(s.store.directMember({ type: 'Project', id: project.id }, alice.id)?.accessLevel).toBe(50);
    expect(s.mails({ kind: 'member_access_granted' })).toEqual([]);
  });

  it('neither name nor path → 400 Grape at_least_one_of — lib/api/projects.rb params', async () => {
    const res = await post(sim(), '/projects', { description: 'x' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'name, path are missing, at least one parameter must be provided' });
  });

  it('a group Developer may create projects in the group, a Reporter may not — app/policies/group_policy.rb create_projects', async () => {
    const s = sim();
    const g = s.givenGroup({ path: 'research' });
    const dev = s.givenUser({ username: 'dev' });
    const rep = s.givenUser({ username: 'rep' });
    s.givenMember(g, dev, 30);
    s.givenMember(g, rep, 20);
    const ok = await post(
      s,
      '/projects',
      { path: 'analysis', namespace_id: g.id },
      { token: s.givenToken(dev) },
    );
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ name: 'analysis', path_with_namespace: 'research/analysis' });
    expect(ok.body).not.toHaveProperty('owner');
    const denied = await post(
      s,
      '/projects',
      { path: 'other', namespace_id: g.id },
      { token: s.givenToken(rep) },
    );
    expect(denied.status).toBe(400);
    expect(denied.body).toEqual({ message: { namespace: ['is not valid'] } });
  });

  it('an external user cannot create personal projects → 403 with the limit message — app/models/project.rb check_personal_projects_limit', async () => {
    const s = sim();
    const ext = s.givenUser({ username: 'ext', external: true });
    const res = await post(s, '/projects', { name: 'Mine' }, { token: s.givenToken(ext) });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      message: ['Personal project creation is not allowed. Please contact your administrator with questions'],
    });
  });

  it('a taken name and path in the namespace → 400 validation hash — app/models/project.rb', async () => {
    const s = sim();
    const g = s.givenGroup({ path: 'research' });
    s.givenProject({ path: 'analysis', name: 'Analysis', namespace: g });
    const res = await post(s, '/projects', { name: 'Analysis', path: 'analysis', namespace_id: g.id });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      message: { name: ['has already been taken'], path: ['has already been taken'] },
    });
  });

  it('a public project in a private group → 400 visibility_level — app/models/project.rb visibility_level_allowed_by_group', async () => {
    const s = sim();
    const g = s.givenGroup({ path: 'research' });
    const res = await post(s, '/projects', { path: 'open', namespace_id: g.id, visibility: 'public' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      message: { visibility_level: ['public is not allowed in a private group.'] },
    });
  });
});

describe('GET /projects (lib/api/projects.rb, app/finders/projects_finder.rb)', () => {
  const sim = useSimulator();

  it('anonymous callers get public projects as BasicProjectDetails — lib/api/entities/basic_project_details.rb', async () => {
    const s = sim();
    const g = s.givenGroup({ path: 'research', visibility: 'public' });
    s.givenProject({ path: 'open', namespace: g, visibility: 'public' });
    s.givenProject({ path: 'corp', namespace: g, visibility: 'internal' });
    const res = await get(s, '/projects', { token: null });
    expect(res.status).toBe(200);
    expect(paths(res.body)).toEqual(['research/open']);
    expect(Object.keys(res.body[0])).toEqual(BASIC_KEYS);
  });

  it('signed-in callers get ProjectWithAccess: direct and group access in permissions — lib/api/entities/project_with_access.rb', async () => {
    const s = sim();
    const top = s.givenGroup({ path: 'research' });
    const sub = s.givenGroup({ path: 'analysis', parent: top });
    const p = s.givenProject({ path: 'pipeline', namespace: sub });
    const alice = s.givenUser({ username: 'alice' });
    s.givenMember(top, alice, 40);
    s.givenMember(p, alice, 50);
    const res = await get(s, '/projects', { token: s.givenToken(alice) });
    expect(res.body[0].permissions).toEqual({
      project_access: { access_level: 50, notification_level: 3 },
      group_access: { access_level: 40, notification_level: 3 },
    });
  });

  it('defaults to newest first (created_at → id desc); order_by=name&sort=asc — lib/api/helpers.rb order_options_with_tie_breaker', async () => {
    const s = sim();
    const g = s.givenGroup({ path: 'g', visibility: 'public' });
    s.givenProject({ path: 'b', name: 'Bravo', namespace: g, visibility: 'public' });
    s.givenProject({ path: 'a', name: 'Alpha', namespace: g, visibility: 'public' });
    s.givenProject({ path: 'c', name: 'Charlie', namespace: g, visibility: 'public' });
    expect(paths((await get(s, '/projects')).body)).toEqual(['g/c', 'g/a', 'g/b']);
    expect(paths((await get(s, '/projects', { query: { order_by: 'name', sort: 'asc' } })).body)).toEqual([
      'g/a',
      'g/b',
      'g/c',
    ]);
  });

  it('membership=true lists projects reached directly, through groups and through shares — ProjectsFinder non_public', async () => {
    const s = sim();
    const team = s.givenGroup({ path: 'team' });
    const other = s.givenGroup({ path: 'other', visibility: 'public' });
    const partner = s.givenGroup({ path: 'partner' });
    s.givenProject({ path: 'inherited', namespace: team });
    const direct = s.givenProject({ path: 'direct', namespace: other, visibility: 'public' });
    s.givenProject({ path: 'public', namespace: other, visibility: 'public' });
    const shared = s.givenProject({ path: 'shared', namespace: partner });
    const alice = s.givenUser({ username: 'alice' });
    s.givenMember(team, alice, 10);
    s.givenMember(direct, alice, 20);
    s.givenProjectShare(shared, team, 30);
    const all = await get(s, '/projects', { token: s.givenToken(alice) });
    expect(paths(all.body)).toEqual(['partner/shared', 'other/public', 'other/direct', 'team/inherited']);
    const mine = await get(s, '/projects', { token: s.givenToken(alice), query: { membership: true } });
    expect(paths(mine.body)).toEqual(['partner/shared', 'other/direct', 'team/inherited']);
  });

  it('min_access_level=40 uses effective access: inherited Maintainer counts, a share caps it — app/finders/projects_finder.rb', async () => {
    const s = sim();
    const team = s.givenGroup({ path: 'team' });
    const partner = s.givenGroup({ path: 'partner' });
    s.givenProject({ path: 'inherited', namespace: team });
    const capped = s.givenProject({ path: 'capped', namespace: partner });
    const alice = s.givenUser({ username: 'alice' });
    s.givenMember(team, alice, 40);
    s.givenProjectShare(capped, team, 30);
    const res = await get(s, '/projects', { token: s.givenToken(alice), query: { min_access_level: 40 } });
    expect(paths(res.body)).toEqual(['team/inherited']);
    const dev = await get(s, '/projects', { token: s.givenToken(alice), query: { min_access_level: 30 } });
    expect(paths(dev.body)).toEqual(['partner/capped', 'team/inherited']);
  });

  it('admins see every project but get no implicit access for min_access_level — ProjectsFinder', async () => {
    const s = sim();
    const g = s.givenGroup({ path: 'secret' });
    s.givenProject({ path: 'hidden', namespace: g });
    expect(paths((await get(s, '/projects')).body)).toEqual(['secret/hidden']);
    expect((await get(s, '/projects', { query: { min_access_level: 10 } })).body).toEqual([]);
  });

  it('an invalid min_access_level → 400 "does not have a valid value" — lib/api/projects.rb filter_params', async () => {
    const res = await get(sim(), '/projects', { query: { min_access_level: 41 } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'min_access_level does not have a valid value' });
  });

  it('search matches name or path; simple=true returns BasicProjectDetails — lib/api/projects.rb present_projects', async () => {
    const s = sim();
    const g = s.givenGroup({ path: 'g', visibility: 'public' });
    s.givenProject({ path: 'analysis', name: 'Data Analysis', namespace: g, visibility: 'public' });
    s.givenProject({ path: 'other', namespace: g, visibility: 'public' });
    const alice = s.givenUser({ username: 'alice' });
    const res = await get(s, '/projects', {
      token: s.givenToken(alice),
      query: { search: 'analy', simple: true },
    });
    expect(paths(res.body)).toEqual(['g/analysis']);
    expect(res.body[0]).not.toHaveProperty('permissions');
    expect(Object.keys(res.body[0])).toEqual(BASIC_KEYS);
  });

  it('owned=true lists projects where the caller is Owner, personal ones included — User#owned_projects', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const g = s.givenGroup({ path: 'g' });
    s.givenProject({ path: 'mine', namespace: 'alice' });
    const dev = s.givenProject({ path: 'dev', namespace: g });
    s.givenMember(dev, alice, 30);
    const res = await get(s, '/projects', { token: s.givenToken(alice), query: { owned: true } });
    expect(paths(res.body)).toEqual(['alice/mine']);
  });

  it('visibility and archived filter the list — app/finders/projects_finder.rb', async () => {
    const s = sim();
    const g = s.givenGroup({ path: 'g', visibility: 'public' });
    s.givenProject({ path: 'open', namespace: g, visibility: 'public' });
    const old = s.givenProject({ path: 'old', namespace: g, visibility: 'public' });
    s.givenProject({ path: 'closed', namespace: g });
    old.archived = true;
    expect(paths((await get(s, '/projects', { query: { visibility: 'private' } })).body)).toEqual([
      'g/closed',
    ]);
    expect(paths((await get(s, '/projects', { query: { archived: true } })).body)).toEqual(['g/old']);
    expect(paths((await get(s, '/projects', { query: { archived: false } })).body)).toEqual([
      'g/closed',
      'g/open',
    ]);
  });

  it('updated_after without order_by=updated_at → 400 — lib/api/projects.rb validate_updated_at_order_and_filter!', async () => {
    const res = await get(sim(), '/projects', { query: { updated_after: '2024-01-01T00:00:00Z' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      message: '400 Bad request - `updated_at` filter and `updated_at` sorting must be paired',
    });
  });

  it('keyset pagination with order_by=id; any other order → 405 — lib/api/helpers/pagination_strategies.rb', async () => {
    const s = sim();
    const g = s.givenGroup({ path: 'g' });
    for (const p of ['one', 'two', 'three']) s.givenProject({ path: p, namespace: g });
    const first = await get(s, '/projects', {
      query: { pagination: 'keyset', order_by: 'id', sort: 'asc', per_page: 2 },
    });
    expect(paths(first.body)).toEqual(['g/one', 'g/two']);
    const link = first.headers.get('link')!;
    expect(link).toContain('cursor=');
    expect(link).toMatch(/rel="next"$/);
    const next = new URL(/<([^>]+)>/.exec(link)![1]!);
    expect(paths((await get(s, `/projects?${next.searchParams.toString()}`)).body)).toEqual(['g/three']);
    const bad = await get(s, '/projects', { query: { pagination: 'keyset' } });
    expect(bad.status).toBe(405);
    expect(bad.body).toEqual({ error: 'Keyset pagination is not yet available for this type of request' });
  });
});

describe('GET /projects/:id (lib/api/projects.rb, app/policies/project_policy.rb)', () => {
  const sim = useSimulator();

  it('finds a project by id or URL-encoded full path — lib/api/helpers.rb find_project!', async () => {
    const s = sim();
    const g = s.givenGroup({ path: 'research' });
    const p = s.givenProject({ path: 'analysis', namespace: g });
    for (const ref of [String(p.id), 'research%2Fanalysis', 'Research%2FAnalysis']) {
      const res = await get(s, `/projects/${ref}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: p.id, path_with_namespace: 'research/analysis' });
      expect(res.body.permissions).toEqual({ project_access: null, group_access: null });
    }
  });

  it('unknown or invisible projects → 404 Project Not Found — lib/api/helpers.rb find_project!', async () => {
    const s = sim();
    const g = s.givenGroup({ path: 'research' });
    s.givenProject({ path: 'secret', namespace: g });
    const alice = s.givenUser({ username: 'alice' });
    for (const ref of ['research%2Fsecret', '999', 'research%2Fnope']) {
      const res = await get(s, `/projects/${ref}`, { token: s.givenToken(alice) });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ message: '404 Project Not Found' });
    }
  });

  it('internal projects: visible to internal users, hidden from external users unless they are members — §10', async () => {
    const s = sim();
    const g = s.givenGroup({ path: 'corp', visibility: 'internal' });
    const p = s.givenProject({ path: 'wiki', namespace: g, visibility: 'internal' });
    const alice = s.givenUser({ username: 'alice' });
    const ext = s.givenUser({ username: 'ext', external: true });
    expect((await get(s, '/projects/corp%2Fwiki', { token: s.givenToken(alice) })).status).toBe(200);
    expect((await get(s, '/projects/corp%2Fwiki', { token: s.givenToken(ext) })).status).toBe(404);
    s.givenMember(p, ext, 10);
    expect((await get(s, '/projects/corp%2Fwiki', { token: s.givenToken(ext) })).status).toBe(200);
  });

  it('a guest of a private project does not see code fields — app/policies/project_policy.rb download_code', async () => {
    const s = sim();
    const g = s.givenGroup({ path: 'g' });
    const p = s.givenProject({ path: 'p', namespace: g });
    const guest = s.givenUser({ username: 'guest' });
    s.givenMember(p, guest, 10);
    const res = await get(s, `/projects/${p.id}`, { token: s.givenToken(guest) });
    expect(res.status).toBe(200);
    expect(res.body).not.toHaveProperty('default_branch');
    expect(res.body.permissions.project_access).toEqual({ access_level: 10, notification_level: 3 });
  });

  it('anonymous callers get a public project without permissions — lib/api/projects.rb (ProjectDetails)', async () => {
    const s = sim();
    const g = s.givenGroup({ path: 'g', visibility: 'public' });
    s.givenProject({ path: 'open', namespace: g, visibility: 'public' });
    const res = await get(s, '/projects/g%2Fopen', { token: null });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      path_with_namespace: 'g/open',
      default_branch: 'main',
      visibility: 'public',
    });
    expect(res.body).not.toHaveProperty('permissions');
  });
});

describe('GET /personal_access_tokens/self/associations (lib/api/personal_access_tokens/self_information.rb)', () => {
  const sim = useSimulator();

  it('lists the groups and projects the token reaches with the access levels — GroupsFinder, ProjectsFinder', async () => {
    const s = sim();
    const top = s.givenGroup({ path: 'test', name: 'Test' });
    const sub = s.givenGroup({ path: 'sub', name: 'Sub', parent: top });
    const p = s.givenProject({ path: 'proj', name: 'Proj', namespace: sub });
    const alice = s.givenUser({ username: 'alice' });
    s.givenMember(top, alice, 20);
    s.givenMember(sub, alice, 50);
    const res = await get(s, '/personal_access_tokens/self/associations', {
      token: s.givenToken(alice, ['read_user']),
      query: { min_access_level: 20 },
    });
    expect(res.status).toBe(200);
    expect(res.body.groups).toEqual([
      {
        id: sub.id,
        web_url: `${s.url}/groups/test/sub`,
        name: 'Sub',
        parent_id: top.id,
        organization_id: 1,
        access_levels: 50,
        visibility: 'private',
      },
      {
        id: top.id,
        web_url: `${s.url}/groups/test`,
        name: 'Test',
        parent_id: null,
        organization_id: 1,
        access_levels: 20,
        visibility: 'private',
      },
    ]);
    expect(res.body.projects).toEqual([
      expect.objectContaining({
        id: p.id,
        path_with_namespace: 'test/sub/proj',
        access_levels: { project_access_level: null, group_access_level: 50 },
        visibility: 'private',
      }),
    ]);
  });

  it('min_access_level narrows both lists — lib/api/personal_access_tokens/self_information.rb', async () => {
    const s = sim();
    const g = s.givenGroup({ path: 'g' });
    s.givenProject({ path: 'p', namespace: g });
    const alice = s.givenUser({ username: 'alice' });
    s.givenMember(g, alice, 30);
    const res = await get(s, '/personal_access_tokens/self/associations', {
      token: s.givenToken(alice),
      query: { min_access_level: 40 },
    });
    expect(res.body).toEqual({ groups: [], projects: [] });
  });

  it('an OAuth token → 400 "requires token type to be a personal access token" — self_information.rb before block', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const oauth = s.store.issueAccessToken({ userId: alice.id, applicationId: null, scopes: ['api'] });
    const res = await get(s, '/personal_access_tokens/self/associations', {
      token: null,
      bearer: oauth.token,
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      message: '400 Bad request - This endpoint requires token type to be a personal access token',
    });
  });
});
