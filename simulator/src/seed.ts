import { readFileSync } from 'node:fs';
import {
  endsWithGitOrAtom,
  LEGACY_PROJECT_PATH_MESSAGE,
  LEGACY_PROJECT_PATH_REGEXP,
} from './api/path-rules.js';
import { hashPassword } from './model/secrets.js';
import type { Store } from './model/store.js';
import {
  ACCESS_LEVELS,
  type AccessLevel,
  type Group,
  type OAuthApplication,
  type PersonalAccessToken,
  type Project,
  type SourceRef,
  type User,
  type UserState,
  VISIBILITIES,
  type Visibility,
} from './model/types.js';
import {
  EMAIL_REGEX,
  NAMESPACE_FORMAT_REGEX,
  OCI_PATH_MESSAGE,
  OCI_PATH_REGEX,
  USERNAME_MAX_LENGTH,
  USERNAME_MIN_LENGTH,
  usernameFormatErrors,
} from './model/user-rules.js';
import type { SimSettings } from './settings.js';
import { at, checkSettings, Fields, isPlainObject, Problems } from './validation.js';

/**
 * The `--seed` file: users (with passwords and tokens), groups and subgroups, projects, memberships,
 * project shares and OAuth applications. Names follow GitLab's API attribute names.
 */
export interface SeedMember {
  /** username or numeric id */
  user: string | number;
  access_level: number;
  expires_at?: string | null;
}

export interface SeedUser {
  id?: number;
  username: string;
  name?: string;
  email?: string;
  password?: string;
  admin?: boolean;
  external?: boolean;
  state?: UserState;
  bot?: boolean;
  note?: string;
  organization?: string;
  confirmed?: boolean;
  last_activity_on?: string | null;
  current_sign_in_at?: string | null;
  created_at?: string;
  custom_attributes?: Record<string, string>;
  tokens?: {
    token?: string;
    name?: string;
    scopes: string[];
    expires_at?: string | null;
    revoked?: boolean;
  }[];
}

export interface SeedGroup {
  path: string;
  name?: string;
  /** full path of the parent group */
  parent?: string;
  description?: string;
  visibility?: Visibility;
  members?: SeedMember[];
}

export interface SeedProject {
  path: string;
  /** full path of a group, or a username for a personal project */
  namespace: string;
  name?: string;
  description?: string;
  visibility?: Visibility;
  members?: SeedMember[];
  shared_with_groups?: { group: string; group_access: number; expires_at?: string | null }[];
}

export interface SeedApplication {
  name: string;
  redirect_uri: string;
  /** space-separated, as in GitLab's form */
  scopes: string;
  confidential?: boolean;
  trusted?: boolean;
  application_id?: string;
  secret?: string;
}

export interface Seed {
  settings?: Partial<SimSettings>;
  users?: SeedUser[];
  groups?: SeedGroup[];
  projects?: SeedProject[];
  applications?: SeedApplication[];
  /** Generate this many extra users (`user1`, `user2`, …) for load tests. */
  generate?: {
    users?: number;
    prefix?: string;
    password?: string;
    custom_attributes?: Record<string, string>;
  };
}

const USER_STATES: readonly UserState[] = [
  'active',
  'blocked',
  'ldap_blocked',
  'blocked_pending_approval',
  'banned',
  'deactivated',
];

const USER_KEYS = [
  'id',
  'username',
  'name',
  'email',
  'password',
  'admin',
  'external',
  'state',
  'bot',
  'note',
  'organization',
  'confirmed',
  'last_activity_on',
  'current_sign_in_at',
  'created_at',
  'custom_attributes',
  'tokens',
] as const satisfies readonly (keyof SeedUser)[];
const TOKEN_KEYS = ['token', 'name', 'scopes', 'expires_at', 'revoked'] as const;
const GROUP_KEYS = [
  'path',
  'name',
  'parent',
  'description',
  'visibility',
  'members',
] as const satisfies readonly (keyof SeedGroup)[];
const PROJECT_KEYS = [
  'path',
  'namespace',
  'name',
  'description',
  'visibility',
  'members',
  'shared_with_groups',
] as const satisfies readonly (keyof SeedProject)[];
const APPLICATION_KEYS = [
  'name',
  'redirect_uri',
  'scopes',
  'confidential',
  'trusted',
  'application_id',
  'secret',
] as const satisfies readonly (keyof SeedApplication)[];
const MEMBER_KEYS = ['user', 'access_level', 'expires_at'] as const satisfies readonly (keyof SeedMember)[];
const SEED_KEYS = [
  'settings',
  'users',
  'groups',
  'projects',
  'applications',
  'generate',
] as const satisfies readonly (keyof Seed)[];
const GENERATE_KEYS = ['users', 'prefix', 'password', 'custom_attributes'] as const;

/**
 * Checks a seed against itself and, when given, the store it is about to be loaded into (taken
 * usernames, e-mails, paths, tokens, and references to existing users and groups). Returns every
 * problem with its JSON path, e.g. `users[3].username: missing`; an empty list means it loads.
 */
export function validateSeed(
  seed: unknown,
  store?: Store,
  opts: {
    /** Where each entry of a section is reported: `users[3]` by default. */
    label?: (section: string, index: number) => string;
    /** What the whole input is called in messages about it. */
    root?: string;
  } = {},
): string[] {
  const checker = new SeedChecker(store, opts.label ?? ((section, i) => `${section}[${i}]`), opts.root);
  checker.seed(seed);
  return checker.problems.list;
}

/** A seed that cannot be loaded; `problems` lists every reason. */
export class SeedError extends Error {
  constructor(
    readonly problems: readonly string[],
    source = 'seed',
  ) {
    const count = `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
    super(`${source} is invalid (${count}):\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'SeedError';
  }
}

class SeedChecker {
  readonly problems: Problems;
  private readonly usernames = new Set<string>();
  private readonly userIds = new Set<number>();
  private readonly emails = new Set<string>();
  private readonly tokens = new Set<string>();
  private readonly groupPaths = new Set<string>();
  private readonly projectPaths = new Set<string>();
  private readonly applicationIds = new Set<string>();
  /** Ids are given out as the store does (`insertUser`), so members may refer to users by id. */
  private lastUserId: number;

  constructor(
    private readonly store: Store | undefined,
    private readonly label: (section: string, index: number) => string,
    root = 'seed',
  ) {
    this.problems = new Problems(root);
    this.lastUserId = store ? store.nextUserId() - 1 : 1;
    if (!store) {
      // The simulator always has root (id 1).
      this.usernames.add('root');
      this.userIds.add(1);
      this.emails.add('admin@example.com');
    }
  }

  seed(value: unknown): void {
    const f = Fields.of(this.problems, value, '', SEED_KEYS);
    if (!f) return;
    if (f.has('settings')) checkSettings(this.problems, f.value.settings, 'settings');
    this.each(f, 'users', (u, path) => this.user(u, path));
    // Parents may come after their children in the file: know every group's full path first.
    for (const g of Array.isArray(f.value.groups) ? f.value.groups : []) {
      const fullPath = groupFullPath(g);
      if (fullPath !== undefined) this.groupPaths.add(fullPath.toLowerCase());
    }
    const seenGroups = new Set<string>();
    this.each(f, 'groups', (g, path) => this.group(g, path, seenGroups));
    this.each(f, 'projects', (p, path) => this.project(p, path));
    this.each(f, 'applications', (a, path) => this.application(a, path));
    if (f.has('generate')) this.generate(f.value.generate, 'generate');
  }

  private each(f: Fields, section: string, check: (value: unknown, path: string) => void): void {
    const list = f.array(section) ?? [];
    for (let i = 0; i < list.length; i++) check(list[i], this.label(section, i));
  }

  // ------------------------------------------------------------ users

  user(value: unknown, path: string): void {
    const f = Fields.of(this.problems, value, path, USER_KEYS);
    if (!f) {
      this.lastUserId++;
      return;
    }
    const id = f.integer('id', { min: 1 });
    if (id !== undefined && (this.userIds.has(id) || this.store?.users.has(id))) {
      f.problem('id', `${id} is already taken`);
    }
    if (id === undefined) this.userIds.add(++this.lastUserId);
    else {
      this.userIds.add(id);
      this.lastUserId = Math.max(this.lastUserId, id);
    }

    const username = f.string('username', { required: true });
    const usernameErrors = username === undefined ? [] : usernameFormatErrors(username);
    for (const message of usernameErrors) f.problem('username', message);
    let usernameFree = false;
    if (username !== undefined && usernameErrors.length === 0) {
      const lower = username.toLowerCase();
      usernameFree = !this.usernames.has(lower) && !this.store?.findNamespaceByPath(lower);
      if (!usernameFree) f.problem('username', `'${username}' is already taken`);
      this.usernames.add(lower);
    }
    f.string('name', { nonEmpty: true });
    const email = f.string('email');
    if (email === undefined && !f.has('email') && usernameFree) {
      // Without an e-mail the user gets `<username>@example.com`, which must be free too.
      const fallback = `${username}@example.com`.toLowerCase();
      if (this.emails.has(fallback) || this.store?.emailTaken(fallback)) {
        f.problem('email', `missing, and the default '${fallback}' is already taken`);
      }
      this.emails.add(fallback);
    }
    if (email !== undefined) {
      const lower = email.toLowerCase();
      if (!EMAIL_REGEX.test(email)) f.problem('email', `'${email}' is not an e-mail address`);
      else if (this.emails.has(lower) || this.store?.emailTaken(lower)) {
        f.problem('email', `'${email}' is already taken`);
      }
      this.emails.add(lower);
    }
    f.string('password', { nonEmpty: true });
    for (const key of ['admin', 'external', 'bot', 'confirmed'] as const) f.boolean(key);
    f.oneOf('state', USER_STATES);
    f.string('note');
    f.string('organization');
    f.date('last_activity_on', { nullable: true });
    f.time('current_sign_in_at', { nullable: true });
    f.time('created_at');
    f.stringMap('custom_attributes');
    const tokens = f.array('tokens') ?? [];
    for (let i = 0; i < tokens.length; i++) this.token(tokens[i], at(at(path, 'tokens'), i));
  }

  private token(value: unknown, path: string): void {
    const f = Fields.of(this.problems, value, path, TOKEN_KEYS);
    if (!f) return;
    const token = f.string('token', { nonEmpty: true });
    if (token !== undefined) {
      if (this.tokens.has(token) || this.store?.personalAccessTokens.has(token)) {
        f.problem('token', 'is already taken');
      }
      this.tokens.add(token);
    }
    f.string('name', { nonEmpty: true });
    const scopes = f.array('scopes', { required: true });
    if (scopes?.length === 0) f.problem('scopes', 'must list at least one scope');
    scopes?.forEach((scope, i) => {
      if (typeof scope !== 'string' || !/^[a-z][a-z0-9_:]*$/.test(scope)) {
        this.problems.add(at(at(path, 'scopes'), i), 'must be a scope name such as api or read_user');
      }
    });
    f.date('expires_at', { nullable: true });
    f.boolean('revoked');
  }

  /** A group's path: the namespace rules of `app/models/namespace.rb` (usernames have more). */
  private groupPathValid(f: Fields, path: string): boolean {
    if (path.length < USERNAME_MIN_LENGTH)
      f.problem('path', `is too short (minimum is ${USERNAME_MIN_LENGTH} characters)`);
    else if (path.length > USERNAME_MAX_LENGTH)
      f.problem('path', `is too long (maximum is ${USERNAME_MAX_LENGTH} characters)`);
    else if (!NAMESPACE_FORMAT_REGEX.test(path) || !OCI_PATH_REGEX.test(path))
      f.problem('path', OCI_PATH_MESSAGE);
    else return true;
    return false;
  }

  /** `user` of a membership: an id or a username known to the seed or the store. */
  private userRef(f: Fields, key: string): void {
    const ref = f.value[key];
    if (ref === undefined) f.problem(key, 'missing');
    else if (typeof ref === 'number' || (typeof ref === 'string' && /^\d+$/.test(ref))) {
      const id = Number(ref);
      if (!this.userIds.has(id) && !this.store?.users.has(id)) f.problem(key, `unknown user id ${ref}`);
    } else if (typeof ref !== 'string') f.problem(key, 'must be a username or a user id');
    else if (!this.usernames.has(ref.toLowerCase()) && !this.store?.findUserByUsername(ref)) {
      f.problem(key, `unknown user '${ref}'`);
    }
  }

  private members(owner: Fields, path: string): void {
    owner.array('members')?.forEach((m, i) => {
      const f = Fields.of(this.problems, m, at(at(path, 'members'), i), MEMBER_KEYS);
      if (!f) return;
      this.userRef(f, 'user');
      f.oneOf('access_level', ACCESS_LEVELS, { required: true });
      f.date('expires_at', { nullable: true });
    });
  }

  // ------------------------------------------------------------ groups and projects

  private groupExists(fullPath: string): boolean {
    const lower = fullPath.toLowerCase();
    return this.groupPaths.has(lower) || this.store?.findNamespaceByPath(lower)?.kind === 'group';
  }

  group(value: unknown, path: string, seen: Set<string>): void {
    const f = Fields.of(this.problems, value, path, GROUP_KEYS);
    if (!f) return;
    const groupPath = f.string('path', { required: true });
    const parent = f.string('parent', { nonEmpty: true });
    f.string('name', { nonEmpty: true });
    f.string('description');
    f.oneOf('visibility', VISIBILITIES);
    if (groupPath !== undefined && this.groupPathValid(f, groupPath)) {
      const fullPath = parent ? `${parent}/${groupPath}` : groupPath;
      const lower = fullPath.toLowerCase();
      const clash =
        seen.has(lower) || this.store?.findNamespaceByPath(lower) || (!parent && this.usernames.has(lower));
      if (clash) f.problem('path', `'${fullPath}' is already taken`);
      seen.add(lower);
    }
    if (parent !== undefined && !this.groupExists(parent)) f.problem('parent', `unknown group '${parent}'`);
    this.members(f, path);
  }

  project(value: unknown, path: string): void {
    const f = Fields.of(this.problems, value, path, PROJECT_KEYS);
    if (!f) return;
    const projectPath = f.string('path', { required: true });
    const namespace = f.string('namespace', { required: true });
    f.string('name', { nonEmpty: true });
    f.string('description');
    f.oneOf('visibility', VISIBILITIES);
    if (
      projectPath !== undefined &&
      (!LEGACY_PROJECT_PATH_REGEXP.test(projectPath) || endsWithGitOrAtom(projectPath))
    ) {
      f.problem('path', LEGACY_PROJECT_PATH_MESSAGE);
    }
    if (namespace !== undefined) {
      const known =
        this.groupExists(namespace) ||
        this.usernames.has(namespace.toLowerCase()) ||
        this.store?.findNamespaceByPath(namespace) !== undefined;
      if (!known) f.problem('namespace', `unknown group or user namespace '${namespace}'`);
      else if (projectPath !== undefined) {
        const fullPath = `${namespace}/${projectPath}`;
        const lower = fullPath.toLowerCase();
        if (this.projectPaths.has(lower) || this.store?.findProject(lower)) {
          f.problem('path', `'${fullPath}' is already taken`);
        }
        this.projectPaths.add(lower);
      }
    }
    this.members(f, path);
    f.array('shared_with_groups')?.forEach((link, i) => {
      const l = Fields.of(this.problems, link, at(at(path, 'shared_with_groups'), i), [
        'group',
        'group_access',
        'expires_at',
      ]);
      if (!l) return;
      const group = l.string('group', { required: true });
      if (group !== undefined && !this.groupExists(group)) l.problem('group', `unknown group '${group}'`);
      l.oneOf('group_access', ACCESS_LEVELS, { required: true });
      l.date('expires_at', { nullable: true });
    });
  }

  // ------------------------------------------------------------ applications and generated users

  application(value: unknown, path: string): void {
    const f = Fields.of(this.problems, value, path, APPLICATION_KEYS);
    if (!f) return;
    f.string('name', { required: true, nonEmpty: true });
    const redirect = f.string('redirect_uri', { required: true, nonEmpty: true });
    for (const uri of redirect?.split(/\s+/).filter(Boolean) ?? []) {
      // Doorkeeper's RedirectUriValidator: absolute URIs without a fragment.
      if (!URL.canParse(uri)) f.problem('redirect_uri', `'${uri}' is not an absolute URI`);
      else if (uri.includes('#')) f.problem('redirect_uri', `'${uri}' must not contain a fragment`);
    }
    f.string('scopes', { required: true, nonEmpty: true });
    f.boolean('confidential');
    f.boolean('trusted');
    const uid = f.string('application_id', { nonEmpty: true });
    if (uid !== undefined) {
      if (this.applicationIds.has(uid) || this.store?.applicationsByUid.has(uid)) {
        f.problem('application_id', `'${uid}' is already taken`);
      }
      this.applicationIds.add(uid);
    }
    f.string('secret', { nonEmpty: true });
  }

  private generate(value: unknown, path: string): void {
    const f = Fields.of(this.problems, value, path, GENERATE_KEYS);
    if (!f) return;
    f.integer('users', { min: 0, max: 1_000_000 });
    const prefix = f.string('prefix');
    if (prefix !== undefined && usernameFormatErrors(`${prefix}1`).length > 0) {
      f.problem('prefix', `'${prefix}' followed by a number must be a valid username`);
    }
    f.string('password', { nonEmpty: true });
    f.stringMap('custom_attributes');
  }
}

/** `parent/path` of a seed group, when both are usable strings. */
function groupFullPath(value: unknown): string | undefined {
  if (!isPlainObject(value) || typeof value.path !== 'string') return undefined;
  if (value.parent === undefined) return value.path;
  return typeof value.parent === 'string' && value.parent !== ''
    ? `${value.parent}/${value.path}`
    : undefined;
}

export function readSeedFile(path: string): Seed {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`seed file ${path} cannot be read: ${(e as Error).message}`);
  }
  let seed: unknown;
  try {
    seed = JSON.parse(text);
  } catch (e) {
    throw new Error(`seed file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  const problems = validateSeed(seed);
  if (problems.length > 0) throw new SeedError(problems, `seed file ${path}`);
  return seed as Seed;
}

const ms = (iso: string | null | undefined) => (iso ? new Date(iso).getTime() : null);

function addMembers(store: Store, source: SourceRef, members: SeedMember[]) {
  for (const m of members) {
    const user = store.findUserByIdOrUsername(m.user)!;
    store.addUserMember(source, user.id, m.access_level, { expiresAt: m.expires_at });
  }
}

/** Inserts one already-validated seed user with its tokens. */
export function seedUser(store: Store, u: SeedUser): { user: User; tokens: PersonalAccessToken[] } {
  const user = store.insertUser({
    id: u.id,
    username: u.username,
    name: u.name ?? u.username,
    email: u.email ?? `${u.username}@example.com`,
    password: u.password ?? null,
    passwordAutomaticallySet: !u.password,
    admin: u.admin ?? false,
    external: u.external ?? false,
    state: u.state ?? 'active',
    userType: u.bot ? 'project_bot' : 'human',
    note: u.note ?? null,
    organization: u.organization ?? '',
    confirmedAt: u.confirmed === false ? null : undefined,
    lastActivityOn: u.last_activity_on ?? null,
    currentSignInAt: ms(u.current_sign_in_at),
    createdAt: ms(u.created_at) ?? undefined,
    customAttributes: u.custom_attributes,
  });
  const tokens = (u.tokens ?? []).map((t) => {
    const pat = store.createPersonalAccessToken(user.id, {
      token: t.token,
      name: t.name,
      scopes: t.scopes,
      expiresAt: t.expires_at,
    });
    pat.revoked = t.revoked ?? false;
    return pat;
  });
  return { user, tokens };
}

/** Inserts one already-validated seed group (its parent must exist) with its members. */
export function seedGroup(store: Store, g: SeedGroup): Group {
  const group = store.insertGroup({
    path: g.path,
    name: g.name,
    parentId: g.parent ? store.findNamespaceByPath(g.parent)!.id : null,
    description: g.description,
    visibility: g.visibility,
  });
  addMembers(store, { type: 'Namespace', id: group.id }, g.members ?? []);
  return group;
}

/** Inserts one already-validated seed project with its members and group shares. */
export function seedProject(store: Store, p: SeedProject): Project {
  const ns = store.findNamespaceByPath(p.namespace)!;
  const project = store.insertProject({
    path: p.path,
    name: p.name,
    namespaceId: ns.id,
    description: p.description,
    visibility: p.visibility,
    creatorId: ns.kind === 'user' ? ns.ownerId : 1,
  });
  addMembers(store, { type: 'Project', id: project.id }, p.members ?? []);
  for (const link of p.shared_with_groups ?? []) {
    project.sharedWithGroups.push({
      groupId: store.findNamespaceByPath(link.group)!.id,
      groupAccess: link.group_access as AccessLevel,
      expiresAt: link.expires_at ?? null,
      createdAt: store.clock.nowMs(),
    });
  }
  return project;
}

export function seedApplication(store: Store, a: SeedApplication): OAuthApplication {
  return store.createApplication({
    name: a.name,
    redirectUris: a.redirect_uri.split(/\s+/).filter(Boolean),
    scopes: a.scopes.split(/\s+/).filter(Boolean),
    confidential: a.confidential ?? true,
    trusted: a.trusted ?? false,
    uid: a.application_id,
    secret: a.secret,
  });
}

export interface SeedSummary {
  users: number;
  groups: number;
  projects: number;
  applications: number;
  generatedUsers: number;
}

/**
 * Loads a seed into the store. The whole seed is validated against the store first, so a seed with
 * any problem changes nothing and throws a `SeedError` listing every problem.
 */
export function applySeed(store: Store, seed: Seed): SeedSummary {
  const problems = validateSeed(seed, store);
  if (problems.length > 0) throw new SeedError(problems);
  if (seed.settings) Object.assign(store.settings, seed.settings);
  for (const u of seed.users ?? []) seedUser(store, u);
  // Parents before children, whatever the order in the file: a parent's full path is shorter.
  const depth = (g: SeedGroup) => (g.parent ? g.parent.split('/').length : 0);
  for (const g of [...(seed.groups ?? [])].sort((a, b) => depth(a) - depth(b))) seedGroup(store, g);
  for (const p of seed.projects ?? []) seedProject(store, p);
  for (const a of seed.applications ?? []) seedApplication(store, a);
  const generated = seed.generate?.users ?? 0;
  if (generated > 0) generateUsers(store, generated, seed.generate);
  return {
    users: seed.users?.length ?? 0,
    groups: seed.groups?.length ?? 0,
    projects: seed.projects?.length ?? 0,
    applications: seed.applications?.length ?? 0,
    generatedUsers: generated,
  };
}

/**
 * Adds `count` users quickly (for load tests): one shared password digest, no validation, and
 * optional custom attributes, where `{i}` in a value is replaced by the user's number.
 */
export function generateUsers(
  store: Store,
  count: number,
  opts: { prefix?: string; password?: string; custom_attributes?: Record<string, string> } = {},
): void {
  const prefix = opts.prefix ?? 'user';
  const digest = hashPassword(opts.password ?? 'password123!');
  const start = store.nextUserId();
  for (let i = 0; i < count; i++) {
    const n = start + i;
    const attrs: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.custom_attributes ?? {}))
      attrs[k] = v.replaceAll('{i}', String(n));
    const user = store.insertUser({
      username: `${prefix}${n}`,
      name: `User ${n}`,
      email: `${prefix}${n}@example.com`,
      customAttributes: attrs,
    });
    user.passwordHash = digest;
    user.passwordAutomaticallySet = false;
  }
}
