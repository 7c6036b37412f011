import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AuditEventInput, AuditService } from '../../src/audit/audit.service.js';
import { openDatabase } from '../../src/db/database.js';
import { describeEachDialect, type TestDatabase, testDatabase } from '../support/databases.js';

const GENESIS = '0'.repeat(64);

function event(n: number, overrides: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    action: 'user.create',
    outcome: 'success',
    requestId: `req-${n}`,
    actor: { id: 7, username: 'grace' },
    target: { type: 'user', id: 100 + n, name: `ext-${n}` },
    reason: null,
    details: { n },
    ip: '192.0.2.1',
    ...overrides,
  };
}

describeEachDialect('audit log', (dialect) => {
  let database: TestDatabase;
  let audit: AuditService;
  let tick: number;

  beforeEach(async () => {
    database = await testDatabase(dialect);
    tick = 0;
    audit = new AuditService({
      db: database.db,
      clock: { now: () => new Date(Date.UTC(2026, 10, 22, 10, 0, tick++)) },
    });
  });
  afterEach(() => database.cleanup());

  const rows = () => database.db.selectFrom('audit_events').selectAll().orderBy('seq').execute();

  async function dropAppendOnlyTriggers() {
    if (dialect === 'sqlite') {
      await sql`DROP TRIGGER audit_events_no_update`.execute(database.db);
      await sql`DROP TRIGGER audit_events_no_delete`.execute(database.db);
    } else {
      await sql`DROP TRIGGER audit_events_no_change ON audit_events`.execute(database.db);
    }
  }

  it('chains each event to the one before it with SHA-256 over its canonical JSON', async () => {
    const first = await audit.record(event(1));
    await audit.record(
      event(2, { actor: null, target: null, details: null, outcome: 'failure', reason: 'nope' }),
    );

    const [row1, row2] = await rows();
    expect(first).toMatchObject({ seq: 1, at: '2026-11-22T10:00:00.000Z', action: 'user.create' });
    expect(row1).toMatchObject({ seq: 1, prev_hash: GENESIS, target_id: '101', details: '{"n":1}' });
    const canonical = JSON.stringify({
      action: 'user.create',
      actor_id: 7,
      actor_username: 'grace',
      at: '2026-11-22T10:00:00.000Z',
      details: '{"n":1}',
      id: row1!.id,
      ip: '192.0.2.1',
      outcome: 'success',
      reason: null,
      request_id: 'req-1',
      seq: 1,
      target_id: '101',
      target_name: 'ext-1',
      target_type: 'user',
    });
    expect(row1!.hash).toBe(
      createHash('sha256')
        .update(GENESIS + canonical)
        .digest('hex'),
    );
    expect(row2).toMatchObject({
      seq: 2,
      prev_hash: row1!.hash,
      actor_id: null,
      target_type: null,
      details: null,
    });
    expect(await audit.verify()).toEqual({ ok: true, count: 2 });
  });

  it('verifies an empty log', async () => {
    expect(await audit.verify()).toEqual({ ok: true, count: 0 });
  });

  it('keeps the chain intact and seq contiguous under 200 concurrent appends', async () => {
    await Promise.all(Array.from({ length: 200 }, (_, i) => audit.record(event(i))));
    expect(await audit.verify()).toEqual({ ok: true, count: 200 });
    expect((await rows()).map((row) => row.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it('commits an event with the caller’s transaction, or not at all', async () => {
    const operation = {
      id: crypto.randomUUID(),
      kind: 'create_user',
      sponsor_id: 7,
      idempotency_key: 'k',
      request_hash: 'h',
      payload: '{}',
      state: 'pending',
      created_at: '2026-11-22T10:00:00.000Z',
      updated_at: '2026-11-22T10:00:00.000Z',
    };
    await expect(
      database.db.transaction().execute(async (trx) => {
        await trx.insertInto('operations').values(operation).execute();
        await audit.record(event(1, { outcome: 'intent' }), trx);
        throw new Error('GitLab call refused');
      }),
    ).rejects.toThrow('GitLab call refused');
    expect(await rows()).toEqual([]);
    expect(await database.db.selectFrom('operations').selectAll().execute()).toEqual([]);

    await database.db.transaction().execute(async (trx) => {
      await trx.insertInto('operations').values(operation).execute();
      await audit.record(event(1, { outcome: 'intent' }), trx);
    });
    expect((await rows()).map((row) => [row.seq, row.outcome])).toEqual([[1, 'intent']]);
    expect(await database.db.selectFrom('operations').select('id').execute()).toEqual([{ id: operation.id }]);
    expect(await audit.verify()).toEqual({ ok: true, count: 1 });
  });

  it('refuses UPDATE and DELETE in the database itself', async () => {
    await audit.record(event(1));
    await audit.record(event(2));
    const before = await rows();

    await expect(database.db.updateTable('audit_events').set({ reason: 'edited' }).execute()).rejects.toThrow(
      /append-only/,
    );
    await expect(database.db.deleteFrom('audit_events').where('seq', '=', 2).execute()).rejects.toThrow(
      /append-only/,
    );
    await expect(database.db.deleteFrom('audit_chain_head').execute()).rejects.toThrow(/append-only/);
    await expect(
      database.db.updateTable('audit_chain_head').set({ last_seq: 1, last_hash: GENESIS }).execute(),
    ).rejects.toThrow(/only moves forward/);
    if (dialect === 'postgres') {
      await expect(sql`TRUNCATE audit_events`.execute(database.db)).rejects.toThrow(/append-only/);
    }

    expect(await rows()).toEqual(before);
    expect(await audit.verify()).toEqual({ ok: true, count: 2 });
  });

  it('names the first altered event when a superuser edits one', async () => {
    for (let n = 1; n <= 5; n++) await audit.record(event(n));
    await dropAppendOnlyTriggers();
    await database.db
      .updateTable('audit_events')
      .set({ actor_username: 'mallory' })
      .where('seq', '=', 3)
      .execute();

    expect(await audit.verify()).toEqual({
      ok: false,
      count: 2,
      firstBrokenSeq: 3,
      reason: 'event 3 was altered',
    });
  });

  it('detects an edit whose hash was recomputed, at the next event', async () => {
    for (let n = 1; n <= 4; n++) await audit.record(event(n));
    await dropAppendOnlyTriggers();
    await database.db
      .updateTable('audit_events')
      .set({ hash: 'f'.repeat(64) })
      .where('seq', '=', 2)
      .execute();

    const result = await audit.verify();
    expect(result).toMatchObject({ ok: false, firstBrokenSeq: 2 });
  });

  it('detects events deleted from the middle and from the end', async () => {
    for (let n = 1; n <= 6; n++) await audit.record(event(n));
    await dropAppendOnlyTriggers();

    await database.db.deleteFrom('audit_events').where('seq', '=', 6).execute();
    expect(await audit.verify()).toEqual({
      ok: false,
      count: 5,
      firstBrokenSeq: 6,
      reason: 'event 6 is missing',
    });

    await database.db.deleteFrom('audit_events').where('seq', 'in', [3, 4]).execute();
    expect(await audit.verify()).toEqual({
      ok: false,
      count: 2,
      firstBrokenSeq: 3,
      reason: 'event 3–4 are missing',
    });
  });

  it('stores CR/LF, quotes and SQL-looking text exactly as given', async () => {
    const hostile = {
      actor: { id: 7, username: "Robert'); DROP TABLE audit_events;--" },
      reason: 'evil\nINFO login.success user=admin\r\nsecond line',
      target: { type: 'user', id: '1 OR 1=1', name: '<script>alert(1)</script>' },
      requestId: '"quoted" \\ backslash',
      details: { note: 'tab\there', nested: { emoji: '👩‍💻', quote: "it's" } },
    };
    await audit.record(event(1, hostile));
    await audit.record(event(2));

    const [stored] = await audit.list({ limit: 10, actor: hostile.actor.username });
    expect(stored).toMatchObject({
      actor: hostile.actor,
      reason: hostile.reason,
      target: hostile.target,
      requestId: hostile.requestId,
      details: hostile.details,
    });
    expect(await database.db.selectFrom('audit_events').select('seq').execute()).toHaveLength(2);
    expect(await audit.verify()).toEqual({ ok: true, count: 2 });
  });

  it('replaces only what the database cannot store (NUL, unpaired surrogates) and still verifies', async () => {
    await audit.record(event(1, { reason: 'a\u0000b', target: { type: 'user', name: 'x\uD800y' } }));
    const [stored] = await audit.list({ limit: 1 });
    expect(stored?.reason).toBe('a\uFFFDb');
    expect(stored?.target?.name).toBe('x\uFFFDy');
    expect(await audit.verify()).toEqual({ ok: true, count: 1 });
  });

  it('lists newest first, filtered by actor or action, page by page', async () => {
    await audit.record(event(1, { action: 'login.success' }));
    await audit.record(event(2, { actor: { id: 8, username: 'linus' } }));
    await audit.record(event(3));
    await audit.record(event(4, { action: 'login.success' }));

    const seqs = (events: { seq: number }[]) => events.map((e) => e.seq);
    expect(seqs(await audit.list({ limit: 10 }))).toEqual([4, 3, 2, 1]);
    expect(seqs(await audit.list({ limit: 2 }))).toEqual([4, 3]);
    expect(seqs(await audit.list({ limit: 2, before: 3 }))).toEqual([2, 1]);
    expect(seqs(await audit.list({ limit: 10, actor: 8 }))).toEqual([2]);
    expect(seqs(await audit.list({ limit: 10, actor: 'grace' }))).toEqual([4, 3, 1]);
    expect(seqs(await audit.list({ limit: 10, action: 'login.success' }))).toEqual([4, 1]);
  });
});

describe('audit log across PostgreSQL connection pools', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await testDatabase('postgres');
  });
  afterEach(() => database.cleanup());

  it('serialises appends from two pools, as from two replicas', async () => {
    const other = openDatabase(database.url);
    try {
      const a = new AuditService({ db: database.db });
      const b = new AuditService({ db: other.db });
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => [
          a.record(event(i)),
          b.record(event(i, { requestId: `b-${i}` })),
        ]).flat(),
      );
      expect(await b.verify()).toEqual({ ok: true, count: 200 });
    } finally {
      await other.close();
    }
  });
});
