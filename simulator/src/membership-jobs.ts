import type { MemberSource } from './api/access.js';
import { DAY_MS, isoDate } from './clock.js';
import { sendAboutToExpireMail } from './mail/member-mails.js';
import type { Store } from './model/store.js';
import type { Member } from './model/types.js';

/**
 * GitLab's cron workers for time-limited access: `Members::ExpiringWorker` (reminder mail for
 * memberships expiring within `Member::DAYS_TO_EXPIRE` = 7 days, once per membership),
 * `RemoveExpiredMembersWorker` and `RemoveExpiredGroupLinksWorker` (access ends on the expiry date).
 */

export const DAYS_TO_EXPIRE = 7;

function* membersWithExpiry(store: Store): Generator<{ source: MemberSource; member: Member }> {
  for (const group of store.groups.values()) {
    for (const member of store.directMembers({ type: 'Namespace', id: group.id }))
      if (member.expiresAt !== null) yield { source: { kind: 'group', group }, member };
  }
  for (const project of store.projects.values()) {
    for (const member of store.directMembers({ type: 'Project', id: project.id }))
      if (member.expiresAt !== null) yield { source: { kind: 'project', project }, member };
  }
}

/** Sends the "membership expires soon" mail to members (not invitations) expiring after today and within 7 days. */
export function remindExpiringMembers(store: Store): void {
  const today = store.clock.today();
  const limit = isoDate(store.clock.nowMs() + DAYS_TO_EXPIRE * DAY_MS);
  for (const { source, member } of membersWithExpiry(store)) {
    const expiresAt = member.expiresAt!;
    if (member.userId === null || member.expiryNotifiedAt !== null) continue;
    if (expiresAt <= today || expiresAt > limit) continue;
    const days = Math.round(
      (Date.parse(`${expiresAt}T00:00:00Z`) - Date.parse(`${today}T00:00:00Z`)) / DAY_MS,
    );
    sendAboutToExpireMail(store, source, member, days);
    member.expiryNotifiedAt = store.clock.nowMs();
  }
}

/** Removes memberships and pending invitations whose expiry date has come. */
export function removeExpiredMembers(store: Store): void {
  const expired = [...membersWithExpiry(store)].filter(({ member }) => store.isExpired(member));
  for (const { member } of expired) store.removeMember(member);
}

/** Removes project shares whose expiry date has come. */
export function removeExpiredProjectShares(store: Store): void {
  const today = store.clock.today();
  for (const project of store.projects.values()) {
    const links = project.sharedWithGroups;
    for (let i = links.length - 1; i >= 0; i--) {
      const expiresAt = links[i]!.expiresAt;
      if (expiresAt !== null && expiresAt <= today) links.splice(i, 1);
    }
  }
}

export function runMembershipJobs(store: Store): void {
  remindExpiringMembers(store);
  removeExpiredMembers(store);
  removeExpiredProjectShares(store);
}
