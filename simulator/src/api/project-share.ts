import { projectGroupLinkEntity } from '../entities/project.js';
import type { ApiRoute } from '../http/app.js';
import { apiError, forbidden, notFound } from '../http/errors.js';
import { optional, requires } from '../http/grape.js';
import type { Store } from '../model/store.js';
import { ACCESS, ACCESS_LEVELS, type AccessLevel, type GroupLink } from '../model/types.js';
import {
  canAdminProject,
  canManageProjectOwners,
  checkUnmodifiedSince,
  findProjectOr404,
  projectGroup,
  viewerOf,
} from './access.js';
import { dateParam } from './member-service.js';

/**
 * Sharing a project with a group (`lib/api/projects.rb` `POST/DELETE :id/share`,
 * `app/services/projects/group_links/{create,destroy}_service.rb`, `app/services/concerns/group_linkable.rb`,
 * `app/models/project_group_link.rb`).
 */

const linkIds = new WeakMap<GroupLink, number>();
const linkSeq = new WeakMap<Store, number>();

/** Links made by seeds or `givenProjectShare` get their id when first shown. */
function linkId(store: Store, link: GroupLink): number {
  let id = linkIds.get(link);
  if (id === undefined) {
    id = (linkSeq.get(store) ?? 0) + 1;
    linkSeq.set(store, id);
    linkIds.set(link, id);
  }
  return id;
}

export const projectShareRoutes: ApiRoute[] = [
  {
    method: 'POST',
    path: '/projects/:id/share',
    auth: 'non_get',
    params: [
      requires('group_id', 'Integer'),
      requires('group_access', 'Integer', { values: ACCESS_LEVELS }),
      optional('expires_at', 'Date'),
    ],
    handler: (ctx) => {
      const { store } = ctx;
      const viewer = viewerOf(ctx);
      const project = findProjectOr404(ctx, ctx.params.id);
      if (!canAdminProject(store, project, viewer)) throw forbidden();
      const group = store.groups.get(ctx.params.group_id as number);
      const groupAccess = ctx.params.group_access as AccessLevel;

      // Projects::GroupLinks::CreateService#execute
      if (groupAccess === ACCESS.owner && !canManageProjectOwners(store, project, viewer))
        throw apiError('403 Forbidden', 403);
      // GroupLinkable#valid_to_create?: the caller must see the group through a membership.
      const viaMembership = group && (viewer.admin || store.groupAccess(group, viewer.user!.id) > 0);
      if (!group || !viaMembership) throw apiError('Not Found', 404);

      // ProjectGroupLink validations, reported as `full_messages.to_sentence` with 409.
      const own = projectGroup(store, project);
      if (own) {
        const ancestors = store.groupAncestry(own);
        if (own.id === group.id) throw apiError('Project cannot be shared with the group it is in.', 409);
        if (ancestors.includes(group))
          throw apiError('Project cannot be shared with the group it is in or one of its ancestors.', 409);
      }
      if (project.sharedWithGroups.some((l) => l.groupId === group.id))
        throw apiError('Group already shared with this group', 409);

      const link: GroupLink = {
        groupId: group.id,
        groupAccess,
        expiresAt: dateParam(ctx.raw.expires_at, ctx.params.expires_at),
        createdAt: store.clock.nowMs(),
      };
      project.sharedWithGroups.push(link);
      return projectGroupLinkEntity(project, link, linkId(store, link));
    },
  },
  {
    method: 'DELETE',
    path: '/projects/:id/share/:group_id',
    auth: 'non_get',
    params: [requires('group_id', 'Integer')],
    handler: (ctx) => {
      const { store } = ctx;
      const viewer = viewerOf(ctx);
      const project = findProjectOr404(ctx, ctx.params.id);
      if (!canAdminProject(store, project, viewer)) throw forbidden();
      const groupId = Number(ctx.params.group_id);
      const link = project.sharedWithGroups.find((l) => l.groupId === groupId);
      if (!link) throw notFound('Group Link');
      checkUnmodifiedSince(ctx, link.createdAt);
      // Projects::GroupLinks::DestroyService: an Owner share can only be removed by an Owner.
      if (link.groupAccess === ACCESS.owner && !canManageProjectOwners(store, project, viewer))
        throw apiError('403 Forbidden', 403);
      project.sharedWithGroups.splice(project.sharedWithGroups.indexOf(link), 1);
      ctx.status = 204;
    },
  },
];
