import { grapeError } from './errors.js';

/**
 * A small re-implementation of Grape's `params do … end` blocks, because GitLab's 400 bodies come
 * straight from Grape: `{"error":"email is missing, name is missing"}`, joined in declaration order.
 * Messages are Grape's (`lib/grape/locale/en.yml`).
 */
export type ParamType =
  | 'String'
  | 'Integer'
  | 'Boolean'
  | 'Date'
  | 'DateTime'
  | 'Hash'
  | 'Array[String]'
  | 'Array[Integer]'
  /** GitLab's "Integer or comma-separated String" (e.g. members `user_id`). */
  | 'IntegerOrString'
  /** Anything; kept as received. */
  | 'Any';

export interface ParamSpec {
  kind: 'param';
  name: string;
  type: ParamType;
  required: boolean;
  default?: unknown;
  values?: readonly unknown[];
  regexp?: RegExp;
  allowBlank?: boolean;
}

export interface GroupRule {
  kind: 'at_least_one_of' | 'mutually_exclusive' | 'all_or_none_of' | 'exactly_one_of';
  names: string[];
}

export type Rule = ParamSpec | GroupRule;

type Opts = Omit<ParamSpec, 'kind' | 'name' | 'type' | 'required'>;

export const requires = (name: string, type: ParamType, opts: Opts = {}): ParamSpec => ({
  kind: 'param',
  name,
  type,
  required: true,
  ...opts,
});
export const optional = (name: string, type: ParamType, opts: Opts = {}): ParamSpec => ({
  kind: 'param',
  name,
  type,
  required: false,
  ...opts,
});
export const atLeastOneOf = (...names: string[]): GroupRule => ({ kind: 'at_least_one_of', names });
export const mutuallyExclusive = (...names: string[]): GroupRule => ({ kind: 'mutually_exclusive', names });
export const allOrNoneOf = (...names: string[]): GroupRule => ({ kind: 'all_or_none_of', names });
export const exactlyOneOf = (...names: string[]): GroupRule => ({ kind: 'exactly_one_of', names });

/** The pagination params every paginated GitLab endpoint declares (`lib/api/pagination_params.rb`). */
export const paginationParams = (): Rule[] => [
  optional('page', 'Integer', { default: 1 }),
  optional('per_page', 'Integer', { default: 20 }),
];

const INVALID = Symbol('invalid');

const TRUE = new Set(['true', 't', '1', 'yes', 'y', 'on']);
const FALSE = new Set(['false', 'f', '0', 'no', 'n', 'off']);

function coerce(value: unknown, type: ParamType): unknown {
  if (value === null || value === undefined) return value;
  if (type !== 'String' && type !== 'Any' && value === '') return null;
  switch (type) {
    case 'Any':
      return value;
    case 'String':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      return INVALID;
    case 'Integer': {
      if (typeof value === 'number') return Number.isInteger(value) ? value : INVALID;
      if (typeof value === 'string' && /^[+-]?\d+$/.test(value.trim())) return Number.parseInt(value, 10);
      return INVALID;
    }
    case 'Boolean': {
      if (typeof value === 'boolean') return value;
      const s = String(value).toLowerCase();
      if (TRUE.has(s)) return true;
      if (FALSE.has(s)) return false;
      return INVALID;
    }
    case 'Date': {
      if (typeof value !== 'string') return INVALID;
      const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
      if (!m) return INVALID;
      const d = new Date(`${m[1]}-${m[2]}-${m[3]}T00:00:00Z`);
      return Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== `${m[1]}-${m[2]}-${m[3]}`
        ? INVALID
        : `${m[1]}-${m[2]}-${m[3]}`;
    }
    case 'DateTime': {
      if (typeof value !== 'string') return INVALID;
      const d = new Date(value);
      return Number.isNaN(d.getTime()) ? INVALID : d;
    }
    case 'Hash':
      return typeof value === 'object' && !Array.isArray(value) ? value : INVALID;
    case 'Array[String]': {
      const arr = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [value];
      return arr.every((v) => typeof v === 'string' || typeof v === 'number') ? arr.map(String) : INVALID;
    }
    case 'Array[Integer]': {
      const arr = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [value];
      const out = arr.map((v) => coerce(v, 'Integer'));
      return out.some((v) => v === INVALID) ? INVALID : out.filter((v) => v !== null);
    }
    case 'IntegerOrString':
      if (typeof value === 'number' && Number.isInteger(value)) return value;
      if (typeof value === 'string') return /^\d+$/.test(value) ? Number.parseInt(value, 10) : value;
      return INVALID;
  }
}

function present(params: Record<string, unknown>, name: string): boolean {
  return Object.hasOwn(params, name) && params[name] !== undefined;
}

/**
 * Validates and coerces raw params (query + body + route params) against the declaration.
 * Returns only declared params (GitLab's `declared_params`) plus their defaults; throws Grape's
 * 400 with every error message joined in declaration order.
 */
export function validateParams(
  raw: Record<string, unknown>,
  rules: readonly Rule[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const errors: string[] = [];
  for (const rule of rules) {
    if (rule.kind === 'param') {
      const has = present(raw, rule.name);
      if (!has) {
        if (rule.required) errors.push(`${rule.name} is missing`);
        else if (rule.default !== undefined) out[rule.name] = rule.default;
        continue;
      }
      const value = coerce(raw[rule.name], rule.type);
      if (value === INVALID) {
        errors.push(`${rule.name} is invalid`);
        continue;
      }
      if (
        rule.allowBlank === false &&
        (value === null || (typeof value === 'string' && value.trim() === ''))
      ) {
        errors.push(`${rule.name} is empty`);
        continue;
      }
      if (rule.values && value !== null && !rule.values.includes(value)) {
        errors.push(`${rule.name} does not have a valid value`);
        continue;
      }
      if (rule.regexp && typeof value === 'string' && !rule.regexp.test(value)) {
        errors.push(`${rule.name} is invalid`);
        continue;
      }
      out[rule.name] = value;
      continue;
    }
    const given = rule.names.filter((n) => present(raw, n));
    const names = rule.names.join(', ');
    if (rule.kind === 'at_least_one_of' && given.length === 0) {
      errors.push(`${names} are missing, at least one parameter must be provided`);
    } else if (rule.kind === 'mutually_exclusive' && given.length > 1) {
      errors.push(`${given.join(', ')} are mutually exclusive`);
    } else if (rule.kind === 'all_or_none_of' && given.length > 0 && given.length < rule.names.length) {
      errors.push(`${names} provide all or none of parameters`);
    } else if (rule.kind === 'exactly_one_of') {
      if (given.length === 0) errors.push(`${names} are missing, exactly one parameter must be provided`);
      else if (given.length > 1) errors.push(`${given.join(', ')} are mutually exclusive`);
    }
  }
  if (errors.length > 0) throw grapeError([...new Set(errors)].join(', '));
  return out;
}
