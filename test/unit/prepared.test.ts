import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { prepared } from '../../src/db/prepared.js';
import type { Database } from '../../src/db/schema.js';

// The queries run against a table of the real schema's shape, in memory.
let db: Kysely<Database>;

beforeEach(async () => {
  db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new SQLite(':memory:') }) });
  await db.schema
    .createTable('audit_chain_head')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('last_seq', 'integer', (c) => c.notNull())
    .addColumn('last_hash', 'text', (c) => c.notNull())
    .execute();
  await db
    .insertInto('audit_chain_head')
    .values([
      { id: 1, last_seq: 10, last_hash: 'a' },
      { id: 2, last_seq: 20, last_hash: 'b' },
    ])
    .execute();
});

afterEach(async () => {
  await db.destroy();
});

describe('prepared', () => {
  it('runs the same query with new values each time, whatever order Kysely puts them in', async () => {
    const update = prepared<{ id: number; seq: number; hash: string }, unknown>((value) =>
      db
        .updateTable('audit_chain_head')
        .set({ last_hash: value('hash'), last_seq: value('seq') })
        .where('id', '=', value('id')),
    );
    await update(db, { id: 2, seq: 21, hash: 'c' });
    await update(db, { hash: 'd', seq: 11, id: 1 });
    expect(await db.selectFrom('audit_chain_head').selectAll().orderBy('id').execute()).toEqual([
      { id: 1, last_seq: 11, last_hash: 'd' },
      { id: 2, last_seq: 21, last_hash: 'c' },
    ]);
  });

  it('keeps the constants written into the query', async () => {
    const find = prepared<{ min: number }, { id: number }>((value) =>
      db
        .selectFrom('audit_chain_head')
        .select('id')
        .where('last_hash', '=', 'b')
        .where('last_seq', '>=', value('min')),
    );
    expect((await find(db, { min: 20 })).rows).toEqual([{ id: 2 }]);
    expect((await find(db, { min: 21 })).rows).toEqual([]);
  });

  it('runs inside a transaction, and the rollback undoes it', async () => {
    const update = prepared<{ seq: number }, unknown>((value) =>
      db
        .updateTable('audit_chain_head')
        .set({ last_seq: value('seq') })
        .where('id', '=', 1),
    );
    await expect(
      db.transaction().execute(async (trx) => {
        await update(trx, { seq: 99 });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(
      (await db.selectFrom('audit_chain_head').select('last_seq').where('id', '=', 1).execute())[0],
    ).toEqual({
      last_seq: 10,
    });
  });

  it('refuses a value the query does not use as a parameter', async () => {
    const broken = prepared<{ id: number }, unknown>((value) => {
      value('id');
      return db.selectFrom('audit_chain_head').select('id');
    });
    await expect(broken(db, { id: 1 })).rejects.toThrow('the value id is not a parameter of: select');
  });
});
