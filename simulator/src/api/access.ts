import type { RouteCtx } from '../http/app.js';
import { notFound, preconditionFailed } from '../http/errors.js';
import type { Store } from '../model/store.js';
import { ACCESS, type Group, type Member, type Project, type SourceRef, type User } from '../model/types.js';

/**
 * Who is looking, for GitLab's policies (`app/policies/project_policy.rb`, `group_policy.rb`,
 * `base_policy.rb`): the acting user (undefined when anonymous) and whether they may administer
 * everything (`can_admin_all_resources?`).
 */
export interface Viewer {
  user: User | undefined;
  admin: boolean;
}

export const viewerOf = (ctx: RouteCtx): Viewer => ({ user: ctx.caller?.user, admin: ctx.isAdmin });

/** `Gitlab::Access.human_access` */
export function humanAccess(level: number): string {
  switch (level) {
    case ACCESS.noAccess:
      return 'No access';
    case ACCESS.minimal:
      return 'Minimal Access';
    case ACCESS.guest:
      return 'Guest';
    case ACCESS.planner:
      return 'Planner';
    case ACCESS.reporter:
      return 'Reporter';
    case ACCESS.developer:
      return 'Developer';
    case ACCESS.maintainer:
      return 'Maintainer';
    case ACCESS.owner:
      return 'Owner';
    default:
      return String(level);
  }
}

export type MemberSource = { kind: 'project'; project: Project } | { kind: 'group'; group: Group };

export function sourceRefOf(source: MemberSource): SourceRef {
  return source.kind === 'project'
    ? { type: 'Project', id: source.project.id }
    : { type: 'Namespace', id: source.group.id };
}

/** `human_name`: a project's name with namespace, a group's full name. */
export function sourceHumanName(store: Store, source: MemberSource): string {
  return source.kind === 'project' ? store.projectNameWithNamespace(source.project) : source.group.fullName;
}

export function sourceWebUrl(store: Store, source: MemberSource): string {
  return source.kind === 'project' ? projectWebUrl(store, source.project) : groupWebUrl(store, source.group);
}

export function groupWebUrl(store: Store, group: Group): string {
  return `${store.baseUrl}/groups/${group.fullPath}`;
}

export function projectWebUrl(store: Store, project: Project): string {
  return `${store.baseUrl}/${store.projectFullPath(project)}`;
}

/** The effective access a viewer's user has to the source (inherited and shared access included). */
export function effectiveAccess(store: Store, source: MemberSource, user: User | undefined): number {
  if (!user) return 0;
  return source.kind === 'project'
    ? store.projectAccess(source.project, user.id)
    : store.groupAccess(source.group, user.id);
}

/** `read_project`: public, internal for non-external users, otherwise any access; admins see all. */
export function canReadProject(store: Store, project: Project, viewer: Viewer): boolean {
  if (viewer.admin || project.visibility === 'public') return true;
  const user = viewer.user;
  if (!user) return false;
  if (project.visibility === 'internal' && !user.external) return true;
  return store.projectAccess(project, user.id) > 0;
}

/** `download_code`: what decides whether code-related fields (default branch, readme) are shown. */
export function canReadCode(store: Store, project: Project, viewer: Viewer): boolean {
  if (viewer.admin || project.visibility === 'public') return true;
  const user = viewer.user;
  if (!user) return false;
  const access = store.projectAccess(project, user.id);
  if (project.visibility === 'internal') return !user.external || access > 0;
  // Guests of private projects cannot read the repository.
  return access >= ACCESS.reporter;
}

/**
 * `read_group`: public groups, internal groups for non-external users, members (direct or
 * inherited), and users with access somewhere below the group (a subgroup or a project in it).
 */
export function canReadGroup(store: Store, group: Group, viewer: Viewer): boolean {
  if (viewer.admin || group.visibility === 'public') return true;
  const user = viewer.user;
  if (!user) return false;
  if (group.visibility === 'internal' && !user.external) return true;
  if (store.groupAccess(group, user.id) > 0) return true;
  for (const m of store.membershipsOf(user.id)) {
    if (store.isExpired(m)) continue;
    const inside =
      m.source.type === 'Namespace'
        ? store.groups.get(m.source.id)
        : namespaceGroupOf(store, store.projects.get(m.source.id));
    if (inside && store.groupAncestry(inside).includes(group)) return true;
  }
  const hierarchy = new Set(store.groupDescendants(group).map((g) => g.id));
  for (const project of store.projects.values()) {
    if (hierarchy.has(project.namespaceId) && project.sharedWithGroups.length > 0) {
      if (store.projectAccess(project, user.id) > 0) return true;
    }
  }
  return false;
}

function namespaceGroupOf(store: Store, project: Project | undefined): Group | undefined {
  if (!project) return undefined;
  const ns = store.projectNamespace(project);
  return ns.kind === 'group' ? ns : undefined;
}

/** The project's group, when it lives in one (not a personal namespace). */
export function projectGroup(store: Store, project: Project): Group | undefined {
  return namespaceGroupOf(store, project);
}

/** `find_project!`: numeric id or full path; invisible projects are indistinguishable from missing ones. */
export function findProjectOr404(ctx: RouteCtx, ref: unknown): Project {
  const project = typeof ref === 'string' && ref !== '' ? ctx.store.findProject(ref) : undefined;
  if (!project || !canReadProject(ctx.store, project, viewerOf(ctx))) throw notFound('Project');
  return project;
}

/** `find_group!` */
export function findGroupOr404(ctx: RouteCtx, ref: unknown): Group {
  const key = typeof ref === 'number' ? String(ref) : ref;
  const group = typeof key === 'string' && key !== '' ? ctx.store.findGroup(key) : undefined;
  if (!group || !canReadGroup(ctx.store, group, viewerOf(ctx))) throw notFound('Group');
  return group;
}

/** `admin_project`: Maintainer and above. */
export function canAdminProject(store: Store, project: Project, viewer: Viewer): boolean {
  return viewer.admin || (!!viewer.user && store.projectAccess(project, viewer.user.id) >= ACCESS.maintainer);
}

/** `manage_owners` on a project: project Owners (including group Owners) and admins. */
export function canManageProjectOwners(store: Store, project: Project, viewer: Viewer): boolean {
  return viewer.admin || (!!viewer.user && store.projectAccess(project, viewer.user.id) >= ACCESS.owner);
}

/**
 * `admin_project_member` (Maintainers) / `admin_group_member` (Owners only in CE): who may add,
 * change and remove members.
 */
export function canAdminMembers(store: Store, source: MemberSource, viewer: Viewer): boolean {
  if (viewer.admin) return true;
  const needed = source.kind === 'project' ? ACCESS.maintainer : ACCESS.owner;
  return effectiveAccess(store, source, viewer.user) >= needed;
}

/**
 * `Members::Groups::CreatorService.cannot_manage_owners?`: `max_member_access_for_user < OWNER`,
 * where admins count as Owners.
 */
export function cannotManageGroupOwners(store: Store, group: Group, viewer: Viewer): boolean {
  if (viewer.admin) return false;
  return !viewer.user || store.groupAccess(group, viewer.user.id) < ACCESS.owner;
}

/** `Group#member_last_owner?`: the only Owner left in the group and its ancestors. */
export function isLastGroupOwner(store: Store, group: Group, member: Member): boolean {
  if (member.accessLevel !== ACCESS.owner || member.userId === null) return false;
  const owners = new Set<number>();
  for (const g of store.groupAncestry(group)) {
    for (const m of store.directMembers({ type: 'Namespace', id: g.id })) {
      if (m.userId !== null && m.accessLevel === ACCESS.owner && !store.isExpired(m)) owners.add(m.userId);
    }
  }
  return owners.size === 1 && owners.has(member.userId);
}

/** `project.personal_namespace_holder?(user)` */
export function isPersonalNamespaceHolder(store: Store, project: Project, userId: number | null): boolean {
  const ns = store.projectNamespace(project);
  return ns.kind === 'user' && userId !== null && ns.ownerId === userId;
}

/**
 * `destroy_conditionally!`: an `If-Unmodified-Since` older than the record's last update is a 412
 * (`lib/api/helpers.rb#check_unmodified_since!` compares the full-precision `updated_at` with the
 * header's whole seconds).
 */
export function checkUnmodifiedSince(ctx: RouteCtx, updatedAtMs: number): void {
  const header = ctx.req.headers['if-unmodified-since'];
  if (typeof header !== 'string') return;
  const since = Date.parse(header);
  if (!Number.isNaN(since) && updatedAtMs > since) throw preconditionFailed();
}

/** Rails' `Array#to_sentence`. */
export function toSentence(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  if (items.length === 2) return `${items[0]} and ${items[1]}`;
  return `${items.slice(0, -1).join(', ')}, and ${items[items.length - 1]}`;
}

/**
 * An approximation of `Gitlab::Database::SimilarityScore` for `order_by=similarity`: an exact
 * (case-insensitive) match of any of the values ranks first, then a prefix, then a substring.
 */
export function similarityScore(query: string, values: readonly string[]): number {
  const q = query.toLowerCase();
  let best = 0;
  for (const v of values) {
    const s = v.toLowerCase();
    best = Math.max(best, s === q ? 3 : s.startsWith(q) ? 2 : s.includes(q) ? 1 : 0);
  }
  return best;
}

/** `Gitlab::SQL::Pattern` matching: substring for 3+ characters, exact (case-insensitive) otherwise. */
export function fuzzyMatches(query: string, values: readonly (string | null | undefined)[]): boolean {
  const q = query.toLowerCase();
  return values.some((v) => {
    if (!v) return false;
    const s = v.toLowerCase();
    return q.length >= 3 ? s.includes(q) : s === q;
  });
}
