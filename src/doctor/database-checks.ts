import { accessSync, constants, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { DEFAULT_MIGRATION_TABLE, Kysely, SqliteDialect, sql } from 'kysely';
import { openDatabase } from '../db/database.js';
import type { DatabaseTarget } from '../db/database-url.js';
import { migrations } from '../db/migrations/index.js';
import type { Database } from '../db/schema.js';
import { type CheckResult, errorCodeOf, fail, ok, skipAll, skipped, warn } from './check.js';
import type { Blocked } from './gitlab-checks.js';

const KNOWN_MIGRATIONS = Object.keys(migrations).sort();

function canAccess(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

/** The closest directory that exists: where `serve` would have to create the rest. */
function existingAncestor(dir: string): string {
  let current = dir;
  while (!existsSync(current) && dirname(current) !== current) current = dirname(current);
  return current;
}

/** Check 6b: which migrations the database has, compared with this build's. Never changes anything. */
async function migrationsResult(db: Kysely<Database>): Promise<CheckResult> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  const applied = tables.some((t) => t.name === DEFAULT_MIGRATION_TABLE)
    ? (
        await sql<{ name: string }>`select name from ${sql.table(DEFAULT_MIGRATION_TABLE)}`.execute(db)
      ).rows.map((row) => row.name)
    : [];
  const unknown = applied.filter((name) => !KNOWN_MIGRATIONS.includes(name)).sort();
  const pending = KNOWN_MIGRATIONS.filter((name) => !applied.includes(name));
  if (unknown.length > 0) {
    return fail(
      'database.migrations',
      `the database was migrated by a newer gitlab-extern (${unknown.join(', ')}); serve refuses to start with it`,
      'Run the newer gitlab-extern version again, or restore the backup taken before the upgrade.',
    );
  }
  if (pending.length > 0) {
    return warn(
      'database.migrations',
      `${pending.length} of ${KNOWN_MIGRATIONS.length} pending: ${pending.join(', ')}`,
      'Nothing to do: serve applies pending migrations when it starts (the doctor never changes the database). Back up the database before starting a new version.',
    );
  }
  return ok(
    'database.migrations',
    `all ${KNOWN_MIGRATIONS.length} applied (latest ${KNOWN_MIGRATIONS.at(-1)})`,
  );
}

/**
 * Whether a portal process holds the SQLite database (`openDatabase` keeps an exclusive lock on
 * `<db>.lock` while it runs). Probed read-only, so the doctor never creates the lock file.
 */
function heldByRunningPortal(path: string): boolean {
  const lockPath = `${path}.lock`;
  if (!existsSync(lockPath)) return false;
  let lock: BetterSqlite3.Database | undefined;
  try {
    lock = new BetterSqlite3(lockPath, { readonly: true, fileMustExist: true, timeout: 0 });
    lock.prepare('select count(*) from sqlite_master').get();
    return false;
  } catch (err) {
    if (errorCodeOf(err) === 'SQLITE_BUSY') return true;
    throw err;
  } finally {
    lock?.close();
  }
}

const RUN_AS_PORTAL_USER =
  'Run the doctor as the user the portal runs as; give that user read and write access to the file and its directory (SQLite creates -wal and -shm files next to it).';

async function checkSqlite(path: string): Promise<CheckResult[]> {
  if (!existsSync(path)) {
    const dir = existingAncestor(dirname(path));
    if (!canAccess(dir, constants.W_OK)) {
      return [
        fail(
          'database',
          `${path} does not exist, and ${dir} is not writable`,
          `${RUN_AS_PORTAL_USER} Or set DATA_DIR or DATABASE_URL to a writable place.`,
        ),
        skipped('database.migrations', 'needs the database'),
      ];
    }
    return [
      ok('database', `SQLite ${path} does not exist yet; serve creates it at first start`),
      ok('database.migrations', `serve applies all ${KNOWN_MIGRATIONS.length} when it creates the database`),
    ];
  }
  if (!canAccess(path, constants.R_OK | constants.W_OK) || !canAccess(dirname(path), constants.W_OK)) {
    return [
      fail('database', `SQLite ${path} or its directory is not writable by this user`, RUN_AS_PORTAL_USER),
      skipped('database.migrations', 'needs a usable database'),
    ];
  }

  let inUse: boolean;
  let db: Kysely<Database> | undefined;
  try {
    inUse = heldByRunningPortal(path);
    // While the portal runs its -wal and -shm files exist and a read-only connection creates nothing.
    // Otherwise a normal connection removes them again when it closes; a read-only one would leave them.
    const sqlite = new BetterSqlite3(path, { readonly: inUse, fileMustExist: true, timeout: 5_000 });
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
    const migrationCheck = await migrationsResult(db);
    const database = inUse
      ? warn(
          'database',
          `SQLite ${path} is in use by a running portal`,
          'Nothing to do if the portal is running. A SQLite database serves one portal process; to run several, use PostgreSQL (DATABASE_URL=postgres://…).',
        )
      : ok('database', `SQLite ${path} (readable and writable)`);
    return [database, migrationCheck];
  } catch (err) {
    const code = errorCodeOf(err) ?? 'unknown error';
    const notSqlite = code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT';
    return [
      fail(
        'database',
        notSqlite
          ? `${path} is not a usable SQLite database (${code})`
          : `cannot open SQLite ${path} (${code})`,
        notSqlite
          ? "Point DATABASE_URL at the portal's database, or restore it from a backup."
          : RUN_AS_PORTAL_USER,
      ),
      skipped('database.migrations', 'needs a usable database'),
    ];
  } finally {
    await db?.destroy();
  }
}

const PG_CODES: Readonly<Record<string, { detail: string; fix: string }>> = {
  '28P01': {
    detail: 'password authentication failed',
    fix: 'Correct the user name and password in DATABASE_URL (or the file DATABASE_URL_FILE names).',
  },
  '28000': {
    detail: 'PostgreSQL refused this client (no pg_hba.conf entry, or the role cannot log in)',
    fix: "Allow the portal's host and user in pg_hba.conf, or correct the user in DATABASE_URL.",
  },
  '3D000': {
    detail: 'the database does not exist',
    fix: 'Create it (e.g. createdb -O <user> <name>) or correct its name in DATABASE_URL.',
  },
};

function postgresProblem(err: unknown, where: string): CheckResult {
  const code = errorCodeOf(err);
  const known = code === undefined ? undefined : PG_CODES[code];
  if (known) return fail('database', `PostgreSQL ${where}: ${known.detail}`, known.fix);
  const timedOut = err instanceof Error && /timeout/i.test(err.message);
  const reason = timedOut ? 'no answer in time' : `cannot connect (${code ?? 'unknown error'})`;
  return fail(
    'database',
    `PostgreSQL ${where}: ${reason}`,
    'Check that PostgreSQL runs and that host, port and database in DATABASE_URL are right, and that this machine may connect (firewall, pg_hba.conf).',
  );
}

async function checkPostgres(url: string, shown: string): Promise<CheckResult[]> {
  const handle = openDatabase({ dialect: 'postgres', url });
  try {
    let version: string;
    try {
      const { rows } = await sql<{ server_version: string }>`show server_version`.execute(handle.db);
      version = rows[0]?.server_version ?? 'unknown version';
    } catch (err) {
      return [postgresProblem(err, shown), skipped('database.migrations', 'needs a reachable database')];
    }
    return [ok('database', `PostgreSQL ${version} at ${shown}`), await migrationsResult(handle.db)];
  } finally {
    await handle.close();
  }
}

/** Check 6: the database connects and its schema is this build's. */
export async function checkDatabase(
  target: DatabaseTarget,
  shown: string,
  blocked: Blocked,
): Promise<CheckResult[]> {
  const configProblem = blocked('database');
  if (configProblem !== undefined) return skipAll(['database', 'database.migrations'], configProblem);
  return target.dialect === 'sqlite' ? checkSqlite(target.path) : checkPostgres(target.url, shown);
}
