import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresAdapter, PostgresDialect, type SqliteDatabase, SqliteDialect } from 'kysely';
import type pg from 'pg';
import { type DatabaseTarget, parseDatabaseUrl } from './database-url.js';
import type { Database } from './schema.js';

export type Dialect = DatabaseTarget['dialect'];

export interface DatabaseHandle {
  db: Kysely<Database>;
  dialect: Dialect;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** Told about connections PostgreSQL drops while idle (e.g. a database restart); they are replaced. */
  onConnectionError?: (error: { message: string; code?: string }) => void;
  /**
   * SQLite: take the instance lock on `<database>.lock` (default true). The lock keeps a second server
   * off the file; short maintenance commands (`sessions revoke`, `audit verify`) pass false to run
   * beside the server, relying on SQLite's own locking and the busy timeout. Ignored for PostgreSQL.
   */
  instanceLock?: boolean;
}

/** Another process already has this SQLite database open. */
export class DatabaseLockedError extends Error {
  override readonly name = 'DatabaseLockedError';

  constructor(readonly path: string) {
    super(
      `Another gitlab-extern process is using the SQLite database ${path}. ` +
        'Stop it first; to run several instances, use PostgreSQL (DATABASE_URL=postgres://…).',
    );
  }
}

const SQLITE_BUSY_TIMEOUT_MS = 5_000;
const PG_CONNECT_TIMEOUT_MS = 5_000;
const PG_STATEMENT_TIMEOUT_MS = 10_000;
const PG_IDLE_IN_TRANSACTION_TIMEOUT_MS = 30_000;

/**
 * Holds an exclusive SQLite lock on `<database>.lock` for as long as the process runs. The operating
 * system drops it when the process exits, however it exits, so there is no stale lock to clean up. It
 * is a separate file so that backups and inspection (`sqlite3 … .backup`) can still read the database.
 */
function acquireProcessLock(databasePath: string): BetterSqlite3.Database {
  const lock = new BetterSqlite3(`${databasePath}.lock`, { timeout: 0 });
  try {
    lock.pragma('locking_mode = EXCLUSIVE');
    // In exclusive locking mode the lock taken by this transaction is kept after it ends.
    lock.exec('BEGIN EXCLUSIVE');
    lock.exec('COMMIT');
    return lock;
  } catch (err) {
    lock.close();
    if (typeof err === 'object' && err !== null && 'code' in err && err.code === 'SQLITE_BUSY') {
      throw new DatabaseLockedError(databasePath);
    }
    throw err;
  }
}

/** Distinct SQL texts kept prepared; the portal's queries number far fewer. */
const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely's SQLite driver prepares every query anew, which costs more than running most of them. The
 * statements are kept by SQL text instead (least recently used dropped first). Reusing one is safe:
 * the driver runs one query at a time on the single connection, a stream included.
 */
function withStatementCache(sqlite: BetterSqlite3.Database): SqliteDatabase {
  const statements = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql) {
      let statement = statements.get(sql);
      if (statement) statements.delete(sql);
      else statement = sqlite.prepare(sql);
      statements.set(sql, statement);
      if (statements.size > STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!);
      return statement;
    },
  };
}

function openSqlite(path: string, instanceLock: boolean): DatabaseHandle {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const lock = instanceLock ? acquireProcessLock(path) : undefined;
  let sqlite: BetterSqlite3.Database | undefined;
  try {
    const isNew = !existsSync(path);
    sqlite = new BetterSqlite3(path, { timeout: SQLITE_BUSY_TIMEOUT_MS });
    // The database holds personal data and encrypted tokens; SQLite gives its -wal/-shm files the same mode.
    if (isNew) chmodSync(path, 0o600);
    const mode = sqlite.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal')
      throw new Error(`SQLite refused write-ahead logging for ${path} (journal mode ${mode})`);
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
  } catch (err) {
    sqlite?.close();
    lock?.close();
    throw err;
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return {
    db,
    dialect: 'sqlite',
    async close() {
      try {
        await db.destroy();
      } finally {
        lock?.close();
      }
    },
  };
}

/** int8 (counts, GitLab ids, audit seq) as numbers; beyond 2^53 a number would be silently wrong. */
function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError('int8 value is too large for a JavaScript number');
  return value;
}

function openPostgres(url: string, options: OpenDatabaseOptions): DatabaseHandle {
  // Loaded on first use: with SQLite the driver is never needed, and loading it slows every start.
  const { Pool, types } = createRequire(import.meta.url)('pg') as typeof pg;
  const pgTypes: pg.CustomTypesConfig = {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === types.builtins.INT8
        ? parseInt8
        : types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
  };
  const pool = new Pool({
    connectionString: url,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
    statement_timeout: PG_STATEMENT_TIMEOUT_MS,
    idle_in_transaction_session_timeout: PG_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    application_name: 'gitlab-extern',
    types: pgTypes,
  });
  // Without a listener, an idle connection dropped by the server would crash the process.
  pool.on('error', (err: Error & { code?: string }) => {
    options.onConnectionError?.({ message: err.message, ...(err.code ? { code: err.code } : {}) });
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', close: () => db.destroy() };
}

/**
 * Opens the database named by a `DATABASE_URL` (or an already parsed target). SQLite: durable settings
 * (WAL, synchronous=FULL, foreign keys) and one process per file. PostgreSQL: a pool with connect and
 * statement timeouts. Run `migrateToLatest` before use.
 * @throws DatabaseLockedError when another process holds the SQLite instance lock (unless `instanceLock` is false).
 */
export function openDatabase(
  target: DatabaseTarget | string,
  options: OpenDatabaseOptions = {},
): DatabaseHandle {
  const resolved = typeof target === 'string' ? parseDatabaseUrl(target, process.cwd()) : target;
  return resolved.dialect === 'sqlite'
    ? openSqlite(resolved.path, options.instanceLock ?? true)
    : openPostgres(resolved.url, options);
}

/** Which dialect a Kysely instance speaks, for the few statements that differ. */
export function dialectOf<DB>(db: Kysely<DB>): Dialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}
