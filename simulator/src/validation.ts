import { defaultSettings, type SimSettings } from './settings.js';

/**
 * Input checks for seeds and the control API. Every problem is collected with the JSON path of the
 * value at fault (`users[3].username: missing`) so that one answer lists everything to fix.
 */
export class Problems {
  readonly list: string[] = [];

  /** `root` names the whole input in messages about it (`body: must be an object`). */
  constructor(private readonly root = 'body') {}

  add(path: string, message: string): void {
    this.list.push(`${path || this.root}: ${message}`);
  }

  get empty(): boolean {
    return this.list.length === 0;
  }
}

/** `users` + 3 → `users[3]`; `users[3]` + `name` → `users[3].name`. */
export function at(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** A real calendar date in GitLab's `YYYY-MM-DD` form. */
function isDate(value: string): boolean {
  if (!DATE_RE.test(value)) return false;
  const d = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === value;
}

interface Presence {
  required?: boolean;
  nullable?: boolean;
}

/**
 * Reads the fields of one JSON object, reporting each wrong one. Getters return `undefined` when the
 * field is absent or wrong, so callers can go on checking the rest.
 */
export class Fields {
  constructor(
    readonly problems: Problems,
    readonly value: Record<string, unknown>,
    readonly path: string,
  ) {}

  /** Reads `value` as an object with only the given keys (others are reported as unknown). */
  static of(problems: Problems, value: unknown, path: string, keys: readonly string[]): Fields | undefined {
    if (!isPlainObject(value)) {
      problems.add(path, 'must be an object');
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!keys.includes(key)) problems.add(at(path, key), `unknown key (known: ${keys.join(', ')})`);
    }
    return new Fields(problems, value, path);
  }

  has(key: string): boolean {
    return this.value[key] !== undefined;
  }

  problem(key: string, message: string): void {
    this.problems.add(at(this.path, key), message);
  }

  /** False when there is nothing to check: absent (reported when required), or an allowed null. */
  private present(key: string, opts: Presence): boolean {
    const v = this.value[key];
    if (v === undefined) {
      if (opts.required) this.problem(key, 'missing');
      return false;
    }
    return !(v === null && opts.nullable);
  }

  string(key: string, opts: Presence & { nonEmpty?: boolean } = {}): string | undefined {
    if (!this.present(key, opts)) return undefined;
    const v = this.value[key];
    if (typeof v !== 'string') return this.fail(key, 'must be a string');
    if (opts.nonEmpty && v.trim() === '') return this.fail(key, 'must not be empty');
    return v;
  }

  integer(key: string, opts: Presence & { min?: number; max?: number } = {}): number | undefined {
    if (!this.present(key, opts)) return undefined;
    const v = this.value[key];
    if (typeof v !== 'number' || !Number.isInteger(v)) return this.fail(key, 'must be a whole number');
    if (opts.min !== undefined && v < opts.min) return this.fail(key, `must be at least ${opts.min}`);
    if (opts.max !== undefined && v > opts.max) return this.fail(key, `must be at most ${opts.max}`);
    return v;
  }

  boolean(key: string, opts: Presence = {}): boolean | undefined {
    if (!this.present(key, opts)) return undefined;
    const v = this.value[key];
    return typeof v === 'boolean' ? v : this.fail(key, 'must be true or false');
  }

  oneOf<T extends string | number>(key: string, values: readonly T[], opts: Presence = {}): T | undefined {
    if (!this.present(key, opts)) return undefined;
    const v = this.value[key] as T;
    return values.includes(v) ? v : this.fail(key, `must be one of: ${values.join(', ')}`);
  }

  /** `YYYY-MM-DD`. */
  date(key: string, opts: Presence = {}): string | undefined {
    if (!this.present(key, opts)) return undefined;
    const v = this.value[key];
    if (typeof v === 'string' && isDate(v)) return v;
    return this.fail(key, `must be a date (YYYY-MM-DD)${opts.nullable ? ' or null' : ''}`);
  }

  /** An ISO 8601 date-time, e.g. `2024-05-01T10:00:00Z`. */
  time(key: string, opts: Presence = {}): string | undefined {
    if (!this.present(key, opts)) return undefined;
    const v = this.value[key];
    if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v) && !Number.isNaN(Date.parse(v))) return v;
    return this.fail(key, `must be an ISO 8601 date-time${opts.nullable ? ' or null' : ''}`);
  }

  array(key: string, opts: Presence = {}): unknown[] | undefined {
    if (!this.present(key, opts)) return undefined;
    const v = this.value[key];
    return Array.isArray(v) ? v : this.fail(key, 'must be an array');
  }

  /** An object whose values are all strings (custom attributes, headers). */
  stringMap(key: string, opts: Presence = {}): Record<string, string> | undefined {
    if (!this.present(key, opts)) return undefined;
    const v = this.value[key];
    if (!isPlainObject(v)) return this.fail(key, 'must be an object');
    let ok = true;
    for (const [k, value] of Object.entries(v)) {
      if (typeof value !== 'string') {
        this.problems.add(at(at(this.path, key), k), 'must be a string');
        ok = false;
      }
    }
    return ok ? (v as Record<string, string>) : undefined;
  }

  private fail(key: string, message: string): undefined {
    this.problem(key, message);
    return undefined;
  }
}

/** Settings whose default is null but which take a string. */
const NULLABLE_STRING_SETTINGS = new Set<keyof SimSettings>(['userDefaultInternalRegex']);

/**
 * Checks a partial settings object (`PATCH /-/sim/settings`, a seed's `settings`): known keys only,
 * each of its default's type; numbers are whole and not negative; the internal-user regex compiles.
 */
export function checkSettings(
  problems: Problems,
  value: unknown,
  path: string,
): Partial<SimSettings> | undefined {
  const defaults = defaultSettings() as unknown as Record<string, unknown>;
  const known = Object.keys(defaults);
  if (!isPlainObject(value)) {
    problems.add(path, 'must be an object');
    return undefined;
  }
  const before = problems.list.length;
  for (const [key, v] of Object.entries(value)) {
    const where = at(path, key);
    if (!(key in defaults)) {
      problems.add(where, `unknown setting (known: ${known.join(', ')})`);
      continue;
    }
    if (NULLABLE_STRING_SETTINGS.has(key as keyof SimSettings)) {
      if (v === null) continue;
      if (typeof v !== 'string') problems.add(where, 'must be a string or null');
      else {
        try {
          new RegExp(v);
        } catch {
          problems.add(where, 'must be a valid regular expression');
        }
      }
      continue;
    }
    const kind = typeof defaults[key];
    if (kind === 'number') {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
        problems.add(where, 'must be a whole number >= 0');
    } else if (kind === 'boolean') {
      if (typeof v !== 'boolean') problems.add(where, 'must be true or false');
    } else if (typeof v !== 'string' || v === '') {
      problems.add(where, 'must be a non-empty string');
    }
  }
  return problems.list.length === before ? (value as Partial<SimSettings>) : undefined;
}
