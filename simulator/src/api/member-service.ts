import { isoDate } from '../clock.js';
import { forbidden } from '../http/errors.js';
import {
  sendAccessGrantedMail,
  sendExpirationUpdatedMail,
  sendInvitationMail,
} from '../mail/member-mails.js';
import { sha256Base64Url, urlSafeToken } from '../model/secrets.js';
import type { Store } from '../model/store.js';
import { ACCESS, ACCESS_LEVELS, type Group, type Member, type User } from '../model/types.js';
import { EMAIL_REGEX, type ValidationErrors } from '../model/user-rules.js';
import {
  canAdminMembers,
  canManageProjectOwners,
  cannotManageGroupOwners,
  humanAccess,
  isLastGroupOwner,
  isPersonalNamespaceHolder,
  type MemberSource,
  projectGroup,
  sourceRefOf,
  toSentence,
  type Viewer,
} from './access.js';
import { errorCollector } from './path-rules.js';

/**
 * GitLab's membership rules shared by the Members and Invitations APIs:
 * `app/services/members/{create,invite,creator,update,destroy}_service.rb`,
 * `app/services/members/{projects,groups}/creator_service.rb`, the validations of
 * `app/models/member.rb` and `app/policies/{project,group}_member_policy.rb`.
 */

/** Ruby's `String#split(',')`: trailing empty fields are dropped (`",".split(',')` is `[]`). */
export function rubySplitComma(value: string): string[] {
  const parts = value.split(',');
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** Member limit per request (`Members::CreateService::DEFAULT_INVITE_LIMIT`). */
export const INVITE_LIMIT = 100;

/** A `DateTime`/`Date` param as the `YYYY-MM-DD` a date column keeps. */
export function dateParam(raw: unknown, coerced: unknown): string | null {
  if (coerced === null || coerced === undefined) return null;
  if (typeof raw === 'string') {
    const m = /^(\d{4}-\d{2}-\d{2})/.exec(raw.trim());
    if (m) return m[1]!;
  }
  return coerced instanceof Date ? isoDate(coerced.getTime()) : String(coerced);
}

/**
 * The highest membership the user holds in the groups above the source (`Member#highest_group_member`):
 * for a project its group and that group's ancestors, for a group its ancestors.
 */
function highestInheritedMember(
  store: Store,
  source: MemberSource,
  userId: number,
): { member: Member; group: Group } | undefined {
  const start =
    source.kind === 'project'
      ? projectGroup(store, source.project)
      : source.group.parentId !== null
        ? store.groups.get(source.group.parentId)
        : undefined;
  if (!start) return undefined;
  let best: { member: Member; group: Group } | undefined;
  for (const g of store.groupAncestry(start)) {
    const m = store.directMember({ type: 'Namespace', id: g.id }, userId);
    if (m && !store.isExpired(m) && (!best || m.accessLevel > best.member.accessLevel))
      best = { member: m, group: g };
  }
  return best;
}

/** `Member` validations, keyed and ordered like ActiveModel's `errors.messages`. */
export function validateMembership(
  store: Store,
  source: MemberSource,
  m: { userId: number | null; accessLevel: number; expiresAt: string | null },
): ValidationErrors {
  const { errors, add } = errorCollector();
  if (m.expiresAt !== null && m.expiresAt < store.clock.today())
    add('expires_at', 'cannot be a date in the past');
  if (m.userId !== null) {
    const inherited = highestInheritedMember(store, source, m.userId);
    if (inherited && inherited.member.accessLevel > m.accessLevel) {
      add(
        'access_level',
        `should be greater than or equal to ${humanAccess(inherited.member.accessLevel)} inherited membership from group ${inherited.group.name}`,
      );
    }
  }
  if (!(ACCESS_LEVELS as readonly number[]).includes(m.accessLevel))
    add('access_level', 'is not included in the list');
  return errors;
}

const ATTRIBUTE_NAMES: Record<string, string> = {
  access_level: 'Access level',
  expires_at: 'Expires at',
  user_id: 'User',
  invite_email: 'Invite email',
};

/** ActiveModel `errors.full_messages`. */
export function fullMessages(errors: ValidationErrors): string[] {
  const out: string[] = [];
  for (const [attr, messages] of Object.entries(errors)) {
    for (const msg of messages) out.push(attr === 'base' ? msg : `${ATTRIBUTE_NAMES[attr] ?? attr} ${msg}`);
  }
  return out;
}

/**
 * The rules `update_*_member` and `destroy_*_member` share: a personal project's owner and the last
 * Owner of a group hierarchy stay, and only project Owners (and admins) touch a project Owner.
 */
function memberProtected(store: Store, source: MemberSource, viewer: Viewer, member: Member): boolean {
  if (source.kind === 'group') return isLastGroupOwner(store, source.group, member);
  if (isPersonalNamespaceHolder(store, source.project, member.userId)) return true;
  return member.accessLevel === ACCESS.owner && !canManageProjectOwners(store, source.project, viewer);
}

/** `update_project_member` / `update_group_member` on an existing member. */
export function canUpdateMember(store: Store, source: MemberSource, viewer: Viewer, member: Member): boolean {
  return !memberProtected(store, source, viewer, member) && canAdminMembers(store, source, viewer);
}

/** `destroy_project_member` / `destroy_group_member`: managers, or members leaving on their own. */
export function canDestroyMember(
  store: Store,
  source: MemberSource,
  viewer: Viewer,
  member: Member,
): boolean {
  if (memberProtected(store, source, viewer, member)) return false;
  const self = viewer.user !== undefined && member.userId === viewer.user.id;
  return self || canAdminMembers(store, source, viewer);
}

/**
 * `Members::CreateService#adding_at_least_one_owner && cannot_assign_owner_responsibilities…`:
 * only project Owners (and admins) may hand out the Owner role on a project.
 */
export function assertMayAssignOwner(
  store: Store,
  source: MemberSource,
  viewer: Viewer,
  accessLevel: number,
) {
  if (
    source.kind === 'project' &&
    accessLevel === ACCESS.owner &&
    !canManageProjectOwners(store, source.project, viewer)
  ) {
    throw forbidden();
  }
}

export type Invitee = { user: User } | { email: string };

export interface CommitResult {
  /** The saved member, or the one that failed (for error keys). */
  member: Member;
  user: User | undefined;
  saved: boolean;
  unauthorized: boolean;
  /** Errors raised outside validations (`errors.add(:base, …)`). */
  baseErrors: string[];
  errors: ValidationErrors;
}

/** Saves attribute changes on an existing member and sends the mails GitLab's update hooks send. */
export function applyMemberChanges(
  store: Store,
  source: MemberSource,
  member: Member,
  changes: { accessLevel?: number; expiresAt?: string | null; createdById?: number | null },
): void {
  const accessChanged = changes.accessLevel !== undefined && changes.accessLevel !== member.accessLevel;
  const expiryChanged = changes.expiresAt !== undefined && changes.expiresAt !== member.expiresAt;
  const creatorChanged = changes.createdById !== undefined && changes.createdById !== member.createdById;
  if (!accessChanged && !expiryChanged && !creatorChanged) return;
  if (accessChanged) member.accessLevel = changes.accessLevel!;
  if (expiryChanged) {
    member.expiresAt = changes.expiresAt!;
    // A new date deserves a new reminder.
    member.expiryNotifiedAt = null;
  }
  if (creatorChanged) member.createdById = changes.createdById!;
  member.updatedAt = store.clock.nowMs();
  if (member.userId === null) return;
  if (accessChanged) sendAccessGrantedMail(store, source, member);
  if (expiryChanged && source.kind === 'group') sendExpirationUpdatedMail(store, source, member);
}

/**
 * `Members::CreatorService#execute` for one invitee: find or build the member, check the caller may
 * create/update it, assign `access_level`/`expires_at` (and `created_by` when unset), validate,
 * save, and send the access-granted or invitation mail.
 */
export function commitMember(
  store: Store,
  source: MemberSource,
  invitee: Invitee,
  accessLevel: number,
  expiresAt: string | null,
  viewer: Viewer,
  caller: User,
): CommitResult {
  const ref = sourceRefOf(source);
  const user = 'user' in invitee ? invitee.user : undefined;
  const who = 'user' in invitee ? { userId: invitee.user.id } : { inviteEmail: invitee.email };
  const existing =
    who.userId !== undefined
      ? store.directMember(ref, who.userId)
      : store.findInvitation(ref, who.inviteEmail);
  const draft = existing ?? store.newMember(ref, who, accessLevel, { expiresAt, createdById: caller.id });
  const result: CommitResult = {
    member: draft,
    user,
    saved: false,
    unauthorized: false,
    baseErrors: [],
    errors: {},
  };

  const personalHolder =
    source.kind === 'project' && user && isPersonalNamespaceHolder(store, source.project, user.id);
  const permitted = existing
    ? canUpdateMember(store, source, viewer, existing)
    : canAdminMembers(store, source, viewer) || !!personalHolder;
  if (!permitted) {
    result.unauthorized = true;
    result.baseErrors.push(existing ? 'not authorized to update member' : 'not authorized to create member');
    return result;
  }

  const createdById = existing?.createdById ?? caller.id;
  result.errors = validateMembership(store, source, { userId: draft.userId, accessLevel, expiresAt });
  if (Object.keys(result.errors).length > 0) return result;

  if (existing) {
    applyMemberChanges(store, source, existing, { accessLevel, expiresAt, createdById });
    result.saved = true;
    return result;
  }

  let rawToken: string | undefined;
  if (!user) {
    rawToken = urlSafeToken(20);
    draft.inviteToken = sha256Base64Url(rawToken);
  }
  store.upsertMember(draft);
  result.saved = true;
  if (rawToken !== undefined) sendInvitationMail(store, source, draft, rawToken);
  else if (!personalHolder) sendAccessGrantedMail(store, source, draft);
  return result;
}

export interface AddManyInput {
  /** `user_id` tokens (ids; e-mail addresses too, for the Members API). */
  userIds: string[];
  usernames: string[];
  emails: string[];
  accessLevel: number;
  expiresAt: string | null;
  mode: 'members' | 'invitations';
}

/**
 * `Members::CreateService` (comma-separated `POST …/members`) and `Members::InviteService`
 * (`POST …/invitations`): the answer is the service hash, never an exception, except the
 * Owner-on-project rule which raises (403).
 */
export function addMany(
  store: Store,
  source: MemberSource,
  input: AddManyInput,
  viewer: Viewer,
  caller: User,
): Record<string, unknown> {
  // Blank tokens count as invitees (so `" , "` is not "blank") but name nobody.
  const uniq = (values: string[]) => [...new Set(values.map((v) => v.trim()))];
  const idTokens = uniq(input.userIds);
  const usernames = uniq(input.usernames);
  const emails = uniq(input.emails);
  const invites = [...idTokens, ...usernames, ...emails];

  if (invites.length === 0) {
    return {
      message: input.mode === 'members' ? 'No users specified.' : 'Invites cannot be blank',
      status: 'error',
    };
  }
  if (invites.length > INVITE_LIMIT) {
    return { message: `Too many users specified (limit is ${INVITE_LIMIT})`, status: 'error' };
  }
  assertMayAssignOwner(store, source, viewer, input.accessLevel);

  const memberErrors: string[] = [];
  const inviteErrors: Record<string, string> = {};
  let unauthorized = false;

  const emailTokens = emails.filter((e) => e !== '');
  if (input.mode === 'invitations') {
    for (const email of emailTokens) {
      if (EMAIL_REGEX.test(email)) continue;
      inviteErrors[email] = 'Invite email is invalid';
      emailTokens.splice(emailTokens.indexOf(email), 1);
    }
  }
  // `CreatorService.parse_users_list`: numeric ids and usernames name users (unknown ones are
  // silently dropped); e-mail addresses name users when an account has them, invitations otherwise.
  const invitedById: User[] = [];
  const byUser = new Set<number>();
  const addUser = (user: User | undefined) => {
    if (!user || byUser.has(user.id)) return;
    byUser.add(user.id);
    invitedById.push(user);
  };
  for (const token of idTokens) {
    if (/^\d+$/.test(token)) addUser(store.users.get(Number(token)));
    else if (input.mode === 'members' && EMAIL_REGEX.test(token)) emailTokens.push(token);
  }
  for (const name of usernames) if (name !== '') addUser(store.findUserByUsername(name));

  const entries: { invitee: Invitee; key: string }[] = [];
  for (const email of emailTokens) {
    const owner = store.findUserByEmail(email);
    if (owner && byUser.has(owner.id)) continue;
    entries.push({ invitee: owner ? { user: owner } : { email }, key: email });
  }
  for (const user of invitedById) entries.push({ invitee: { user }, key: user.username });

  const managesOwners = !(
    source.kind === 'group' &&
    input.accessLevel === ACCESS.owner &&
    cannotManageGroupOwners(store, source.group, viewer)
  );
  if (managesOwners) {
    for (const { invitee, key } of entries) {
      const r = commitMember(store, source, invitee, input.accessLevel, input.expiresAt, viewer, caller);
      if (r.saved) continue;
      if (r.unauthorized) unauthorized = true;
      const messages = toSentence([...r.baseErrors, ...fullMessages(r.errors)]);
      if (input.mode === 'invitations') inviteErrors[key] = messages;
      else memberErrors.push(r.user ? `${r.user.username}: ${messages}` : messages);
    }
  }

  const failed =
    input.mode === 'invitations' ? Object.keys(inviteErrors).length > 0 : memberErrors.length > 0;
  if (!failed) return { status: 'success' };
  const out: Record<string, unknown> = {
    message: input.mode === 'invitations' ? inviteErrors : toSentence(memberErrors),
    status: 'error',
  };
  if (unauthorized) out.http_status = 'unauthorized';
  return out;
}

/**
 * `Members::DestroyService`: removes the member and, for a group membership unless
 * `skip_subresources`, the user's direct memberships in the group's subgroups and their projects.
 */
export function destroyMember(
  store: Store,
  source: MemberSource,
  member: Member,
  opts: { skipSubresources: boolean },
): void {
  store.removeMember(member);
  if (source.kind !== 'group' || opts.skipSubresources || member.userId === null) return;
  const hierarchy = store.groupDescendants(source.group);
  const inside = new Set(hierarchy.map((g) => g.id));
  for (const g of hierarchy) {
    if (g.id === source.group.id) continue;
    const m = store.directMember({ type: 'Namespace', id: g.id }, member.userId);
    if (m) store.removeMember(m);
  }
  for (const p of store.projects.values()) {
    if (!inside.has(p.namespaceId)) continue;
    const m = store.directMember({ type: 'Project', id: p.id }, member.userId);
    if (m) store.removeMember(m);
  }
}
