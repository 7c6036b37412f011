import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { DEFAULT_MIGRATION_TABLE, sql } from 'kysely';
import { createServices } from '../app.js';
import { AuditService } from '../audit/audit.service.js';
import { createOidcClient } from '../auth/oidc.js';
import { systemClock } from '../clock.js';
import { type Config, ConfigError, loadConfig } from '../config/config.js';
import { TokenCipher } from '../crypto/aead.js';
import { type DatabaseHandle, openDatabase } from '../db/database.js';
import { migrations } from '../db/migrations/index.js';
import { DomainError, exitCodeFor, toDomainError } from '../errors.js';
import { createGitLabClient } from '../gitlab/client.js';
import { Readiness } from '../health/readiness.js';
import { createLogger, type Logger } from '../logging/logger.js';

/**
 * Maintenance commands an administrator runs beside the portal: `sessions revoke` and `audit verify`.
 * They read the same configuration as `serve` and open the database without the SQLite instance lock
 * (which is there to keep a second server off the file), so they work while the portal runs.
 */

export interface CommandIo {
  env: NodeJS.ProcessEnv;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Where `.env` and relative paths are looked up; default: the working directory. */
  cwd?: string;
}

/** Exit status of `audit verify` when the chain does not verify. */
const AUDIT_BROKEN_EXIT_CODE = 1;

export const SESSIONS_REVOKE_HELP = `
Ends sessions in the portal's database and revokes their GitLab sign-in grants; the browsers are
signed out at their next request. Each ended session is audited (session.terminated, reason
revoked_by_admin). Safe while the portal runs.

Exit status:
  0   done (also when the user had no session)
  2   neither or both of --user and --all
  3   nobody with this GitLab id or username has signed in to the portal
  11  the database is missing or not migrated by this version
  78  the configuration has problems`;

export const AUDIT_VERIFY_HELP = `
Walks the hash chain of the audit log from the first event: every event must follow the one before it
and match its hash, and the last must match the chain head. Changes nothing. Safe while the portal runs.

Exit status:
  0   the chain verifies
  1   the chain is broken; the output names the first broken event
  11  the database is missing or not migrated by this version
  78  the configuration has problems`;

/** Text the user typed, shown back safely on one line. */
function quoted(text: string): string {
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}…` : text);
}

function operatorName(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

function writeJson(io: CommandIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Prints a failure (stderr, or a JSON object on stdout with --json) and returns its exit status. */
function report(io: CommandIo, json: boolean, err: unknown): number {
  if (err instanceof ConfigError) {
    if (json) writeJson(io, { error: { code: 'configuration', problems: err.problems } });
    else io.stderr.write(`${err.message}\n\nSee .env.example for every variable.\n`);
    return exitCodeFor(err);
  }
  const error = toDomainError(err);
  // Our own messages are written for the operator; anything unexpected is shown by its code's text.
  const cause = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const message = err instanceof DomainError ? error.message : `${error.message} (${cause})`;
  if (json) writeJson(io, { error: { code: error.code, message } });
  else io.stderr.write(`gitlab-extern: ${message}\n`);
  return exitCodeFor(error);
}

async function assertMigrated(handle: DatabaseHandle): Promise<void> {
  const tables = await handle.db.introspection.getTables({ withInternalKyselyTables: true });
  const applied = tables.some((t) => t.name === DEFAULT_MIGRATION_TABLE)
    ? (
        await sql<{ name: string }>`select name from ${sql.table(DEFAULT_MIGRATION_TABLE)}`.execute(handle.db)
      ).rows.map((row) => row.name)
    : [];
  const missing = Object.keys(migrations).filter((name) => !applied.includes(name));
  if (missing.length > 0) {
    throw new DomainError(
      'storage_unavailable',
      `The database is not set up for this version of gitlab-extern (missing: ${missing.join(', ')}). ` +
        'Start the portal once (it migrates the database at start), then run this command again.',
    );
  }
}

/**
 * The configuration and the database for one command; closed again when `work` ends. Never creates a
 * SQLite database or migrates one: that is the server's job.
 */
async function withDatabase(
  io: CommandIo,
  work: (context: { config: Config; database: DatabaseHandle; logger: Logger }) => Promise<number>,
): Promise<number> {
  const { config } = loadConfig(io.env, io.cwd === undefined ? {} : { cwd: io.cwd });
  if (config.database.dialect === 'sqlite' && !existsSync(config.database.path)) {
    throw new DomainError(
      'storage_unavailable',
      `There is no database at ${config.database.path}: start the portal once to create it, or check DATABASE_URL and DATA_DIR.`,
    );
  }
  const logger = createLogger({ level: config.logLevel, destination: io.stderr });
  const database = openDatabase(config.database, {
    instanceLock: false,
    onConnectionError: (error) => logger.warn({ code: error.code }, 'database connection lost'),
  });
  try {
    await assertMigrated(database);
    return await work({ config, database, logger });
  } finally {
    await database.close();
  }
}

export interface SessionsRevokeOptions {
  /** A GitLab user id or username. */
  user?: string;
  all?: boolean;
  json?: boolean;
}

/** `gitlab-extern sessions revoke --user <id|username> | --all [--json]`; returns the exit status. */
export async function runSessionsRevoke(options: SessionsRevokeOptions, io: CommandIo): Promise<number> {
  const json = options.json === true;
  try {
    if ((options.user === undefined) === (options.all !== true)) {
      throw new DomainError(
        'validation',
        'Say whose sessions to end: --user <GitLab id or username>, or --all (not both).',
      );
    }
    return await withDatabase(io, async ({ config, database, logger }) => {
      const gitlab = createGitLabClient(config.gitlab);
      const services = createServices({
        config,
        database,
        gitlab,
        oidc: createOidcClient(config),
        cipher: new TokenCipher(config.encryptionKey),
        clock: systemClock,
        logger,
        readiness: new Readiness({
          database,
          gitlab,
          clock: systemClock,
          logger,
          checkSignIn: async () => undefined,
        }),
      });
      const details = { command: 'sessions revoke', operator: operatorName() };
      if (options.all === true) {
        const ended = await services.auth.revokeSessions({ all: true }, null, details);
        if (json) writeJson(io, { ended, all: true });
        else io.stdout.write(`Ended ${ended} ${ended === 1 ? 'session' : 'sessions'} (all users).\n`);
        return 0;
      }
      const ref = options.user ?? '';
      const user = await services.auth.findUser(ref);
      if (!user) {
        throw new DomainError(
          'not_found',
          `No portal user ${quoted(ref)}: nobody with this GitLab id or username has signed in to the portal.`,
        );
      }
      const ended = await services.auth.revokeSessions({ userId: user.id }, null, details);
      if (json) writeJson(io, { ended, user });
      else {
        io.stdout.write(
          `Ended ${ended} ${ended === 1 ? 'session' : 'sessions'} of @${user.username} (GitLab id ${user.id}).\n`,
        );
      }
      return 0;
    });
  } catch (err) {
    return report(io, json, err);
  }
}

/** `gitlab-extern audit verify [--json]`; returns the exit status. */
export async function runAuditVerify(options: { json?: boolean }, io: CommandIo): Promise<number> {
  const json = options.json === true;
  try {
    return await withDatabase(io, async ({ database }) => {
      const result = await new AuditService({ db: database.db }).verify();
      if (json) writeJson(io, result);
      else if (result.ok) {
        io.stdout.write(
          `Audit log intact: ${result.count} ${result.count === 1 ? 'event' : 'events'} verified.\n`,
        );
      } else {
        io.stdout.write(
          `Audit log broken at event ${result.firstBrokenSeq}: ${result.reason} ` +
            `(${result.count} ${result.count === 1 ? 'event' : 'events'} before it verified).\n`,
        );
      }
      return result.ok ? 0 : AUDIT_BROKEN_EXIT_CODE;
    });
  } catch (err) {
    return report(io, json, err);
  }
}
