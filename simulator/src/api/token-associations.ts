import { accessLevels, namespaceBasic, projectIdentity } from '../entities/project.js';
import type { RouteCtx } from '../http/app.js';
import { optional, paginationParams, validateParams } from '../http/grape.js';
import { paginateOffset } from '../http/pagination.js';
import { ACCESS, ACCESS_LEVELS } from '../model/types.js';
import { canReadProject, groupWebUrl, projectWebUrl, viewerOf } from './access.js';
import { findGroups } from './groups.js';
import { filterProjects } from './projects.js';

const PARAMS = [optional('min_access_level', 'Integer', { values: ACCESS_LEVELS }), ...paginationParams()];

/**
 * `GET /personal_access_tokens/self/associations` (`lib/api/personal_access_tokens/self_information.rb`,
 * `lib/api/entities/personal_access_token_associations.rb`): the groups (`GroupsFinder`) and projects
 * (`ProjectsFinder`) the token's user can reach, each paginated with the same params. Parameters are
 * validated after the personal-access-token check, as GitLab's `before` blocks run first.
 */
export function tokenAssociations(ctx: RouteCtx): unknown {
  const { store } = ctx;
  const params = validateParams(ctx.raw, PARAMS);
  const viewer = viewerOf(ctx);
  const user = ctx.user().user;
  const min = params.min_access_level as number | undefined;
  const pageRequest = { ...ctx.pageRequest(), params: { ...ctx.raw, ...params } };

  const groups = findGroups(store, viewer, { minAccessLevel: min }).sort((a, b) => b.id - a.id);
  let projects = [...store.projects.values()].filter((p) => canReadProject(store, p, viewer));
  projects = filterProjects(store, projects, viewer, { min_access_level: min }).sort((a, b) => b.id - a.id);

  const groupPage = ctx.usePage(paginateOffset(groups, pageRequest, { enforcedType: 'Group' }));
  const projectPage = ctx.usePage(paginateOffset(projects, pageRequest));
  return {
    groups: groupPage.map((g) => ({
      id: g.id,
      web_url: groupWebUrl(store, g),
      name: g.name,
      parent_id: g.parentId,
      organization_id: 1,
      access_levels: viewer.admin ? ACCESS.owner : store.groupAccess(g, user.id),
      visibility: g.visibility,
    })),
    projects: projectPage.map((p) => {
      const levels = accessLevels(store, p, user.id);
      const out = projectIdentity(store, p);
      out.access_levels = { project_access_level: levels.project, group_access_level: levels.group };
      out.visibility = p.visibility;
      out.web_url = projectWebUrl(store, p);
      out.namespace = namespaceBasic(store, store.projectNamespace(p));
      return out;
    }),
  };
}
