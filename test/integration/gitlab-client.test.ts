import type { Simulator } from '@gitlab-extern/simulator';
import { describe, expect, it } from 'vitest';
import { GitLabClient } from '../../src/gitlab/client.js';
import { fromGitLabError, GitLabError } from '../../src/gitlab/errors.js';
import { path } from '../../src/gitlab/path.js';
import { GitLabTransport } from '../../src/gitlab/transport.js';
import { AccessLevel, schemas } from '../../src/gitlab/types.js';
import { failure, testClient, useSimulator } from '../support/gitlab.js';

const CREATE_USER = { method: 'POST', path: '/api/v4/users' };

const external = {
  name: 'Erin Extern',
  username: 'erin.extern',
  email: 'erin@partner.example',
  external: true,
  projectsLimit: 0,
  canCreateGroup: false,
  password: 'reset_password' as const,
  skipConfirmation: true,
};

function clientWithToken(sim: Simulator, token: string, allowSudo = false): GitLabClient {
  return new GitLabClient(new GitLabTransport({ url: sim.url, token }), { allowSudo });
}

async function gitLabError(promise: Promise<unknown>): Promise<GitLabError> {
  const err = await failure(promise);
  expect(err).toBeInstanceOf(GitLabError);
  return err as GitLabError;
}

describe('GitLab client: instance and token', () => {
  const sim = useSimulator();

  it('reads the version, the admin token and whether its owner is an admin', async () => {
    const s = sim();
    const client = testClient(s);
    expect(await client.version()).toEqual({ version: s.settings.version, revision: s.settings.revision });
    expect(await client.tokenSelf()).toMatchObject({
      active: true,
      revoked: false,
      userId: 1,
      scopes: ['api', 'sudo', 'admin_mode', 'read_user'],
    });
    expect(await client.currentUser()).toMatchObject({ id: 1, username: 'root', isAdmin: true });
  });

  it('tells a non-admin token apart (GitLab omits is_admin for non-admins)', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const client = clientWithToken(s, s.givenToken(alice, ['api']));
    expect(await client.currentUser()).toMatchObject({ username: 'alice', isAdmin: false });
  });
});

describe('GitLab client: users', () => {
  const sim = useSimulator();

  it('creates a user with exactly the server-chosen fields and reads back what GitLab stored', async () => {
    const s = sim();
    const user = await testClient(s).createUser({ ...external, note: 'Sponsored by alice' });
    expect(s.requests(CREATE_USER).map((r) => r.body)).toEqual([
      {
        name: 'Erin Extern',
        username: 'erin.extern',
        email: 'erin@partner.example',
        external: true,
        projects_limit: 0,
        can_create_group: false,
        reset_password: true,
        skip_confirmation: true,
        note: 'Sponsored by alice',
      },
    ]);
    expect(user).toMatchObject({
      username: 'erin.extern',
      email: 'erin@partner.example',
      external: true,
      isAdmin: false,
      projectsLimit: 0,
      canCreateGroup: false,
      state: 'active',
      note: 'Sponsored by alice',
      createdById: 1,
    });
    expect(s.user('erin.extern')?.external).toBe(true);
  });

  it('asks for a random password instead of a reset mail when told to', async () => {
    const s = sim();
    await testClient(s).createUser({
      ...external,
      password: 'force_random_password',
      skipConfirmation: false,
    });
    const body = s.requests(CREATE_USER)[0]?.body as Record<string, unknown>;
    expect(body).toMatchObject({ force_random_password: true, skip_confirmation: false });
    expect(body).not.toHaveProperty('reset_password');
  });

  it('a duplicate email is a 409 conflict carrying GitLab’s message', async () => {
    const s = sim();
    s.givenUser({ username: 'someone', email: 'erin@partner.example' });
    const err = await gitLabError(testClient(s).createUser(external));
    expect(err).toMatchObject({ kind: 'http', status: 409, gitlabMessage: 'Email has already been taken' });
    const domain = fromGitLabError(err);
    expect(domain.code).toBe('conflict');
    expect(domain.message).toBe('Email has already been taken');
  });

  it('a validation failure keeps GitLab’s per-field messages', async () => {
    const s = sim();
    const err = await gitLabError(testClient(s).createUser({ ...external, username: 'a' }));
    expect(err.status).toBe(400);
    expect(err.fieldErrors()?.username).toEqual(
      expect.arrayContaining([expect.stringContaining('too short')]),
    );
    const domain = fromGitLabError(err);
    expect(domain.code).toBe('validation');
    expect(domain.fieldErrors?.username?.length).toBeGreaterThan(0);
  });

  it('gets a user by id, or null when GitLab has none', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', email: 'alice@example.com' });
    const client = testClient(s);
    expect(await client.getUser(alice.id)).toMatchObject({ id: alice.id, email: 'alice@example.com' });
    expect(await client.getUser(987_654)).toBeNull();
  });

  it('finds a user by username, case-insensitively', async () => {
    const s = sim();
    s.givenUser({ username: 'Alice' });
    const client = testClient(s);
    expect(await client.findUserByUsername('alice')).toMatchObject({ username: 'Alice' });
    expect(await client.findUserByUsername('nobody')).toBeNull();
  });

  it('finds users by primary email only, not by names that contain the address', async () => {
    const s = sim();
    s.givenUser({ username: 'ann', email: 'ann@partner.example' });
    s.givenUser({ username: 'fan', name: 'ann@partner.example fan club', email: 'fan@example.com' });
    const found = await testClient(s).findUsersByEmail('ANN@partner.example');
    expect(found.map((u) => u.username)).toEqual(['ann']);
  });

  it('updates chosen fields with a JSON body', async () => {
    const s = sim();
    const erin = s.givenUser({ username: 'erin', external: true });
    const updated = await testClient(s).updateUser(erin.id, { name: 'Erin E.', note: 'extended' });
    const put = s.requests({ method: 'PUT', path: '/api/v4/users/:id' });
    expect(put.map((r) => r.body)).toEqual([{ name: 'Erin E.', note: 'extended' }]);
    expect(put[0]?.headers['content-type']).toContain('application/json');
    expect(updated).toMatchObject({ name: 'Erin E.', note: 'extended', external: true });
  });

  it('blocks, unblocks, deactivates and activates; repeating a state change is harmless', async () => {
    const s = sim();
    const erin = s.givenUser({ username: 'erin' });
    const client = testClient(s);
    await client.blockUser(erin.id);
    expect(s.user(erin.id)?.state).toBe('blocked');
    await client.blockUser(erin.id);
    await client.unblockUser(erin.id);
    expect(s.user(erin.id)?.state).toBe('active');
    await client.deactivateUser(erin.id);
    expect(s.user(erin.id)?.state).toBe('deactivated');
    await client.activateUser(erin.id);
    expect(s.user(erin.id)?.state).toBe('active');
  });

  it('retries a block whose answer was lost, since blocking twice changes nothing', async () => {
    const s = sim();
    const erin = s.givenUser({ username: 'erin' });
    s.resetAfterApplyNext({ method: 'POST', path: '/api/v4/users/:id/block' });
    await testClient(s).blockUser(erin.id);
    expect(s.requests({ method: 'POST', path: '/api/v4/users/:id/block' })).toHaveLength(2);
    expect(s.user(erin.id)?.state).toBe('blocked');
  });

  it('refuses a user whose JSON lacks required fields as malformed', async () => {
    const s = sim();
    s.failNext({ method: 'GET', path: '/api/v4/users/:id' }, { status: 200, body: { id: 5, name: 'x' } });
    const err = await gitLabError(testClient(s).getUser(5));
    expect(err.kind).toBe('malformed');
    expect(err.message).toContain('username');
  });
});

describe('GitLab client: custom attributes', () => {
  const sim = useSimulator();

  it('sets and reads a user’s custom attributes', async () => {
    const s = sim();
    const erin = s.givenUser({ username: 'erin' });
    const client = testClient(s);
    await client.setCustomAttribute(erin.id, 'sponsor_id', '17');
    await client.setCustomAttribute(erin.id, 'sponsor_id', '18');
    await client.setCustomAttribute(erin.id, 'expires_on', '2027-01-31');
    expect(await client.getCustomAttributes(erin.id)).toEqual({ sponsor_id: '18', expires_on: '2027-01-31' });
    expect(s.user(erin.id)?.customAttributes.get('sponsor_id')).toBe('18');
  });

  it('reading attributes of a missing user is a not_found error', async () => {
    const s = sim();
    const err = await gitLabError(testClient(s).getCustomAttributes(999_999));
    expect(err.status).toBe(404);
    expect(fromGitLabError(err).code).toBe('not_found');
  });

  it('lists every user with an attribute across pages, keeping the attribute name as written', async () => {
    const s = sim();
    for (let i = 0; i < 105; i++) {
      s.givenUser({ username: `ext${i}`, custom_attributes: { sponsorID: 'alice' } });
    }
    s.givenUser({ username: 'other', custom_attributes: { sponsorID: 'bob' } });
    s.givenUser({ username: 'plain' });
    const users = await testClient(s).usersWithCustomAttribute('sponsorID', 'alice');
    expect(users).toHaveLength(105);
    expect(new Set(users.map((u) => u.username)).size).toBe(105);
    expect(users.every((u) => u.customAttributes?.sponsorID === 'alice')).toBe(true);
    const pages = s.requests({ method: 'GET', path: '/api/v4/users' });
    expect(pages).toHaveLength(2);
    for (const page of pages) expect(page.query.custom_attributes).toEqual({ sponsorID: 'alice' });
  });
  it('a token that lost its admin rights finds nobody rather than everybody', async () => {
    const s = sim();
    s.givenUser({ username: 'ext', email: 'ext@partner.example', custom_attributes: { sponsor: 'alice' } });
    const alice = s.givenUser({ username: 'alice' });
    const client = clientWithToken(s, s.givenToken(alice, ['api']));
    // GitLab ignores the custom_attributes filter for non-admins and hides emails from them.
    expect(await client.usersWithCustomAttribute('sponsor', 'alice')).toEqual([]);
    expect(await client.findUsersByEmail('ext@partner.example')).toEqual([]);
    const listed = s.requests({ method: 'GET', path: '/api/v4/users' });
    expect(listed.map((r) => r.status)).toEqual([200, 200]);
  });
});

describe('GitLab client: access and memberships', () => {
  const sim = useSimulator();

  /** research (group) ⊃ research/ml (subgroup) ⊃ research/ml/model; research/analysis; other/site; other/tool. */
  function organisation(s: Simulator) {
    const research = s.givenGroup({ path: 'research' });
    const ml = s.givenGroup({ path: 'ml', parent: research });
    const other = s.givenGroup({ path: 'other' });
    const analysis = s.givenProject({ path: 'analysis', namespace: research });
    s.givenProject({ path: 'model', namespace: ml });
    const site = s.givenProject({ path: 'site', namespace: other });
    const tool = s.givenProject({ path: 'tool', namespace: other });
    const alice = s.givenUser({ username: 'alice' });
    const bob = s.givenUser({ username: 'bob' });
    s.givenMember(research, alice, AccessLevel.maintainer);
    s.givenMember(site, alice, AccessLevel.maintainer);
    s.givenMember(tool, alice, AccessLevel.developer);
    return { research, ml, analysis, alice, bob };
  }

  it('effective access includes inherited membership; project paths are encoded', async () => {
    const s = sim();
    const { research, analysis, alice, bob } = organisation(s);
    const client = testClient(s);
    expect(await client.effectiveAccess({ type: 'project', id: 'research/analysis' }, alice.id)).toBe(40);
    expect(await client.effectiveAccess({ type: 'project', id: analysis.id }, alice.id)).toBe(40);
    expect(await client.effectiveAccess({ type: 'group', id: research.id }, alice.id)).toBe(40);
    expect(await client.effectiveAccess({ type: 'project', id: 'research/analysis' }, bob.id)).toBe(0);
    expect(s.requests()[0]?.path).toBe(`/api/v4/projects/research%2Fanalysis/members/all/${alice.id}`);
  });

  it('an unknown or hostile project reference is access 0, and stays one path segment', async () => {
    const s = sim();
    const { alice } = organisation(s);
    const client = testClient(s);
    expect(await client.effectiveAccess({ type: 'project', id: 'nope/nothing' }, alice.id)).toBe(0);
    expect(await client.effectiveAccess({ type: 'project', id: '1/../../users' }, alice.id)).toBe(0);
    expect(s.requests().map((r) => r.path)).toEqual([
      `/api/v4/projects/nope%2Fnothing/members/all/${alice.id}`,
      `/api/v4/projects/1%2F..%2F..%2Fusers/members/all/${alice.id}`,
    ]);
  });

  it('without sudo, expands direct memberships into the projects and groups below them', async () => {
    const s = sim();
    const { alice } = organisation(s);
    const client = testClient(s, {}, { allowSudo: false });
    const projects = await client.projectsWhereMember(alice.id, AccessLevel.maintainer);
    expect(projects.map((p) => p.fullPath)).toEqual(['other/site', 'research/analysis', 'research/ml/model']);
    const groups = await client.groupsWhereMember(alice.id, AccessLevel.maintainer);
    expect(groups.map((g) => g.fullPath)).toEqual(['research', 'research/ml']);
    expect(s.requests().every((r) => r.headers.sudo === undefined)).toBe(true);
    expect(s.requests({ method: 'GET', path: '/api/v4/users/:id/memberships' })).toHaveLength(2);
  });

  it('with sudo allowed and the sudo scope present, asks GitLab as the user', async () => {
    const s = sim();
    const { alice } = organisation(s);
    const client = testClient(s, {}, { allowSudo: true });
    const projects = await client.projectsWhereMember(alice.id, AccessLevel.maintainer);
    expect(projects.map((p) => p.fullPath)).toEqual(['other/site', 'research/analysis', 'research/ml/model']);
    const groups = await client.groupsWhereMember(alice.id, AccessLevel.maintainer);
    expect(groups.map((g) => g.fullPath)).toEqual(['research', 'research/ml']);
    const asAlice = s.requests().filter((r) => r.headers.sudo !== undefined);
    expect(asAlice.map((r) => `${r.path} ${r.headers.sudo}`)).toEqual([
      `/api/v4/projects ${alice.id}`,
      `/api/v4/groups ${alice.id}`,
    ]);
    expect(s.requests({ method: 'GET', path: '/api/v4/personal_access_tokens/self' })).toHaveLength(1);
  });

  it('with sudo allowed but a token without the sudo scope, falls back to memberships', async () => {
    const s = sim();
    const { alice } = organisation(s);
    const rootToken = s.givenToken(s.user('root')!, ['api']);
    const projects = await clientWithToken(s, rootToken, true).projectsWhereMember(
      alice.id,
      AccessLevel.maintainer,
    );
    expect(projects.map((p) => p.fullPath)).toEqual(['other/site', 'research/analysis', 'research/ml/model']);
    expect(s.requests().every((r) => r.headers.sudo === undefined)).toBe(true);
  });
});

describe('GitLab client: generic listing', () => {
  const sim = useSimulator();

  it('follows offset pagination (X-Next-Page / Link) to the end', async () => {
    const s = sim();
    for (let i = 0; i < 6; i++) s.givenUser({ username: `user${i}` });
    const users = await testClient(s).list(
      path`users`,
      { per_page: 2, order_by: 'id', sort: 'asc' },
      schemas.user,
    );
    expect(users.map((u) => u.username)).toEqual([
      'root',
      'user0',
      'user1',
      'user2',
      'user3',
      'user4',
      'user5',
    ]);
    expect(s.requests({ method: 'GET', path: '/api/v4/users' })).toHaveLength(4);
  });

  it('follows keyset pagination (Link with a cursor)', async () => {
    const s = sim();
    for (let i = 0; i < 4; i++) s.givenUser({ username: `user${i}` });
    const raw = await testClient(s).list(path`users`, {
      pagination: 'keyset',
      per_page: 2,
      order_by: 'id',
      sort: 'asc',
    });
    expect(raw).toHaveLength(5);
    const pages = s.requests({ method: 'GET', path: '/api/v4/users' });
    expect(pages).toHaveLength(3);
    expect(pages[1]?.query.cursor).toEqual(expect.any(String));
  });
});
