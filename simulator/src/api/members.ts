import { memberEntity } from '../entities/member.js';
import type { ApiRoute, RouteCtx } from '../http/app.js';
import { conflict, forbidden, notFound, recordNotFound, validationFailed } from '../http/errors.js';
import { atLeastOneOf, mutuallyExclusive, optional, paginationParams, requires } from '../http/grape.js';
import type { Store } from '../model/store.js';
import { ACCESS, type Member, type User } from '../model/types.js';
import {
  canManageProjectOwners,
  cannotManageGroupOwners,
  checkUnmodifiedSince,
  findGroupOr404,
  findProjectOr404,
  type MemberSource,
  projectGroup,
  sourceRefOf,
  viewerOf,
} from './access.js';
import {
  addMany,
  applyMemberChanges,
  assertMayAssignOwner,
  canDestroyMember,
  canUpdateMember,
  commitMember,
  dateParam,
  destroyMember,
  rubySplitComma,
  validateMembership,
} from './member-service.js';

/**
 * The Members API (`lib/api/members.rb`, `lib/api/helpers/members_helpers.rb`) for projects and
 * groups. Sources are found by id or URL-encoded full path; anything the caller cannot see is a 404.
 */

export type SourceType = 'project' | 'group';

export function findSource(ctx: RouteCtx, type: SourceType): MemberSource {
  return type === 'project'
    ? { kind: 'project', project: findProjectOr404(ctx, ctx.params.id) }
    : { kind: 'group', group: findGroupOr404(ctx, ctx.params.id) };
}

/** `User.search(query, use_minimum_char_limit: false)`: name or username contains, or exact public e-mail. */
function userMatches(user: User, query: string): boolean {
  const q = query.replace(/^@/, '').toLowerCase();
  if (q === '') return true;
  if (user.publicEmail && user.publicEmail.toLowerCase() === q) return true;
  return user.name.toLowerCase().includes(q) || user.username.toLowerCase().includes(q);
}

function filterMembers(store: Store, members: Member[], params: Record<string, unknown>): Member[] {
  const query = typeof params.query === 'string' && params.query !== '' ? params.query : undefined;
  const userIds =
    Array.isArray(params.user_ids) && params.user_ids.length > 0 ? new Set(params.user_ids) : undefined;
  const skip = Array.isArray(params.skip_users) ? new Set(params.skip_users) : undefined;
  return members.filter((m) => {
    if (m.userId === null) return false;
    if (userIds && !userIds.has(m.userId)) return false;
    if (skip?.has(m.userId)) return false;
    if (query === undefined) return true;
    const user = store.users.get(m.userId);
    return user !== undefined && userMatches(user, query);
  });
}

/**
 * `find_all_members`: direct members, members of the groups above the source and, for projects,
 * members of the groups the project is shared with (their access capped at the share's level).
 * One row per user, the one with the highest access; ordered by membership creation.
 */
export function allMembers(store: Store, source: MemberSource): Member[] {
  const candidates: Member[] = [];
  const collectGroupChain = (start: MemberSource & { kind: 'group' }, cap?: number) => {
    for (const g of store.groupAncestry(start.group)) {
      for (const m of store.directMembers({ type: 'Namespace', id: g.id })) {
        if (m.userId === null) continue;
        candidates.push(cap !== undefined && m.accessLevel > cap ? { ...m, accessLevel: cap } : m);
      }
    }
  };
  if (source.kind === 'project') {
    for (const m of store.directMembers(sourceRefOf(source))) if (m.userId !== null) candidates.push(m);
    const group = projectGroup(store, source.project);
    if (group) collectGroupChain({ kind: 'group', group });
    for (const link of source.project.sharedWithGroups) {
      if (link.expiresAt !== null && link.expiresAt <= store.clock.today()) continue;
      const shared = store.groups.get(link.groupId);
      if (shared) collectGroupChain({ kind: 'group', group: shared }, link.groupAccess);
    }
  } else {
    collectGroupChain(source);
  }
  const best = new Map<number, { member: Member; order: number }>();
  candidates.forEach((m, order) => {
    const current = best.get(m.userId!);
    if (!current || m.accessLevel > current.member.accessLevel) best.set(m.userId!, { member: m, order });
  });
  return [...best.values()]
    .sort((a, b) => a.member.createdAt - b.member.createdAt || a.order - b.order)
    .map((e) => e.member);
}

const memberParam = (ctx: RouteCtx) => Number(ctx.params.user_id);

function routesFor(type: SourceType): ApiRoute[] {
  const base = `/${type}s/:id/members`;
  return [
    {
      method: 'GET',
      path: base,
      auth: 'required',
      params: [
        optional('query', 'String'),
        optional('user_ids', 'Array[Integer]'),
        optional('skip_users', 'Array[Integer]'),
        optional('show_seat_info', 'Boolean'),
        ...paginationParams(),
      ],
      handler: (ctx) => {
        const source = findSource(ctx, type);
        const members = filterMembers(ctx.store, ctx.store.directMembers(sourceRefOf(source)), ctx.params);
        return ctx.paginate(members).map((m) => memberEntity(ctx.store, m));
      },
    },
    {
      method: 'GET',
      path: `${base}/all`,
      auth: 'required',
      params: [
        optional('query', 'String'),
        optional('user_ids', 'Array[Integer]'),
        optional('show_seat_info', 'Boolean'),
        ...paginationParams(),
      ],
      handler: (ctx) => {
        const source = findSource(ctx, type);
        const members = filterMembers(ctx.store, allMembers(ctx.store, source), ctx.params);
        return ctx.paginate(members).map((m) => memberEntity(ctx.store, m));
      },
    },
    {
      method: 'GET',
      path: `${base}/all/:user_id`,
      auth: 'required',
      params: [requires('user_id', 'Integer')],
      handler: (ctx) => {
        const source = findSource(ctx, type);
        const userId = memberParam(ctx);
        const member = allMembers(ctx.store, source).find((m) => m.userId === userId);
        if (!member) throw recordNotFound();
        return memberEntity(ctx.store, member);
      },
    },
    {
      method: 'GET',
      path: `${base}/:user_id`,
      auth: 'required',
      params: [requires('user_id', 'Integer')],
      handler: (ctx) => {
        const source = findSource(ctx, type);
        const member = ctx.store.directMember(sourceRefOf(source), memberParam(ctx));
        if (!member) throw recordNotFound();
        return memberEntity(ctx.store, member);
      },
    },
    {
      method: 'POST',
      path: base,
      auth: 'required',
      params: [
        requires('access_level', 'Integer'),
        optional('user_id', 'IntegerOrString'),
        optional('username', 'String'),
        optional('expires_at', 'DateTime'),
        optional('invite_source', 'String', { default: 'members-api' }),
        mutuallyExclusive('user_id', 'username'),
        atLeastOneOf('user_id', 'username'),
      ],
      handler: (ctx) => addMember(ctx, type),
    },
    {
      method: 'PUT',
      path: `${base}/:user_id`,
      auth: 'required',
      params: [
        requires('user_id', 'Integer'),
        requires('access_level', 'Integer'),
        optional('expires_at', 'DateTime'),
      ],
      handler: (ctx) => {
        const source = findSource(ctx, type);
        const member = ctx.store.directMember(sourceRefOf(source), memberParam(ctx));
        if (!member) throw recordNotFound();
        const changes: { accessLevel: number; expiresAt?: string | null } = {
          accessLevel: ctx.params.access_level as number,
        };
        if ('expires_at' in ctx.params)
          changes.expiresAt = dateParam(ctx.raw.expires_at, ctx.params.expires_at);
        updateMember(ctx, source, member, changes);
        return memberEntity(ctx.store, member);
      },
    },
    {
      method: 'DELETE',
      path: `${base}/:user_id`,
      auth: 'required',
      params: [
        requires('user_id', 'Integer'),
        optional('skip_subresources', 'Boolean', { default: false }),
        optional('unassign_issuables', 'Boolean', { default: false }),
      ],
      handler: (ctx) => {
        const source = findSource(ctx, type);
        const member = ctx.store.directMember(sourceRefOf(source), memberParam(ctx));
        if (!member) throw recordNotFound();
        checkUnmodifiedSince(ctx, member.updatedAt);
        if (!canDestroyMember(ctx.store, source, viewerOf(ctx), member)) throw forbidden();
        destroyMember(ctx.store, source, member, { skipSubresources: ctx.params.skip_subresources === true });
        ctx.status = 204;
      },
    },
  ];
}

/**
 * `POST …/members`: a comma in `user_id`/`username` answers with the service hash; a single user is
 * looked up (404), checked for an existing membership (409), then created (403 / 400 / 201).
 */
function addMember(ctx: RouteCtx, type: SourceType): unknown {
  const source = findSource(ctx, type);
  const caller = ctx.user().user;
  const viewer = viewerOf(ctx);
  const { store } = ctx;
  const accessLevel = ctx.params.access_level as number;
  const expiresAt = dateParam(ctx.raw.expires_at, ctx.params.expires_at);
  const userId = ctx.params.user_id;
  const username = ctx.params.username;

  const multiple =
    (typeof userId === 'string' && userId.includes(',')) ||
    (typeof username === 'string' && username.includes(','));
  if (multiple) {
    return addMany(
      store,
      source,
      {
        userIds: typeof userId === 'string' ? rubySplitComma(userId) : userId != null ? [String(userId)] : [],
        usernames: typeof username === 'string' ? rubySplitComma(username) : [],
        emails: [],
        accessLevel,
        expiresAt,
        mode: 'members',
      },
      viewer,
      caller,
    );
  }

  let user: User | undefined;
  if (typeof userId === 'number') user = store.users.get(userId);
  else if (typeof username === 'string' && username !== '') user = store.findUserByUsername(username);
  if (!user) throw notFound('User');
  if (store.directMember(sourceRefOf(source), user.id)) throw conflict('Member already exists');

  assertMayAssignOwner(store, source, viewer, accessLevel);
  // A group Owner role offered by someone who is not an Owner adds nobody and reports nothing.
  if (
    source.kind === 'group' &&
    accessLevel === ACCESS.owner &&
    cannotManageGroupOwners(store, source.group, viewer)
  )
    return null;

  const result = commitMember(store, source, { user }, accessLevel, expiresAt, viewer, caller);
  if (result.unauthorized) throw forbidden();
  if (!result.saved) throw validationFailed(result.errors);
  return memberEntity(store, result.member);
}

/**
 * `Members::UpdateService`: the caller must be allowed to update the member, and only project
 * Owners may promote someone to Owner or demote an Owner (403); validation failures are 400.
 */
export function updateMember(
  ctx: RouteCtx,
  source: MemberSource,
  member: Member,
  changes: { accessLevel?: number; expiresAt?: string | null },
): void {
  const { store } = ctx;
  const viewer = viewerOf(ctx);
  if (!canUpdateMember(store, source, viewer, member)) throw forbidden();
  if (source.kind === 'project' && changes.accessLevel !== undefined) {
    const upgrading = changes.accessLevel === ACCESS.owner && member.accessLevel !== ACCESS.owner;
    const downgrading = member.accessLevel === ACCESS.owner && changes.accessLevel < ACCESS.owner;
    if ((upgrading || downgrading) && !canManageProjectOwners(store, source.project, viewer))
      throw forbidden();
  }
  const next = {
    userId: member.userId,
    accessLevel: changes.accessLevel ?? member.accessLevel,
    expiresAt: changes.expiresAt !== undefined ? changes.expiresAt : member.expiresAt,
  };
  const errors = validateMembership(store, source, next);
  if (Object.keys(errors).length > 0) throw validationFailed(errors);
  applyMemberChanges(store, source, member, changes);
}

export const memberRoutes: ApiRoute[] = [...routesFor('project'), ...routesFor('group')];
