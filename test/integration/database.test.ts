import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatabaseLockedError, openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { migrations } from '../../src/db/migrations/index.js';
import { describeEachDialect, type TestDatabase, testDatabase } from '../support/databases.js';

const TABLES = [
  'audit_chain_head',
  'audit_events',
  'login_states',
  'operations',
  'portal_users',
  'sessions',
  'sponsorships',
];

const now = '2026-11-22T10:00:00.000Z';

function sponsorship(overrides: Record<string, unknown> = {}) {
  return {
    id: crypto.randomUUID(),
    gitlab_user_id: null,
    username: 'ext-ada',
    email: 'ada@example.org',
    name: 'Ada',
    organisation: 'Example Org',
    reason: 'Joint project',
    sponsor_id: 7,
    sponsor_username: 'grace',
    state: 'pending',
    created_at: now,
    updated_at: now,
    ...overrides,
  };
}

function operation(overrides: Record<string, unknown> = {}) {
  return {
    id: crypto.randomUUID(),
    kind: 'create_user',
    sponsor_id: 7,
    idempotency_key: 'key-1',
    request_hash: 'h',
    payload: '{}',
    state: 'pending',
    created_at: now,
    updated_at: now,
    ...overrides,
  };
}

describeEachDialect('migrations', (dialect) => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await testDatabase(dialect, { migrate: false });
  });
  afterEach(() => database.cleanup());

  it('creates every table, records the migrations and does nothing on a second run', async () => {
    expect(await migrateToLatest(database.db)).toEqual(Object.keys(migrations));

    const tables = (await database.db.introspection.getTables()).map((table) => table.name);
    expect(tables).toEqual(expect.arrayContaining(TABLES));
    const applied = await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(
      database.db,
    );
    expect(applied.rows.map((row) => row.name)).toEqual(Object.keys(migrations));

    await database.db.insertInto('sponsorships').values(sponsorship()).execute();
    expect(await migrateToLatest(database.db)).toEqual([]);
    const rows = await database.db.selectFrom('sponsorships').select('email').execute();
    expect(rows).toEqual([{ email: 'ada@example.org' }]);
  });

  it('refuses a database migrated by a newer version', async () => {
    await migrateToLatest(database.db);
    await sql`INSERT INTO kysely_migration (name, timestamp) VALUES ('9999_from_the_future', ${now})`.execute(
      database.db,
    );
    await expect(migrateToLatest(database.db)).rejects.toThrow(
      /Database migration failed: .*9999_from_the_future/,
    );
  });
});

describeEachDialect('schema constraints', (dialect) => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await testDatabase(dialect);
  });
  afterEach(() => database.cleanup());

  it('keeps sponsorship emails unique and lower-case', async () => {
    await database.db.insertInto('sponsorships').values(sponsorship()).execute();
    await expect(
      database.db
        .insertInto('sponsorships')
        .values(sponsorship({ username: 'ext-ada2' }))
        .execute(),
    ).rejects.toThrow(/unique/i);
    await expect(
      database.db
        .insertInto('sponsorships')
        .values(sponsorship({ email: 'Bob@Example.org' }))
        .execute(),
    ).rejects.toThrow(/check/i);
  });

  it('keeps one GitLab user per sponsorship while allowing many that have none yet', async () => {
    await database.db
      .insertInto('sponsorships')
      .values([sponsorship({ email: 'a@example.org' }), sponsorship({ email: 'b@example.org' })])
      .execute();
    await database.db
      .insertInto('sponsorships')
      .values(sponsorship({ email: 'c@example.org', gitlab_user_id: 42 }))
      .execute();
    await expect(
      database.db
        .insertInto('sponsorships')
        .values(sponsorship({ email: 'd@example.org', gitlab_user_id: 42 }))
        .execute(),
    ).rejects.toThrow(/unique/i);
  });

  it('scopes idempotency keys to the sponsor', async () => {
    await database.db.insertInto('operations').values(operation()).execute();
    await database.db
      .insertInto('operations')
      .values(operation({ sponsor_id: 8 }))
      .execute();
    await expect(database.db.insertInto('operations').values(operation()).execute()).rejects.toThrow(
      /unique/i,
    );
    const stored = await database.db.selectFrom('operations').select(['sponsor_id', 'attempts']).execute();
    expect(stored).toEqual([
      { sponsor_id: 7, attempts: 0 },
      { sponsor_id: 8, attempts: 0 },
    ]);
  });

  it('removes the sessions of a deleted portal user', async () => {
    await database.db
      .insertInto('portal_users')
      .values({
        gitlab_id: 7,
        username: 'grace',
        name: 'Grace',
        email: null,
        first_sign_in_at: now,
        last_sign_in_at: now,
      })
      .execute();
    await database.db
      .insertInto('sessions')
      .values({
        id_hash: 'a'.repeat(64),
        user_id: 7,
        username: 'grace',
        name: 'Grace',
        csrf_token: 'csrf',
        created_at: now,
        last_seen_at: now,
        expires_at: now,
        access_token_enc: 'v1.x',
        refresh_token_enc: null,
        token_expires_at: null,
        key_id: 'k',
        ip: null,
        user_agent: null,
      })
      .execute();
    await database.db.deleteFrom('portal_users').where('gitlab_id', '=', 7).execute();
    expect(await database.db.selectFrom('sessions').selectAll().execute()).toEqual([]);
  });

  it('returns GitLab ids and counts as numbers', async () => {
    await database.db
      .insertInto('portal_users')
      .values({
        gitlab_id: 2 ** 40,
        username: 'big',
        name: 'Big',
        email: null,
        first_sign_in_at: now,
        last_sign_in_at: now,
      })
      .execute();
    const user = await database.db.selectFrom('portal_users').select('gitlab_id').executeTakeFirstOrThrow();
    expect(user.gitlab_id).toBe(2 ** 40);
    const { count } = await database.db
      .selectFrom('portal_users')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirstOrThrow();
    expect(count).toBe(1);
  });
});

describe('SQLite settings', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await testDatabase('sqlite');
  });
  afterEach(() => database.cleanup());

  it('uses write-ahead logging, full synchronous commits and foreign keys', async () => {
    const pragma = async (name: string) =>
      Object.values(
        (await sql.raw<Record<string, unknown>>(`PRAGMA ${name}`).execute(database.db)).rows[0] ?? {},
      )[0];
    expect(await pragma('journal_mode')).toBe('wal');
    expect(await pragma('synchronous')).toBe(2);
    expect(await pragma('foreign_keys')).toBe(1);
    expect(Number(await pragma('busy_timeout'))).toBeGreaterThan(0);
  });

  it('creates the database file readable by its owner only', async () => {
    const path = new URL(database.url.replace(/^sqlite:/, 'file:')).pathname;
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });
});

describe('PostgreSQL settings', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await testDatabase('postgres');
  });
  afterEach(() => database.cleanup());

  it('bounds statement time', async () => {
    const result = await sql<{ statement_timeout: string }>`SHOW statement_timeout`.execute(database.db);
    expect(result.rows[0]?.statement_timeout).toBe('10s');
  });

  it('gives up connecting to a server that never answers', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const handle = openDatabase(`postgres://nobody@127.0.0.1:${port}/nothing`);
    try {
      await expect(sql`SELECT 1`.execute(handle.db)).rejects.toThrow(/timeout/i);
    } finally {
      await handle.close();
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});

describe('one process per SQLite database', () => {
  const childScript = fileURLToPath(new URL('../support/sqlite-lock-child.ts', import.meta.url));
  const loader = fileURLToPath(new URL('../support/register-ts.mjs', import.meta.url));
  let dir: string;
  let path: string;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gitlab-extern-lock-'));
    path = join(dir, 'portal.db');
  });
  afterEach(async () => {
    for (const proc of children.splice(0)) proc.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  function start(mode: 'close' | 'hold') {
    const proc = spawn(process.execPath, ['--import', loader, childScript, path, mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(proc);
    let stdout = '';
    let stderr = '';
    proc.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const firstLine = new Promise<string>((resolve, reject) => {
      proc.stdout.on('data', (chunk) => {
        stdout += chunk;
        if (stdout.includes('\n')) resolve(stdout.split('\n', 1)[0]!);
      });
      proc.once('exit', (code) => reject(new Error(`child exited (${code}) before reporting: ${stderr}`)));
    });
    const exit = new Promise<number | null>((resolve) => proc.once('exit', resolve));
    return { proc, firstLine, exit };
  }

  it('refuses a second process with a clear error while the first has the database open', async () => {
    const first = openDatabase({ dialect: 'sqlite', path });
    try {
      await migrateToLatest(first.db);
      const second = start('close');
      const report = JSON.parse(await second.firstLine);
      expect(report.name).toBe('DatabaseLockedError');
      expect(report.message).toContain(path);
      expect(report.message).toMatch(/Another gitlab-extern process is using the SQLite database/);
      expect(await second.exit).toBe(3);
    } finally {
      await first.close();
    }
    const third = start('close');
    expect(await third.firstLine).toBe('opened');
    expect(await third.exit).toBe(0);
  });

  it('is refused while another process holds the database, and free again once that process is killed', async () => {
    const holder = start('hold');
    expect(await holder.firstLine).toBe('opened');
    expect(() => openDatabase({ dialect: 'sqlite', path })).toThrow(DatabaseLockedError);

    holder.proc.kill('SIGKILL');
    await holder.exit;
    const handle = openDatabase({ dialect: 'sqlite', path });
    await migrateToLatest(handle.db);
    await handle.close();
  });
});
