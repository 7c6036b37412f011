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

export function userSafe(_store: Store, u: User): Record<string, unknown> {
  return { id: u.id, username: u.username, name: u.name };
}

export function userBasic(store: Store, u: User, opts: UserEntityOptions = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ...userSafe(store, u),
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
  Object.assign(out, {
    bio: u.bio,
    location: u.location,
    public_email: u.publicEmail,
    skype: u.skype,
    linkedin: u.linkedin,
    twitter: u.twitter,
    discord: u.discord,
    website_url: u.websiteUrl,
    organization: u.organization,
    job_title: u.jobTitle,
    pronouns: u.pronouns,
    bot: u.userType !== 'human',
    work_information: workInformation(u),
    followers: 0,
    following: 0,
    is_followed: false,
    local_time: null,
  });
  return out;
}

function workInformation(u: User): string | null {
  if (u.jobTitle && u.organization) return `${u.jobTitle} at ${u.organization}`;
  return u.jobTitle || u.organization || null;
}

export function userPublic(store: Store, u: User, opts: UserEntityOptions = {}): Record<string, unknown> {
  return Object.assign(userEntity(store, u, opts), {
    last_sign_in_at: time(u.lastSignInAt),
    confirmed_at: time(u.confirmedAt),
    last_activity_on: u.lastActivityOn,
    email: u.email,
    theme_id: u.themeId,
    color_scheme_id: u.colorSchemeId,
    projects_limit: u.projectsLimit,
    current_sign_in_at: time(u.currentSignInAt),
    identities: u.identities.map((i) => ({ provider: i.provider, extern_uid: i.externUid })),
    can_create_group: u.canCreateGroup,
    can_create_project: u.projectsLimit > 0 && !u.external,
    two_factor_enabled: u.twoFactorEnabled,
    external: u.external,
    private_profile: u.privateProfile,
    commit_email: u.commitEmail ?? u.email,
    preferred_language: u.preferredLanguage,
  });
}

export function userWithAdmin(store: Store, u: User, opts: UserEntityOptions = {}): Record<string, unknown> {
  const createdBy = u.createdById !== null ? store.users.get(u.createdById) : undefined;
  return Object.assign(userPublic(store, u, opts), {
    is_admin: u.admin,
    note: u.note,
    namespace_id: u.namespaceId,
    created_by: createdBy ? userBasic(store, createdBy) : null,
    email_reset_offered_at: time(u.emailResetOfferedAt),
  });
}

export function userDetailsWithAdmin(
  store: Store,
  u: User,
  opts: UserEntityOptions = {},
): Record<string, unknown> {
  return Object.assign(userWithAdmin(store, u, opts), {
    highest_role: highestRole(store, u),
    current_sign_in_ip: u.currentSignInIp,
    last_sign_in_ip: u.lastSignInIp,
  });
}

/** `User#highest_role`: the highest access level among the user's non-expired memberships. */
export function highestRole(store: Store, u: User): number {
  let best = 0;
  for (const m of store.membershipsOf(u.id))
    if (!store.isExpired(m) && m.accessLevel > best) best = m.accessLevel;
  return best;
}
