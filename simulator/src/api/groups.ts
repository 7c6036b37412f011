import { groupDetailEntity, groupEntity } from '../entities/group.js';
import { basicProjectDetails, projectEntity } from '../entities/project.js';
import type { ApiRoute, RouteCtx } from '../http/app.js';
import { apiError, forbidden } from '../http/errors.js';
import { optional, paginationParams, type Rule, requires } from '../http/grape.js';
import { fieldOrder, keysetUnavailable, paginateKeyset } from '../http/pagination.js';
import type { Store } from '../model/store.js';
import { ACCESS, ACCESS_LEVELS, type Group, VISIBILITIES, type Visibility } from '../model/types.js';
import {
  NAMESPACE_FORMAT_MESSAGE,
  OCI_PATH_MESSAGE,
  OCI_PATH_REGEX,
  TOP_LEVEL_ROUTES,
  type ValidationErrors,
} from '../model/user-rules.js';
import {
  canReadProject,
  findGroupOr404,
  fuzzyMatches,
  similarityScore,
  type Viewer,
  viewerOf,
} from './access.js';
import {
  endsWithGitOrAtom,
  errorCollector,
  GROUP_NAME_MESSAGE,
  GROUP_NAME_REGEXP,
  LEGACY_NAMESPACE_PATH_REGEXP,
  rubyInspect,
  WILDCARD_ROUTES,
} from './path-rules.js';
import { filterProjects, projectFilterParams, sortProjects } from './projects.js';

/**
 * The Groups API (`lib/api/groups.rb`, `app/finders/groups_finder.rb`,
 * `app/services/groups/create_service.rb`, `app/models/namespace.rb`, `app/models/group.rb`).
 */

const visibilityRank = (v: Visibility) => VISIBILITIES.indexOf(v);

/** `User#authorized_groups`: groups of direct memberships with their descendants, plus the groups of projects the user can access. */
function authorizedGroupIds(store: Store, userId: number): Set<number> {
  const ids = new Set<number>();
  for (const m of store.membershipsOf(userId)) {
    if (store.isExpired(m) || m.source.type !== 'Namespace') continue;
    const g = store.groups.get(m.source.id);
    if (g) for (const d of store.groupDescendants(g)) ids.add(d.id);
  }
  for (const p of store.projects.values()) {
    const ns = store.namespaces.get(p.namespaceId);
    if (ns?.kind !== 'group' || ids.has(ns.id)) continue;
    if (store.projectAccess(p, userId) > 0) ids.add(ns.id);
  }
  return ids;
}

/** `Group.public_to_user`: public groups, and internal ones for signed-in non-external users. */
function publicToUser(group: Group, viewer: Viewer): boolean {
  return (
    group.visibility === 'public' ||
    (group.visibility === 'internal' && !!viewer.user && !viewer.user.external)
  );
}

export interface GroupFinderParams {
  allAvailable?: boolean;
  owned?: boolean;
  minAccessLevel?: number;
}

/** `GroupsFinder#all_groups` */
export function findGroups(store: Store, viewer: Viewer, params: GroupFinderParams): Group[] {
  const user = viewer.user;
  const all = [...store.groups.values()];
  if (user && params.owned) {
    return all.filter((g) => {
      const m = store.directMember({ type: 'Namespace', id: g.id }, user.id);
      return m !== undefined && !store.isExpired(m) && m.accessLevel === ACCESS.owner;
    });
  }
  if (user && params.minAccessLevel !== undefined) {
    const min = params.minAccessLevel;
    return all.filter((g) => store.groupAccess(g, user.id) >= min);
  }
  const allAvailable = params.allAvailable ?? true;
  if (viewer.admin && allAvailable) return all;
  const authorized = user ? authorizedGroupIds(store, user.id) : new Set<number>();
  const includePublic = !user || allAvailable;
  return all.filter((g) => authorized.has(g.id) || (includePublic && publicToUser(g, viewer)));
}

const LIST_PARAMS: Rule[] = [
  optional('statistics', 'Boolean', { default: false }),
  optional('skip_groups', 'Array[Integer]'),
  optional('all_available', 'Boolean'),
  optional('visibility', 'String', { values: VISIBILITIES }),
  optional('search', 'String'),
  optional('owned', 'Boolean', { default: false }),
  optional('order_by', 'String', { values: ['name', 'path', 'id', 'similarity'], default: 'name' }),
  optional('sort', 'String', { values: ['asc', 'desc'], default: 'asc' }),
  optional('min_access_level', 'Integer', { values: ACCESS_LEVELS }),
  optional('top_level_only', 'Boolean'),
  ...paginationParams(),
  optional('with_custom_attributes', 'Boolean', { default: false }),
  optional('custom_attributes', 'Hash'),
];

/**
 * `find_groups` + `present_groups`: the finder, then search, exclusions, parent scoping, ordering
 * (name asc with an id tie-breaker by default) and offset or keyset pagination.
 */
function listGroups(ctx: RouteCtx, scope: { parent?: Group; descendants?: boolean }): unknown {
  const { store, params } = ctx;
  const viewer = viewerOf(ctx);
  const admin = viewer.admin;
  let groups = findGroups(store, viewer, {
    allAvailable: (params.all_available as boolean | undefined) ?? admin,
    owned: params.owned === true,
    minAccessLevel: params.min_access_level as number | undefined,
  });
  if (scope.parent) {
    const parent = scope.parent;
    const below = scope.descendants
      ? new Set(store.groupDescendants(parent).map((g) => g.id))
      : new Set([...store.groups.values()].filter((g) => g.parentId === parent.id).map((g) => g.id));
    below.delete(parent.id);
    groups = groups.filter((g) => below.has(g.id));
  }
  if (params.top_level_only === true) groups = groups.filter((g) => g.parentId === null);
  if (typeof params.visibility === 'string')
    groups = groups.filter((g) => g.visibility === params.visibility);
  const search = typeof params.search === 'string' && params.search !== '' ? params.search : undefined;
  if (search !== undefined) {
    groups = groups.filter((g) => fuzzyMatches(search, [g.path, g.name, g.fullPath, g.fullName]));
  }
  const skip = Array.isArray(params.skip_groups) ? new Set(params.skip_groups) : undefined;
  if (skip) groups = groups.filter((g) => !skip.has(g.id));
  const attrs = params.custom_attributes;
  if (admin && attrs && typeof attrs === 'object') {
    const wanted = Object.entries(attrs as Record<string, unknown>);
    groups = groups.filter((g) => wanted.every(([k, v]) => g.customAttributes.get(k) === String(v)));
  }

  const orderBy = params.order_by as string;
  const sort = params.sort as 'asc' | 'desc';
  if (orderBy === 'similarity' && search !== undefined) {
    groups.sort(
      (a, b) =>
        similarityScore(search, [b.path, b.name]) - similarityScore(search, [a.path, a.name]) ||
        (b.parentId ?? -1) - (a.parentId ?? -1) ||
        a.id - b.id,
    );
  } else {
    const field = orderBy === 'similarity' ? 'name' : orderBy;
    const get = (g: Group): string | number => (field === 'id' ? g.id : field === 'path' ? g.path : g.name);
    const sign = sort === 'asc' ? 1 : -1;
    groups.sort((a, b) => {
      const x = get(a);
      const y = get(b);
      return (x < y ? -sign : x > y ? sign : 0) || a.id - b.id;
    });
  }

  let page: Group[];
  if (ctx.raw.pagination === 'keyset') {
    // `Group.supported_keyset_orderings`: name ascending only.
    if (orderBy !== 'name' || sort !== 'asc') {
      throw keysetUnavailable();
    }
    page = ctx.usePage(
      paginateKeyset(
        groups,
        ctx.pageRequest(),
        fieldOrder<Group>('name', (g) => g.name, 'asc'),
      ),
    );
  } else {
    page = ctx.paginate(groups, { enforcedType: 'Group' });
  }
  const opts = {
    withCustomAttributes: admin && params.with_custom_attributes === true,
    statistics: admin && params.statistics === true,
  };
  return page.map((g) => groupEntity(store, g, opts));
}

function validateGroup(
  store: Store,
  input: { name: string; path: string; description: string; visibility: Visibility; parent?: Group },
): ValidationErrors {
  const { errors, add } = errorCollector();
  const { name, path, parent } = input;
  if (name.trim() === '') add('name', "can't be blank");
  else if (name.length > 255) add('name', 'is too long (maximum is 255 characters)');
  if (parent) {
    const sibling = [...store.groups.values()].some(
      (g) => g.parentId === parent.id && g.name.toLowerCase() === name.toLowerCase(),
    );
    if (sibling) add('name', 'has already been taken');
  }
  if (name.trim() !== '' && !GROUP_NAME_REGEXP.test(name)) add('name', GROUP_NAME_MESSAGE);
  if (input.description.length > 255) add('description', 'is too long (maximum is 255 characters)');
  if (path === '') add('path', "can't be blank");
  else if (path.length > 255) add('path', 'is too long (maximum is 255 characters)');
  if (path !== '') {
    const reserved = parent ? WILDCARD_ROUTES : TOP_LEVEL_ROUTES;
    if (reserved.has(path.toLowerCase())) add('path', `${path} is a reserved name`);
    else if (!LEGACY_NAMESPACE_PATH_REGEXP.test(path) || endsWithGitOrAtom(path))
      add('path', NAMESPACE_FORMAT_MESSAGE);
    if (path.length < 2) add('path', 'is too short (minimum is 2 characters)');
    if (!OCI_PATH_REGEX.test(path) || endsWithGitOrAtom(path)) add('path', OCI_PATH_MESSAGE);
    const fullPath = parent ? `${parent.fullPath}/${path}` : path;
    if (store.findNamespaceByPath(fullPath)) add('path', 'has already been taken');
  }
  if (parent && visibilityRank(input.visibility) > visibilityRank(parent.visibility)) {
    add(
      'visibility_level',
      `${input.visibility} is not allowed since the parent group has a ${parent.visibility} visibility.`,
    );
  }
  return errors;
}

/** The projects a group page shows: its own (id desc) and those shared with it, as the caller may see them. */
function groupDetail(ctx: RouteCtx, group: Group, withCustomAttributes: boolean): Record<string, unknown> {
  const { store } = ctx;
  const viewer = viewerOf(ctx);
  const visible = [...store.projects.values()]
    .filter((p) => canReadProject(store, p, viewer))
    .sort((a, b) => b.id - a.id);
  const render = (list: typeof visible) => list.map((p) => projectEntity(store, p, viewer));
  return groupDetailEntity(store, group, {
    withCustomAttributes,
    projects: render(visible.filter((p) => p.namespaceId === group.id)),
    sharedProjects: render(visible.filter((p) => p.sharedWithGroups.some((l) => l.groupId === group.id))),
  });
}

export const groupRoutes: ApiRoute[] = [
  {
    method: 'GET',
    path: '/groups',
    auth: 'non_get',
    params: LIST_PARAMS,
    handler: (ctx) => listGroups(ctx, {}),
  },
  {
    method: 'POST',
    path: '/groups',
    auth: 'non_get',
    params: [
      requires('name', 'String'),
      requires('path', 'String'),
      optional('parent_id', 'Integer'),
      optional('description', 'String'),
      optional('visibility', 'String', { values: VISIBILITIES }),
      optional('request_access_enabled', 'Boolean'),
      optional('share_with_group_lock', 'Boolean'),
      optional('require_two_factor_authentication', 'Boolean'),
      optional('two_factor_grace_period', 'Integer'),
      optional('project_creation_level', 'String', {
        values: ['noone', 'maintainer', 'developer', 'administrator', 'owner'],
      }),
      optional('subgroup_creation_level', 'String', { values: ['owner', 'maintainer'] }),
      optional('lfs_enabled', 'Boolean'),
      optional('emails_enabled', 'Boolean'),
      optional('default_branch', 'String'),
    ],
    handler: (ctx) => {
      const { store, params } = ctx;
      const caller = ctx.user().user;
      const viewer = viewerOf(ctx);
      const parent = params.parent_id != null ? findGroupOr404(ctx, params.parent_id) : undefined;
      if (parent) {
        // `create_subgroup`: the default subgroup creation level is Maintainer.
        if (!viewer.admin && store.groupAccess(parent, caller.id) < ACCESS.maintainer) throw forbidden();
      } else if (!viewer.admin && !(caller.canCreateGroup && !caller.external)) {
        throw forbidden();
      }
      const input = {
        name: String(params.name ?? ''),
        path: String(params.path ?? ''),
        description: typeof params.description === 'string' ? params.description : '',
        visibility: (params.visibility as Visibility | undefined) ?? 'private',
        parent,
      };
      const errors = validateGroup(store, input);
      if (Object.keys(errors).length > 0) throw apiError(`Failed to save group ${rubyInspect(errors)}`, 400);
      const group = store.insertGroup({
        name: input.name,
        path: input.path,
        parentId: parent?.id ?? null,
        description: input.description,
        visibility: input.visibility,
        requestAccessEnabled: (params.request_access_enabled as boolean | undefined) ?? true,
      });
      store.addUserMember({ type: 'Namespace', id: group.id }, caller.id, ACCESS.owner);
      return groupDetailEntity(store, group, { projects: [], sharedProjects: [] });
    },
  },
  {
    method: 'GET',
    path: '/groups/:id',
    auth: 'non_get',
    params: [
      optional('with_custom_attributes', 'Boolean', { default: false }),
      optional('with_projects', 'Boolean', { default: true }),
    ],
    handler: (ctx) => {
      const group = findGroupOr404(ctx, ctx.params.id);
      const withCustomAttributes = ctx.isAdmin && ctx.params.with_custom_attributes === true;
      if (ctx.params.with_projects === false) return groupEntity(ctx.store, group, { withCustomAttributes });
      return groupDetail(ctx, group, withCustomAttributes);
    },
  },
  {
    method: 'GET',
    path: '/groups/:id/subgroups',
    auth: 'non_get',
    params: LIST_PARAMS,
    handler: (ctx) => listGroups(ctx, { parent: findGroupOr404(ctx, ctx.params.id) }),
  },
  {
    method: 'GET',
    path: '/groups/:id/descendant_groups',
    auth: 'non_get',
    params: LIST_PARAMS,
    handler: (ctx) => listGroups(ctx, { parent: findGroupOr404(ctx, ctx.params.id), descendants: true }),
  },
  {
    method: 'GET',
    path: '/groups/:id/projects',
    auth: 'non_get',
    params: [
      ...projectFilterParams(['archived', 'visibility', 'search', 'owned', 'starred', 'min_access_level']),
      optional('order_by', 'String', {
        values: [
          'id',
          'name',
          'path',
          'created_at',
          'updated_at',
          'last_activity_at',
          'similarity',
          'star_count',
        ],
        default: 'created_at',
      }),
      optional('sort', 'String', { values: ['asc', 'desc'], default: 'desc' }),
      optional('simple', 'Boolean', { default: false }),
      optional('with_issues_enabled', 'Boolean', { default: false }),
      optional('with_merge_requests_enabled', 'Boolean', { default: false }),
      optional('with_shared', 'Boolean', { default: true }),
      optional('include_subgroups', 'Boolean', { default: false }),
      ...paginationParams(),
      optional('with_custom_attributes', 'Boolean', { default: false }),
    ],
    handler: (ctx) => {
      const { store, params } = ctx;
      const viewer = viewerOf(ctx);
      const group = findGroupOr404(ctx, params.id);
      const inside = new Set(
        params.include_subgroups === true ? store.groupDescendants(group).map((g) => g.id) : [group.id],
      );
      let projects = [...store.projects.values()].filter(
        (p) =>
          (inside.has(p.namespaceId) ||
            (params.with_shared === true && p.sharedWithGroups.some((l) => l.groupId === group.id))) &&
          canReadProject(store, p, viewer),
      );
      projects = filterProjects(store, projects, viewer, params);
      projects = sortProjects(
        projects,
        params.order_by as string,
        params.sort as 'asc' | 'desc',
        params.search,
      );
      const withCustomAttributes = viewer.admin && params.with_custom_attributes === true;
      return ctx
        .paginate(projects)
        .map((p) =>
          params.simple === true
            ? basicProjectDetails(store, p, viewer, { withCustomAttributes })
            : projectEntity(store, p, viewer, { withCustomAttributes }),
        );
    },
  },
];
