import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  applySeed,
  generateUsers,
  readSeedFile,
  runSimulatorProcess,
  type Seed,
  SeedError,
  Simulator,
  validateSeed,
} from '../src/index.js';
import { verifyPassword } from '../src/model/secrets.js';
import { get, useSimulator } from './helpers.js';

// The seed file (`gitlab-extern sim --seed file.json`) describes the GitLab a test or demo starts
// from. Names follow GitLab's API attributes; paths and usernames follow GitLab's rules
// (app/models/namespace.rb, lib/gitlab/path_regex.rb).

const SEED: Seed = {
  settings: { userDefaultExternal: true },
  users: [
    {
      username: 'sponsor',
      name: 'Sam Sponsor',
      email: 'sam@corp.example',
      password: 'sponsor-pass-1',
      external: false,
      tokens: [{ token: 'glpat-sponsor-token', scopes: ['api'], expires_at: null }],
      custom_attributes: { department: 'R&D' },
    },
    { id: 50, username: 'ext', state: 'blocked', confirmed: false, last_activity_on: '2024-01-02' },
    { username: 'bot', bot: true },
  ],
  groups: [
    // children before parents on purpose
    { path: 'frontend', parent: 'acme/web', members: [{ user: 51, access_level: 20 }] },
    { path: 'web', parent: 'acme', visibility: 'internal' },
    {
      path: 'acme',
      name: 'ACME Corp',
      members: [
        { user: 'sponsor', access_level: 50 },
        { user: 'ext', access_level: 10, expires_at: '2099-12-31' },
      ],
    },
    { path: 'partners' },
  ],
  projects: [
    {
      path: 'site',
      namespace: 'acme/web',
      members: [{ user: 'ext', access_level: 30 }],
      shared_with_groups: [{ group: 'partners', group_access: 20 }],
    },
    { path: 'dotfiles', namespace: 'sponsor' },
  ],
  applications: [
    {
      name: 'Portal',
      redirect_uri: 'http://localhost:3000/auth/callback http://127.0.0.1:3000/auth/callback',
      scopes: 'openid profile email api',
      application_id: 'portal-client-id',
      secret: 'gloas-portal-secret',
      confidential: true,
    },
  ],
};

describe('loading a seed', () => {
  const sim = useSimulator({ seed: SEED });

  it('creates users with their passwords, tokens, states and attributes — lib/api/users.rb GET /user', async () => {
    const s = sim();
    const sponsor = s.user('sponsor')!;
    expect(sponsor).toMatchObject({ id: 2, name: 'Sam Sponsor', email: 'sam@corp.example', external: false });
    expect(verifyPassword('sponsor-pass-1', sponsor.passwordHash)).toBe(true);
    expect(sponsor.customAttributes.get('department')).toBe('R&D');
    const me = await get(s, '/user', { token: 'glpat-sponsor-token' });
    expect(me.body).toMatchObject({ id: 2, username: 'sponsor' });
    expect(s.user('ext')).toMatchObject({
      id: 50,
      state: 'blocked',
      confirmedAt: null,
      lastActivityOn: '2024-01-02',
    });
    // a seed describes existing users: userDefaultExternal only applies to users created later
    expect(s.user('ext')!.external).toBe(false);
    expect(s.settings.userDefaultExternal).toBe(true);
    expect(s.user('bot')).toMatchObject({ id: 51, userType: 'project_bot' });
  });

  it('creates subgroups whatever their order, with full paths — app/models/namespace.rb full_path', () => {
    const s = sim();
    const frontend = s.store.findGroup('acme/web/frontend')!;
    const web = s.store.findGroup('acme/web')!;
    const acme = s.store.findGroup('acme')!;
    expect(frontend.parentId).toBe(web.id);
    expect(web).toMatchObject({ parentId: acme.id, visibility: 'internal', fullName: 'ACME Corp / web' });
    expect(acme).toMatchObject({ name: 'ACME Corp', visibility: 'private' });
  });

  it('adds members by username or id, with expiry, and inherited access — app/models/members/group_member.rb', () => {
    const s = sim();
    const ext = s.user('ext')!;
    const acme = s.store.findGroup('acme')!;
    expect(s.store.directMember({ type: 'Namespace', id: acme.id }, ext.id)).toMatchObject({
      accessLevel: 10,
      expiresAt: '2099-12-31',
    });
    expect(s.store.groupAccess(s.store.findGroup('acme/web/frontend')!, s.user('sponsor')!.id)).toBe(50);
    expect(s.store.groupAccess(s.store.findGroup('acme/web/frontend')!, s.user('bot')!.id)).toBe(20);
  });

  it('creates group and personal projects with members and group shares — app/models/project_group_link.rb', () => {
    const s = sim();
    const site = s.store.findProject('acme/web/site')!;
    expect(s.store.projectAccess(site, s.user('ext')!.id)).toBe(30);
    expect(site.sharedWithGroups).toMatchObject([
      { groupId: s.store.findGroup('partners')!.id, groupAccess: 20 },
    ]);
    const dotfiles = s.store.findProject('sponsor/dotfiles')!;
    expect(s.store.projectAccess(dotfiles, s.user('sponsor')!.id)).toBe(50);
  });

  it('registers OAuth applications with fixed ids and secrets — app/models/authn/oauth_application.rb', () => {
    const app = sim().store.applicationsByUid.get('portal-client-id')!;
    expect(app).toMatchObject({
      name: 'Portal',
      secret: 'gloas-portal-secret',
      redirectUris: ['http://localhost:3000/auth/callback', 'http://127.0.0.1:3000/auth/callback'],
      scopes: ['openid', 'profile', 'email', 'api'],
      confidential: true,
      trusted: false,
    });
  });
});

// GitLab's two namespace path messages (lib/gitlab/regex.rb, lib/gitlab/path_regex.rb).
const PATH_MESSAGE =
  "can only include non-accented letters, digits, '_', '-' and '.'. It must not start with '-', '_', or '.', nor end with '-', '_', '.', '.git', or '.atom'.";
const LEGACY_PATH_MESSAGE =
  "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-' or end in '.', '.git' or '.atom'.";

describe('seed validation', () => {
  const problems = (seed: unknown) => validateSeed(seed);

  it('the seed itself: an object with known sections, each a list', () => {
    expect(problems([])).toEqual(['seed: must be an object']);
    expect(problems({ user: [], groups: {} })).toEqual([
      'user: unknown key (known: settings, users, groups, projects, applications, generate)',
      'groups: must be an array',
    ]);
    expect(problems({ users: [null, 'bob'] })).toEqual([
      'users[0]: must be an object',
      'users[1]: must be an object',
    ]);
  });

  it('usernames: present, GitLab’s format, length and reserved names, unique ignoring case (root included) — app/models/user.rb, app/models/namespace.rb', () => {
    expect(
      problems({
        users: [
          {},
          { username: 7 },
          { username: 'a' },
          { username: 'x'.repeat(256) },
          { username: '-lead' },
          { username: 'a..b' },
          { username: 'repo.git' },
          { username: 'Root' },
          { username: 'dup' },
          { username: 'DUP' },
          { username: 'admin' },
          { username: 'page.json' },
        ],
      }),
    ).toEqual([
      'users[0].username: missing',
      'users[1].username: must be a string',
      'users[2].username: is too short (minimum is 2 characters)',
      'users[3].username: is too long (maximum is 255 characters)',
      `users[4].username: ${LEGACY_PATH_MESSAGE}`,
      `users[4].username: ${PATH_MESSAGE}`,
      `users[5].username: ${PATH_MESSAGE}`,
      `users[6].username: ${LEGACY_PATH_MESSAGE}`,
      "users[7].username: 'Root' is already taken",
      "users[9].username: 'DUP' is already taken",
      'users[10].username: admin is a reserved name',
      'users[11].username: ending with a reserved file extension is not allowed.',
    ]);
  });

  it('user fields: id, name, e-mail, password, flags, state, dates, attributes', () => {
    expect(
      problems({
        users: [
          { username: 'u1', id: 1 },
          { username: 'u2', id: 0 },
          { username: 'u3', id: 'x' },
          { username: 'u4', id: 1.5, name: ' ', email: 'nope', password: '' },
          {
            username: 'u5',
            email: 'ADMIN@example.com',
            admin: 'yes',
            external: 1,
            bot: null,
            confirmed: 'no',
          },
          { username: 'u6', email: 'same@example.com', state: 'asleep', note: 5, organization: [] },
          {
            username: 'u7',
            email: 'Same@Example.com',
            last_activity_on: '2024-02-30',
            current_sign_in_at: 'soon',
          },
          { username: 'u8', created_at: null, current_sign_in_at: null, last_activity_on: null },
          { username: 'u9', custom_attributes: [], unknown: 1 },
          { username: 'u10', custom_attributes: { a: 'b', c: 1 } },
          { username: 'u11', email: 'u12@example.com' },
          { username: 'u12' },
        ],
      }),
    ).toEqual([
      'users[0].id: 1 is already taken',
      'users[1].id: must be at least 1',
      'users[2].id: must be a whole number',
      'users[3].id: must be a whole number',
      'users[3].name: must not be empty',
      "users[3].email: 'nope' is not an e-mail address",
      'users[3].password: must not be empty',
      "users[4].email: 'ADMIN@example.com' is already taken",
      'users[4].admin: must be true or false',
      'users[4].external: must be true or false',
      'users[4].bot: must be true or false',
      'users[4].confirmed: must be true or false',
      'users[5].state: must be one of: active, blocked, ldap_blocked, blocked_pending_approval, banned, deactivated',
      'users[5].note: must be a string',
      'users[5].organization: must be a string',
      "users[6].email: 'Same@Example.com' is already taken",
      'users[6].last_activity_on: must be a date (YYYY-MM-DD) or null',
      'users[6].current_sign_in_at: must be an ISO 8601 date-time or null',
      'users[7].created_at: must be an ISO 8601 date-time',
      expect.stringMatching(
        /^users\[8\]\.unknown: unknown key \(known: id, username, name, email, password, .*tokens\)$/,
      ),
      'users[8].custom_attributes: must be an object',
      'users[9].custom_attributes.c: must be a string',
      "users[11].email: missing, and the default 'u12@example.com' is already taken",
    ]);
  });

  it('tokens: scopes required, token strings unique, dates and flags typed', () => {
    expect(
      problems({
        users: [
          { username: 'u1', tokens: {} },
          {
            username: 'u2',
            tokens: [
              { token: 'glpat-same', scopes: ['api'] },
              { token: 'glpat-same', scopes: [] },
              { token: '', name: '', scopes: 'api', expires_at: '2025-13-01', revoked: 'no', extra: 1 },
              { scopes: ['read api', 7] },
              {},
            ],
          },
        ],
      }),
    ).toEqual([
      'users[0].tokens: must be an array',
      'users[1].tokens[1].token: is already taken',
      'users[1].tokens[1].scopes: must list at least one scope',
      'users[1].tokens[2].extra: unknown key (known: token, name, scopes, expires_at, revoked)',
      'users[1].tokens[2].token: must not be empty',
      'users[1].tokens[2].name: must not be empty',
      'users[1].tokens[2].scopes: must be an array',
      'users[1].tokens[2].expires_at: must be a date (YYYY-MM-DD) or null',
      'users[1].tokens[2].revoked: must be true or false',
      'users[1].tokens[3].scopes[0]: must be a scope name such as api or read_user',
      'users[1].tokens[3].scopes[1]: must be a scope name such as api or read_user',
      'users[1].tokens[4].scopes: missing',
    ]);
  });

  it('groups: path rules, known parent, unique full path (users’ namespaces too), members', () => {
    expect(
      problems({
        users: [{ username: 'alice' }, { username: 'bob', id: 10 }, { username: 'carol' }],
        groups: [
          {
            path: 'top',
            members: [
              { user: 'alice', access_level: 30 },
              { user: 11, access_level: 40 },
            ],
          },
          { path: 'sub', parent: 'top', members: [{ user: 3, access_level: 30 }] },
          { path: 'sub', parent: 'Top' },
          { path: 'orphan', parent: 'missing' },
          { path: 'alice' },
          { path: '_x' },
          { name: '' },
          {
            path: 'team',
            visibility: 'secret',
            members: [
              { user: 'zed', access_level: 30 },
              { user: true, access_level: 5, expires_at: 'never' },
              { access_level: 30, role: 'dev' },
            ],
          },
        ],
      }),
    ).toEqual([
      'groups[1].members[0].user: unknown user id 3',
      "groups[2].path: 'Top/sub' is already taken",
      "groups[3].parent: unknown group 'missing'",
      "groups[4].path: 'alice' is already taken",
      `groups[5].path: ${PATH_MESSAGE}`,
      'groups[6].path: missing',
      'groups[6].name: must not be empty',
      'groups[7].visibility: must be one of: private, internal, public',
      "groups[7].members[0].user: unknown user 'zed'",
      'groups[7].members[1].user: must be a username or a user id',
      'groups[7].members[1].access_level: must be one of: 10, 15, 20, 30, 40, 50',
      'groups[7].members[1].expires_at: must be a date (YYYY-MM-DD) or null',
      'groups[7].members[2].role: unknown key (known: user, access_level, expires_at)',
      'groups[7].members[2].user: missing',
    ]);
  });

  it('projects: path rules, known namespace (group or user), unique full path, shares', () => {
    expect(
      problems({
        users: [{ username: 'alice' }],
        groups: [{ path: 'team' }],
        projects: [
          { path: 'app', namespace: 'team' },
          { path: 'App', namespace: 'TEAM' },
          { path: 'dots', namespace: 'alice' },
          { path: '-dash', namespace: 'team' },
          { path: 'x.atom', namespace: 'team' },
          { path: 'y', namespace: 'nowhere' },
          { path: 'z' },
          {
            path: 'shared',
            namespace: 'team',
            shared_with_groups: [
              { group: 'ghosts', group_access: 20 },
              { group: 'team', group_access: 60 },
              {},
            ],
          },
        ],
      }),
    ).toEqual([
      "projects[1].path: 'TEAM/App' is already taken",
      "projects[3].path: can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', end in '.git' or end in '.atom'",
      "projects[4].path: can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', end in '.git' or end in '.atom'",
      "projects[5].namespace: unknown group or user namespace 'nowhere'",
      'projects[6].namespace: missing',
      "projects[7].shared_with_groups[0].group: unknown group 'ghosts'",
      'projects[7].shared_with_groups[1].group_access: must be one of: 10, 15, 20, 30, 40, 50',
      'projects[7].shared_with_groups[2].group: missing',
      'projects[7].shared_with_groups[2].group_access: missing',
    ]);
  });

  it('applications: name, absolute redirect URIs without fragments, scopes, unique application_id — doorkeeper RedirectUriValidator', () => {
    expect(
      problems({
        applications: [
          {},
          {
            name: 'a',
            redirect_uri: 'http://ok/cb /relative http://x/cb#frag',
            scopes: 'api',
            application_id: 'id1',
          },
          {
            name: 'b',
            redirect_uri: 'com.example.app:/cb',
            scopes: ' ',
            application_id: 'id1',
            secret: '',
            trusted: 1,
          },
        ],
      }),
    ).toEqual([
      'applications[0].name: missing',
      'applications[0].redirect_uri: missing',
      'applications[0].scopes: missing',
      "applications[1].redirect_uri: '/relative' is not an absolute URI",
      "applications[1].redirect_uri: 'http://x/cb#frag' must not contain a fragment",
      'applications[2].scopes: must not be empty',
      'applications[2].trusted: must be true or false',
      "applications[2].application_id: 'id1' is already taken",
      'applications[2].secret: must not be empty',
    ]);
  });

  it('generate and settings are checked too', () => {
    expect(
      problems({
        settings: { userDefaultExternal: 'yes', nope: 1 },
        generate: { users: 2_000_000, prefix: '-bad', password: '', custom_attributes: { a: 1 }, extra: 1 },
      }),
    ).toEqual([
      'settings.userDefaultExternal: must be true or false',
      expect.stringMatching(/^settings\.nope: unknown setting \(known: /),
      'generate.extra: unknown key (known: users, prefix, password, custom_attributes)',
      'generate.users: must be at most 1000000',
      "generate.prefix: '-bad' followed by a number must be a valid username",
      'generate.password: must not be empty',
      'generate.custom_attributes.a: must be a string',
    ]);
  });

  it('against a running store: taken names, ids, tokens, and references to existing users and groups', () => {
    const sim = new Simulator({
      adminToken: 'glpat-admin',
      seed: { users: [{ username: 'alice' }], groups: [{ path: 'team' }] },
    });
    expect(
      validateSeed(
        {
          users: [
            { username: 'ALICE' },
            { username: 'bob', id: 2, tokens: [{ token: 'glpat-admin', scopes: ['api'] }] },
          ],
          groups: [
            { path: 'team' },
            {
              path: 'sub',
              parent: 'team',
              members: [
                { user: 'alice', access_level: 30 },
                { user: 1, access_level: 50 },
              ],
            },
          ],
          projects: [{ path: 'p', namespace: 'alice' }],
        },
        sim.store,
      ),
    ).toEqual([
      "users[0].username: 'ALICE' is already taken",
      'users[1].id: 2 is already taken',
      'users[1].tokens[0].token: is already taken',
      "groups[0].path: 'team' is already taken",
    ]);
  });
});

describe('applying seeds', () => {
  it('a seed with problems throws a SeedError listing all of them and changes nothing', () => {
    const sim = new Simulator();
    const before = sim.store.userCount();
    let error: unknown;
    try {
      applySeed(sim.store, {
        users: [{ username: 'ok-user' }, { username: 'x' }],
        groups: [{ path: 'gg', parent: 'x' }],
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SeedError);
    expect((error as SeedError).problems).toEqual([
      'users[1].username: is too short (minimum is 2 characters)',
      "groups[0].parent: unknown group 'x'",
    ]);
    expect((error as Error).message).toBe(
      "seed is invalid (2 problems):\n  users[1].username: is too short (minimum is 2 characters)\n  groups[0].parent: unknown group 'x'",
    );
    expect(sim.store.userCount()).toBe(before);
    expect(sim.user('ok-user')).toBeUndefined();
  });

  it('givenUser goes through the same checks', () => {
    const sim = new Simulator();
    sim.givenUser({ username: 'alice' });
    expect(() => sim.givenUser({ username: 'Alice' })).toThrow("users[0].username: 'Alice' is already taken");
  });

  it('members may name seed users by the ids they will get', () => {
    const sim = new Simulator({
      seed: {
        users: [{ username: 'aa' }, { username: 'bb', id: 10 }, { username: 'cc' }],
        groups: [
          {
            path: 'g1',
            members: [
              { user: 11, access_level: 30 },
              { user: '2', access_level: 20 },
            ],
          },
        ],
      },
    });
    const g1 = sim.store.findGroup('g1')!;
    expect(sim.user('cc')!.id).toBe(11);
    expect(sim.store.groupAccess(g1, 11)).toBe(30);
    expect(sim.store.groupAccess(g1, sim.user('aa')!.id)).toBe(20);
  });
});

describe('seed files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-seed-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('readSeedFile reads a valid file', () => {
    expect(readSeedFile(file('ok.json', JSON.stringify(SEED)))).toEqual(SEED);
  });

  it('names the file when it is missing, not JSON, or invalid (every problem listed)', () => {
    expect(() => readSeedFile(join(dir, 'missing.json'))).toThrow(
      /^seed file .*missing\.json cannot be read: ENOENT/,
    );
    expect(() => readSeedFile(file('broken.json', '{"users": ['))).toThrow(
      /^seed file .*broken\.json is not valid JSON: /,
    );
    const bad = file('bad.json', JSON.stringify({ users: [{ username: 'x' }, { name: 'no username' }] }));
    expect(() => readSeedFile(bad)).toThrow(
      `seed file ${bad} is invalid (2 problems):\n  users[0].username: is too short (minimum is 2 characters)\n  users[1].username: missing`,
    );
  });

  it('`gitlab-extern sim --seed bad.json` fails before listening, with every problem', async () => {
    const bad = file(
      'bad-cli.json',
      JSON.stringify({ groups: [{ path: 'gg', members: [{ user: 'nobody', access_level: 30 }] }] }),
    );
    const lines: string[] = [];
    await expect(runSimulatorProcess({ seed: bad }, (l) => lines.push(l))).rejects.toThrow(
      `seed file ${bad} is invalid (1 problem):\n  groups[0].members[0].user: unknown user 'nobody'`,
    );
    expect(lines).toEqual([]);
  });
});

describe('generated users', () => {
  it('generates numbered users with one password and per-user custom attributes', () => {
    const sim = new Simulator({
      seed: {
        users: [{ username: 'first' }],
        generate: {
          users: 1000,
          prefix: 'load',
          password: 'load-pass-1',
          custom_attributes: { sponsor: 'user-{i}' },
        },
      },
    });
    expect(sim.store.userCount()).toBe(1002);
    const last = sim.user('load1002')!;
    expect(last).toMatchObject({
      id: 1002,
      name: 'User 1002',
      email: 'load1002@example.com',
      passwordAutomaticallySet: false,
    });
    expect(verifyPassword('load-pass-1', last.passwordHash)).toBe(true);
    expect(last.customAttributes.get('sponsor')).toBe('user-1002');
    expect([...sim.store.usersWithCustomAttribute('sponsor', 'user-3')]).toEqual([3]);
  });

  it('generateUsers continues the id sequence with the default prefix and password', () => {
    const sim = new Simulator();
    generateUsers(sim.store, 3);
    expect(sim.store.orderedUsers().map((u) => u.username)).toEqual(['root', 'user2', 'user3', 'user4']);
    expect(verifyPassword('password123!', sim.user('user4')!.passwordHash)).toBe(true);
  });
});
