import { GitbeakerRequestError, Gitlab } from '@gitbeaker/rest';
import { describe, expect, it } from 'vitest';
import { DAY_MS, isoDate, type Simulator } from '../src/index.js';
import { ADMIN_TOKEN, useSimulator } from './helpers.js';

/**
 * A real API client, unchanged, against the simulator: what `@gitbeaker/rest` returns must be what it
 * returns against GitLab, and the simulator's state must show the effect.
 */
const gitlab = (s: Simulator, token = ADMIN_TOKEN) => new Gitlab({ host: s.url, token });

/** The rejection of `promise`, which must be gitbeaker's request error. */
async function requestError(promise: Promise<unknown>): Promise<GitbeakerRequestError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GitbeakerRequestError);
  return err as GitbeakerRequestError;
}

const inDays = (s: Simulator, days: number) => isoDate(s.clock.nowMs() + days * DAY_MS);

describe('@gitbeaker/rest against the simulator', () => {
  const sim = useSimulator();

  it('Users.create makes an external user with reset_password: UserWithAdmin and a set-password mail — lib/api/users.rb', async () => {
    const s = sim();
    const created = await gitlab(s).Users.create({
      email: 'erin@partner.example',
      username: 'erin.extern',
      name: 'Erin Extern',
      external: true,
      resetPassword: true,
      skipConfirmation: true,
      showExpanded: true,
    });
    expect(created.status).toBe(201);
    expect(created.data).toMatchObject({
      username: 'erin.extern',
      name: 'Erin Extern',
      email: 'erin@partner.example',
      state: 'active',
      external: true,
      projects_limit: 0,
      can_create_group: false,
      is_admin: false,
      created_by: { id: 1, username: 'root' },
    });
    const user = s.user('erin.extern')!;
    expect(created.data.id).toBe(user.id);
    expect(user).toMatchObject({ external: true, projectsLimit: 0, canCreateGroup: false });
    expect(user.passwordAutomaticallySet).toBe(true);
    expect(s.mails({ to: 'erin@partner.example' }).map((m) => m.kind)).toEqual(['new_user']);
    expect(s.mails({ to: 'erin@partner.example' })[0]!.resetLink).toContain(user.resetPasswordToken!);
  });

  it('Users.all({ username }) finds the user, case-insensitively — lib/api/users.rb, User.by_username', async () => {
    const s = sim();
    const erin = s.givenUser({ username: 'erin.extern', external: true });
    s.givenUser({ username: 'erin' });
    const found = await gitlab(s).Users.all({ username: 'Erin.Extern' });
    expect(found.map((u) => [u.id, u.username])).toEqual([[erin.id, 'erin.extern']]);
    expect(found[0]).toMatchObject({ external: true, is_admin: false });
    expect(s.requests({ method: 'GET', path: '/api/v4/users' }).map((r) => r.query)).toEqual([
      { username: 'Erin.Extern' },
    ]);
  });

  it('UserCustomAttributes set, show and all round-trip — lib/api/custom_attributes_endpoints.rb', async () => {
    const s = sim();
    const erin = s.givenUser({ username: 'erin' });
    const api = gitlab(s);
    expect(await api.UserCustomAttributes.set(erin.id, 'sponsor', 'alice')).toEqual({
      key: 'sponsor',
      value: 'alice',
    });
    await api.UserCustomAttributes.set(erin.id, 'expires', '2030-01-31');
    expect(await api.UserCustomAttributes.show(erin.id, 'sponsor')).toEqual({
      key: 'sponsor',
      value: 'alice',
    });
    expect(await api.UserCustomAttributes.all(erin.id)).toEqual([
      { key: 'sponsor', value: 'alice' },
      { key: 'expires', value: '2030-01-31' },
    ]);
    expect([...erin.customAttributes]).toEqual([
      ['sponsor', 'alice'],
      ['expires', '2030-01-31'],
    ]);
  });

  it('Users.all({ customAttributes }) lists only the matching users, with their attributes — custom_attributes_filter.rb', async () => {
    const s = sim();
    const erin = s.givenUser({ username: 'erin', custom_attributes: { sponsor: 'alice', team: 'red' } });
    const finn = s.givenUser({ username: 'finn', custom_attributes: { sponsor: 'alice', team: 'blue' } });
    s.givenUser({ username: 'gail', custom_attributes: { sponsor: 'bob', team: 'red' } });
    const api = gitlab(s);
    const sponsored = await api.Users.all({
      customAttributes: { sponsor: 'alice' },
      withCustomAttributes: true,
    });
    expect(sponsored.map((u) => u.username)).toEqual(['finn', 'erin']);
    expect(sponsored[1]!.custom_attributes).toEqual([
      { key: 'sponsor', value: 'alice' },
      { key: 'team', value: 'red' },
    ]);
    const both = await api.Users.all({ customAttributes: { sponsor: 'alice', team: 'blue' } });
    expect(both.map((u) => u.id)).toEqual([finn.id]);
    expect(
      s.requests({ method: 'GET', path: '/api/v4/users' }).map((r) => r.query.custom_attributes),
    ).toEqual([{ sponsor: 'alice' }, { sponsor: 'alice', team: 'blue' }]);
    expect(erin.customAttributes.get('sponsor')).toBe('alice');
  });

  it('Groups.create and Projects.create make a group the caller owns and a project in it — lib/api/groups.rb, lib/api/projects.rb', async () => {
    const s = sim();
    const api = gitlab(s);
    const group = await api.Groups.create('Partners', 'partners', { visibility: 'private' });
    expect(group).toMatchObject({
      name: 'Partners',
      path: 'partners',
      full_path: 'partners',
      visibility: 'private',
    });
    const project = await api.Projects.create({ name: 'Handbook', namespaceId: group.id });
    expect(project).toMatchObject({
      name: 'Handbook',
      path: 'handbook',
      path_with_namespace: 'partners/handbook',
      namespace: { id: group.id, kind: 'group', full_path: 'partners' },
    });
    expect(s.store.findGroup('partners')?.id).toBe(group.id);
    expect(s.store.findProject('partners/handbook')?.id).toBe(project.id);
    expect(s.store.directMember({ type: 'Namespace', id: group.id }, 1)?.accessLevel).toBe(50);
  });

  it('GroupMembers.add with an expiry → 201 Member with expires_at — lib/api/members.rb, entities/member.rb', async () => {
    const s = sim();
    const group = s.givenGroup({ path: 'partners' });
    const erin = s.givenUser({ username: 'erin', external: true });
    const expiresAt = inDays(s, 30);
    const member = await gitlab(s).GroupMembers.add(group.id, 30, {
      userId: erin.id,
      expiresAt,
      showExpanded: true,
    });
    expect(member.status).toBe(201);
    expect(member.data).toMatchObject({
      id: erin.id,
      username: 'erin',
      access_level: 30,
      expires_at: expiresAt,
      created_by: { id: 1, username: 'root' },
    });
    expect(s.store.directMember({ type: 'Namespace', id: group.id }, erin.id)).toMatchObject({
      accessLevel: 30,
      expiresAt,
      createdById: 1,
    });
  });

  it('ProjectMembers.show({ includeInherited }) reads members/all/:user_id, inherited from the group — lib/api/members.rb', async () => {
    const s = sim();
    const group = s.givenGroup({ path: 'partners' });
    const project = s.givenProject({ path: 'handbook', namespace: group });
    const erin = s.givenUser({ username: 'erin' });
    const expiresAt = inDays(s, 10);
    s.givenMember(group, erin, 20, expiresAt);
    const api = gitlab(s);
    const inherited = await api.ProjectMembers.show(project.id, erin.id, { includeInherited: true });
    expect(inherited).toMatchObject({
      id: erin.id,
      username: 'erin',
      access_level: 20,
      expires_at: expiresAt,
    });
    const direct = await requestError(api.ProjectMembers.show(project.id, erin.id));
    expect(direct.message).toBe('404 Not found');
    expect(direct.cause?.response.status).toBe(404);
    expect(s.store.projectAccess(project, erin.id)).toBe(20);
    expect(s.requests({ path: `/api/v4/projects/${project.id}/members/all/${erin.id}` })).toHaveLength(1);
  });

  it('Users.block and Users.unblock return GitLab’s true; a second unblock’s false reaches callers as {} — lib/api/users.rb', async () => {
    const s = sim();
    const erin = s.givenUser({ username: 'erin' });
    const api = gitlab(s);
    expect(await api.Users.block(erin.id, { showExpanded: true })).toMatchObject({ data: true, status: 201 });
    expect(s.user('erin')!.state).toBe('blocked');
    expect(await api.Users.unblock(erin.id, { showExpanded: true })).toMatchObject({
      data: true,
      status: 201,
    });
    expect(s.user('erin')!.state).toBe('active');
    // GitLab answers `false` for an active user; gitbeaker replaces a falsy JSON body with {}.
    expect(await api.Users.unblock(erin.id, { showExpanded: true })).toMatchObject({ data: {}, status: 201 });
    expect(s.requests({ method: 'POST', path: '/api/v4/users/:id/unblock' }).map((r) => r.status)).toEqual([
      201, 201,
    ]);
  });

  it('PersonalAccessTokens.show() reads /personal_access_tokens/self for the admin token — self_information.rb', async () => {
    const s = sim();
    const pat = s.store.personalAccessTokens.get(ADMIN_TOKEN)!;
    const self = await gitlab(s).PersonalAccessTokens.show();
    expect(self).toEqual({
      id: pat.id,
      name: 'admin',
      active: true,
      revoked: false,
      expired: false,
      granular: false,
      created_at: new Date(pat.createdAt).toISOString(),
      description: null,
      scopes: ['api', 'sudo', 'admin_mode', 'read_user'],
      user_id: 1,
      last_used_at: new Date(pat.lastUsedAt!).toISOString(),
      expires_at: pat.expiresAt,
    });
    expect(pat.lastUsedAt).not.toBeNull();
  });

  it('maxPages/perPage follow the Link header, and showExpanded reads the X-* pagination headers — offset_header_builder.rb', async () => {
    const s = sim();
    for (const name of ['ann', 'ben', 'cid', 'dan', 'eve']) s.givenUser({ username: name });
    const page = await gitlab(s).Users.all({ perPage: 2, maxPages: 2, showExpanded: true });
    expect(page.data.map((u) => u.username)).toEqual(['eve', 'dan', 'cid', 'ben']);
    expect(page.paginationInfo).toEqual({
      total: 6,
      next: 3,
      current: 2,
      previous: 1,
      perPage: 2,
      totalPages: 3,
    });
    const sent = s.requests({ method: 'GET', path: '/api/v4/users' });
    expect(sent.map((r) => [r.query.page, r.query.per_page])).toEqual([
      [undefined, '2'],
      ['2', '2'],
    ]);
    // The second request is the Link URL's query, all declared defaults included.
    expect(sent[1]!.query).toMatchObject({
      order_by: 'id',
      sort: 'desc',
      active: 'false',
      with_custom_attributes: 'false',
    });
    expect(s.store.userCount()).toBe(6);
  });

  it('a 409 surfaces as GitbeakerRequestError with GitLab’s message; nothing is created — lib/api/users.rb conflict!', async () => {
    const s = sim();
    s.givenUser({ username: 'erin', email: 'erin@partner.example' });
    const err = await requestError(
      gitlab(s).Users.create({
        email: 'ERIN@partner.example',
        username: 'erin2',
        name: 'Erin Two',
        password: 'Vx7!pQ2#mR9z',
      }),
    );
    expect(err.message).toBe('Email has already been taken');
    expect(err.cause?.description).toBe('Email has already been taken');
    expect(err.cause?.response.status).toBe(409);
    expect(s.user('erin2')).toBeUndefined();
    expect(s.store.userCount()).toBe(2);
  });

  it('a 400 validation hash and a 404 surface with GitLab’s messages — render_validation_error!, not_found!', async () => {
    const s = sim();
    const api = gitlab(s);
    const invalid = await requestError(
      api.Users.create({ email: 'gail@partner.example', username: 'gail', name: 'Gail', password: 'short' }),
    );
    expect(invalid.cause?.response.status).toBe(400);
    expect(JSON.parse(invalid.message)).toEqual({ password: ['is too short (minimum is 8 characters)'] });
    const missing = await requestError(api.Users.block(999));
    expect(missing.message).toBe('404 User Not Found');
    expect(missing.cause?.response.status).toBe(404);
    expect(s.user('gail')).toBeUndefined();
  });
});
