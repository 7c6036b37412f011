import { z } from 'zod';
import { GitLabError } from './errors.js';

/**
 * GitLab's JSON as the portal uses it, parsed with zod at the boundary: unknown fields are dropped,
 * a missing or mistyped required field is a `malformed` answer. Names are camelCase; meanings are
 * GitLab's (see gitlab.md §2.4, §3, §8).
 */

/** `Gitlab::Access` levels. */
export const AccessLevel = {
  none: 0,
  minimal: 5,
  guest: 10,
  planner: 15,
  reporter: 20,
  developer: 30,
  maintainer: 40,
  owner: 50,
} as const;

type UserState =
  | 'active'
  | 'blocked'
  | 'ldap_blocked'
  | 'blocked_pending_approval'
  | 'banned'
  | 'deactivated'
  // States added by later GitLab versions are kept as they come.
  | (string & {});

const nullableString = z
  .string()
  .nullish()
  .transform((v) => v ?? null);

const customAttributeSchema = z.object({ key: z.string(), value: z.string() });

const userSchema = z
  .object({
    id: z.number().int(),
    username: z.string(),
    name: z.string(),
    state: z.string(),
    locked: z.boolean().optional(),
    web_url: nullableString,
    email: nullableString,
    public_email: nullableString,
    external: z.boolean().optional(),
    is_admin: z.boolean().optional(),
    can_create_group: z.boolean().optional(),
    projects_limit: z.number().int().optional(),
    created_at: nullableString,
    confirmed_at: nullableString,
    last_activity_on: nullableString,
    last_sign_in_at: nullableString,
    current_sign_in_at: nullableString,
    note: nullableString,
    organization: nullableString,
    bot: z.boolean().optional(),
    created_by: z.object({ id: z.number().int() }).nullish(),
    custom_attributes: z.array(customAttributeSchema).optional(),
  })
  .transform((u) => ({
    id: u.id,
    username: u.username,
    name: u.name,
    state: u.state as UserState,
    /** Primary email; null when the entity GitLab chose does not show it. */
    email: u.email,
    publicEmail: u.public_email,
    /** Null when the entity does not show it (non-admin listings). */
    external: u.external ?? null,
    /** GitLab only sends `is_admin` to admins and about admins; absent means false. */
    isAdmin: u.is_admin ?? false,
    canCreateGroup: u.can_create_group ?? null,
    projectsLimit: u.projects_limit ?? null,
    locked: u.locked ?? false,
    bot: u.bot ?? false,
    webUrl: u.web_url,
    createdAt: u.created_at,
    confirmedAt: u.confirmed_at,
    /** `YYYY-MM-DD` */
    lastActivityOn: u.last_activity_on,
    lastSignInAt: u.last_sign_in_at,
    currentSignInAt: u.current_sign_in_at,
    note: u.note,
    organization: u.organization,
    createdById: u.created_by?.id ?? null,
    /** Only when asked for (`with_custom_attributes`). */
    customAttributes: u.custom_attributes
      ? Object.fromEntries(u.custom_attributes.map((a) => [a.key, a.value]))
      : undefined,
  }));

export type GitLabUser = z.output<typeof userSchema>;

const tokenSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    revoked: z.boolean(),
    active: z.boolean(),
    scopes: z.array(z.string()),
    user_id: z.number().int(),
    created_at: nullableString,
    last_used_at: nullableString,
    expires_at: nullableString,
  })
  .transform((t) => ({
    id: t.id,
    name: t.name,
    revoked: t.revoked,
    active: t.active,
    scopes: t.scopes,
    userId: t.user_id,
    createdAt: t.created_at,
    lastUsedAt: t.last_used_at,
    /** `YYYY-MM-DD` or null. */
    expiresAt: t.expires_at,
  }));

export type GitLabTokenInfo = z.output<typeof tokenSchema>;

const versionSchema = z.object({ version: z.string(), revision: z.string() });

export type GitLabVersion = z.output<typeof versionSchema>;

const memberSchema = z
  .object({
    id: z.number().int(),
    username: z.string(),
    access_level: z.number().int(),
    expires_at: nullableString,
  })
  .transform((m) => ({
    userId: m.id,
    username: m.username,
    accessLevel: m.access_level,
    expiresAt: m.expires_at,
  }));

const membershipSchema = z
  .object({
    source_id: z.number().int(),
    source_name: z.string(),
    source_type: z.string(),
    access_level: z.number().int(),
  })
  .transform((m) => ({
    sourceId: m.source_id,
    sourceName: m.source_name,
    sourceType: m.source_type,
    accessLevel: m.access_level,
  }));

const projectSchema = z
  .object({ id: z.number().int(), name: z.string(), path_with_namespace: z.string() })
  .transform((p) => ({ id: p.id, name: p.name, fullPath: p.path_with_namespace }));

const groupSchema = z
  .object({ id: z.number().int(), name: z.string(), full_path: z.string() })
  .transform((g) => ({ id: g.id, name: g.name, fullPath: g.full_path }));

/** A project or group, as the portal lists them. */
export interface GitLabSource {
  id: number;
  name: string;
  fullPath: string;
}

export const schemas = {
  user: userSchema,
  token: tokenSchema,
  version: versionSchema,
  member: memberSchema,
  membership: membershipSchema,
  customAttribute: customAttributeSchema,
  project: projectSchema,
  group: groupSchema,
} as const;

/** Parses a GitLab answer; a mismatch is a `malformed` GitLabError naming the fields, not their values. */
export function parseGitLab<S extends z.ZodType>(
  schema: S,
  body: unknown,
  call: { method: string; path: string; status?: number },
): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const fields = result.error.issues
    .slice(0, 5)
    .map((issue) => issue.path.join('.') || '(body)')
    .join(', ');
  throw new GitLabError({
    kind: 'malformed',
    method: call.method,
    path: call.path,
    status: call.status,
    detail: `unexpected shape at ${fields}`,
  });
}
