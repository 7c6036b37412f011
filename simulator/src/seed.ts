import { readFileSync } from 'node:fs';
import { hashPassword } from './model/secrets.js';
import type { Store } from './model/store.js';
import type { Group, User, UserState, Visibility } from './model/types.js';
import type { SimSettings } from './settings.js';

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

export function readSeedFile(path: string): Seed {
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text) as Seed;
  } catch (e) {
    throw new Error(`seed file ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

const ms = (iso: string | null | undefined) => (iso ? new Date(iso).getTime() : null);

function resolveUser(store: Store, ref: string | number, where: string): User {
  const user = store.findUserByIdOrUsername(ref);
  if (!user) throw new Error(`seed: unknown user '${ref}' in ${where}`);
  return user;
}

function addMembers(
  store: Store,
  source: { type: 'Project' | 'Namespace'; id: number },
  members: SeedMember[],
  where: string,
) {
  const now = store.clock.nowMs();
  for (const m of members) {
    const user = resolveUser(store, m.user, where);
    store.upsertMember({
      source,
      userId: user.id,
      inviteEmail: null,
      inviteToken: null,
      accessLevel: m.access_level,
      expiresAt: m.expires_at ?? null,
      createdAt: now,
      updatedAt: now,
      createdById: null,
      expiryNotifiedAt: null,
    });
  }
}

/** Loads a seed into the store. Throws with a precise message on a dangling reference. */
export function applySeed(store: Store, seed: Seed): void {
  if (seed.settings) Object.assign(store.settings, seed.settings);
  for (const u of seed.users ?? []) {
    const existing =
      store.findUserByUsername(u.username) ?? (u.id !== undefined ? store.users.get(u.id) : undefined);
    if (existing) throw new Error(`seed: user '${u.username}' is defined twice (or clashes with root)`);
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
    for (const t of u.tokens ?? []) {
      const pat = store.createPersonalAccessToken(user.id, {
        token: t.token,
        name: t.name,
        scopes: t.scopes,
        expiresAt: t.expires_at,
      });
      pat.revoked = t.revoked ?? false;
    }
  }

  // Parents first, whatever the order in the file.
  const pending = [...(seed.groups ?? [])];
  while (pending.length > 0) {
    const before = pending.length;
    for (let i = 0; i < pending.length; i++) {
      const g = pending[i]!;
      let parent: Group | undefined;
      if (g.parent) {
        parent = store.findGroup(g.parent);
        if (!parent) continue;
      }
      const group = store.insertGroup({
        path: g.path,
        name: g.name,
        parentId: parent?.id ?? null,
        description: g.description,
        visibility: g.visibility,
      });
      addMembers(store, { type: 'Namespace', id: group.id }, g.members ?? [], `group ${group.fullPath}`);
      pending.splice(i--, 1);
    }
    if (pending.length === before) {
      throw new Error(
        `seed: unknown parent group for ${pending.map((g) => `'${g.path}' (parent '${g.parent}')`).join(', ')}`,
      );
    }
  }

  for (const p of seed.projects ?? []) {
    const ns = store.findNamespaceByPath(p.namespace);
    if (!ns) throw new Error(`seed: unknown namespace '${p.namespace}' for project '${p.path}'`);
    const creatorId = ns.kind === 'user' ? ns.ownerId : 1;
    const project = store.insertProject({
      path: p.path,
      name: p.name,
      namespaceId: ns.id,
      description: p.description,
      visibility: p.visibility,
      creatorId,
    });
    addMembers(
      store,
      { type: 'Project', id: project.id },
      p.members ?? [],
      `project ${p.namespace}/${p.path}`,
    );
    for (const link of p.shared_with_groups ?? []) {
      const group = store.findGroup(link.group);
      if (!group) throw new Error(`seed: unknown group '${link.group}' shared with project '${p.path}'`);
      project.sharedWithGroups.push({
        groupId: group.id,
        groupAccess: link.group_access as 10,
        expiresAt: link.expires_at ?? null,
        createdAt: store.clock.nowMs(),
      });
    }
  }

  for (const a of seed.applications ?? []) {
    store.createApplication({
      name: a.name,
      redirectUris: a.redirect_uri.split(/\s+/).filter(Boolean),
      scopes: a.scopes.split(/\s+/).filter(Boolean),
      confidential: a.confidential ?? true,
      trusted: a.trusted ?? false,
      uid: a.application_id,
      secret: a.secret,
    });
  }

  if (seed.generate?.users) generateUsers(store, seed.generate.users, seed.generate);
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
