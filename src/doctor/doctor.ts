import { type Clock, systemClock } from '../clock.js';
import { type Config, ConfigError, redactedConfig } from '../config/config.js';
import { type VariableName, variableNames, variables } from '../config/env.js';
import { exitCodeFor } from '../errors.js';
import { type CheckId, type CheckResult, fail, ok, skipped, TITLES, warn } from './check.js';
import { checkConfiguration } from './config-checks.js';
import { checkDatabase } from './database-checks.js';
import { type Blocked, checkGitLab, type GitLabOutcome } from './gitlab-checks.js';
import { CALLBACK_PATH, checkOAuth } from './oauth-checks.js';
import { renderJson, renderText, shouldColor } from './render.js';

export type { CheckResult, CheckStatus } from './check.js';

const GITLAB_ACCESS: readonly VariableName[] = ['GITLAB_URL', 'GITLAB_ADMIN_TOKEN', 'GITLAB_TIMEOUT_MS'];
const OAUTH_APPLICATION: readonly VariableName[] = [...GITLAB_ACCESS, 'GITLAB_CLIENT_ID'];
const DATABASE: readonly VariableName[] = ['DATABASE_URL', 'DATA_DIR'];

/** The variables each check reads: a check one of whose variables has a problem does not run. */
const READS: Record<CheckId, readonly VariableName[]> = {
  'gitlab.reachable': GITLAB_ACCESS,
  'gitlab.version': GITLAB_ACCESS,
  'token.active': GITLAB_ACCESS,
  'token.scopes': GITLAB_ACCESS,
  'token.expiry': GITLAB_ACCESS,
  'token.admin': GITLAB_ACCESS,
  'oauth.discovery': GITLAB_ACCESS,
  'oauth.application': OAUTH_APPLICATION,
  'oauth.client': [...OAUTH_APPLICATION, 'GITLAB_CLIENT_SECRET'],
  'oauth.redirect_uri': [...OAUTH_APPLICATION, 'PUBLIC_URL'],
  'oauth.scopes': OAUTH_APPLICATION,
  'oauth.confidential': OAUTH_APPLICATION,
  public_url: ['PUBLIC_URL'],
  database: DATABASE,
  'database.migrations': DATABASE,
};

const ORDER = Object.keys(TITLES);

export interface DoctorOptions {
  /** For the admin token's days to expiry. */
  clock?: Clock;
  /** Where `.env` and relative paths are looked up; default: the working directory. */
  cwd?: string;
}

/** Check 5: the address users open. The configuration refuses http:// except for loopback hosts. */
function checkPublicUrl(publicUrl: string, blocked: Blocked): CheckResult {
  const problem = blocked('public_url');
  if (problem !== undefined) return skipped('public_url', problem);
  const url = new URL(publicUrl);
  const prefix = url.pathname === '/' ? 'no path prefix' : `path prefix ${url.pathname}`;
  if (url.protocol === 'https:') {
    return ok('public_url', `${publicUrl} (${prefix}; sign-in returns to ${publicUrl}${CALLBACK_PATH})`);
  }
  return warn(
    'public_url',
    `${publicUrl} uses plain http://, so only a browser on this machine can use the portal`,
    'For real use, serve the portal over https (e.g. behind a reverse proxy) and set PUBLIC_URL=https://…',
  );
}

/** A check that crashed is reported as failed; the other groups still run. */
function crashed(id: CheckId, err: unknown): CheckResult {
  const what = err instanceof Error ? `${err.name}: ${err.message}` : 'unknown error';
  return fail(
    id,
    `the check itself failed (${what})`,
    'Run the doctor again; if it fails the same way, report it.',
  );
}

async function guarded(id: CheckId, run: () => Promise<CheckResult[]>): Promise<CheckResult[]> {
  try {
    return await run();
  } catch (err) {
    return [crashed(id, err)];
  }
}

/** Variables that are secret only for the password they may contain; the rest is shown. */
const URL_VARIABLES: ReadonlySet<VariableName> = new Set(['DATABASE_URL']);

function urlPasswords(url: string | undefined): string[] {
  const password = url !== undefined && URL.canParse(url) ? new URL(url).password : '';
  return password ? [password, decodeURIComponent(password)] : [];
}

/** Every secret value the doctor could know, however it was configured. */
function secretValues(env: NodeJS.ProcessEnv, config: Config | undefined): string[] {
  const values: (string | undefined)[] = [];
  for (const name of variableNames.filter((n) => variables[n].secret)) {
    if (URL_VARIABLES.has(name)) values.push(...urlPasswords(env[name]));
    else values.push(env[name]);
  }
  if (config) {
    values.push(
      config.gitlab.adminToken,
      config.gitlab.clientSecret,
      config.session.secret,
      config.encryptionKey.current,
      config.encryptionKey.previous,
      ...urlPasswords(config.database.dialect === 'postgres' ? config.database.url : undefined),
    );
  }
  // Short values would blank out ordinary words; no real secret is that short.
  return [...new Set(values.filter((v): v is string => v !== undefined && v.length >= 8))];
}

/** A last line of defence: no text the doctor prints contains a configured secret. */
function withoutSecrets(results: CheckResult[], secrets: readonly string[]): CheckResult[] {
  const scrub = (text: string) => secrets.reduce((out, secret) => out.split(secret).join('<set>'), text);
  return results.map((r) => ({
    ...r,
    title: scrub(r.title),
    detail: scrub(r.detail),
    ...(r.fix === undefined ? {} : { fix: scrub(r.fix) }),
  }));
}

/**
 * Runs every check, in report order: configuration, GitLab and its version, the admin token, the
 * OAuth application, the public URL, the database. A failing check skips only the checks that need
 * what it found broken. Writes nothing: no database file, no migration, no token.
 */
export async function runDoctor(env: NodeJS.ProcessEnv, options: DoctorOptions = {}): Promise<CheckResult[]> {
  const clock = options.clock ?? systemClock;
  const configuration = checkConfiguration(env, options.cwd ?? process.cwd());
  const { config, broken } = configuration;
  const results = [...configuration.results];
  if (!config) {
    for (const id of ORDER as CheckId[]) results.push(skipped(id, 'needs a readable configuration'));
    return withoutSecrets(results, secretValues(env, undefined));
  }

  const blocked: Blocked = (id) => {
    const bad = READS[id].filter((name) => broken.has(name));
    if (bad.length === 0) return undefined;
    return `needs ${bad.join(' and ')}, which ${bad.length === 1 ? 'has a problem' : 'have problems'} (see Configuration)`;
  };

  let gitlab: GitLabOutcome;
  try {
    gitlab = await checkGitLab(config.gitlab, clock, blocked);
  } catch (err) {
    const reason = 'needs the GitLab checks, which failed';
    gitlab = {
      results: [crashed('gitlab.reachable', err)],
      reachable: false,
      admin: undefined,
      adminUnavailable: reason,
    };
  }
  results.push(...gitlab.results);
  results.push(
    ...(await guarded('oauth.discovery', () =>
      checkOAuth({
        gitlab: config.gitlab,
        publicUrl: config.publicUrl,
        reachable: gitlab.reachable,
        admin: gitlab.admin,
        adminUnavailable: gitlab.adminUnavailable,
        blocked,
      }),
    )),
  );
  results.push(checkPublicUrl(config.publicUrl, blocked));
  const shownDatabase =
    config.database.dialect === 'sqlite' ? config.database.path : (redactedConfig(config).database.url ?? '');
  results.push(...(await guarded('database', () => checkDatabase(config.database, shownDatabase, blocked))));

  // Checks are reported in one fixed order, whichever way each group produced them.
  const configLines = results.filter((r) => !ORDER.includes(r.id));
  const checkLines = results
    .filter((r) => ORDER.includes(r.id))
    .sort((a, b) => ORDER.indexOf(a.id) - ORDER.indexOf(b.id));
  return withoutSecrets([...configLines, ...checkLines], secretValues(env, config));
}

const isConfigLine = (result: CheckResult) => result.id === 'config' || result.id.startsWith('config.');

/**
 * 0 when nothing failed (warnings allowed); the configuration exit status (78, as for any command)
 * when the configuration has problems and so nothing else could be checked; 1 for any other failure.
 */
export function doctorExitCode(results: readonly CheckResult[]): number {
  if (!results.some((r) => r.status === 'fail')) return 0;
  const configFailed = results.some((r) => isConfigLine(r) && r.status === 'fail');
  const nothingElseRan = results.every((r) => isConfigLine(r) || r.status === 'skipped');
  return configFailed && nothingElseRan ? exitCodeFor(new ConfigError([])) : 1;
}

export const DOCTOR_HELP = `
Checks, in order: configuration (every problem at once, secrets shown as <set>), GitLab reachability
and version, the admin token (active, api scope, administrator, Admin Mode, expiry), the OAuth
application (discovery, client id and secret, redirect URI, scopes, confidential), the public URL and
the database (connection, pending migrations). Changes nothing. Each line is ✓ ok, ! warning,
✗ failure or - skipped; every ! and ✗ says how to fix it. Colour only on a terminal without NO_COLOR.

Exit status:
  0   no check failed (warnings allowed)
  1   at least one check failed
  78  the configuration has problems and nothing else could be checked`;

export interface DoctorCommandOptions extends DoctorOptions {
  json?: boolean;
  out: { write(text: string): unknown; isTTY?: boolean };
}

/** `gitlab-extern doctor [--json]`: prints the report and returns the exit status. */
export async function runDoctorCommand(
  env: NodeJS.ProcessEnv,
  options: DoctorCommandOptions,
): Promise<number> {
  const results = await runDoctor(env, options);
  options.out.write(
    options.json ? renderJson(results) : renderText(results, { color: shouldColor(options.out, env) }),
  );
  return doctorExitCode(results);
}
