import { groupWebUrl } from '../api/access.js';
import { isoTime } from '../clock.js';
import type { Store } from '../model/store.js';
import type { Group } from '../model/types.js';
import { customAttributes } from './user.js';

export interface GroupEntityOptions {
  /** `with_custom_attributes=true` by an admin. */
  withCustomAttributes?: boolean;
  /** `statistics=true` by an admin. */
  statistics?: boolean;
}

/**
 * `API::Entities::Group` (`lib/api/entities/group.rb`, `basic_group_details.rb`). Settings the
 * simulator does not model carry GitLab's defaults for a new group.
 */
export function groupEntity(
  store: Store,
  group: Group,
  opts: GroupEntityOptions = {},
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: group.id,
    web_url: groupWebUrl(store, group),
    name: group.name,
    path: group.path,
    description: group.description,
    visibility: group.visibility,
    share_with_group_lock: false,
    require_two_factor_authentication: false,
    two_factor_grace_period: 48,
    project_creation_level: 'developer',
    auto_devops_enabled: null,
    subgroup_creation_level: 'maintainer',
    emails_disabled: false,
    emails_enabled: true,
    show_diff_preview_in_email: true,
    mentions_disabled: null,
    lfs_enabled: true,
    archived: false,
    math_rendering_limits_enabled: true,
    lock_math_rendering_limits_enabled: false,
    default_branch: null,
    default_branch_protection: 2,
    default_branch_protection_defaults: {
      allowed_to_push: [{ access_level: 40 }],
      allow_force_push: false,
      allowed_to_merge: [{ access_level: 40 }],
      developer_can_initial_push: false,
    },
    avatar_url: null,
    request_access_enabled: group.requestAccessEnabled,
    full_name: group.fullName,
    full_path: group.fullPath,
    created_at: isoTime(group.createdAt),
    parent_id: group.parentId,
    organization_id: 1,
    shared_runners_setting: 'enabled',
    max_artifacts_size: null,
  };
  if (opts.withCustomAttributes) out.custom_attributes = customAttributes(group);
  if (opts.statistics) {
    out.statistics = {
      storage_size: 0,
      repository_size: 0,
      wiki_size: 0,
      lfs_objects_size: 0,
      job_artifacts_size: 0,
      pipeline_artifacts_size: 0,
      packages_size: 0,
      snippets_size: 0,
      uploads_size: 0,
    };
  }
  out.marked_for_deletion_on = null;
  return out;
}

/**
 * `API::Entities::GroupDetail` (`lib/api/entities/group_detail.rb`): the group plus the projects
 * in it and the projects shared with it, each already filtered to what the caller may see.
 */
export function groupDetailEntity(
  store: Store,
  group: Group,
  opts: GroupEntityOptions & {
    projects: Record<string, unknown>[];
    sharedProjects: Record<string, unknown>[];
  },
): Record<string, unknown> {
  const out = groupEntity(store, group, opts);
  out.shared_with_groups = [];
  out.prevent_sharing_groups_outside_hierarchy = false;
  out.projects = opts.projects;
  out.shared_projects = opts.sharedProjects;
  return out;
}
