import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import type { TokenCipherKeys } from '../crypto/aead.js';
import type { DatabaseTarget } from '../db/database-url.js';
import {
  crossChecks,
  type Environment,
  environmentSchema,
  type LogLevel,
  type NewUserPasswordMode,
  type TrustProxy,
  type VariableName,
  variableNames,
  variables,
} from './env.js';

export type { LogLevel, NewUserPasswordMode, TrustProxy, VariableName } from './env.js';

/** One thing wrong with the configuration. Never contains a variable's value. */
export interface ConfigProblem {
  variable: string;
  problem: string;
  fix: string;
}

function formatProblems(problems: readonly ConfigProblem[]): string {
  const lines = problems.map((p) => `  - ${p.variable} ${p.problem}.\n    Fix: ${p.fix}`);
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return `The configuration has ${count}:\n${lines.join('\n')}`;
}

/** Thrown when the configuration cannot be used; lists every problem found, not just the first. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(readonly problems: readonly ConfigProblem[]) {
    super(formatProblems(problems));
  }
}

export interface Config {
  readonly gitlab: {
    /** Base URL without trailing slash; may include a relative URL root such as `/gitlab`. */
    readonly url: string;
    readonly clientId: string;
    readonly clientSecret: string;
    readonly adminToken: string;
    readonly timeoutMs: number;
  };
  /** The address users open, including any path prefix, without trailing slash. */
  readonly publicUrl: string;
  readonly http: { readonly host: string; readonly port: number; readonly trustProxy: TrustProxy };
  readonly session: { readonly secret: string; readonly idleMinutes: number; readonly absoluteHours: number };
  /** Token encryption keys in base64url; `previous` only decrypts. */
  readonly encryptionKey: Readonly<TokenCipherKeys>;
  readonly dataDir: string;
  readonly database: Readonly<DatabaseTarget>;
  readonly logLevel: LogLevel;
  /** Full path of the GitLab group sponsors must belong to; unset: any internal user may sponsor. */
  readonly sponsorGroup: string | undefined;
  readonly newUserPasswordMode: NewUserPasswordMode;
}

export interface LoadedConfig {
  readonly config: Config;
  /** Things that work but deserve the operator's attention, e.g. a secret file others can read. */
  readonly warnings: readonly ConfigProblem[];
}

export type ConfigValues = Partial<Record<VariableName, string | undefined>>;

export interface ConfigOptions {
  /** Where `.env`, relative paths and the default data directory are looked up; default: the process's. */
  cwd?: string;
}

interface Collected {
  errors: ConfigProblem[];
  warnings: ConfigProblem[];
  /** Variables whose source already has a problem; checking their (missing) value would only repeat it. */
  reported: Set<VariableName>;
}

function present(value: string | undefined): value is string {
  return value !== undefined && value !== '';
}

function errorCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'unknown error';
}

/** True when group or others have any access: a secret file should be mode 0600 (or 0400). */
function accessibleToOthers(path: string): boolean {
  return (statSync(path).mode & 0o077) !== 0;
}

function readDotenv(cwd: string, collected: Collected): Record<string, string> {
  const path = join(cwd, '.env');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return {};
    collected.errors.push({
      variable: '.env',
      problem: `cannot be read (${errorCode(err)})`,
      fix: `Make ${path} readable by the portal, or remove it.`,
    });
    return {};
  }
  const values = parseDotenv(text);
  const holdsSecret = variableNames.some((name) => variables[name].secret && present(values[name]));
  if (holdsSecret && accessibleToOthers(path)) {
    collected.warnings.push({
      variable: '.env',
      problem: 'holds secrets but other users on this machine can read it',
      fix: `Run: chmod 600 ${path}`,
    });
  }
  return values;
}

function readSecretFile(fileVariable: string, path: string, secret: boolean, collected: Collected) {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    collected.errors.push({
      variable: fileVariable,
      problem: `names a file that cannot be read: ${path} (${errorCode(err)})`,
      fix: 'Point it at an existing file the portal may read.',
    });
    return undefined;
  }
  // Editors and `echo` end files with a newline that is not part of the secret.
  const value = text.replace(/\r?\n$/, '');
  if (value === '') {
    collected.errors.push({
      variable: fileVariable,
      problem: `names an empty file: ${path}`,
      fix: 'Write the value into the file.',
    });
    return undefined;
  }
  if (secret && accessibleToOthers(path)) {
    collected.warnings.push({
      variable: fileVariable,
      problem: `names a file other users on this machine can read: ${path}`,
      fix: `Run: chmod 600 ${path}`,
    });
  }
  return value;
}

/**
 * Raw values from the process environment, a `.env` file and `<NAME>_FILE` files. For each variable
 * the process environment wins: if it sets `NAME` or `NAME_FILE`, the `.env` file is not consulted.
 */
function readSources(env: NodeJS.ProcessEnv, cwd: string, collected: Collected): ConfigValues {
  const dotenv = readDotenv(cwd, collected);
  const values: ConfigValues = {};
  for (const name of variableNames) {
    const fileVariable = `${name}_FILE`;
    const source: Record<string, string | undefined> =
      present(env[name]) || present(env[fileVariable]) ? env : dotenv;
    const direct = source[name];
    const file = source[fileVariable];
    if (!present(file)) {
      values[name] = direct;
      continue;
    }
    if (present(direct)) {
      collected.errors.push({
        variable: name,
        problem: `and ${fileVariable} are both set`,
        fix: `Set only one of ${name} and ${fileVariable}.`,
      });
      collected.reported.add(name);
      continue;
    }
    values[name] = readSecretFile(fileVariable, resolve(cwd, file), variables[name].secret, collected);
    if (values[name] === undefined) collected.reported.add(name);
  }
  return values;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function evaluate(values: ConfigValues, cwd: string, collected: Collected): LoadedConfig {
  const warn = (variable: VariableName, problem: string) =>
    collected.warnings.push({ variable, problem, fix: variables[variable].fix });
  const shape = environmentSchema({ cwd, warn }).shape;
  const parsed: Partial<Record<VariableName, unknown>> = {};
  for (const name of variableNames) {
    if (collected.reported.has(name)) continue;
    const raw = values[name];
    const result = shape[name].safeParse(present(raw) ? raw : undefined);
    if (result.success) {
      parsed[name] = result.data;
    } else {
      for (const issue of result.error.issues) {
        collected.errors.push({ variable: name, problem: issue.message, fix: variables[name].fix });
      }
    }
  }
  for (const { variable, problem } of crossChecks(parsed as Partial<Environment>, warn)) {
    collected.errors.push({ variable, problem, fix: variables[variable].fix });
  }
  if (collected.errors.length > 0) throw new ConfigError(collected.errors);

  const env = parsed as Environment;
  const config: Config = {
    gitlab: {
      url: env.GITLAB_URL,
      clientId: env.GITLAB_CLIENT_ID,
      clientSecret: env.GITLAB_CLIENT_SECRET,
      adminToken: env.GITLAB_ADMIN_TOKEN,
      timeoutMs: env.GITLAB_TIMEOUT_MS,
    },
    publicUrl: env.PUBLIC_URL,
    http: { host: env.HOST, port: env.PORT, trustProxy: env.TRUST_PROXY },
    session: {
      secret: env.SESSION_SECRET,
      idleMinutes: env.SESSION_IDLE_MINUTES,
      absoluteHours: env.SESSION_ABSOLUTE_HOURS,
    },
    encryptionKey: { current: env.ENCRYPTION_KEY, previous: env.ENCRYPTION_KEY_PREVIOUS },
    dataDir: env.DATA_DIR,
    database: env.DATABASE_URL ?? { dialect: 'sqlite', path: join(env.DATA_DIR, 'gitlab-extern.db') },
    logLevel: env.LOG_LEVEL,
    sponsorGroup: env.SPONSOR_GROUP,
    newUserPasswordMode: env.NEW_USER_PASSWORD_MODE,
  };
  return { config: deepFreeze(config), warnings: collected.warnings };
}

/**
 * Validates values given directly (demo mode, tests), with the same rules and messages as the
 * environment. Empty strings count as unset.
 * @throws ConfigError listing every problem.
 */
export function parseConfig(values: ConfigValues, options: ConfigOptions = {}): LoadedConfig {
  return evaluate(values, options.cwd ?? process.cwd(), { errors: [], warnings: [], reported: new Set() });
}

/**
 * Reads the configuration once at start: `env` (normally `process.env`), then `.env` in the working
 * directory for variables `env` does not set, then `<NAME>_FILE` files.
 * @throws ConfigError listing every problem, including unreadable files.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: ConfigOptions = {}): LoadedConfig {
  const cwd = options.cwd ?? process.cwd();
  const collected: Collected = { errors: [], warnings: [], reported: new Set() };
  const values = readSources(env, cwd, collected);
  return evaluate(values, cwd, collected);
}

const SET = '<set>';
const NOT_SET = '<not set>';

/** A URL with any password (in the user part or the query) replaced by `<set>`. */
function redactUrl(text: string): string {
  const url = new URL(text);
  const user = url.username;
  const hasPassword = url.password !== '';
  const query = [...url.searchParams].map(([key, value]) => [
    key,
    /pass|secret|key/i.test(key) ? SET : value,
  ]);
  url.username = '';
  url.password = '';
  url.search = '';
  const credentials = user || hasPassword ? `${user}${hasPassword ? `:${SET}` : ''}@` : '';
  const search = query.length ? `?${query.map(([k, v]) => `${k}=${v}`).join('&')}` : '';
  return `${url.protocol}//${credentials}${url.host}${url.pathname}${search}`;
}

/** The configuration for display (`config show`, doctor): every secret replaced by `<set>`. */
export function redactedConfig(config: Config) {
  return {
    gitlab: {
      url: config.gitlab.url,
      clientId: config.gitlab.clientId,
      clientSecret: SET,
      adminToken: SET,
      timeoutMs: config.gitlab.timeoutMs,
    },
    publicUrl: config.publicUrl,
    http: { ...config.http },
    session: {
      secret: SET,
      idleMinutes: config.session.idleMinutes,
      absoluteHours: config.session.absoluteHours,
    },
    encryptionKey: { current: SET, previous: config.encryptionKey.previous === undefined ? NOT_SET : SET },
    dataDir: config.dataDir,
    database:
      config.database.dialect === 'postgres'
        ? { dialect: 'postgres', url: redactUrl(config.database.url) }
        : { dialect: 'sqlite', path: config.database.path },
    logLevel: config.logLevel,
    sponsorGroup: config.sponsorGroup ?? NOT_SET,
    newUserPasswordMode: config.newUserPasswordMode,
  };
}
