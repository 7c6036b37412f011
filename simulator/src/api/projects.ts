import { basicProjectDetails, projectEntity, projectWithAccess } from '../entities/project.js';
import type { ApiRoute, RouteCtx } from '../http/app.js';
import { ApiError, badRequest, validationFailed } from '../http/errors.js';
import { atLeastOneOf, optional, type ParamSpec, paginationParams, requires } from '../http/grape.js';
import { fieldOrder, keysetUnavailable, paginateKeyset } from '../http/pagination.js';
import type { Store } from '../model/store.js';
import { ACCESS, ACCESS_LEVELS, type Project, VISIBILITIES, type Visibility } from '../model/types.js';
import { OCI_PATH_MESSAGE, OCI_PATH_REGEX } from '../model/user-rules.js';
import {
  canAdminProject,
  canReadProject,
  findProjectOr404,
  fuzzyMatches,
  similarityScore,
  type Viewer,
  viewerOf,
} from './access.js';
import {
  endsWithGitOrAtom,
  errorCollector,
  LEGACY_PROJECT_PATH_MESSAGE,
  LEGACY_PROJECT_PATH_REGEXP,
  PROJECT_NAME_MESSAGE,
  PROJECT_NAME_REGEXP,
  parameterize,
  WILDCARD_ROUTES,
} from './path-rules.js';

/**
 * The Projects API (`lib/api/projects.rb`, `app/finders/projects_finder.rb`,
 * `app/services/projects/create_service.rb`, `app/models/project.rb`).
 */

const visibilityRank = (v: Visibility) => VISIBILITIES.indexOf(v);

/** `params :filter_params` of `lib/api/projects.rb`, in declaration order. */
const FILTER_PARAMS: ParamSpec[] = [
  optional('archived', 'Boolean'),
  optional('visibility', 'String', { values: VISIBILITIES }),
  optional('search', 'String'),
  optional('search_namespaces', 'Boolean'),
  optional('owned', 'Boolean', { default: false }),
  optional('starred', 'Boolean', { default: false }),
  optional('imported', 'Boolean', { default: false }),
  optional('membership', 'Boolean', { default: false }),
  optional('with_issues_enabled', 'Boolean', { default: false }),
  optional('with_merge_requests_enabled', 'Boolean', { default: false }),
  optional('with_programming_language', 'String'),
  optional('min_access_level', 'Integer', { values: ACCESS_LEVELS }),
  optional('id_after', 'Integer'),
  optional('id_before', 'Integer'),
  optional('last_activity_after', 'DateTime'),
  optional('last_activity_before', 'DateTime'),
  optional('repository_storage', 'String'),
  optional('topic', 'Array[String]'),
  optional('topic_id', 'Integer'),
  optional('updated_before', 'DateTime'),
  optional('updated_after', 'DateTime'),
  optional('include_pending_delete', 'Boolean'),
];

/** A subset of the project filters (other project listings declare fewer). */
export function projectFilterParams(names: readonly string[]): ParamSpec[] {
  return FILTER_PARAMS.filter((p) => names.includes(p.name));
}

const ORDER_BY = [
  'id',
  'name',
  'path',
  'created_at',
  'updated_at',
  'last_activity_at',
  'similarity',
  'star_count',
];

/**
 * `ProjectsFinder`'s filters over an already visible collection. `owned`, `min_access_level` and
 * `membership` use the caller's effective access (direct, inherited from groups, through shares);
 * admins get no implicit access here.
 */
export function filterProjects(
  store: Store,
  projects: Project[],
  viewer: Viewer,
  params: Record<string, unknown>,
): Project[] {
  const user = viewer.user;
  const access = (p: Project) => (user ? store.projectAccess(p, user.id) : 0);
  let out = projects;
  if (params.owned === true) out = user ? out.filter((p) => access(p) >= ACCESS.owner) : [];
  else if (typeof params.min_access_level === 'number') {
    const min = params.min_access_level;
    out = user ? out.filter((p) => access(p) >= min) : [];
  } else if (params.membership === true) out = user ? out.filter((p) => access(p) > 0) : [];

  if (typeof params.archived === 'boolean') out = out.filter((p) => p.archived === params.archived);
  if (typeof params.visibility === 'string') out = out.filter((p) => p.visibility === params.visibility);
  const search = typeof params.search === 'string' && params.search !== '' ? params.search : undefined;
  if (search !== undefined) {
    out = out.filter((p) => {
      const fields = [p.name, p.path, p.description];
      if (params.search_namespaces === true)
        fields.push(store.projectFullPath(p), store.projectNameWithNamespace(p));
      return fuzzyMatches(search, fields);
    });
  }
  // Nothing is starred, imported, written in a detected language or tagged with a topic id here.
  if (
    params.starred === true ||
    params.imported === true ||
    typeof params.with_programming_language === 'string' ||
    typeof params.topic_id === 'number'
  )
    out = [];
  if (typeof params.id_after === 'number') out = out.filter((p) => p.id > (params.id_after as number));
  if (typeof params.id_before === 'number') out = out.filter((p) => p.id < (params.id_before as number));
  const after = (v: unknown) => (v instanceof Date ? v.getTime() : undefined);
  const activityAfter = after(params.last_activity_after);
  const activityBefore = after(params.last_activity_before);
  const updatedAfter = after(params.updated_after);
  const updatedBefore = after(params.updated_before);
  if (activityAfter !== undefined) out = out.filter((p) => p.lastActivityAt > activityAfter);
  if (activityBefore !== undefined) out = out.filter((p) => p.lastActivityAt < activityBefore);
  if (updatedAfter !== undefined) out = out.filter((p) => p.lastActivityAt > updatedAfter);
  if (updatedBefore !== undefined) out = out.filter((p) => p.lastActivityAt < updatedBefore);
  if (Array.isArray(params.topic) && params.topic.length > 0) {
    const topics = (params.topic as string[]).map((t) => t.toLowerCase());
    out = out.filter((p) => topics.every((t) => p.topics.some((pt) => pt.toLowerCase() === t)));
  }
  return out;
}

/**
 * `order_options_with_tie_breaker`: `created_at` is ordered as `id`, every order gets an `id`
 * tie-breaker in the same direction; `similarity` only orders when searching.
 */
export function sortProjects(
  projects: Project[],
  orderBy: string,
  sort: 'asc' | 'desc',
  search?: unknown,
): Project[] {
  const sign = sort === 'asc' ? 1 : -1;
  if (orderBy === 'similarity' && typeof search === 'string' && search !== '') {
    return [...projects].sort(
      (a, b) =>
        similarityScore(search, [b.name, b.path]) - similarityScore(search, [a.name, a.path]) || b.id - a.id,
    );
  }
  const key = (p: Project): string | number => {
    switch (orderBy) {
      case 'name':
        return p.name;
      case 'path':
        return p.path;
      case 'updated_at':
      case 'last_activity_at':
        return p.lastActivityAt;
      case 'star_count':
        return 0;
      default:
        return p.id;
    }
  };
  return [...projects].sort((a, b) => {
    const x = key(a);
    const y = key(b);
    return (x < y ? -sign : x > y ? sign : 0) || sign * (a.id - b.id);
  });
}

function presentListEntry(ctx: RouteCtx, p: Project, viewer: Viewer): Record<string, unknown> {
  const withCustomAttributes = viewer.admin && ctx.params.with_custom_attributes === true;
  if (ctx.params.simple === true || !viewer.user)
    return basicProjectDetails(ctx.store, p, viewer, { withCustomAttributes });
  return projectWithAccess(ctx.store, p, viewer, { withCustomAttributes });
}

function listProjects(ctx: RouteCtx): unknown {
  const { store, params } = ctx;
  const viewer = viewerOf(ctx);
  if (
    (params.updated_before !== undefined || params.updated_after !== undefined) &&
    params.order_by !== 'updated_at'
  )
    throw badRequest('`updated_at` filter and `updated_at` sorting must be paired');

  let projects = [...store.projects.values()].filter((p) => canReadProject(store, p, viewer));
  let orderBy = params.order_by as string;
  const search = params.search;
  if (orderBy === 'similarity') {
    // Ordering by similarity limits the list to the caller's own projects.
    if (typeof search === 'string' && search !== '' && viewer.user) {
      const user = viewer.user;
      projects = projects.filter((p) => store.projectAccess(p, user.id) > 0);
    } else orderBy = 'created_at';
  }
  projects = filterProjects(store, projects, viewer, params);
  const sort = params.sort as 'asc' | 'desc';
  projects = sortProjects(projects, orderBy, sort, search);

  let page: Project[];
  if (ctx.raw.pagination === 'keyset') {
    if (orderBy !== 'id') {
      throw keysetUnavailable();
    }
    page = ctx.usePage(
      paginateKeyset(
        projects,
        ctx.pageRequest(),
        fieldOrder<Project>('id', (p) => p.id, sort),
      ),
    );
  } else {
    page = ctx.paginate(projects);
  }
  return page.map((p) => presentListEntry(ctx, p, viewer));
}

/** `Projects::CreateService` + `Project` validations for the attributes this simulator models. */
function createProject(ctx: RouteCtx): unknown {
  const { store, params } = ctx;
  const caller = ctx.user().user;
  const viewer = viewerOf(ctx);
  const rawName = typeof params.name === 'string' ? params.name : undefined;
  const rawPath = typeof params.path === 'string' ? params.path : undefined;
  const name = (rawName ?? rawPath ?? '').trim();
  const path = rawPath ?? parameterize(name);

  const namespaceId = typeof params.namespace_id === 'number' ? params.namespace_id : caller.namespaceId;
  const namespace = store.namespaces.get(namespaceId);
  const allowed =
    namespace !== undefined &&
    (namespace.kind === 'group'
      ? viewer.admin || store.groupAccess(namespace, caller.id) >= ACCESS.developer
      : viewer.admin || namespace.ownerId === caller.id);
  if (!namespace || !allowed) throw validationFailed({ namespace: ['is not valid'] });

  if (namespace.kind === 'user') {
    // `Project#check_personal_projects_limit`, answered by the API as `error!(errors[:limit_reached], 403)`.
    const personal = [...store.projects.values()].filter((p) => p.namespaceId === caller.namespaceId).length;
    if (caller.external || caller.projectsLimit - personal <= 0) {
      const message =
        caller.projectsLimit === 0 || caller.external
          ? 'Personal project creation is not allowed. Please contact your administrator with questions'
          : `Your project limit is ${caller.projectsLimit} projects! Please contact your administrator to increase it`;
      throw new ApiError(403, { message: [message] });
    }
  }

  const visibility = (params.visibility as Visibility | undefined) ?? 'private';
  const { errors, add } = errorCollector();
  const siblings = [...store.projects.values()].filter((p) => p.namespaceId === namespace.id);
  if (name === '') add('name', "can't be blank");
  else {
    if (name.length > 255) add('name', 'is too long (maximum is 255 characters)');
    if (!PROJECT_NAME_REGEXP.test(name)) add('name', PROJECT_NAME_MESSAGE);
    if (siblings.some((p) => p.name.toLowerCase() === name.toLowerCase()))
      add('name', 'has already been taken');
  }
  if (path === '') add('path', "can't be blank");
  else {
    if (path.length > 255) add('path', 'is too long (maximum is 255 characters)');
    if (WILDCARD_ROUTES.has(path.toLowerCase())) add('path', `${path} is a reserved name`);
    else if (!LEGACY_PROJECT_PATH_REGEXP.test(path) || endsWithGitOrAtom(path))
      add('path', LEGACY_PROJECT_PATH_MESSAGE);
    if (!OCI_PATH_REGEX.test(path) || endsWithGitOrAtom(path)) add('path', OCI_PATH_MESSAGE);
    if (siblings.some((p) => p.path.toLowerCase() === path.toLowerCase()))
      add('path', 'has already been taken');
  }
  if (namespace.kind === 'group' && visibilityRank(visibility) > visibilityRank(namespace.visibility)) {
    add('visibility_level', `${visibility} is not allowed in a ${namespace.visibility} group.`);
  }
  if (Object.keys(errors).length > 0) throw validationFailed(errors);

  const project = store.insertProject({
    name,
    path,
    namespaceId: namespace.id,
    description: typeof params.description === 'string' ? params.description : '',
    visibility,
    creatorId: caller.id,
    defaultBranch: typeof params.default_branch === 'string' ? params.default_branch : 'main',
  });
  if (namespace.kind === 'user') {
    // A personal project's owner is its Owner member; nobody is mailed about it.
    store.addUserMember({ type: 'Project', id: project.id }, namespace.ownerId, ACCESS.owner, {
      createdById: caller.id,
    });
  }
  return projectEntity(store, project, viewer, {
    userCanAdminProject: canAdminProject(store, project, viewer),
  });
}

export const projectRoutes: ApiRoute[] = [
  {
    method: 'GET',
    path: '/projects',
    auth: 'non_get',
    params: [
      optional('order_by', 'String', { values: ORDER_BY, default: 'created_at' }),
      optional('sort', 'String', { values: ['asc', 'desc'], default: 'desc' }),
      ...FILTER_PARAMS,
      ...paginationParams(),
      optional('simple', 'Boolean', { default: false }),
      optional('statistics', 'Boolean', { default: false }),
      optional('with_custom_attributes', 'Boolean', { default: false }),
    ],
    handler: listProjects,
  },
  {
    method: 'POST',
    path: '/projects',
    auth: 'non_get',
    params: [
      optional('name', 'String'),
      optional('path', 'String'),
      optional('default_branch', 'String'),
      atLeastOneOf('name', 'path'),
      optional('description', 'String'),
      optional('visibility', 'String', { values: VISIBILITIES }),
      optional('namespace_id', 'Integer'),
    ],
    handler: createProject,
  },
  {
    method: 'GET',
    path: '/projects/:id',
    auth: 'non_get',
    params: [
      requires('id', 'String'),
      optional('statistics', 'Boolean', { default: false }),
      optional('with_custom_attributes', 'Boolean', { default: false }),
      optional('license', 'Boolean', { default: false }),
    ],
    handler: (ctx) => {
      const project = findProjectOr404(ctx, ctx.params.id);
      const viewer = viewerOf(ctx);
      const opts = {
        withCustomAttributes: viewer.admin && ctx.params.with_custom_attributes === true,
        userCanAdminProject: canAdminProject(ctx.store, project, viewer),
      };
      return viewer.user
        ? projectWithAccess(ctx.store, project, viewer, opts)
        : projectEntity(ctx.store, project, viewer, opts);
    },
  },
];
