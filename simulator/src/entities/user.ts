import { isoTime } from '../clock.js';
import type { Store } from '../model/store.js';
import type { User } from '../model/types.js';

/**
 * GitLab's user entities, each adding fields to its parent in GitLab's order
 * (`lib/api/entities/user_safe.rb`, `user_basic.rb`, `user.rb`, `user_public.rb`, `user_with_admin.rb`,
 * `user_details_with_admin.rb`).
 */
export interface UserEntityOptions {
  withCustomAttributes?: boolean;
}

const time = (ms: number | null) => (ms === null ? null : isoTime(ms));

export function userBasic(store: Store, u: User, opts: UserEntityOptions = {}): Record<string, unknown> {
  // One literal (UserSafe's `id`, `username`, `name`, then UserBasic's own fields): spreading a
  // parent entity into it gives each result a fresh hidden class, which costs microseconds per field.
  const out: Record<string, unknown> = {
    id: u.id,
    username: u.username,
    name: u.name,
    state: u.state,
    locked: u.locked,
    avatar_url: store.userAvatarUrl(u),
  };
  if (opts.withCustomAttributes) out.custom_attributes = customAttributes(u);
  out.web_url = store.userWebUrl(u);
  return out;
}

export function customAttributes(u: {
  customAttributes: Map<string, string>;
}): { key: string; value: string }[] {
  return [...u.customAttributes].map(([key, value]) => ({ key, value }));
}

export function userEntity(
  store: Store,
  u: User,
  opts: UserEntityOptions & { showCreatedAt?: boolean } = {},
): Record<string, unknown> {
  const out = userBasic(store, u, opts);
  if (opts.showCreatedAt ?? true) out.created_at = time(u.createdAt);
  // Named stores, not Object.assign: V8 turns an object that gains more than a dozen properties
  // through keyed stores into a slow dictionary, which makes every entity and its JSON costly.
  out.bio = u.bio;
  out.location = u.location;
  out.public_email = u.publicEmail;
  out.skype = u.skype;
  out.linkedin = u.linkedin;
  out.twitter = u.twitter;
  out.discord = u.discord;
  out.website_url = u.websiteUrl;
  out.organization = u.organization;
  out.job_title = u.jobTitle;
  out.pronouns = u.pronouns;
  out.bot = u.userType !== 'human';
  out.work_information = workInformation(u);
  out.followers = 0;
  out.following = 0;
  out.is_followed = false;
  out.local_time = null;
  return out;
}

function workInformation(u: User): string | null {
  if (u.jobTitle && u.organization) return `${u.jobTitle} at ${u.organization}`;
  return u.jobTitle || u.organization || null;
}

export function userPublic(store: Store, u: User, opts: UserEntityOptions = {}): Record<string, unknown> {
  const out = userEntity(store, u, opts);
  out.last_sign_in_at = time(u.lastSignInAt);
  out.confirmed_at = time(u.confirmedAt);
  out.last_activity_on = u.lastActivityOn;
  out.email = u.email;
  out.theme_id = u.themeId;
  out.color_scheme_id = u.colorSchemeId;
  out.projects_limit = u.projectsLimit;
  out.current_sign_in_at = time(u.currentSignInAt);
  out.identities = u.identities.map((i) => ({ provider: i.provider, extern_uid: i.externUid }));
  out.can_create_group = u.canCreateGroup;
  out.can_create_project = u.projectsLimit > 0 && !u.external;
  out.two_factor_enabled = u.twoFactorEnabled;
  out.external = u.external;
  out.private_profile = u.privateProfile;
  out.commit_email = u.commitEmail ?? u.email;
  out.preferred_language = u.preferredLanguage;
  return out;
}

export function userWithAdmin(store: Store, u: User, opts: UserEntityOptions = {}): Record<string, unknown> {
  const createdBy = u.createdById !== null ? store.users.get(u.createdById) : undefined;
  const out = userPublic(store, u, opts);
  out.is_admin = u.admin;
  out.note = u.note;
  out.namespace_id = u.namespaceId;
  out.created_by = createdBy ? userBasic(store, createdBy) : null;
  out.email_reset_offered_at = time(u.emailResetOfferedAt);
  return out;
}

export function userDetailsWithAdmin(
  store: Store,
  u: User,
  opts: UserEntityOptions = {},
): Record<string, unknown> {
  const out = userWithAdmin(store, u, opts);
  out.highest_role = highestRole(store, u);
  out.current_sign_in_ip = u.currentSignInIp;
  out.last_sign_in_ip = u.lastSignInIp;
  return out;
}

/** `User#highest_role`: the highest access level among the user's non-expired memberships. */
export function highestRole(store: Store, u: User): number {
  let best = 0;
  for (const m of store.membershipsOf(u.id))
    if (!store.isExpired(m) && m.accessLevel > best) best = m.accessLevel;
  return best;
}
