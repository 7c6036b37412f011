import { isoTime } from '../clock.js';
import type { Store } from '../model/store.js';
import type { Member } from '../model/types.js';
import { userBasic } from './user.js';

/**
 * `API::Entities::Member` (`lib/api/entities/member.rb`): the user's UserBasic fields merged at the
 * top level, then `access_level`, `created_at`, `created_by` (UserBasic; left out when nobody is
 * recorded) and `expires_at` (`YYYY-MM-DD` or null).
 */
export function memberEntity(store: Store, member: Member): Record<string, unknown> {
  const user = member.userId !== null ? store.users.get(member.userId) : undefined;
  const out: Record<string, unknown> = user ? userBasic(store, user) : {};
  out.access_level = member.accessLevel;
  out.created_at = isoTime(member.createdAt);
  const createdBy = member.createdById !== null ? store.users.get(member.createdById) : undefined;
  if (createdBy) out.created_by = userBasic(store, createdBy);
  out.expires_at = member.expiresAt;
  return out;
}

/** `API::Entities::Invitation` (`lib/api/entities/invitation.rb`): a pending e-mail invitation. */
export function invitationEntity(store: Store, member: Member): Record<string, unknown> {
  const out: Record<string, unknown> = {
    access_level: member.accessLevel,
    created_at: isoTime(member.createdAt),
    expires_at: member.expiresAt,
    invite_email: member.inviteEmail,
    invite_token: member.inviteToken,
  };
  const user = member.userId !== null ? store.users.get(member.userId) : undefined;
  if (user) out.user_name = user.name;
  const createdBy = member.createdById !== null ? store.users.get(member.createdById) : undefined;
  out.created_by_name = createdBy?.name ?? null;
  return out;
}
