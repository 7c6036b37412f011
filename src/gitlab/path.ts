import { UnsafePathError } from './errors.js';

declare const apiPathBrand: unique symbol;

/** A path below `/api/v4` whose every interpolated value was encoded as a single segment. */
export type ApiPath = string & { readonly [apiPathBrand]: true };

export type PathValue = string | number;

/**
 * Builds an API path, encoding each interpolated value with `encodeURIComponent`:
 * `` path`projects/${'group/project'}/members/all/${7}` `` → `projects/group%2Fproject/members/all/7`.
 * Values that URL parsers would turn into dot segments (`.`, `..`) or that are empty are refused,
 * so no value can move the request to another endpoint.
 */
export function path(strings: TemplateStringsArray, ...values: readonly PathValue[]): ApiPath {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += encodeValue(value) + (strings[i + 1] ?? '');
  });
  return checkedPath(out);
}

function encodeValue(value: PathValue): string {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new UnsafePathError(`GitLab path value must be an integer, got ${String(value)}`);
  }
  const text = String(value);
  if (text === '' || text === '.' || text === '..') {
    throw new UnsafePathError('GitLab path value must not be empty, "." or ".."');
  }
  return encodeURIComponent(text);
}

// WHATWG URL parsing treats `%2e` like `.` when it decides what a dot segment is.
const DOT_SEGMENT = /^(?:\.|%2e){1,2}$/i;

/**
 * Accepts an already-encoded relative path (as produced by `path` or by a resource library) after
 * checking it cannot be re-interpreted: no leading slash, no empty or dot segments, no query or fragment.
 */
export function checkedPath(raw: string): ApiPath {
  if (raw === '' || /[?#\s\\]/.test(raw))
    throw new UnsafePathError('GitLab path is not a plain relative path');
  for (const segment of raw.split('/')) {
    if (segment === '' || DOT_SEGMENT.test(segment)) {
      throw new UnsafePathError('GitLab path has an empty or dot segment');
    }
  }
  return raw as ApiPath;
}

type Scalar = string | number | boolean;

/** A query value; arrays become `key[]=v` and hashes `key[sub]=v`, as Rails expects. */
type QueryValue = Scalar | null | undefined | readonly Scalar[] | Readonly<Record<string, Scalar>>;

export type Query = Readonly<Record<string, QueryValue>>;

export function toSearchParams(query: Query | URLSearchParams | undefined): URLSearchParams {
  if (query instanceof URLSearchParams) return new URLSearchParams(query);
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) {
      for (const item of value) params.append(`${key}[]`, String(item));
    } else if (typeof value === 'object') {
      for (const [sub, item] of Object.entries(value)) params.append(`${key}[${sub}]`, String(item));
    } else {
      params.append(key, String(value));
    }
  }
  return params;
}
