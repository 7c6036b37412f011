import type { Kysely, Transaction } from 'kysely';
import { type Dialect, dialectOf } from '../db/database.js';
import type { AuditEventRow, Database } from '../db/schema.js';

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

export class AuditRepository {
  readonly #db: Kysely<Database>;
  readonly #dialect: Dialect;

  constructor(db: Kysely<Database>) {
    this.#db = db;
    this.#dialect = dialectOf(db);
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
    if (this.#dialect === 'sqlite') {
      await trx
        .updateTable('audit_chain_head')
        .set((eb) => ({ last_seq: eb.ref('last_seq') }))
        .where('id', '=', 0)
        .execute();
    }
    const query = trx.selectFrom('audit_chain_head').select(['last_seq', 'last_hash']).where('id', '=', 1);
    const row = await (this.#dialect === 'postgres' ? query.forUpdate() : query).executeTakeFirstOrThrow();
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
    await trx.insertInto('audit_events').values(row).execute();
    await trx
      .updateTable('audit_chain_head')
      .set({ last_seq: row.seq, last_hash: row.hash })
      .where('id', '=', 1)
      .execute();
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
