import {
  canReadCode,
  groupWebUrl,
  isPersonalNamespaceHolder,
  projectGroup,
  projectWebUrl,
  type Viewer,
} from '../api/access.js';
import { isoTime } from '../clock.js';
import type { Store } from '../model/store.js';
import { ACCESS, type GroupLink, type Namespace, type Project } from '../model/types.js';
import { customAttributes, userBasic } from './user.js';

export interface ProjectEntityOptions {
  /** `with_custom_attributes=true` by an admin. */
  withCustomAttributes?: boolean;
}

/** `API::Entities::NamespaceBasic` */
export function namespaceBasic(store: Store, ns: Namespace): Record<string, unknown> {
  if (ns.kind === 'group') {
    return {
      id: ns.id,
      name: ns.name,
      path: ns.path,
      kind: 'group',
      full_path: ns.fullPath,
      parent_id: ns.parentId,
      avatar_url: null,
      web_url: groupWebUrl(store, ns),
    };
  }
  const owner = store.users.get(ns.ownerId);
  return {
    id: ns.id,
    name: owner?.name ?? ns.path,
    path: ns.path,
    kind: 'user',
    full_path: ns.path,
    parent_id: null,
    avatar_url: owner ? store.userAvatarUrl(owner) : null,
    web_url: `${store.baseUrl}/${ns.path}`,
  };
}

/** `API::Entities::ProjectIdentity` */
export function projectIdentity(store: Store, p: Project): Record<string, unknown> {
  return {
    id: p.id,
    description: p.description,
    name: p.name,
    name_with_namespace: store.projectNameWithNamespace(p),
    path: p.path,
    path_with_namespace: store.projectFullPath(p),
    created_at: isoTime(p.createdAt),
  };
}

/**
 * `API::Entities::BasicProjectDetails`: code-related fields only for viewers who may read the
 * repository; `repository_storage` only for admins.
 */
export function basicProjectDetails(
  store: Store,
  p: Project,
  viewer: Viewer,
  opts: ProjectEntityOptions = {},
): Record<string, unknown> {
  const code = canReadCode(store, p, viewer);
  const fullPath = store.projectFullPath(p);
  const host = new URL(store.baseUrl).hostname;
  // Named stores in GitLab's field order, never Object.assign: V8 turns an object that gains many
  // properties through keyed stores into a slow dictionary, which makes every entity costly.
  const out = projectIdentity(store, p);
  if (code) out.default_branch = p.defaultBranch;
  out.tag_list = [...p.topics];
  out.topics = [...p.topics];
  out.ssh_url_to_repo = `git@${host}:${fullPath}.git`;
  out.http_url_to_repo = `${store.baseUrl}/${fullPath}.git`;
  out.web_url = projectWebUrl(store, p);
  if (code) {
    out.readme_url = null;
    out.forks_count = 0;
  }
  out.avatar_url = null;
  out.star_count = 0;
  out.last_activity_at = isoTime(p.lastActivityAt);
  out.namespace = namespaceBasic(store, store.projectNamespace(p));
  if (opts.withCustomAttributes) out.custom_attributes = customAttributes(p);
  if (viewer.admin) out.repository_storage = 'default';
  return out;
}

/** `API::Entities::SharedGroupWithProject` */
export function sharedGroupWithProject(store: Store, link: GroupLink): Record<string, unknown> {
  const group = store.groups.get(link.groupId);
  return {
    group_id: link.groupId,
    group_name: group?.name ?? null,
    group_full_path: group?.fullPath ?? null,
    group_access_level: link.groupAccess,
    expires_at: link.expiresAt,
  };
}

/**
 * `API::Entities::Project` (`lib/api/entities/project.rb`): BasicProjectDetails plus links,
 * feature settings and sharing. Features the simulator does not model report GitLab's defaults.
 */
export function projectEntity(
  store: Store,
  p: Project,
  viewer: Viewer,
  opts: ProjectEntityOptions & { userCanAdminProject?: boolean } = {},
): Record<string, unknown> {
  const api = `${store.baseUrl}/api/v4/projects/${p.id}`;
  const ns = store.projectNamespace(p);
  const access = viewer.user ? store.projectAccess(p, viewer.user.id) : 0;
  const out = basicProjectDetails(store, p, viewer, opts);
  out._links = {
    self: api,
    issues: `${api}/issues`,
    merge_requests: `${api}/merge_requests`,
    repo_branches: `${api}/repository/branches`,
    labels: `${api}/labels`,
    events: `${api}/events`,
    members: `${api}/members`,
    cluster_agents: `${api}/cluster_agents`,
  };
  out.packages_enabled = true;
  out.empty_repo = false;
  out.archived = p.archived;
  out.visibility = p.visibility;
  if (ns.kind === 'user') {
    const owner = store.users.get(ns.ownerId);
    out.owner = owner ? userBasic(store, owner) : null;
  }
  out.resolve_outdated_diff_discussions = false;
  out.repository_object_format = 'sha1';
  out.issues_enabled = true;
  out.merge_requests_enabled = true;
  out.wiki_enabled = true;
  out.jobs_enabled = true;
  out.snippets_enabled = true;
  out.container_registry_enabled = false;
  out.service_desk_enabled = false;
  out.service_desk_address = null;
  out.can_create_merge_request_in = viewer.admin || access >= ACCESS.developer;
  out.issues_access_level = 'enabled';
  out.repository_access_level = 'enabled';
  out.merge_requests_access_level = 'enabled';
  out.forking_access_level = 'enabled';
  out.wiki_access_level = 'enabled';
  out.builds_access_level = 'enabled';
  out.snippets_access_level = 'enabled';
  out.pages_access_level = p.visibility === 'public' ? 'enabled' : 'private';
  out.analytics_access_level = 'enabled';
  out.container_registry_access_level = 'disabled';
  out.security_and_compliance_access_level = 'private';
  out.releases_access_level = 'enabled';
  out.environments_access_level = 'enabled';
  out.feature_flags_access_level = 'enabled';
  out.infrastructure_access_level = 'enabled';
  out.monitor_access_level = 'enabled';
  out.model_experiments_access_level = 'enabled';
  out.model_registry_access_level = 'enabled';
  out.emails_disabled = false;
  out.emails_enabled = true;
  out.shared_runners_enabled = true;
  out.lfs_enabled = true;
  out.creator_id = p.creatorId;
  out.import_status = 'none';
  if (opts.userCanAdminProject) out.import_error = null;
  out.open_issues_count = 0;
  out.description_html = escapeDescription(p.description);
  out.updated_at = isoTime(p.lastActivityAt);
  out.ci_default_git_depth = 20;
  out.ci_forward_deployment_enabled = true;
  out.ci_job_token_scope_enabled = false;
  out.public_jobs = true;
  if (opts.userCanAdminProject) out.build_git_strategy = 'fetch';
  out.build_timeout = 3600;
  out.auto_cancel_pending_pipelines = 'enabled';
  out.ci_config_path = null;
  out.shared_with_groups = p.sharedWithGroups.map((link) => sharedGroupWithProject(store, link));
  out.only_allow_merge_if_pipeline_succeeds = false;
  out.allow_merge_on_skipped_pipeline = null;
  out.request_access_enabled = true;
  out.only_allow_merge_if_all_discussions_are_resolved = false;
  out.remove_source_branch_after_merge = true;
  out.printing_merge_request_link_enabled = true;
  out.merge_method = 'merge';
  out.squash_option = 'default_off';
  out.suggestion_commit_message = null;
  out.auto_devops_enabled = false;
  out.auto_devops_deploy_strategy = 'continuous';
  out.autoclose_referenced_issues = true;
  out.keep_latest_artifact = true;
  return out;
}

function escapeDescription(text: string): string {
  if (text === '') return '';
  const escaped = text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
  return `<p data-sourcepos="1:1-1:${text.length}" dir="auto">${escaped}</p>`;
}

/**
 * `API::Entities::ProjectWithAccess`: the project plus `permissions`, the caller's direct project
 * membership and their highest membership in the project's group hierarchy
 * (`Group#highest_group_member`); access through shared groups shows in neither.
 */
export function projectWithAccess(
  store: Store,
  p: Project,
  viewer: Viewer,
  opts: ProjectEntityOptions & { userCanAdminProject?: boolean } = {},
): Record<string, unknown> {
  const levels = accessLevels(store, p, viewer.user?.id);
  const memberAccess = (level: number | null) =>
    level === null ? null : { access_level: level, notification_level: 3 };
  const out = projectEntity(store, p, viewer, opts);
  out.permissions = {
    project_access: memberAccess(levels.project),
    group_access: memberAccess(levels.group),
  };
  return out;
}

/**
 * The caller's direct project access (a personal project's owner always has an Owner membership in
 * GitLab) and highest group membership above the project; null where there is none.
 */
export function accessLevels(
  store: Store,
  p: Project,
  userId: number | undefined,
): { project: number | null; group: number | null } {
  if (userId === undefined) return { project: null, group: null };
  const direct = store.directMember({ type: 'Project', id: p.id }, userId);
  let project = direct && !store.isExpired(direct) ? direct.accessLevel : null;
  if (project === null && isPersonalNamespaceHolder(store, p, userId)) project = ACCESS.owner;
  let group: number | null = null;
  const parent = projectGroup(store, p);
  if (parent) {
    for (const g of store.groupAncestry(parent)) {
      const m = store.directMember({ type: 'Namespace', id: g.id }, userId);
      if (m && !store.isExpired(m) && (group === null || m.accessLevel > group)) group = m.accessLevel;
    }
  }
  return { project, group };
}

/** `API::Entities::ProjectGroupLink` */
export function projectGroupLinkEntity(p: Project, link: GroupLink, id: number): Record<string, unknown> {
  return {
    id,
    project_id: p.id,
    group_id: link.groupId,
    group_access: link.groupAccess,
    expires_at: link.expiresAt,
  };
}
