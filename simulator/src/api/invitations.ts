import { invitationEntity } from '../entities/member.js';
import type { ApiRoute, RouteCtx } from '../http/app.js';
import { ApiError, badRequest, forbidden, grapeError, notFound } from '../http/errors.js';
import { optional, paginationParams, type Rule, requires, validateParams } from '../http/grape.js';
import { sendInviteAcceptedMail } from '../mail/member-mails.js';
import type { Store } from '../model/store.js';
import { ACCESS_LEVELS, type Member, type User } from '../model/types.js';
import { EMAIL_REGEX } from '../model/user-rules.js';
import { canAdminMembers, checkUnmodifiedSince, type MemberSource, sourceRefOf, viewerOf } from './access.js';
import { addMany, canDestroyMember, dateParam, rubySplitComma } from './member-service.js';
import { findSource, type SourceType, updateMember } from './members.js';

/**
 * The Invitations API (`lib/api/invitations.rb`, `app/services/members/invite_service.rb`).
 * Pending invitations are members with an `invite_email` and no user.
 */

function authorizeAdminMembers(ctx: RouteCtx, source: MemberSource): void {
  if (!canAdminMembers(ctx.store, source, viewerOf(ctx))) throw forbidden();
}

function pendingInvitation(store: Store, source: MemberSource, email: string): Member | undefined {
  const invite = store.findInvitation(sourceRefOf(source), email);
  return invite && invite.userId === null && invite.inviteToken !== null ? invite : undefined;
}

const ACCESS_LEVEL_RULE = requires('access_level', 'Integer', { values: ACCESS_LEVELS });
const EMAIL_RULE = optional('email', 'Array[String]');
const REST_RULES: Rule[] = [
  optional('user_id', 'Array[String]'),
  optional('expires_at', 'DateTime'),
  optional('invite_source', 'String', { default: 'invitations-api' }),
];

/** `API::Validations::Types::CommaSeparatedToArray`: split on commas (Ruby's `split`), strip each entry. */
function commaSeparatedToArray(value: unknown): string[] {
  const items = Array.isArray(value) ? value : [value];
  return items.flatMap((v) =>
    v === null || v === undefined ? [] : rubySplitComma(String(v)).map((e) => e.trim()),
  );
}

/**
 * Grape's declaration for `POST …/invitations`, with the custom `email_or_email_list` validator
 * slotted in at `email`'s place so that messages join in declaration order.
 */
function validateInvitationParams(raw: Record<string, unknown>): Record<string, unknown> {
  const errors: string[] = [];
  const out: Record<string, unknown> = {};
  const run = (rules: Rule[]) => {
    try {
      Object.assign(out, validateParams(raw, rules));
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      errors.push((e.body as { error: string }).error);
    }
  };
  run([ACCESS_LEVEL_RULE]);
  run([EMAIL_RULE]);
  if ('email' in out) out.email = commaSeparatedToArray(raw.email);
  const emails = out.email;
  if (Array.isArray(emails) && !emails.every((e) => EMAIL_REGEX.test(e))) {
    errors.push('email contains an invalid email address');
  }
  run(REST_RULES);
  if ('user_id' in out) out.user_id = commaSeparatedToArray(raw.user_id);
  if (errors.length > 0) throw grapeError(errors.join(', '));
  return out;
}

function routesFor(type: SourceType): ApiRoute[] {
  const base = `/${type}s/:id/invitations`;
  return [
    {
      method: 'POST',
      path: base,
      auth: 'required',
      handler: (ctx) => {
        const params = validateInvitationParams(ctx.raw);
        const emails = (params.email as string[] | null | undefined) ?? [];
        const userIds = (params.user_id as string[] | null | undefined) ?? [];
        if (emails.length === 0 && userIds.length === 0) {
          throw badRequest('Must provide either email or user_id as a parameter');
        }
        const source = findSource(ctx, type);
        authorizeAdminMembers(ctx, source);
        return addMany(
          ctx.store,
          source,
          {
            userIds,
            usernames: [],
            emails,
            accessLevel: params.access_level as number,
            expiresAt: dateParam(ctx.raw.expires_at, params.expires_at),
            mode: 'invitations',
          },
          viewerOf(ctx),
          ctx.user().user,
        );
      },
    },
    {
      method: 'GET',
      path: base,
      auth: 'required',
      params: [optional('query', 'String'), ...paginationParams()],
      handler: (ctx) => {
        const source = findSource(ctx, type);
        authorizeAdminMembers(ctx, source);
        const query =
          typeof ctx.params.query === 'string' && ctx.params.query !== '' ? ctx.params.query : undefined;
        const invitations = ctx.store
          .directMembers(sourceRefOf(source))
          .filter((m) => m.userId === null && m.inviteToken !== null)
          .filter((m) => query === undefined || m.inviteEmail!.toLowerCase() === query.toLowerCase());
        return ctx.paginate(invitations).map((m) => invitationEntity(ctx.store, m));
      },
    },
    {
      method: 'PUT',
      path: `${base}/:email`,
      auth: 'required',
      params: [
        requires('email', 'String'),
        optional('access_level', 'Integer', { values: ACCESS_LEVELS }),
        optional('expires_at', 'DateTime'),
      ],
      handler: (ctx) => {
        const source = findSource(ctx, type);
        authorizeAdminMembers(ctx, source);
        const invite = pendingInvitation(ctx.store, source, String(ctx.params.email));
        if (!invite) throw notFound();
        const changes: { accessLevel?: number; expiresAt?: string | null } = {};
        if (ctx.params.access_level !== undefined && ctx.params.access_level !== null)
          changes.accessLevel = ctx.params.access_level as number;
        if ('expires_at' in ctx.params)
          changes.expiresAt = dateParam(ctx.raw.expires_at, ctx.params.expires_at);
        if (!('access_level' in ctx.params) && !('expires_at' in ctx.params)) throw badRequest();
        updateMember(ctx, source, invite, changes);
        return invitationEntity(ctx.store, invite);
      },
    },
    {
      method: 'DELETE',
      path: `${base}/:email`,
      auth: 'required',
      params: [requires('email', 'String')],
      handler: (ctx) => {
        const source = findSource(ctx, type);
        authorizeAdminMembers(ctx, source);
        const invite = pendingInvitation(ctx.store, source, String(ctx.params.email));
        if (!invite) throw notFound();
        checkUnmodifiedSince(ctx, invite.updatedAt);
        if (!canDestroyMember(ctx.store, source, viewerOf(ctx), invite)) throw forbidden();
        ctx.store.removeMember(invite);
        ctx.status = 204;
      },
    },
  ];
}

export const invitationRoutes: ApiRoute[] = [...routesFor('project'), ...routesFor('group')];

/**
 * `User#accept_pending_invitations!`: once a user's e-mail address is confirmed, every pending
 * invitation sent to one of their confirmed addresses becomes a membership of that user (unless
 * they are already a member there, which leaves the invitation pending), and each inviter is told.
 * Returns the memberships created.
 */
export function acceptPendingInvitations(store: Store, user: User): Member[] {
  const emails: string[] = [];
  if (user.confirmedAt !== null) emails.push(user.email);
  for (const e of user.secondaryEmails) if (e.confirmedAt !== null) emails.push(e.email);
  if (emails.length === 0) return [];

  const sources: MemberSource[] = [
    ...[...store.groups.values()].map((group): MemberSource => ({ kind: 'group', group })),
    ...[...store.projects.values()].map((project): MemberSource => ({ kind: 'project', project })),
  ];
  const accepted: Member[] = [];
  for (const source of sources) {
    const ref = sourceRefOf(source);
    for (const email of emails) {
      const invite = pendingInvitation(store, source, email);
      if (!invite || store.directMember(ref, user.id)) continue;
      store.removeMember(invite);
      invite.userId = user.id;
      invite.inviteEmail = null;
      invite.inviteToken = null;
      invite.updatedAt = store.clock.nowMs();
      store.upsertMember(invite);
      accepted.push(invite);
      sendInviteAcceptedMail(store, source, invite);
    }
  }
  return accepted;
}
