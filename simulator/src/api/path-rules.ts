/**
 * Name and path rules for groups and projects (`lib/gitlab/regex.rb`, `lib/gitlab/path_regex.rb`,
 * `app/validators/namespace_path_validator.rb`, `app/validators/project_path_validator.rb`) and the
 * validation helpers their create endpoints share. The rules a username shares with them (reserved
 * top-level names, the OCI and namespace formats) live in `model/user-rules.ts`.
 */

import type { ValidationErrors } from '../model/user-rules.js';

export function errorCollector(): { errors: ValidationErrors; add(attr: string, msg: string): void } {
  const errors: ValidationErrors = {};
  return {
    errors,
    add(attr, msg) {
      errors[attr] ??= [];
      errors[attr].push(msg);
    },
  };
}

/** `Gitlab::Regex.group_name_regex` */
export const GROUP_NAME_REGEXP =
  /^[\p{L}\p{N}_\u{00A9}-\u{1f9ff}][\p{L}\p{N}\p{Pd}_\u{00A9}-\u{1f9ff} .()]*$/u;
export const GROUP_NAME_MESSAGE =
  "can contain only letters, digits, emoji, '_', '.', dash, space, parenthesis. It must start with letter, digit, emoji or '_'.";

/** `Gitlab::Regex.project_name_regex` */
export const PROJECT_NAME_REGEXP =
  /^[\p{L}\p{N}_\u{00A9}-\u{1f9ff}][\p{L}\p{N}\p{Pd}+_\u{00A9}-\u{1f9ff}. ]*$/u;
export const PROJECT_NAME_MESSAGE =
  "can contain only letters, digits, emoji, '_', '.', '+', dashes, or spaces. It must start with a letter, digit, emoji, or '_'.";

/** `Gitlab::PathRegex.namespace_format_regex` without its `.git`/`.atom` guard (see `endsWithGitOrAtom`). */
export const LEGACY_NAMESPACE_PATH_REGEXP = /^(?:[a-zA-Z0-9_.][a-zA-Z0-9_\-.]*[a-zA-Z0-9_-]|[a-zA-Z0-9_])$/;

/** `Gitlab::PathRegex.project_path_format_regex` */
export const LEGACY_PROJECT_PATH_REGEXP = /^[a-zA-Z0-9_.][a-zA-Z0-9_\-.]*$/;
export const LEGACY_PROJECT_PATH_MESSAGE =
  "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', end in '.git' or end in '.atom'";

export const endsWithGitOrAtom = (path: string) => /\.(git|atom)$/i.test(path);

/** `Gitlab::PathRegex::WILDCARD_ROUTES`, reserved below the top level (subgroups and projects). */
export const WILDCARD_ROUTES = new Set([
  '-',
  'badges',
  'blame',
  'blob',
  'builds',
  'commits',
  'create',
  'create_dir',
  'edit',
  'environments',
  'files',
  'find_file',
  'new',
  'preview',
  'raw',
  'refs',
  'tree',
  'update',
  'wikis',
]);

/** Ruby's `Hash#inspect` of `errors.messages` (Ruby 3.3), as GitLab interpolates it into messages. */
export function rubyInspect(errors: ValidationErrors): string {
  const entries = Object.entries(errors).map(
    ([k, v]) => `:${k}=>[${v.map((s) => JSON.stringify(s)).join(', ')}]`,
  );
  return `{${entries.join(', ')}}`;
}

/** `ActiveSupport::Inflector.parameterize`: how a project path is derived from its name. */
export function parameterize(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9\-_]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-|-$/g, '');
}
