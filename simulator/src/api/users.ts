import { userBasic, userDetailsWithAdmin, userEntity, userWithAdmin } from '../entities/user.js';
import type { ApiRoute, RouteCtx } from '../http/app.js';
import { requireAdmin } from '../http/auth.js';
import { ApiError, conflict, forbidden, notFound, validationFailed } from '../http/errors.js';
import { allOrNoneOf, atLeastOneOf, optional, paginationParams, type Rule, requires } from '../http/grape.js';
import {
  fieldOrder,
  type KeysetOrder,
  keysetUnavailable,
  type PageRequest,
  paginateKeyset,
  paginateOffset,
} from '../http/pagination.js';
import {
  sendConfirmationInstructions,
  sendNewUserMail,
  sendPasswordChanged,
  sendPasswordChangedByAdmin,
} from '../mail/user-mails.js';
import { hashPassword, urlSafeToken } from '../model/secrets.js';
import type { Store } from '../model/store.js';
import type { Identity, SecondaryEmail, User } from '../model/types.js';
import {
  hasErrors,
  isBlocked,
  isInternal,
  normalizeEmail,
  PASSWORD_MAX_LENGTH,
  PRIVATE_COMMIT_EMAIL,
  sanitizeName,
  type UserCandidate,
  validateUser,
} from '../model/user-rules.js';
import { checkUnmodifiedSince } from './access.js';

/** `resource :users, requirements: { id: /[0-9]*\/ }`: anything else falls through to the catch-all 404. */
export const USER_ID = /^\d+$/;

/** `User.supported_keyset_orderings` */
export const USER_KEYSET_ORDERINGS: Readonly<Record<string, readonly string[]>> = {
  id: ['asc', 'desc'],
  name: ['asc', 'desc'],
  username: ['asc', 'desc'],
  created_at: ['asc', 'desc'],
  updated_at: ['asc', 'desc'],
};

/** `User::FORBIDDEN_SEARCH_STATES`: hidden from everyone but admins (`User.without_forbidden_states`). */
const FORBIDDEN_SEARCH_STATES = new Set(['blocked', 'banned', 'ldap_blocked']);

/** `users_get_by_id` in `Gitlab::ApplicationRateLimiter`: 300 requests per 10 minutes per user. */
const USERS_GET_BY_ID_LIMIT = 300;
const USERS_GET_BY_ID_PERIOD_MS = 10 * 60 * 1000;

/** Ruby's `present?` for request params. */
function present(value: unknown): boolean {
  if (value === null || value === undefined || value === false) return false;
  if (typeof value === 'string') return value.trim() !== '';
  return true;
}

const given = (p: Record<string, unknown>, name: string) => Object.hasOwn(p, name);

// ------------------------------------------------------------------ params

/** `params :optional_attributes` in `lib/api/users.rb`, in declaration order. */
const optionalAttributes: Rule[] = [
  optional('skype', 'String'),
  optional('linkedin', 'String'),
  optional('twitter', 'String'),
  optional('discord', 'String'),
  optional('website_url', 'String'),
  optional('organization', 'String'),
  optional('projects_limit', 'Integer'),
  optional('extern_uid', 'String'),
  optional('provider', 'String'),
  optional('bio', 'String'),
  optional('location', 'String'),
  optional('pronouns', 'String'),
  optional('public_email', 'String'),
  optional('commit_email', 'String'),
  optional('admin', 'Boolean'),
  optional('can_create_group', 'Boolean'),
  optional('external', 'Boolean'),
  // A Workhorse upload; anything sent as a plain value fails coercion like GitLab's file type.
  optional('avatar', 'Hash'),
  optional('theme_id', 'Integer'),
  optional('color_scheme_id', 'Integer'),
  optional('private_profile', 'Boolean'),
  optional('note', 'String'),
  optional('view_diffs_file_by_file', 'Boolean'),
  allOrNoneOf('extern_uid', 'provider'),
];

const customAttributeParams: Rule[] = [
  optional('with_custom_attributes', 'Boolean', { default: false }),
  optional('custom_attributes', 'Hash'),
];

const listParams: Rule[] = [
  optional('username', 'String'),
  optional('extern_uid', 'String'),
  optional('provider', 'String'),
  optional('search', 'String'),
  optional('active', 'Boolean', { default: false }),
  optional('humans', 'Boolean', { default: false }),
  optional('external', 'Boolean', { default: false }),
  optional('blocked', 'Boolean', { default: false }),
  optional('created_after', 'DateTime'),
  optional('created_before', 'DateTime'),
  optional('without_projects', 'Boolean', { default: false }),
  optional('without_project_bots', 'Boolean', { default: false }),
  optional('admins', 'Boolean', { default: false }),
  optional('two_factor', 'String'),
  optional('exclude_active', 'Boolean', { default: false }),
  optional('exclude_external', 'Boolean', { default: false }),
  optional('exclude_humans', 'Boolean', { default: false }),
  optional('exclude_internal', 'Boolean', { default: false }),
  allOrNoneOf('extern_uid', 'provider'),
  optional('order_by', 'String', { values: ['id', 'name', 'username', 'created_at', 'updated_at'] }),
  optional('sort', 'String', { values: ['asc', 'desc'] }),
  ...paginationParams(),
  ...customAttributeParams,
];

const createParams: Rule[] = [
  requires('email', 'String'),
  optional('password', 'String'),
  optional('reset_password', 'Boolean'),
  optional('skip_confirmation', 'Boolean'),
  atLeastOneOf('password', 'reset_password', 'force_random_password'),
  requires('name', 'String'),
  requires('username', 'String'),
  optional('force_random_password', 'Boolean'),
  ...optionalAttributes,
];

const updateParams: Rule[] = [
  requires('id', 'Integer'),
  optional('email', 'String'),
  optional('password', 'String'),
  optional('skip_reconfirmation', 'Boolean'),
  optional('name', 'String'),
  optional('username', 'String'),
  ...optionalAttributes,
];

const membershipParams: Rule[] = [
  requires('user_id', 'Integer'),
  optional('type', 'String', { values: ['Project', 'Namespace'] }),
  ...paginationParams(),
];

// ------------------------------------------------------------------ GET /users

/**
 * `User.search` (`app/models/user.rb`, `lib/gitlab/sql/pattern.rb`): a leading `@` is dropped; name
 * and username match every term of 3+ characters as a substring, or the whole query exactly when no
 * term is that long; e-mails only match exactly (public e-mail for users, primary or confirmed
 * secondary e-mail for admins).
 */
interface UserSearch {
  matches(u: User): boolean;
  /** The relevance order's first key: exact public e-mail, username, name, anything else. */
  rank(u: User): number;
}

function userSearch(query: string, withPrivateEmails: boolean): UserSearch {
  const q = (query.startsWith('@') ? query.slice(1) : query).toLowerCase();
  const squished = q.trim().replace(/\s+/g, ' ');
  const terms = (squished.match(/"[^"]+"|\S+/g) ?? [])
    .map((t) => t.replaceAll('"', ''))
    .filter((t) => t.length >= 3);
  const fuzzy = (value: string) => {
    const lower = value.toLowerCase();
    return terms.length > 0 ? terms.every((t) => lower.includes(t)) : lower === squished;
  };
  const emailMatches = (u: User) =>
    withPrivateEmails
      ? u.email.toLowerCase() === q ||
        u.secondaryEmails.some((e) => e.confirmedAt !== null && e.email.toLowerCase() === q)
      : u.publicEmail?.toLowerCase() === q;
  return {
    matches: (u) => squished !== '' && (emailMatches(u) || fuzzy(u.name) || fuzzy(u.username)),
    rank: (u) => {
      if (u.publicEmail?.toLowerCase() === q) return 0;
      if (u.username.toLowerCase() === q) return 1;
      if (u.name.toLowerCase() === q) return 2;
      return 3;
    },
  };
}

const compareValues = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);

/** Search relevance, then `name ASC, id ASC` — itself a keyset order in GitLab. */
function relevanceOrder(search: UserSearch): KeysetOrder<User> & { compare(a: User, b: User): number } {
  const key = (u: User): [number, string, number] => [search.rank(u), u.name, u.id];
  const compareKeys = (a: [number, string, number], b: [number, string, number]) =>
    a[0] - b[0] || compareValues(a[1], b[1]) || a[2] - b[2];
  return {
    compare: (a, b) => compareKeys(key(a), key(b)),
    cursorOf: (u) => {
      const [rank, name, id] = key(u);
      return { rank, name, id };
    },
    isAfter: (u, cursor) =>
      compareKeys(key(u), [Number(cursor.rank), String(cursor.name), Number(cursor.id)]) > 0,
  };
}

type Field = 'id' | 'name' | 'username' | 'updated_at';

function fieldValue(field: Field): (u: User) => string | number {
  switch (field) {
    case 'id':
      return (u) => u.id;
    case 'name':
      return (u) => u.name;
    case 'username':
      return (u) => u.username;
    case 'updated_at':
      return (u) => u.updatedAt;
  }
}

/** Users who hold any project authorization (direct, through a group hierarchy, a share, or ownership). */
function usersWithProjectAccess(store: Store): Set<number> {
  const ids = new Set<number>();
  const addGroupMembers = (groupId: number) => {
    const group = store.groups.get(groupId);
    if (!group) return;
    for (const g of store.groupAncestry(group))
      for (const m of store.directMembers({ type: 'Namespace', id: g.id }))
        if (m.userId !== null && !store.isExpired(m)) ids.add(m.userId);
  };
  for (const project of store.projects.values()) {
    for (const m of store.directMembers({ type: 'Project', id: project.id }))
      if (m.userId !== null && !store.isExpired(m)) ids.add(m.userId);
    const ns = store.projectNamespace(project);
    if (ns.kind === 'user') ids.add(ns.ownerId);
    else addGroupMembers(ns.id);
    for (const link of project.sharedWithGroups) addGroupMembers(link.groupId);
  }
  return ids;
}

/**
 * The starting set, in ascending id order: the custom-attribute index or the username index when
 * the request filters by them, else every user.
 */
function candidates(store: Store, p: Record<string, unknown>, admin: boolean): readonly User[] {
  const attrs = p.custom_attributes;
  if (admin && attrs && typeof attrs === 'object' && Object.keys(attrs).length > 0) {
    const sets = Object.entries(attrs as Record<string, unknown>).map(([k, v]) =>
      typeof v === 'string' ? store.usersWithCustomAttribute(k, v) : new Set<number>(),
    );
    sets.sort((a, b) => a.size - b.size);
    const [smallest, ...rest] = sets;
    const out: User[] = [];
    for (const id of smallest!) {
      if (!rest.every((s) => s.has(id))) continue;
      const user = store.users.get(id);
      if (user) out.push(user);
    }
    return out.sort((a, b) => a.id - b.id);
  }
  if (typeof p.username === 'string') {
    const user = store.findUserByUsername(p.username);
    return user ? [user] : [];
  }
  return store.orderedUsers();
}

/** `UsersFinder#execute` filters as one predicate; undefined when nothing is filtered out. */
function finderPredicate(
  store: Store,
  p: Record<string, unknown>,
  admin: boolean,
  search: UserSearch | undefined,
): ((u: User) => boolean) | undefined {
  const checks: ((u: User) => boolean)[] = [];
  if (!admin) checks.push((u) => !FORBIDDEN_SEARCH_STATES.has(u.state));
  if (typeof p.username === 'string') {
    const username = p.username.toLowerCase();
    checks.push((u) => u.username.toLowerCase() === username);
  }
  if (admin && p.admins === true) checks.push((u) => u.admin);
  if (p.humans === true) checks.push((u) => u.userType === 'human');
  if (p.exclude_humans === true) checks.push((u) => u.userType !== 'human');
  if (search) checks.push(search.matches);
  if (p.blocked === true) checks.push((u) => u.state === 'blocked' || u.state === 'ldap_blocked');
  if (p.active === true) checks.push((u) => u.state === 'active' && !isInternal(u));
  if (p.exclude_active === true) checks.push((u) => u.state !== 'active');
  if (typeof p.extern_uid === 'string' && typeof p.provider === 'string') {
    const { extern_uid: uid, provider } = p;
    checks.push((u) => u.identities.some((i) => i.provider === provider && i.externUid === uid));
  }
  if (p.external === true) checks.push((u) => u.external);
  if (p.exclude_external === true) checks.push((u) => !u.external);
  if (admin && p.two_factor === 'enabled') checks.push((u) => u.twoFactorEnabled);
  if (admin && p.two_factor === 'disabled') checks.push((u) => !u.twoFactorEnabled);
  if (admin && p.created_before instanceof Date) {
    const before = p.created_before.getTime();
    checks.push((u) => u.createdAt <= before);
  }
  if (admin && p.created_after instanceof Date) {
    const after = p.created_after.getTime();
    checks.push((u) => u.createdAt >= after);
  }
  if (admin && p.without_projects === true) {
    const withAccess = usersWithProjectAccess(store);
    checks.push((u) => !withAccess.has(u.id));
  }
  if (p.exclude_internal === true) checks.push((u) => !isInternal(u));
  if (p.without_project_bots === true) checks.push((u) => u.userType !== 'project_bot');
  if (checks.length === 0) return undefined;
  if (checks.length === 1) return checks[0];
  return (u) => {
    for (const check of checks) if (!check(u)) return false;
    return true;
  };
}

/** Filters `all` (ascending ids) in the requested order without sorting when the order is by id. */
function select(
  all: readonly User[],
  keep: ((u: User) => boolean) | undefined,
  order: { compare(a: User, b: User): number } | 'id_asc' | 'id_desc',
): readonly User[] {
  if (!keep) {
    if (order === 'id_asc') return all;
    if (order === 'id_desc') return all.slice().reverse();
    return all.slice().sort(order.compare);
  }
  const out: User[] = [];
  if (order === 'id_desc') {
    for (let i = all.length - 1; i >= 0; i--) if (keep(all[i]!)) out.push(all[i]!);
    return out;
  }
  for (const u of all) if (keep(u)) out.push(u);
  if (order !== 'id_asc') out.sort(order.compare);
  return out;
}

function listUsers(ctx: RouteCtx): unknown {
  const { store, params: p, caller } = ctx;
  if (present(p.extern_uid) && present(p.provider)) requireAdmin(store, caller);
  const admin = ctx.isAdmin;
  if (!caller && !present(p.username)) throw forbidden('Not authorized to access /api/v4/users');

  const search = present(p.search) ? userSearch(p.search as string, admin) : undefined;
  // `reorder_users` reads the raw params, so ordering applies to non-admins too.
  const byRelevance = search !== undefined && !present(p.order_by) && !present(p.sort);
  const orderBy = (p.order_by as string | undefined) ?? 'id';
  const sort = (p.sort as 'asc' | 'desc' | undefined) ?? 'desc';
  const pageRequest: PageRequest = ctx.pageRequest();
  if (!byRelevance) pageRequest.params = { ...pageRequest.params, order_by: orderBy, sort };

  const keyset = ctx.raw.pagination === 'keyset';
  if (keyset && !USER_KEYSET_ORDERINGS[orderBy]?.includes(sort)) {
    throw keysetUnavailable();
  }

  // `order_options_with_tie_breaker` orders `created_at` by id (ids grow with creation time).
  const field: Field = orderBy === 'created_at' ? 'id' : (orderBy as Field);
  const order = byRelevance ? relevanceOrder(search) : fieldOrder(field, fieldValue(field), sort);
  const matches = select(
    candidates(store, p, admin),
    finderPredicate(store, p, admin, search),
    !byRelevance && field === 'id' ? (sort === 'asc' ? 'id_asc' : 'id_desc') : order,
  );
  const page = keyset
    ? paginateKeyset(matches, pageRequest, order)
    : paginateOffset(matches, pageRequest, { enforcedType: 'User' });
  const users = ctx.usePage(page);

  if (!admin) return users.map((u) => userBasic(store, u));
  const withCustomAttributes = p.with_custom_attributes === true;
  return users.map((u) => userWithAdmin(store, u, { withCustomAttributes }));
}

// ------------------------------------------------------------------ GET /users/:id

const getByIdWindows = new WeakMap<Store, Map<number, { window: number; count: number }>>();

/** `check_rate_limit!(:users_get_by_id, scope: current_user)`: fixed windows, as the Redis limiter. */
function checkUsersGetByIdLimit(store: Store, userId: number): void {
  let windows = getByIdWindows.get(store);
  if (!windows) {
    windows = new Map();
    getByIdWindows.set(store, windows);
  }
  const window = Math.floor(store.clock.nowMs() / USERS_GET_BY_ID_PERIOD_MS);
  const entry = windows.get(userId);
  const count = entry && entry.window === window ? entry.count + 1 : 1;
  windows.set(userId, { window, count });
  if (count > USERS_GET_BY_ID_LIMIT) {
    throw new ApiError(429, {
      message: { error: 'This endpoint has been requested too many times. Try again later.' },
    });
  }
}

/** `UserPolicy#read_user_profile`: private, blocked and unconfirmed profiles hide details from others. */
function canReadProfile(viewer: User, subject: User): boolean {
  if (viewer.id === subject.id) return true;
  return !subject.privateProfile && !isBlocked(subject) && subject.confirmedAt !== null;
}

function getUser(ctx: RouteCtx): unknown {
  const { store, caller } = ctx;
  if (!caller) throw forbidden('Not authorized!');
  if (!ctx.isAdmin) checkUsersGetByIdLimit(store, caller.user.id);
  const user = store.users.get(Number(ctx.params.id));
  if (!user) throw notFound('User');
  if (ctx.isAdmin) {
    return userDetailsWithAdmin(store, user, {
      withCustomAttributes: ctx.params.with_custom_attributes === true,
    });
  }
  return userEntity(store, user, { showCreatedAt: canReadProfile(caller.user, user) });
}

// ------------------------------------------------------------------ POST /users

/** `User.random_password`: `Devise.friendly_token` of the maximum password length. */
function randomPassword(): string {
  return urlSafeToken(PASSWORD_MAX_LENGTH);
}

/** `user_default_internal_regex`, compiled case-insensitively; unanchored, like Ruby's `match`. */
function matchesInternalRegex(pattern: string, email: string): boolean {
  try {
    return new RegExp(pattern, 'i').test(email);
  } catch {
    return false;
  }
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const blankToNull = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : null);

function privateCommitEmail(store: Store, id: number, username: string): string {
  return `${id}-${username}@users.noreply.${new URL(store.baseUrl).hostname}`;
}

/**
 * `Users::AuthorizedCreateService` → `Users::BuildService` (admin branch): only `admin_create_params`
 * reach the model (`pronouns`, `commit_email` and unknown keys are dropped), `reset_password` forces a
 * random password and mails a set-password link, `skip_confirmation` decides between a confirmed
 * account and Devise's confirmation mail.
 */
function createUser(ctx: RouteCtx): unknown {
  const { store, params: p } = ctx;
  const admin = requireAdmin(store, ctx.caller);
  const { settings } = store;

  const email = normalizeEmail(str(p.email));
  const name = sanitizeName(str(p.name));
  const username = str(p.username);
  const resetPassword = p.reset_password === true;
  const randomised = resetPassword || p.force_random_password === true;
  const password = randomised ? randomPassword() : typeof p.password === 'string' ? p.password : undefined;

  let external: boolean;
  if (given(p, 'external') && p.external !== null) external = p.external as boolean;
  else if (settings.userDefaultExternal && settings.userDefaultInternalRegex)
    external = !matchesInternalRegex(settings.userDefaultInternalRegex, str(p.email));
  else external = settings.userDefaultExternal;

  const confirmed = p.skip_confirmation === true;
  const projectsLimit =
    typeof p.projects_limit === 'number' ? p.projects_limit : settings.defaultProjectsLimit;
  const publicEmail = blankToNull(p.public_email);
  const candidate: UserCandidate = {
    username,
    name,
    email,
    password,
    passwordRequired: true,
    randomPassword: randomised,
    // Validation sees the assigned limit; `ensure_user_rights_and_limits` runs later, before save.
    projectsLimit,
    themeId: typeof p.theme_id === 'number' ? p.theme_id : undefined,
    colorSchemeId: typeof p.color_scheme_id === 'number' ? p.color_scheme_id : undefined,
    bio: str(p.bio),
    publicEmail,
    commitEmail: null,
    verifiedEmails: confirmed ? [email] : [],
    changed: { username: true, email: true, publicEmail: publicEmail !== null, commitEmail: false },
  };
  const errors = validateUser(store, candidate);
  if (hasErrors(errors)) {
    if (email !== '' && store.findUserByEmail(email)) throw conflict('Email has already been taken');
    if (store.findUserByUsername(username)) throw conflict('Username has already been taken');
    throw validationFailed(errors);
  }

  const now = store.clock.nowMs();
  const identities: Identity[] =
    typeof p.extern_uid === 'string' && typeof p.provider === 'string'
      ? [{ provider: p.provider, externUid: p.extern_uid }]
      : [];
  const resetToken = resetPassword ? urlSafeToken(20) : null;
  const confirmationToken = confirmed ? null : urlSafeToken(20);
  const user = store.insertUser({
    username,
    name,
    email,
    password: password ?? null,
    passwordAutomaticallySet: randomised,
    admin: p.admin === true,
    external,
    projectsLimit: external ? 0 : projectsLimit,
    canCreateGroup: external
      ? false
      : typeof p.can_create_group === 'boolean'
        ? p.can_create_group
        : undefined,
    privateProfile:
      typeof p.private_profile === 'boolean' ? p.private_profile : settings.userDefaultsToPrivateProfile,
    confirmedAt: confirmed ? now : null,
    note: typeof p.note === 'string' ? p.note : null,
    bio: str(p.bio),
    location: str(p.location),
    publicEmail,
    skype: str(p.skype),
    linkedin: str(p.linkedin),
    twitter: str(p.twitter),
    discord: str(p.discord),
    websiteUrl: str(p.website_url),
    organization: str(p.organization),
    themeId: candidate.themeId,
    colorSchemeId: candidate.colorSchemeId,
    createdById: admin.user.id,
    identities,
    resetPasswordToken: resetToken,
    resetPasswordSentAt: resetToken ? now : null,
    confirmationToken,
  });
  // Devise's after-commit confirmation mail goes out before the service's new-user notification.
  if (confirmationToken) sendConfirmationInstructions(store, user, confirmationToken, user.email);
  if (resetToken) sendNewUserMail(store, user, resetToken);
  return userWithAdmin(store, user);
}

// ------------------------------------------------------------------ PUT /users/:id

/** `User#verified_emails`: the primary e-mail once confirmed, and every confirmed secondary e-mail. */
function verifiedEmails(user: User): string[] {
  const out = user.confirmedAt !== null ? [user.email] : [];
  for (const e of user.secondaryEmails) if (e.confirmedAt !== null) out.push(e.email);
  return out;
}

/**
 * `Users::UpdateService` as the admin API drives it: 409 pre-checks, `password_expires_at` for a
 * password set by someone else, Devise reconfirmation for a new e-mail unless `skip_reconfirmation` or
 * the address is already a confirmed secondary e-mail, and `ensure_user_rights_and_limits` when
 * `external` flips.
 */
function updateUser(ctx: RouteCtx): unknown {
  const { store, params: p } = ctx;
  const admin = requireAdmin(store, ctx.caller);
  const user = store.users.get(Number(p.id));
  if (!user) throw notFound('User');

  const newEmail = given(p, 'email') ? normalizeEmail(str(p.email)) : undefined;
  if (typeof p.email === 'string') {
    const owner = store.findUserByEmail(normalizeEmail(p.email));
    if (owner && owner.id !== user.id) throw conflict('Email has already been taken');
  }
  if (typeof p.username === 'string') {
    const owner = store.findUserByUsername(p.username);
    if (owner && owner.id !== user.id) throw conflict('Username has already been taken');
  }

  const { settings } = store;
  const changes: Partial<User> = {};
  const assignString = (param: string, key: keyof User) => {
    if (given(p, param)) (changes as Record<string, unknown>)[key] = str(p[param]);
  };
  assignString('skype', 'skype');
  assignString('linkedin', 'linkedin');
  assignString('twitter', 'twitter');
  assignString('discord', 'discord');
  assignString('website_url', 'websiteUrl');
  assignString('organization', 'organization');
  assignString('bio', 'bio');
  assignString('location', 'location');
  if (given(p, 'pronouns')) changes.pronouns = blankToNull(p.pronouns);
  if (given(p, 'note')) changes.note = typeof p.note === 'string' ? p.note : null;
  if (typeof p.projects_limit === 'number') changes.projectsLimit = p.projects_limit;
  if (typeof p.admin === 'boolean') changes.admin = p.admin;
  if (typeof p.can_create_group === 'boolean') changes.canCreateGroup = p.can_create_group;
  if (typeof p.theme_id === 'number') changes.themeId = p.theme_id;
  if (typeof p.color_scheme_id === 'number') changes.colorSchemeId = p.color_scheme_id;
  if (given(p, 'private_profile'))
    changes.privateProfile =
      typeof p.private_profile === 'boolean' ? p.private_profile : settings.userDefaultsToPrivateProfile;
  if (given(p, 'name')) changes.name = sanitizeName(str(p.name));
  if (given(p, 'username')) changes.username = str(p.username);
  if (given(p, 'public_email')) changes.publicEmail = blankToNull(p.public_email);
  if (given(p, 'commit_email')) {
    const commit = blankToNull(p.commit_email);
    changes.commitEmail =
      commit === PRIVATE_COMMIT_EMAIL
        ? privateCommitEmail(store, user.id, changes.username ?? user.username)
        : commit;
  }

  // `User#ensure_user_rights_and_limits`, only when `external` actually changes.
  if (typeof p.external === 'boolean' && p.external !== user.external) {
    changes.external = p.external;
    if (p.external) {
      changes.canCreateGroup = false;
      changes.projectsLimit = 0;
    } else {
      if (changes.canCreateGroup === undefined || changes.canCreateGroup === user.canCreateGroup)
        changes.canCreateGroup = settings.canCreateGroup;
      if (changes.projectsLimit === undefined || changes.projectsLimit === user.projectsLimit)
        changes.projectsLimit = settings.defaultProjectsLimit;
    }
  }

  // Devise: a `nil` password leaves it alone; an empty one is "required" and fails presence.
  const password = typeof p.password === 'string' ? p.password : undefined;
  const emailChanged = newEmail !== undefined && newEmail !== user.email;
  const usernameChanged = changes.username !== undefined && changes.username !== user.username;
  const candidate: UserCandidate = {
    id: user.id,
    username: changes.username ?? user.username,
    name: changes.name ?? user.name,
    email: emailChanged ? newEmail : user.email,
    password,
    passwordRequired: password !== undefined,
    projectsLimit: typeof p.projects_limit === 'number' ? p.projects_limit : user.projectsLimit,
    themeId: changes.themeId,
    colorSchemeId: changes.colorSchemeId,
    bio: changes.bio ?? user.bio,
    publicEmail: changes.publicEmail !== undefined ? changes.publicEmail : user.publicEmail,
    commitEmail: changes.commitEmail !== undefined ? changes.commitEmail : user.commitEmail,
    verifiedEmails: verifiedEmails(user),
    changed: {
      username: usernameChanged,
      email: emailChanged,
      publicEmail: changes.publicEmail !== undefined && changes.publicEmail !== user.publicEmail,
      commitEmail:
        changes.commitEmail !== undefined &&
        changes.commitEmail !== user.commitEmail &&
        p.commit_email !== PRIVATE_COMMIT_EMAIL,
    },
  };
  const errors = validateUser(store, candidate);
  if (hasErrors(errors)) throw validationFailed(errors);

  if (typeof p.extern_uid === 'string' && typeof p.provider === 'string') {
    const { provider, extern_uid: externUid } = p;
    changes.identities = [...user.identities.filter((i) => i.provider !== provider), { provider, externUid }];
  }

  const now = store.clock.nowMs();
  const forOther = admin.user.id !== user.id;
  let passwordChanged = false;
  if (password) {
    changes.passwordHash = hashPassword(password);
    if (forOther) changes.passwordExpiresAt = now;
    passwordChanged = true;
  }

  let reconfirmation: { token: string; email: string } | undefined;
  if (emailChanged) {
    const confirmedSecondary = user.secondaryEmails.some(
      (e) => e.email.toLowerCase() === newEmail && e.confirmedAt !== null,
    );
    if (p.skip_reconfirmation === true || confirmedSecondary) {
      // `User#update_emails_with_primary_email`: the old primary stays on as a secondary e-mail.
      const secondary: SecondaryEmail[] = user.secondaryEmails.filter(
        (e) => e.email.toLowerCase() !== newEmail,
      );
      secondary.push({ email: user.email, confirmedAt: user.confirmedAt });
      changes.email = newEmail;
      changes.secondaryEmails = secondary;
      changes.unconfirmedEmail = null;
    } else {
      reconfirmation = { token: urlSafeToken(20), email: newEmail };
      changes.unconfirmedEmail = newEmail;
      changes.confirmationToken = reconfirmation.token;
    }
  }

  // ActiveRecord only writes (and bumps `updated_at`) when a value really changes.
  const effective = Object.fromEntries(
    Object.entries(changes).filter(([key, value]) => user[key as keyof User] !== value),
  ) as Partial<User>;
  if (Object.keys(effective).length > 0) store.updateUser(user, effective);
  if (reconfirmation) sendConfirmationInstructions(store, user, reconfirmation.token, reconfirmation.email);
  if (passwordChanged) {
    if (forOther) sendPasswordChangedByAdmin(store, user);
    else sendPasswordChanged(store, user);
  }
  return userWithAdmin(store, user);
}

// ------------------------------------------------------------------ DELETE /users/:id

/**
 * `User#solo_owned_groups`: groups the user owns directly where nobody else (in the group or its
 * ancestors, project bots aside) is an owner.
 */
function soleOwnedGroupIds(store: Store, user: User): number[] {
  const out: number[] = [];
  for (const m of store.membershipsOf(user.id)) {
    if (m.source.type !== 'Namespace' || m.accessLevel !== 50 || store.isExpired(m)) continue;
    const group = store.groups.get(m.source.id);
    if (!group) continue;
    const owners = new Set<number>();
    for (const g of store.groupAncestry(group)) {
      for (const other of store.directMembers({ type: 'Namespace', id: g.id })) {
        if (other.userId === null || other.accessLevel !== 50 || store.isExpired(other)) continue;
        const owner = store.users.get(other.userId);
        if (owner && owner.userType !== 'project_bot') owners.add(owner.id);
      }
    }
    if (owners.size === 1) out.push(group.id);
  }
  return out;
}

/**
 * `User#delete_async`: a hard delete blocks the user first; `DeleteUserWorker` removes the user later
 * (the simulator's periodic job, after `userDeletionDelayMs`).
 */
export function scheduleUserDeletion(store: Store, user: User, hardDelete: boolean): void {
  if (
    hardDelete &&
    ['active', 'deactivated', 'ldap_blocked', 'blocked_pending_approval'].includes(user.state)
  )
    store.updateUser(user, { state: 'blocked' });
  store.scheduleDeletion(user);
}

function deleteUser(ctx: RouteCtx): unknown {
  const { store, params: p } = ctx;
  requireAdmin(store, ctx.caller);
  const user = store.users.get(Number(p.id));
  if (!user) throw notFound('User');
  const hardDelete = p.hard_delete === true;
  if (!hardDelete && soleOwnedGroupIds(store, user).length > 0)
    throw conflict('User cannot be removed while is the sole-owner of a group');
  checkUnmodifiedSince(ctx, user.updatedAt);
  scheduleUserDeletion(store, user, hardDelete);
  ctx.status = 204;
  return undefined;
}

// ------------------------------------------------------------------ memberships

/** `GET /users/:user_id/memberships` with `Entities::Membership`. */
function listMemberships(ctx: RouteCtx): unknown {
  const { store, params: p } = ctx;
  requireAdmin(store, ctx.caller);
  const user = store.users.get(Number(p.user_id));
  if (!user) throw notFound('User');
  const memberships = store
    .membershipsOf(user.id)
    .filter((m) => p.type === undefined || p.type === null || m.source.type === p.type);
  const page = ctx.paginate(memberships);
  return page.map((m) => ({
    source_id: m.source.id,
    source_name:
      m.source.type === 'Project'
        ? store.projects.get(m.source.id)?.name
        : store.groups.get(m.source.id)?.name,
    source_type: m.source.type,
    access_level: m.accessLevel,
  }));
}

// ------------------------------------------------------------------ routes

/** `lib/api/users.rb`: the list, single user, create, update, delete and memberships endpoints. */
export const userRoutes: ApiRoute[] = [
  { method: 'GET', path: '/users', readUser: true, params: listParams, handler: listUsers },
  {
    method: 'GET',
    path: '/users/:id',
    requirements: { id: USER_ID },
    readUser: true,
    params: [requires('id', 'Integer'), ...customAttributeParams],
    handler: getUser,
  },
  { method: 'POST', path: '/users', auth: 'non_get', params: createParams, handler: createUser },
  {
    method: 'PUT',
    path: '/users/:id',
    requirements: { id: USER_ID },
    auth: 'non_get',
    params: updateParams,
    handler: updateUser,
  },
  {
    method: 'DELETE',
    path: '/users/:id',
    requirements: { id: USER_ID },
    auth: 'non_get',
    params: [requires('id', 'Integer'), optional('hard_delete', 'Boolean')],
    handler: deleteUser,
  },
  {
    method: 'GET',
    path: '/users/:user_id/memberships',
    readUser: true,
    params: membershipParams,
    handler: listMemberships,
  },
];
