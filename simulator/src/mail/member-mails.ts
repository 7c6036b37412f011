import { humanAccess, type MemberSource, sourceHumanName, sourceWebUrl } from '../api/access.js';
import type { Store } from '../model/store.js';
import type { MailMessage, Member, User } from '../model/types.js';
import { escapeHtml } from '../web/html.js';

/**
 * The membership mails GitLab sends (`app/mailers/emails/members.rb`, templates in
 * `app/views/notify/member_*`). Subjects are GitLab's; bodies carry the same facts (role, source,
 * link) in text and HTML, with every user-controlled value HTML-escaped.
 */

const singular = (source: MemberSource) => (source.kind === 'project' ? 'project' : 'group');

function send(
  store: Store,
  mail: { to: string; subject: string; lines: string[]; link: string; kind: string; userId: number | null },
): MailMessage {
  const text = `${mail.lines.join('\n\n')}\n\n${mail.link}\n`;
  const html = `${mail.lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('\n')}\n<p><a href="${escapeHtml(mail.link)}">${escapeHtml(mail.link)}</a></p>\n`;
  return store.recordMail({
    to: mail.to,
    subject: mail.subject,
    text,
    html,
    kind: mail.kind,
    resetLink: null,
    confirmationLink: null,
    userId: mail.userId,
  });
}

/** Blocked, banned and deactivated users get no notifications (`Member#notifiable?`). */
function notifiable(user: User): boolean {
  return user.state === 'active';
}

/** The member's user, when they are to be told about their membership. */
function notifiableMember(store: Store, member: Member): User | undefined {
  const user = member.userId !== null ? store.users.get(member.userId) : undefined;
  return user && notifiable(user) ? user : undefined;
}

/** `member_access_granted_email`: sent when a user becomes a member or their role changes. */
export function sendAccessGrantedMail(
  store: Store,
  source: MemberSource,
  member: Member,
): MailMessage | null {
  const user = notifiableMember(store, member);
  if (!user) return null;
  const name = sourceHumanName(store, source);
  return send(store, {
    to: user.email,
    subject: `Access to the ${name} ${singular(source)} was granted`,
    lines: [
      `You have been granted ${humanAccess(member.accessLevel)} access to the ${name} ${singular(source)}.`,
    ],
    link: sourceWebUrl(store, source),
    kind: 'member_access_granted',
    userId: user.id,
  });
}

/**
 * `member_invited_email`: the invitation to an address without an account, with the link that
 * carries the raw invite token.
 */
export function sendInvitationMail(
  store: Store,
  source: MemberSource,
  member: Member,
  rawToken: string,
): MailMessage {
  const name = sourceHumanName(store, source);
  const inviter = member.createdById !== null ? store.users.get(member.createdById) : undefined;
  const subject = inviter
    ? `${inviter.name} invited you to join GitLab`
    : `Invitation to join the ${name} ${singular(source)}`;
  const who = inviter ? `${inviter.name} invited you` : 'You have been invited';
  return send(store, {
    to: member.inviteEmail!,
    subject,
    lines: [`${who} to join the ${name} ${singular(source)} as ${humanAccess(member.accessLevel)}.`],
    link: `${store.baseUrl}/-/invites/${rawToken}`,
    kind: 'member_invited',
    userId: null,
  });
}

/** `member_about_to_expire_email` */
export function sendAboutToExpireMail(
  store: Store,
  source: MemberSource,
  member: Member,
  daysToExpire: number,
): MailMessage | null {
  const user = notifiableMember(store, member);
  if (!user) return null;
  const name = sourceHumanName(store, source);
  return send(store, {
    to: user.email,
    subject: `Your membership will expire in ${daysToExpire} days`,
    lines: [
      `Your membership in the ${name} ${singular(source)} will expire in ${daysToExpire} days, on ${member.expiresAt}.`,
    ],
    link: sourceWebUrl(store, source),
    kind: 'member_about_to_expire',
    userId: user.id,
  });
}

/** `member_invite_accepted_email`: tells the inviter that their invitation was taken up. */
export function sendInviteAcceptedMail(
  store: Store,
  source: MemberSource,
  member: Member,
): MailMessage | null {
  const inviter = member.createdById !== null ? store.users.get(member.createdById) : undefined;
  const invitee = member.userId !== null ? store.users.get(member.userId) : undefined;
  if (!inviter || !invitee || !notifiable(inviter)) return null;
  const name = sourceHumanName(store, source);
  return send(store, {
    to: inviter.email,
    subject: 'Invitation accepted',
    lines: [
      `${invitee.name} (${invitee.username}) has accepted your invitation to join the ${name} ${singular(source)}.`,
    ],
    link: sourceWebUrl(store, source),
    kind: 'member_invite_accepted',
    userId: inviter.id,
  });
}

/** `member_expiration_date_updated_email` (group memberships only). */
export function sendExpirationUpdatedMail(
  store: Store,
  source: MemberSource,
  member: Member,
): MailMessage | null {
  const user = notifiableMember(store, member);
  if (!user) return null;
  const name = sourceHumanName(store, source);
  const changed = member.expiresAt !== null;
  return send(store, {
    to: user.email,
    subject: changed
      ? 'Group membership expiration date changed'
      : 'Group membership expiration date removed',
    lines: [
      changed
        ? `Your membership in the ${name} group will now expire on ${member.expiresAt}.`
        : `Your membership in the ${name} group no longer expires.`,
    ],
    link: sourceWebUrl(store, source),
    kind: 'member_expiration_date_updated',
    userId: user.id,
  });
}
