import { DAY_MS, type SimClock } from '../clock.js';
import type { SimSettings } from '../settings.js';
import {
  applicationSecretValue,
  hashPassword,
  hexToken,
  md5Hex,
  personalAccessTokenValue,
  urlSafeToken,
} from './secrets.js';
import type {
  Group,
  MailMessage,
  Member,
  Namespace,
  OAuthAccessToken,
  OAuthApplication,
  OAuthGrant,
  PersonalAccessToken,
  Project,
  SourceRef,
  User,
  UserNamespace,
  WebSession,
} from './types.js';

export type NewUser = Partial<Omit<User, 'customAttributes' | 'passwordHash'>> & {
  username: string;
  name?: string;
  email?: string;
  password?: string | null;
  customAttributes?: Record<string, string>;
};

export interface NewGroup {
  name?: string;
  path: string;
  parentId?: number | null;
  description?: string;
  visibility?: Group['visibility'];
  requestAccessEnabled?: boolean;
}

export interface NewProject {
  name?: string;
  path: string;
  namespaceId: number;
  description?: string;
  visibility?: Project['visibility'];
  creatorId: number;
  defaultBranch?: string | null;
}

const sourceKey = (s: SourceRef) => `${s.type}:${s.id}`;

function getOrCreate<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}

/**
 * All simulator state, in memory, with the indexes the API needs to stay fast at 100,000 users
 * (username, e-mail, custom attributes, memberships by user). Mutations go through methods so the
 * indexes stay consistent; the API modules implement GitLab's rules on top of it.
 */
export class Store {
  readonly users = new Map<number, User>();
  /** users in id order (ids only grow), for cheap ordered scans */
  private userList: User[] = [];
  private userListDirty = false;
  private readonly byUsername = new Map<string, User>();
  private readonly byEmail = new Map<string, User>();
  /** every secondary e-mail, confirmed or not (uniqueness spans them all) */
  private readonly bySecondaryEmail = new Map<string, User>();
  /** key -> value -> user ids */
  private readonly customAttributeIndex = new Map<string, Map<string, Set<number>>>();
  /** Devise's `reset_password_token` and `confirmation_token`, looked up when a mail link is followed. */
  private readonly byResetPasswordToken = new Map<string, User>();
  private readonly byConfirmationToken = new Map<string, User>();
  /** Users whose deletion `DELETE /users/:id` scheduled, for the deletion worker. */
  private readonly pendingDeletions = new Set<User>();

  readonly namespaces = new Map<number, Namespace>();
  private readonly namespaceByPath = new Map<string, Namespace>();
  readonly groups = new Map<number, Group>();
  readonly projects = new Map<number, Project>();
  private readonly projectByPath = new Map<string, Project>();

  /** source key -> (member key -> Member); member key is `u<userId>` or `e<email>` */
  private readonly members = new Map<string, Map<string, Member>>();
  /** userId -> set of source keys the user is a direct member of */
  private readonly memberSourcesByUser = new Map<number, Set<string>>();

  readonly personalAccessTokens = new Map<string, PersonalAccessToken>();
  readonly applications = new Map<number, OAuthApplication>();
  readonly applicationsByUid = new Map<string, OAuthApplication>();
  readonly grants = new Map<string, OAuthGrant>();
  readonly accessTokens = new Map<string, OAuthAccessToken>();
  readonly accessTokensByRefresh = new Map<string, OAuthAccessToken>();
  readonly webSessions = new Map<string, WebSession>();
  readonly mails: MailMessage[] = [];

  private seq = { user: 0, namespace: 0, project: 0, pat: 0, app: 0, oauthToken: 0, mail: 0 };

  constructor(
    readonly clock: SimClock,
    readonly settings: SimSettings,
    /** External URL of the simulated GitLab, e.g. `http://127.0.0.1:3000` (set once listening). */
    public baseUrl = 'http://localhost',
  ) {}

  // ---------------------------------------------------------------- users

  userCount(): number {
    return this.users.size;
  }

  /** Users in ascending id order. */
  orderedUsers(): readonly User[] {
    if (this.userListDirty) {
      this.userList = this.userList.filter((u) => this.users.get(u.id) === u);
      this.userListDirty = false;
    }
    return this.userList;
  }

  findUserByUsername(username: string): User | undefined {
    return this.byUsername.get(username.toLowerCase());
  }

  /** Primary e-mail or confirmed secondary e-mail, case-insensitive. */
  findUserByEmail(email: string): User | undefined {
    return this.byEmail.get(email.toLowerCase());
  }

  /** Any e-mail of a user, confirmed or not (uniqueness checks). */
  emailTaken(email: string, exceptUserId?: number): boolean {
    const lower = email.toLowerCase();
    const owner = this.byEmail.get(lower) ?? this.bySecondaryEmail.get(lower);
    return owner !== undefined && owner.id !== exceptUserId;
  }

  /** `UserFinder#find_by_id_or_username`. */
  findUserByIdOrUsername(ref: string | number): User | undefined {
    if (typeof ref === 'number' || /^\d+$/.test(ref)) return this.users.get(Number(ref));
    return this.findUserByUsername(ref);
  }

  usersWithCustomAttribute(key: string, value: string): Set<number> {
    return this.customAttributeIndex.get(key)?.get(value) ?? new Set();
  }

  nextUserId(): number {
    return this.seq.user + 1;
  }

  /**
   * Inserts a user with GitLab's defaults. No validation here: callers (the API, seeds) validate
   * first. The user's personal namespace is created alongside, as GitLab does.
   */
  insertUser(input: NewUser): User {
    const now = this.clock.nowMs();
    const id = input.id ?? ++this.seq.user;
    if (id > this.seq.user) this.seq.user = id;
    const namespace: UserNamespace = {
      kind: 'user',
      id: ++this.seq.namespace,
      ownerId: id,
      path: input.username,
    };
    const external = input.external ?? this.settings.userDefaultExternal;
    const user: User = {
      id,
      username: input.username,
      name: input.name ?? input.username,
      email: input.email ?? `${input.username}@example.com`,
      state: input.state ?? 'active',
      userType: input.userType ?? 'human',
      admin: input.admin ?? false,
      external,
      locked: input.locked ?? false,
      createdAt: input.createdAt ?? now,
      updatedAt: input.updatedAt ?? now,
      confirmedAt: input.confirmedAt === undefined ? now : input.confirmedAt,
      lastSignInAt: input.lastSignInAt ?? null,
      currentSignInAt: input.currentSignInAt ?? null,
      lastSignInIp: input.lastSignInIp ?? null,
      currentSignInIp: input.currentSignInIp ?? null,
      lastActivityOn: input.lastActivityOn ?? null,
      passwordHash: input.password ? hashPassword(input.password) : null,
      passwordAutomaticallySet: input.passwordAutomaticallySet ?? !input.password,
      passwordExpiresAt: input.passwordExpiresAt ?? null,
      projectsLimit: external ? 0 : (input.projectsLimit ?? this.settings.defaultProjectsLimit),
      canCreateGroup: external ? false : (input.canCreateGroup ?? this.settings.canCreateGroup),
      privateProfile: input.privateProfile ?? this.settings.userDefaultsToPrivateProfile,
      note: input.note ?? null,
      bio: input.bio ?? '',
      location: input.location ?? '',
      publicEmail: input.publicEmail ?? null,
      commitEmail: input.commitEmail ?? null,
      skype: input.skype ?? '',
      linkedin: input.linkedin ?? '',
      twitter: input.twitter ?? '',
      discord: input.discord ?? '',
      websiteUrl: input.websiteUrl ?? '',
      organization: input.organization ?? '',
      jobTitle: input.jobTitle ?? '',
      pronouns: input.pronouns ?? null,
      themeId: input.themeId ?? 3,
      colorSchemeId: input.colorSchemeId ?? 1,
      preferredLanguage: input.preferredLanguage ?? 'en',
      twoFactorEnabled: input.twoFactorEnabled ?? false,
      createdById: input.createdById ?? null,
      namespaceId: namespace.id,
      identities: input.identities ?? [],
      secondaryEmails: input.secondaryEmails ?? [],
      customAttributes: new Map(),
      resetPasswordToken: input.resetPasswordToken ?? null,
      resetPasswordSentAt: input.resetPasswordSentAt ?? null,
      confirmationToken: input.confirmationToken ?? null,
      unconfirmedEmail: input.unconfirmedEmail ?? null,
      emailResetOfferedAt: input.emailResetOfferedAt ?? null,
      deletionScheduledAt: null,
    };
    this.users.set(id, user);
    const last = this.userList[this.userList.length - 1];
    this.userList.push(user);
    if (last && last.id > id) this.userList.sort((a, b) => a.id - b.id);
    this.byUsername.set(user.username.toLowerCase(), user);
    this.indexEmails(user);
    this.indexTokens(user);
    this.namespaces.set(namespace.id, namespace);
    this.namespaceByPath.set(namespace.path.toLowerCase(), namespace);
    for (const [k, v] of Object.entries(input.customAttributes ?? {})) this.setCustomAttribute(user, k, v);
    return user;
  }

  private indexEmails(user: User): void {
    this.byEmail.set(user.email.toLowerCase(), user);
    for (const e of user.secondaryEmails) {
      this.bySecondaryEmail.set(e.email.toLowerCase(), user);
      if (e.confirmedAt !== null) this.byEmail.set(e.email.toLowerCase(), user);
    }
  }

  private indexTokens(user: User): void {
    if (user.resetPasswordToken !== null) this.byResetPasswordToken.set(user.resetPasswordToken, user);
    if (user.confirmationToken !== null) this.byConfirmationToken.set(user.confirmationToken, user);
  }

  private unindexTokens(user: User): void {
    if (user.resetPasswordToken !== null) this.byResetPasswordToken.delete(user.resetPasswordToken);
    if (user.confirmationToken !== null) this.byConfirmationToken.delete(user.confirmationToken);
  }

  private unindexEmails(user: User): void {
    const drop = (email: string) => {
      const key = email.toLowerCase();
      if (this.byEmail.get(key) === user) this.byEmail.delete(key);
      if (this.bySecondaryEmail.get(key) === user) this.bySecondaryEmail.delete(key);
    };
    drop(user.email);
    for (const e of user.secondaryEmails) drop(e.email);
  }

  /** Applies attribute changes, keeping the username and e-mail indexes right. */
  updateUser(user: User, changes: Partial<User>): void {
    if (changes.username !== undefined && changes.username !== user.username) {
      this.byUsername.delete(user.username.toLowerCase());
      this.byUsername.set(changes.username.toLowerCase(), user);
      const ns = this.namespaces.get(user.namespaceId);
      if (ns) {
        this.namespaceByPath.delete(ns.path.toLowerCase());
        ns.path = changes.username;
        this.namespaceByPath.set(ns.path.toLowerCase(), ns);
      }
    }
    const emailsChange = changes.email !== undefined || changes.secondaryEmails !== undefined;
    const tokensChange = changes.resetPasswordToken !== undefined || changes.confirmationToken !== undefined;
    if (emailsChange) this.unindexEmails(user);
    if (tokensChange) this.unindexTokens(user);
    Object.assign(user, changes);
    if (emailsChange) this.indexEmails(user);
    if (tokensChange) this.indexTokens(user);
    user.updatedAt = this.clock.nowMs();
  }

  deleteUser(user: User): void {
    this.users.delete(user.id);
    this.userListDirty = true;
    this.byUsername.delete(user.username.toLowerCase());
    this.unindexEmails(user);
    this.unindexTokens(user);
    this.pendingDeletions.delete(user);
    for (const key of user.customAttributes.keys()) this.deleteCustomAttribute(user, key);
    const ns = this.namespaces.get(user.namespaceId);
    if (ns) {
      this.namespaces.delete(ns.id);
      this.namespaceByPath.delete(ns.path.toLowerCase());
    }
    for (const key of this.memberSourcesByUser.get(user.id) ?? [])
      this.members.get(key)?.delete(`u${user.id}`);
    this.memberSourcesByUser.delete(user.id);
    for (const [token, pat] of this.personalAccessTokens)
      if (pat.userId === user.id) this.personalAccessTokens.delete(token);
    for (const [token, t] of this.accessTokens) {
      if (t.userId !== user.id) continue;
      this.accessTokens.delete(token);
      this.accessTokensByRefresh.delete(t.refreshToken);
    }
    for (const [sid, s] of this.webSessions) if (s.userId === user.id) this.webSessions.delete(sid);
  }

  findUserByResetPasswordToken(token: string): User | undefined {
    return this.byResetPasswordToken.get(token);
  }

  findUserByConfirmationToken(token: string): User | undefined {
    return this.byConfirmationToken.get(token);
  }

  /**
   * Marks the user for `DeleteUserWorker` (the first request's time counts); bookkeeping, not a
   * column, so `updated_at` stays as it is.
   */
  scheduleDeletion(user: User): void {
    user.deletionScheduledAt ??= this.clock.nowMs();
    this.pendingDeletions.add(user);
  }

  /** Users whose deletion is scheduled, in the order it was. */
  scheduledDeletions(): readonly User[] {
    return [...this.pendingDeletions];
  }

  setCustomAttribute(user: User, key: string, value: string): void {
    const old = user.customAttributes.get(key);
    if (old !== undefined) this.customAttributeIndex.get(key)?.get(old)?.delete(user.id);
    user.customAttributes.set(key, value);
    getOrCreate(
      getOrCreate(this.customAttributeIndex, key, () => new Map()),
      value,
      () => new Set<number>(),
    ).add(user.id);
  }

  deleteCustomAttribute(user: User, key: string): boolean {
    const old = user.customAttributes.get(key);
    if (old === undefined) return false;
    user.customAttributes.delete(key);
    this.customAttributeIndex.get(key)?.get(old)?.delete(user.id);
    return true;
  }

  userWebUrl(user: { username: string }): string {
    return `${this.baseUrl}/${user.username}`;
  }

  /** GitLab's default avatar is a Gravatar identicon of the primary e-mail. */
  userAvatarUrl(user: User): string {
    return `https://www.gravatar.com/avatar/${md5Hex(user.email.trim().toLowerCase())}?s=80&d=identicon`;
  }

  /** Records API or web activity the way GitLab's `Users::ActivityService` does (once a day). */
  touchActivity(user: User): void {
    const today = this.clock.today();
    if (user.lastActivityOn !== today) user.lastActivityOn = today;
  }

  recordSignIn(user: User, ip: string): void {
    const now = this.clock.nowMs();
    user.lastSignInAt = user.currentSignInAt ?? now;
    user.lastSignInIp = user.currentSignInIp ?? ip;
    user.currentSignInAt = now;
    user.currentSignInIp = ip;
    this.touchActivity(user);
  }

  // ------------------------------------------------------- namespaces, groups and projects

  findNamespaceByPath(fullPath: string): Namespace | undefined {
    return this.namespaceByPath.get(fullPath.toLowerCase());
  }

  /** Numeric id or full path (already URL-decoded). */
  findGroup(ref: string | number): Group | undefined {
    if (typeof ref === 'number' || /^\d+$/.test(ref)) return this.groups.get(Number(ref));
    const ns = this.findNamespaceByPath(ref);
    return ns?.kind === 'group' ? ns : undefined;
  }

  findProject(ref: string | number): Project | undefined {
    if (typeof ref === 'number' || /^\d+$/.test(ref)) return this.projects.get(Number(ref));
    return this.projectByPath.get(ref.toLowerCase());
  }

  insertGroup(input: NewGroup): Group {
    const parent = input.parentId ? this.groups.get(input.parentId) : undefined;
    const name = input.name ?? input.path;
    const group: Group = {
      kind: 'group',
      id: ++this.seq.namespace,
      name,
      path: input.path,
      fullPath: parent ? `${parent.fullPath}/${input.path}` : input.path,
      fullName: parent ? `${parent.fullName} / ${name}` : name,
      description: input.description ?? '',
      visibility: input.visibility ?? 'private',
      parentId: parent?.id ?? null,
      createdAt: this.clock.nowMs(),
      requestAccessEnabled: input.requestAccessEnabled ?? true,
      customAttributes: new Map(),
    };
    this.groups.set(group.id, group);
    this.namespaces.set(group.id, group);
    this.namespaceByPath.set(group.fullPath.toLowerCase(), group);
    return group;
  }

  /** The group and all its ancestors, nearest first. */
  groupAncestry(group: Group): Group[] {
    const chain: Group[] = [];
    for (let g: Group | undefined = group; g; g = g.parentId ? this.groups.get(g.parentId) : undefined)
      chain.push(g);
    return chain;
  }

  /** The group and all its descendants. */
  groupDescendants(group: Group): Group[] {
    const out: Group[] = [group];
    for (let i = 0; i < out.length; i++) {
      for (const g of this.groups.values()) if (g.parentId === out[i]!.id) out.push(g);
    }
    return out;
  }

  projectNamespace(project: Project): Namespace {
    return this.namespaces.get(project.namespaceId)!;
  }

  projectFullPath(project: Project): string {
    const ns = this.projectNamespace(project);
    return `${ns.kind === 'group' ? ns.fullPath : ns.path}/${project.path}`;
  }

  projectNameWithNamespace(project: Project): string {
    const ns = this.projectNamespace(project);
    if (ns.kind === 'group') return `${ns.fullName} / ${project.name}`;
    const owner = this.users.get(ns.ownerId);
    return `${owner?.name ?? ns.path} / ${project.name}`;
  }

  insertProject(input: NewProject): Project {
    const now = this.clock.nowMs();
    const project: Project = {
      id: ++this.seq.project,
      name: input.name ?? input.path,
      path: input.path,
      description: input.description ?? '',
      namespaceId: input.namespaceId,
      visibility: input.visibility ?? 'private',
      createdAt: now,
      lastActivityAt: now,
      defaultBranch: input.defaultBranch ?? 'main',
      archived: false,
      topics: [],
      sharedWithGroups: [],
      customAttributes: new Map(),
      creatorId: input.creatorId,
    };
    this.projects.set(project.id, project);
    this.projectByPath.set(this.projectFullPath(project).toLowerCase(), project);
    return project;
  }

  // ---------------------------------------------------------------- members

  /** Direct members of a source (users and pending invitations), in insertion order. */
  directMembers(source: SourceRef): Member[] {
    return [...(this.members.get(sourceKey(source))?.values() ?? [])];
  }

  directMember(source: SourceRef, userId: number): Member | undefined {
    return this.members.get(sourceKey(source))?.get(`u${userId}`);
  }

  findInvitation(source: SourceRef, email: string): Member | undefined {
    return this.members.get(sourceKey(source))?.get(`e${email.toLowerCase()}`);
  }

  /** A new membership (not saved yet): a user's, or a pending invitation of `inviteEmail`. */
  newMember(
    source: SourceRef,
    who: { userId: number; inviteEmail?: undefined } | { userId?: undefined; inviteEmail: string },
    accessLevel: number,
    opts: { expiresAt?: string | null; createdById?: number | null } = {},
  ): Member {
    const now = this.clock.nowMs();
    return {
      source,
      userId: who.userId ?? null,
      inviteEmail: who.inviteEmail ?? null,
      inviteToken: null,
      accessLevel,
      expiresAt: opts.expiresAt ?? null,
      createdAt: now,
      updatedAt: now,
      createdById: opts.createdById ?? null,
      expiryNotifiedAt: null,
    };
  }

  /** Makes the user a direct member of the source (seeds, scenario helpers, creators of groups and projects). */
  addUserMember(
    source: SourceRef,
    userId: number,
    accessLevel: number,
    opts: { expiresAt?: string | null; createdById?: number | null } = {},
  ): Member {
    return this.upsertMember(this.newMember(source, { userId }, accessLevel, opts));
  }

  upsertMember(member: Member): Member {
    const key = sourceKey(member.source);
    const bySource = getOrCreate(this.members, key, () => new Map());
    const memberKey = member.userId !== null ? `u${member.userId}` : `e${member.inviteEmail!.toLowerCase()}`;
    bySource.set(memberKey, member);
    if (member.userId !== null)
      getOrCreate(this.memberSourcesByUser, member.userId, () => new Set()).add(key);
    return member;
  }

  removeMember(member: Member): void {
    const key = sourceKey(member.source);
    const memberKey = member.userId !== null ? `u${member.userId}` : `e${member.inviteEmail!.toLowerCase()}`;
    this.members.get(key)?.delete(memberKey);
    if (member.userId !== null) this.memberSourcesByUser.get(member.userId)?.delete(key);
  }

  /** Direct memberships of a user: `[source, member]`. */
  membershipsOf(userId: number): Member[] {
    const out: Member[] = [];
    for (const key of this.memberSourcesByUser.get(userId) ?? []) {
      const m = this.members.get(key)?.get(`u${userId}`);
      if (m) out.push(m);
    }
    return out;
  }

  isExpired(member: { expiresAt: string | null }): boolean {
    return member.expiresAt !== null && member.expiresAt <= this.clock.today();
  }

  /**
   * A user's effective access to a group: the highest non-expired membership in the group or any
   * ancestor (GitLab's inherited membership).
   */
  groupAccess(group: Group, userId: number): number {
    let best = 0;
    for (const g of this.groupAncestry(group)) {
      const m = this.directMember({ type: 'Namespace', id: g.id }, userId);
      if (m && !this.isExpired(m) && m.accessLevel > best) best = m.accessLevel;
    }
    return best;
  }

  /**
   * Effective project access: direct membership, membership of the project's group hierarchy, and
   * groups the project is shared with (capped at the link's access level). A personal project's
   * owner has Owner access.
   */
  projectAccess(project: Project, userId: number): number {
    let best = 0;
    const direct = this.directMember({ type: 'Project', id: project.id }, userId);
    if (direct && !this.isExpired(direct)) best = direct.accessLevel;
    const ns = this.projectNamespace(project);
    if (ns.kind === 'group') best = Math.max(best, this.groupAccess(ns, userId));
    else if (ns.ownerId === userId) best = Math.max(best, 50);
    for (const link of project.sharedWithGroups) {
      if (link.expiresAt !== null && link.expiresAt <= this.clock.today()) continue;
      const group = this.groups.get(link.groupId);
      if (!group) continue;
      const viaGroup = this.groupAccess(group, userId);
      if (viaGroup > 0) best = Math.max(best, Math.min(viaGroup, link.groupAccess));
    }
    return best;
  }

  // ---------------------------------------------------------------- tokens

  createPersonalAccessToken(
    userId: number,
    opts: {
      name?: string;
      scopes: string[];
      expiresAt?: string | null;
      token?: string;
      impersonation?: boolean;
    },
  ): PersonalAccessToken {
    const pat: PersonalAccessToken = {
      id: ++this.seq.pat,
      token: opts.token ?? personalAccessTokenValue(),
      userId,
      name: opts.name ?? 'token',
      description: null,
      scopes: [...opts.scopes],
      createdAt: this.clock.nowMs(),
      lastUsedAt: null,
      expiresAt:
        opts.expiresAt === undefined
          ? new Date(this.clock.nowMs() + 365 * DAY_MS).toISOString().slice(0, 10)
          : opts.expiresAt,
      revoked: false,
      impersonation: opts.impersonation ?? false,
    };
    this.personalAccessTokens.set(pat.token, pat);
    return pat;
  }

  patExpired(pat: PersonalAccessToken): boolean {
    return pat.expiresAt !== null && pat.expiresAt <= this.clock.today();
  }

  createApplication(opts: {
    name: string;
    redirectUris: string[];
    scopes: string[];
    confidential?: boolean;
    trusted?: boolean;
    uid?: string;
    secret?: string;
    ownerId?: number | null;
  }): OAuthApplication {
    const app: OAuthApplication = {
      id: ++this.seq.app,
      name: opts.name,
      uid: opts.uid ?? hexToken(32),
      secret: opts.secret ?? applicationSecretValue(),
      redirectUris: opts.redirectUris,
      scopes: opts.scopes,
      confidential: opts.confidential ?? true,
      trusted: opts.trusted ?? false,
      createdAt: this.clock.nowMs(),
      ownerId: opts.ownerId ?? null,
    };
    this.applications.set(app.id, app);
    this.applicationsByUid.set(app.uid, app);
    return app;
  }

  deleteApplication(app: OAuthApplication): void {
    this.applications.delete(app.id);
    this.applicationsByUid.delete(app.uid);
    for (const [token, t] of this.accessTokens) {
      if (t.applicationId !== app.id) continue;
      this.accessTokens.delete(token);
      this.accessTokensByRefresh.delete(t.refreshToken);
    }
    for (const [code, g] of this.grants) if (g.applicationId === app.id) this.grants.delete(code);
  }

  issueAccessToken(opts: {
    userId: number;
    applicationId: number | null;
    scopes: string[];
    previousRefreshToken?: string | null;
  }): OAuthAccessToken {
    const token: OAuthAccessToken = {
      id: ++this.seq.oauthToken,
      token: hexToken(32),
      refreshToken: hexToken(32),
      applicationId: opts.applicationId,
      userId: opts.userId,
      scopes: opts.scopes,
      createdAt: this.clock.nowMs(),
      expiresIn: this.settings.accessTokenExpiresIn,
      revokedAt: null,
      previousRefreshToken: opts.previousRefreshToken ?? null,
    };
    this.accessTokens.set(token.token, token);
    this.accessTokensByRefresh.set(token.refreshToken, token);
    return token;
  }

  accessTokenExpired(t: OAuthAccessToken): boolean {
    return t.expiresIn !== null && this.clock.nowMs() >= t.createdAt + t.expiresIn * 1000;
  }

  revokeAccessToken(t: OAuthAccessToken): void {
    if (t.revokedAt === null) t.revokedAt = this.clock.nowMs();
  }

  createWebSession(userId: number): WebSession {
    const session: WebSession = { id: urlSafeToken(32), userId, createdAt: this.clock.nowMs() };
    this.webSessions.set(session.id, session);
    return session;
  }

  // ---------------------------------------------------------------- mail

  recordMail(mail: Omit<MailMessage, 'id' | 'sentAt'>): MailMessage {
    const message: MailMessage = { ...mail, id: ++this.seq.mail, sentAt: this.clock.nowMs() };
    this.mails.push(message);
    return message;
  }
}
