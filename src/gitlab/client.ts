import { z } from 'zod';
import { GitLabError, UnsafePathError } from './errors.js';
import { type GitbeakerResources, gitbeakerResources } from './gitbeaker.js';
import { type ApiPath, path, type Query } from './path.js';
import { type GitLabCallEvent, GitLabTransport, type PageOptions } from './transport.js';
import {
  type GitLabSource,
  type GitLabTokenInfo,
  type GitLabUser,
  type GitLabVersion,
  parseGitLab,
  schemas,
} from './types.js';

/** A project or group, by numeric id or full path (`research/analysis`). */
export interface SourceRef {
  type: 'project' | 'group';
  id: number | string;
}

/**
 * The fields of a new user. Every key is chosen by the server; nothing from a request body is passed
 * through, so no other GitLab attribute (`admin`, `password`, identities…) can be set this way.
 */
export interface CreateUserInput {
  name: string;
  username: string;
  email: string;
  external: boolean;
  projectsLimit: number;
  canCreateGroup: boolean;
  /**
   * `reset_password`: GitLab mails a link to choose a password. `force_random_password`: the account
   * gets an unknown random password (sign-in through another route or a later reset).
   */
  password: 'reset_password' | 'force_random_password';
  /** Mark the email as confirmed instead of having GitLab send a confirmation mail. */
  skipConfirmation: boolean;
  note?: string;
  organization?: string;
}

export interface UpdateUserFields {
  name?: string;
  email?: string;
  /** With `email`: take the new address as confirmed instead of asking the user to confirm it. */
  skipReconfirmation?: boolean;
  external?: boolean;
  projectsLimit?: number;
  canCreateGroup?: boolean;
  note?: string;
  organization?: string;
}

export interface UserListingOptions {
  /** Include each user's custom attributes (`customAttributes`). */
  withCustomAttributes?: boolean;
}

/** What the portal asks of GitLab with the admin token. */
export interface GitLabAdminApi {
  version(): Promise<GitLabVersion>;
  /** The admin token itself (`/personal_access_tokens/self`): scopes, expiry, whether it is active. */
  tokenSelf(): Promise<GitLabTokenInfo>;
  /** The token's owner; `isAdmin` tells whether the token can do admin work. */
  currentUser(): Promise<GitLabUser>;
  /** Null when GitLab has no such user. */
  getUser(id: number): Promise<GitLabUser | null>;
  findUserByUsername(username: string, options?: UserListingOptions): Promise<GitLabUser | null>;
  /** Users whose primary email is `email` (case-insensitive). */
  findUsersByEmail(email: string, options?: UserListingOptions): Promise<GitLabUser[]>;
  /** `POST /users`; never retried. A lost answer is a GitLabError of kind `ambiguous`. */
  createUser(input: CreateUserInput): Promise<GitLabUser>;
  updateUser(id: number, fields: UpdateUserFields): Promise<GitLabUser>;
  blockUser(id: number): Promise<void>;
  unblockUser(id: number): Promise<void>;
  deactivateUser(id: number): Promise<void>;
  activateUser(id: number): Promise<void>;
  setCustomAttribute(userId: number, key: string, value: string): Promise<void>;
  getCustomAttributes(userId: number): Promise<Record<string, string>>;
  /** Every user carrying the custom attribute `key` = `value`. */
  usersWithCustomAttribute(key: string, value: string): Promise<GitLabUser[]>;
  /** The user's effective access level in a project or group, inherited membership included; 0 for none. */
  effectiveAccess(source: SourceRef, userId: number): Promise<number>;
  /** Projects where the user's access level is at least `minAccessLevel`, sorted by full path. */
  projectsWhereMember(userId: number, minAccessLevel: number): Promise<GitLabSource[]>;
  /** Groups where the user's access level is at least `minAccessLevel`, sorted by full path. */
  groupsWhereMember(userId: number, minAccessLevel: number): Promise<GitLabSource[]>;
  /** Every item of a paginated listing, parsed with `schema` when one is given. */
  list(path: ApiPath, query?: Query): Promise<unknown[]>;
  list<S extends z.ZodType>(path: ApiPath, query: Query, schema: S): Promise<z.output<S>[]>;
}

export interface GitLabClientOptions {
  /**
   * Allow listing a user's projects and groups by asking GitLab as that user (`Sudo` header). Used only
   * when the token also has the `sudo` scope; otherwise memberships are read as admin and expanded.
   */
  allowSudo?: boolean;
  /** Parallel requests when expanding memberships. */
  concurrency?: number;
}

export class GitLabClient implements GitLabAdminApi {
  private readonly resources: GitbeakerResources;
  private sudoUsable: Promise<boolean> | undefined;

  constructor(
    private readonly transport: GitLabTransport,
    private readonly options: GitLabClientOptions = {},
  ) {
    this.resources = gitbeakerResources(transport);
  }

  // gitbeaker has no resource for `/version` (its `Metadata` is `/metadata`).
  async version(): Promise<GitLabVersion> {
    const p = path`version`;
    const res = await this.transport.get(p);
    return parseGitLab(schemas.version, res.body, { method: 'GET', path: p });
  }

  async tokenSelf(): Promise<GitLabTokenInfo> {
    const body = await this.resources.personalAccessTokens.show();
    return parseGitLab(schemas.token, body, { method: 'GET', path: 'personal_access_tokens/self' });
  }

  async currentUser(): Promise<GitLabUser> {
    const body = await this.resources.users.showCurrentUser();
    return parseGitLab(schemas.user, body, { method: 'GET', path: 'user' });
  }

  async getUser(id: number): Promise<GitLabUser | null> {
    userId(id);
    try {
      const body = await this.resources.users.show(id);
      return parseGitLab(schemas.user, body, { method: 'GET', path: `users/${id}` });
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async findUserByUsername(username: string, options: UserListingOptions = {}): Promise<GitLabUser | null> {
    const users = await this.list(path`users`, { username, ...listingQuery(options) }, schemas.user);
    return users.find((u) => u.username.toLowerCase() === username.toLowerCase()) ?? null;
  }

  async findUsersByEmail(email: string, options: UserListingOptions = {}): Promise<GitLabUser[]> {
    // As admin, `search` matches primary and secondary emails exactly, and names and usernames by
    // substring; only primary-email matches are wanted.
    const users = await this.list(path`users`, { search: email, ...listingQuery(options) }, schemas.user);
    const wanted = email.toLowerCase();
    return users.filter((u) => u.email?.toLowerCase() === wanted);
  }

  async createUser(input: CreateUserInput): Promise<GitLabUser> {
    const body = await this.resources.users.create({
      name: input.name,
      username: input.username,
      email: input.email,
      external: input.external,
      projectsLimit: input.projectsLimit,
      canCreateGroup: input.canCreateGroup,
      ...(input.password === 'reset_password' ? { resetPassword: true } : { forceRandomPassword: true }),
      skipConfirmation: input.skipConfirmation,
      ...(input.note === undefined ? {} : { note: input.note }),
      ...(input.organization === undefined ? {} : { organization: input.organization }),
    });
    return parseGitLab(schemas.user, body, { method: 'POST', path: 'users', status: 201 });
  }

  // gitbeaker's `Users.edit` always sends multipart form data; GitLab takes the same fields as JSON.
  async updateUser(id: number, fields: UpdateUserFields): Promise<GitLabUser> {
    const p = path`users/${userId(id)}`;
    const body = {
      name: fields.name,
      email: fields.email,
      skip_reconfirmation: fields.skipReconfirmation,
      external: fields.external,
      projects_limit: fields.projectsLimit,
      can_create_group: fields.canCreateGroup,
      note: fields.note,
      organization: fields.organization,
    };
    const res = await this.transport.put(p, { body });
    return parseGitLab(schemas.user, res.body, { method: 'PUT', path: p, status: res.status });
  }

  async blockUser(id: number): Promise<void> {
    await this.resources.userStates.block(userId(id));
  }

  async unblockUser(id: number): Promise<void> {
    await this.resources.userStates.unblock(userId(id));
  }

  async deactivateUser(id: number): Promise<void> {
    await this.resources.userStates.deactivate(userId(id));
  }

  async activateUser(id: number): Promise<void> {
    await this.resources.userStates.activate(userId(id));
  }

  async setCustomAttribute(id: number, key: string, value: string): Promise<void> {
    const body = await this.resources.customAttributes.set(userId(id), key, value);
    parseGitLab(schemas.customAttribute, body, { method: 'PUT', path: `users/${id}/custom_attributes` });
  }

  async getCustomAttributes(id: number): Promise<Record<string, string>> {
    const body = await this.resources.customAttributes.all(userId(id));
    const attributes = parseGitLab(schemas.customAttribute.array(), body, {
      method: 'GET',
      path: `users/${id}/custom_attributes`,
    });
    return Object.fromEntries(attributes.map((a) => [a.key, a.value]));
  }

  async usersWithCustomAttribute(key: string, value: string): Promise<GitLabUser[]> {
    const users = await this.list(
      path`users`,
      { custom_attributes: { [key]: value }, with_custom_attributes: true },
      schemas.user,
    );
    // GitLab silently ignores this filter for non-admin tokens and would list everyone; keep only
    // users that really carry the attribute.
    return users.filter((u) => u.customAttributes?.[key] === value);
  }

  /**
   * `GET …/members/all/:user_id`. A 404 (not a member, or no such project/group) is 0: with the admin
   * token GitLab sees every project, so telling the two apart would reveal private projects to users.
   */
  async effectiveAccess(source: SourceRef, id: number): Promise<number> {
    const members = source.type === 'project' ? this.resources.projectMembers : this.resources.groupMembers;
    try {
      const body = await members.show(source.id, userId(id), { includeInherited: true });
      return parseGitLab(schemas.member, body, { method: 'GET', path: `${source.type}s/members/all` })
        .accessLevel;
    } catch (err) {
      if (isNotFound(err)) return 0;
      throw err;
    }
  }

  async projectsWhereMember(id: number, minAccessLevel: number): Promise<GitLabSource[]> {
    userId(id);
    if (await this.canSudo()) {
      return byPath(
        await this.collect(
          path`projects`,
          { membership: true, min_access_level: minAccessLevel, simple: true, order_by: 'id', sort: 'asc' },
          schemas.project,
          { sudo: id },
        ),
      );
    }
    const memberships = await this.memberships(id, minAccessLevel);
    const direct = await this.mapLimited(
      memberships.filter((m) => m.sourceType === 'Project'),
      (m) => this.project(m.sourceId),
    );
    const inherited = await this.mapLimited(
      memberships.filter((m) => m.sourceType === 'Namespace'),
      (m) =>
        this.list(
          path`groups/${m.sourceId}/projects`,
          { include_subgroups: true, simple: true, order_by: 'id', sort: 'asc' },
          schemas.project,
        ),
    );
    return byPath(unique([...direct.filter(isPresent), ...inherited.flat()]));
  }

  async groupsWhereMember(id: number, minAccessLevel: number): Promise<GitLabSource[]> {
    userId(id);
    if (await this.canSudo()) {
      return byPath(
        await this.collect(path`groups`, { min_access_level: minAccessLevel }, schemas.group, { sudo: id }),
      );
    }
    const groups = (await this.memberships(id, minAccessLevel)).filter((m) => m.sourceType === 'Namespace');
    const direct = await this.mapLimited(groups, (m) => this.group(m.sourceId));
    const descendants = await this.mapLimited(groups, (m) =>
      this.list(path`groups/${m.sourceId}/descendant_groups`, {}, schemas.group),
    );
    return byPath(unique([...direct.filter(isPresent), ...descendants.flat()]));
  }

  list(path: ApiPath, query?: Query): Promise<unknown[]>;
  list<S extends z.ZodType>(path: ApiPath, query: Query, schema: S): Promise<z.output<S>[]>;
  list(p: ApiPath, query: Query = {}, schema: z.ZodType = z.unknown()): Promise<unknown[]> {
    return this.collect(p, query, schema);
  }

  // Listings go through the transport's own pagination rather than gitbeaker's: gitbeaker decamelizes
  // query keys at every depth, which rewrites custom attribute names (`custom_attributes[sponsorID]` is
  // sent as `custom_attributes[sponsor_i_d]`), and it follows next links without a page limit.
  private async collect<S extends z.ZodType>(
    p: ApiPath,
    query: Query,
    schema: S,
    options: PageOptions = {},
  ): Promise<z.output<S>[]> {
    const items: z.output<S>[] = [];
    for await (const page of this.transport.pages(p, query, options)) {
      for (const item of page) items.push(parseGitLab(schema, item, { method: 'GET', path: p }));
    }
    return items;
  }

  /**
   * Sudo is used only when configured and the token has the scope; the answer is remembered for the
   * life of the client (a token's scopes never change; a new token means a restart).
   */
  private canSudo(): Promise<boolean> {
    if (!this.options.allowSudo) return Promise.resolve(false);
    this.sudoUsable ??= this.tokenSelf().then(
      (token) => token.active && token.scopes.includes('sudo'),
      (err: unknown) => {
        this.sudoUsable = undefined;
        throw err;
      },
    );
    return this.sudoUsable;
  }

  /**
   * Direct memberships at or above a level (`GET /users/:id/memberships`, admin). Expanding them
   * covers inheritance down the group tree but not access through projects or groups shared with a
   * group; `effectiveAccess` remains the authority before any change.
   */
  private async memberships(id: number, minAccessLevel: number) {
    const all = await this.list(path`users/${id}/memberships`, {}, schemas.membership);
    return all.filter((m) => m.accessLevel >= minAccessLevel);
  }

  private async project(id: number): Promise<GitLabSource | null> {
    return this.getOrNull(path`projects/${id}`, {}, schemas.project);
  }

  private async group(id: number): Promise<GitLabSource | null> {
    return this.getOrNull(path`groups/${id}`, { with_projects: false }, schemas.group);
  }

  private async getOrNull<S extends z.ZodType>(
    p: ApiPath,
    query: Query,
    schema: S,
  ): Promise<z.output<S> | null> {
    try {
      const res = await this.transport.get(p, { query });
      return parseGitLab(schema, res.body, { method: 'GET', path: p, status: res.status });
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  private async mapLimited<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
    const results: R[] = new Array(items.length);
    let next = 0;
    const worker = async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i] as T);
      }
    };
    const workers = Math.min(items.length, this.options.concurrency ?? 4);
    await Promise.all(Array.from({ length: workers }, worker));
    return results;
  }
}

/** The client for the configured GitLab (`GITLAB_URL`, `GITLAB_ADMIN_TOKEN`, `GITLAB_TIMEOUT_MS`). */
export function createGitLabClient(
  gitlab: { readonly url: string; readonly adminToken: string; readonly timeoutMs: number },
  options: GitLabClientOptions & { onCall?: (event: GitLabCallEvent) => void } = {},
): GitLabClient {
  const { onCall, ...clientOptions } = options;
  const transport = new GitLabTransport({
    url: gitlab.url,
    token: gitlab.adminToken,
    timeoutMs: gitlab.timeoutMs,
    onCall,
  });
  return new GitLabClient(transport, clientOptions);
}

function listingQuery(options: UserListingOptions): Query {
  return options.withCustomAttributes ? { with_custom_attributes: true } : {};
}

function userId(id: number): number {
  if (!Number.isSafeInteger(id) || id < 1)
    throw new UnsafePathError('A GitLab user id is a positive integer');
  return id;
}

function isNotFound(err: unknown): boolean {
  return err instanceof GitLabError && err.kind === 'http' && err.status === 404;
}

function isPresent<T>(value: T | null): value is T {
  return value !== null;
}

function unique(sources: GitLabSource[]): GitLabSource[] {
  return [...new Map(sources.map((s) => [s.id, s])).values()];
}

function byPath(sources: GitLabSource[]): GitLabSource[] {
  return sources.sort((a, b) => a.fullPath.localeCompare(b.fullPath));
}
