import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { type Config, ConfigError, type ConfigProblem, loadConfig } from '../config/config.js';
import { type VariableName, variableNames } from '../config/env.js';
import { type CheckResult, errorCodeOf } from './check.js';

export interface ConfigOutcome {
  results: CheckResult[];
  /**
   * The configuration, for the checks whose variables are all valid. When some variable is broken it
   * holds a stand-in value there; `broken` says which, and checks that read one of them do not run.
   */
  config: Config | undefined;
  broken: ReadonlySet<VariableName>;
}

function present(value: string | undefined): value is string {
  return value !== undefined && value !== '';
}

/**
 * Where each variable came from, following `loadConfig`'s rule: for each variable the process
 * environment wins (if it sets `NAME` or `NAME_FILE`, `.env` is not consulted for it). Only names and
 * file paths are reported, never values.
 */
function describeSources(env: NodeJS.ProcessEnv, cwd: string): string {
  const dotenvPath = join(cwd, '.env');
  let dotenv: Record<string, string> | undefined;
  let dotenvState = 'no .env file';
  try {
    dotenv = parseDotenv(readFileSync(dotenvPath, 'utf8'));
  } catch (err) {
    // loadConfig reports an unreadable .env as a problem of its own.
    if (errorCodeOf(err) !== 'ENOENT') dotenvState = `${dotenvPath}: unreadable`;
  }
  let fromEnvironment = 0;
  let fromDotenv = 0;
  const files: string[] = [];
  for (const name of variableNames) {
    const fileVariable = `${name}_FILE`;
    const inEnvironment = present(env[name]) || present(env[fileVariable]);
    const source: Record<string, string | undefined> = inEnvironment ? env : (dotenv ?? {});
    const file = source[fileVariable];
    if (present(file))
      files.push(`${fileVariable}=${resolve(cwd, file)}${inEnvironment ? '' : ' (in .env)'}`);
    else if (present(source[name]) && inEnvironment) fromEnvironment++;
    else if (present(source[name])) fromDotenv++;
  }
  const parts = [`environment: ${fromEnvironment} variables`];
  parts.push(dotenv === undefined ? dotenvState : `${dotenvPath}: ${fromDotenv} variables`);
  if (files.length > 0) parts.push(`secret files: ${files.join(', ')}`);
  return parts.join('; ');
}

const randomKey = () => randomBytes(32).toString('base64url');

/**
 * Valid values that stand in for broken variables, so that `loadConfig` yields the valid rest. A check
 * never reads a stand-in: it is skipped when one of its variables is broken.
 */
const STAND_INS: Record<VariableName, () => string> = {
  GITLAB_URL: () => 'https://gitlab.invalid',
  GITLAB_CLIENT_ID: () => 'stand-in',
  GITLAB_CLIENT_SECRET: () => 'stand-in',
  GITLAB_ADMIN_TOKEN: () => 'stand-in',
  PUBLIC_URL: () => 'https://portal.invalid',
  SESSION_SECRET: randomKey,
  ENCRYPTION_KEY: randomKey,
  ENCRYPTION_KEY_PREVIOUS: randomKey,
  DATABASE_URL: () => 'sqlite:stand-in.db',
  DATA_DIR: () => 'data',
  PORT: () => '3000',
  HOST: () => '127.0.0.1',
  TRUST_PROXY: () => 'false',
  LOG_LEVEL: () => 'info',
  SPONSOR_GROUP: () => 'stand-in',
  SESSION_IDLE_MINUTES: () => '30',
  SESSION_ABSOLUTE_HOURS: () => '12',
  NEW_USER_PASSWORD_MODE: () => 'reset_link',
  GITLAB_TIMEOUT_MS: () => '10000',
};

/** The variable a problem is about: `GITLAB_ADMIN_TOKEN_FILE` counts as `GITLAB_ADMIN_TOKEN`. */
function variableOf(problem: ConfigProblem): VariableName | undefined {
  const name = problem.variable.replace(/_FILE$/, '');
  return (variableNames as readonly string[]).includes(name) ? (name as VariableName) : undefined;
}

function withStandIns(env: NodeJS.ProcessEnv, broken: ReadonlySet<VariableName>): NodeJS.ProcessEnv {
  const patched: NodeJS.ProcessEnv = { ...env };
  for (const name of broken) {
    patched[name] = STAND_INS[name]();
    patched[`${name}_FILE`] = '';
  }
  return patched;
}

/** Ids stay unique when one variable has several problems: `config.X`, `config.X.2`… */
function uniqueIds(results: CheckResult[]): CheckResult[] {
  const seen = new Map<string, number>();
  return results.map((result) => {
    const n = (seen.get(result.id) ?? 0) + 1;
    seen.set(result.id, n);
    return n === 1 ? result : { ...result, id: `${result.id}.${n}` };
  });
}

const problemLine = (status: 'fail' | 'warn', p: ConfigProblem): CheckResult => ({
  id: `config.${p.variable}`,
  title: 'Configuration',
  status,
  detail: `${p.variable} ${p.problem}`,
  fix: p.fix,
});

/**
 * Check 1: the configuration, read exactly as `serve` reads it. Every problem is its own line; the
 * valid part is still returned so the other checks can run.
 */
export function checkConfiguration(env: NodeJS.ProcessEnv, cwd: string): ConfigOutcome {
  const sources: CheckResult = {
    id: 'config.sources',
    title: 'Configuration sources',
    status: 'ok',
    detail: describeSources(env, cwd),
  };
  try {
    const { config, warnings } = loadConfig(env, { cwd });
    const valid: CheckResult = {
      id: 'config',
      title: 'Configuration',
      status: 'ok',
      detail: 'every variable is valid',
    };
    return {
      results: uniqueIds([sources, valid, ...warnings.map((w) => problemLine('warn', w))]),
      config,
      broken: new Set(),
    };
  } catch (err) {
    if (!(err instanceof ConfigError)) {
      const unreadable: CheckResult = {
        id: 'config',
        title: 'Configuration',
        status: 'fail',
        detail: `could not be read (${err instanceof Error ? err.name : 'unknown error'})`,
        fix: 'Run `gitlab-extern serve` to see the full error.',
      };
      return { results: [sources, unreadable], config: undefined, broken: new Set(variableNames) };
    }
    const broken = new Set(err.problems.map(variableOf).filter((name) => name !== undefined));
    // The second reading also yields the warnings about the valid variables, which ConfigError lacks.
    let rest: ReturnType<typeof loadConfig> | undefined;
    try {
      rest = loadConfig(withStandIns(env, broken), { cwd });
    } catch {
      for (const name of variableNames) broken.add(name);
    }
    const lines = [
      sources,
      ...err.problems.map((p) => problemLine('fail', p)),
      ...(rest?.warnings ?? []).map((w) => problemLine('warn', w)),
    ];
    return { results: uniqueIds(lines), config: rest?.config, broken };
  }
}
