import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, inject } from 'vitest';
import { type DatabaseHandle, type Dialect, openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';

export const dialects: readonly Dialect[] = ['sqlite', 'postgres'];

export interface TestDatabase extends DatabaseHandle {
  /** A `DATABASE_URL` for this database, e.g. to open it again or hand it to a server process. */
  url: string;
  /** Closes the handle (if still open) and deletes the database. */
  cleanup(): Promise<void>;
}

function postgresAdminUrl(): string {
  const url = inject('postgresAdminUrl');
  if (!url) {
    throw new Error(
      'No PostgreSQL test server: run this test in a vitest project whose globalSetup is test/support/global-setup.ts',
    );
  }
  return url;
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresAdminUrl() });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

function closeOnce(handle: DatabaseHandle): DatabaseHandle['close'] {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= handle.close();
    return closing;
  };
}

/**
 * A fresh database of the given dialect: a SQLite file in a new temporary directory, or a new
 * database `t_<random>` on the shared PostgreSQL. Migrated unless `migrate: false`.
 */
export async function testDatabase(
  dialect: Dialect,
  options: { migrate?: boolean } = {},
): Promise<TestDatabase> {
  let url: string;
  let remove: () => Promise<void>;
  if (dialect === 'sqlite') {
    const dir = await mkdtemp(join(tmpdir(), 'gitlab-extern-db-'));
    url = `sqlite://${join(dir, 'test.db')}`;
    remove = () => rm(dir, { recursive: true, force: true });
  } else {
    const name = `t_${randomBytes(8).toString('hex')}`;
    await adminQuery(`CREATE DATABASE ${name}`);
    const admin = new URL(postgresAdminUrl());
    admin.pathname = `/${name}`;
    url = admin.toString();
    remove = () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }

  const handle = openDatabase(url);
  const close = closeOnce(handle);
  try {
    if (options.migrate !== false) await migrateToLatest(handle.db);
  } catch (err) {
    await close();
    await remove();
    throw err;
  }
  return {
    db: handle.db,
    dialect: handle.dialect,
    url,
    close,
    async cleanup() {
      await close();
      await remove();
    },
  };
}

/** Runs the same suite once on SQLite and once on PostgreSQL. */
export function describeEachDialect(name: string, suite: (dialect: Dialect) => void): void {
  for (const dialect of dialects) describe(`${name} [${dialect}]`, () => suite(dialect));
}
