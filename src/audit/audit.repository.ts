import type { Kysely, Transaction } from 'kysely';
import { type Dialect, dialectOf } from '../db/database.js';
import { type PreparedQuery, prepared } from '../db/prepared.js';
import type { AuditEventRow, Database } from '../db/schema.js';

interface HeadRow {
  last_seq: number;
  last_hash: string;
}

interface AuditChainHead {
  lastSeq: number;
  lastHash: string;
}

interface AuditRowFilter {
  /** A GitLab user id (number) or username (string). */
  actor?: number | string;
  action?: string;
  limit: number;
  /** Only events with a smaller seq: the cursor for the next page. */
  before?: number;
}

const AUDIT_COLUMNS = [
  'seq',
  'id',
  'at',
  'request_id',
  'actor_id',
  'actor_username',
  'action',
  'target_type',
  'target_id',
  'target_name',
  'outcome',
  'reason',
  'details',
  'ip',
  'prev_hash',
  'hash',
] as const satisfies readonly (keyof AuditEventRow)[];

export class AuditRepository {
  readonly #db: Kysely<Database>;
  readonly #dialect: Dialect;
  // Every audited change runs these; they are compiled once (see `prepared`).
  readonly #takeWriteLock: PreparedQuery<Record<string, never>, unknown>;
  readonly #readHead: PreparedQuery<Record<string, never>, HeadRow>;
  readonly #insertEvent: PreparedQuery<AuditEventRow, unknown>;
  readonly #moveHead: PreparedQuery<{ seq: number; hash: string }, unknown>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
    this.#dialect = dialectOf(db);
    // No row has id 0: the statement changes nothing, but it is a write.
    this.#takeWriteLock = prepared(() =>
      db
        .updateTable('audit_chain_head')
        .set((eb) => ({ last_seq: eb.ref('last_seq') }))
        .where('id', '=', 0),
    );
    const head = db.selectFrom('audit_chain_head').select(['last_seq', 'last_hash']).where('id', '=', 1);
    this.#readHead = prepared(() => (this.#dialect === 'postgres' ? head.forUpdate() : head));
    this.#insertEvent = prepared<AuditEventRow, unknown>((value) =>
      db
        .insertInto('audit_events')
        .values(Object.fromEntries(AUDIT_COLUMNS.map((column) => [column, value(column)])) as AuditEventRow),
    );
    this.#moveHead = prepared<{ seq: number; hash: string }, unknown>((value) =>
      db
        .updateTable('audit_chain_head')
        .set({ last_seq: value('seq'), last_hash: value('hash') })
        .where('id', '=', 1),
    );
  }

  /**
   * Reads the chain head for an append. On PostgreSQL the row stays locked until `trx` ends, which
   * serialises appends across connections and processes. On SQLite one process runs its transactions
   * one at a time on a single connection, but a maintenance command (`sessions revoke`) may write
   * beside the server: a transaction that reads before it writes cannot wait for the other's write
   * lock (SQLite answers SQLITE_BUSY at once), so the append first takes the lock with a write that
   * changes nothing, and the busy timeout applies.
   */
  async lockHead(trx: Transaction<Database>): Promise<AuditChainHead> {
    if (this.#dialect === 'sqlite') await this.#takeWriteLock(trx, {});
    const [row] = (await this.#readHead(trx, {})).rows;
    if (!row) throw new Error('the audit chain head is missing');
    return { lastSeq: row.last_seq, lastHash: row.last_hash };
  }

  async head(): Promise<AuditChainHead> {
    const row = await this.#db
      .selectFrom('audit_chain_head')
      .select(['last_seq', 'last_hash'])
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    return { lastSeq: row.last_seq, lastHash: row.last_hash };
  }

  async append(trx: Transaction<Database>, row: AuditEventRow): Promise<void> {
    await this.#insertEvent(trx, row);
    await this.#moveHead(trx, { seq: row.seq, hash: row.hash });
  }

  /** Events with `afterSeq < seq <= upToSeq`, oldest first. */
  async range(afterSeq: number, upToSeq: number, limit: number): Promise<AuditEventRow[]> {
    return this.#db
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', '>', afterSeq)
      .where('seq', '<=', upToSeq)
      .orderBy('seq', 'asc')
      .limit(limit)
      .execute();
  }

  /** Newest first. */
  async list(filter: AuditRowFilter): Promise<AuditEventRow[]> {
    let query = this.#db.selectFrom('audit_events').selectAll();
    if (typeof filter.actor === 'number') query = query.where('actor_id', '=', filter.actor);
    if (typeof filter.actor === 'string') query = query.where('actor_username', '=', filter.actor);
    if (filter.action !== undefined) query = query.where('action', '=', filter.action);
    if (filter.before !== undefined) query = query.where('seq', '<', filter.before);
    return query.orderBy('seq', 'desc').limit(filter.limit).execute();
  }
}
