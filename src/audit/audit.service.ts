import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { sha256Hex } from '../crypto/random.js';
import { GENESIS_HASH } from '../db/migrations/0001_initial.js';
import type { AuditEventRow, Database } from '../db/schema.js';
import { AuditRepository } from './audit.repository.js';

/**
 * `intent` is written before a privileged change (with the operation row), the others after it.
 * `adopted_after_ambiguous_response`: GitLab's answer was lost, and the change was found made and taken over.
 */
export type AuditOutcome =
  | 'intent'
  | 'success'
  | 'failure'
  | 'denied'
  | 'recovered'
  | 'adopted_after_ambiguous_response';

export interface AuditEventInput {
  /** Dotted verb, e.g. `login.success`, `user.create`, `membership.grant`. */
  action: string;
  outcome: AuditOutcome;
  requestId?: string | null;
  actor?: { id: number; username: string } | null;
  target?: { type: string; id?: string | number | null; name?: string | null } | null;
  reason?: string | null;
  details?: Record<string, unknown> | null;
  ip?: string | null;
}

export interface AuditEvent {
  seq: number;
  id: string;
  /** ISO-8601 UTC. */
  at: string;
  requestId: string | null;
  actor: { id: number | null; username: string | null } | null;
  action: string;
  target: { type: string; id: string | null; name: string | null } | null;
  outcome: string;
  reason: string | null;
  details: Record<string, unknown> | null;
  ip: string | null;
}

export interface AuditListFilter {
  /** A GitLab user id (number) or username (string). */
  actor?: number | string;
  action?: string;
  /** 1–500. */
  limit: number;
  /** Only events older than this seq (the `seq` of the last event of the previous page). */
  before?: number;
}

/** `count` is the number of events that verified before the first broken one (all of them when ok). */
export type AuditVerification =
  | { ok: true; count: number }
  | { ok: false; count: number; firstBrokenSeq: number; reason: string };

interface Clock {
  now(): Date;
}

/** The fields covered by an event's hash, in the fixed (sorted) order of the canonical JSON. */
const HASHED_FIELDS = [
  'action',
  'actor_id',
  'actor_username',
  'at',
  'details',
  'id',
  'ip',
  'outcome',
  'reason',
  'request_id',
  'seq',
  'target_id',
  'target_name',
  'target_type',
] as const satisfies readonly (keyof AuditEventRow)[];

/** hash = SHA-256(prev_hash ‖ canonical JSON of the event), hex. */
function auditEventHash(row: Omit<AuditEventRow, 'hash'>): string {
  const canonical = JSON.stringify(Object.fromEntries(HASHED_FIELDS.map((field) => [field, row[field]])));
  return sha256Hex(row.prev_hash + canonical);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Text is stored as given (CR, LF, quotes and markup included; it is escaped where it is shown), except
 * for what a database cannot store faithfully: NUL (refused by PostgreSQL) and unpaired surrogates
 * (replaced by both drivers when encoding UTF-8). Replacing them here keeps the hash equal to what is
 * read back.
 */
function storable(text: string): string {
  return text.replaceAll('\u0000', '\uFFFD').replace(LONE_SURROGATE, '\uFFFD');
}

function storableOrNull(text: string | number | null | undefined): string | null {
  return text === null || text === undefined ? null : storable(String(text));
}

function toEvent(row: AuditEventRow): AuditEvent {
  return {
    seq: row.seq,
    id: row.id,
    at: row.at,
    requestId: row.request_id,
    actor:
      row.actor_id === null && row.actor_username === null
        ? null
        : { id: row.actor_id, username: row.actor_username },
    action: row.action,
    target:
      row.target_type === null ? null : { type: row.target_type, id: row.target_id, name: row.target_name },
    outcome: row.outcome,
    reason: row.reason,
    details: row.details === null ? null : (JSON.parse(row.details) as Record<string, unknown>),
    ip: row.ip,
  };
}

const VERIFY_BATCH = 500;
const MAX_LIST_LIMIT = 500;

/** The append-only, hash-chained audit log. */
export class AuditService {
  readonly #db: Kysely<Database>;
  readonly #repository: AuditRepository;
  readonly #clock: Clock;

  constructor(deps: { db: Kysely<Database>; clock?: Clock }) {
    this.#db = deps.db;
    this.#repository = new AuditRepository(deps.db);
    this.#clock = deps.clock ?? { now: () => new Date() };
  }

  /**
   * Appends one event. Pass the caller's transaction to commit the event together with the change it
   * describes (an operation row and its `intent`); the append then holds the chain head until that
   * transaction ends, so call it last. Without a transaction the event commits on its own.
   * Never call it without `trx` while holding a transaction on SQLite: that transaction owns the only
   * connection.
   */
  async record(event: AuditEventInput, trx?: Transaction<Database>): Promise<AuditEvent> {
    if (trx) return this.#append(event, trx);
    return this.#db.transaction().execute((own) => this.#append(event, own));
  }

  async #append(event: AuditEventInput, trx: Transaction<Database>): Promise<AuditEvent> {
    const head = await this.#repository.lockHead(trx);
    const unhashed: Omit<AuditEventRow, 'hash'> = {
      seq: head.lastSeq + 1,
      id: randomUUID(),
      at: this.#clock.now().toISOString(),
      request_id: storableOrNull(event.requestId),
      actor_id: event.actor?.id ?? null,
      actor_username: storableOrNull(event.actor?.username),
      action: storable(event.action),
      target_type: storableOrNull(event.target?.type),
      target_id: storableOrNull(event.target?.id),
      target_name: storableOrNull(event.target?.name),
      outcome: event.outcome,
      reason: storableOrNull(event.reason),
      details: event.details === null || event.details === undefined ? null : JSON.stringify(event.details),
      ip: storableOrNull(event.ip),
      prev_hash: head.lastHash,
    };
    const row: AuditEventRow = { ...unhashed, hash: auditEventHash(unhashed) };
    await this.#repository.append(trx, row);
    return toEvent(row);
  }

  /**
   * Walks the chain from the first event: each event must have the next seq, link to its
   * predecessor's hash and match its own hash, and the last one must match the chain head (which
   * catches events removed from the end). Events appended while it runs are not checked.
   */
  async verify(): Promise<AuditVerification> {
    const head = await this.#repository.head();
    let expectedSeq = 1;
    let previousHash = GENESIS_HASH;
    for (;;) {
      const rows = await this.#repository.range(expectedSeq - 1, head.lastSeq, VERIFY_BATCH);
      for (const row of rows) {
        const count = expectedSeq - 1;
        if (row.seq !== expectedSeq) {
          const missing =
            row.seq - 1 === expectedSeq ? `${expectedSeq} is` : `${expectedSeq}–${row.seq - 1} are`;
          return { ok: false, count, firstBrokenSeq: expectedSeq, reason: `event ${missing} missing` };
        }
        if (row.prev_hash !== previousHash) {
          return {
            ok: false,
            count,
            firstBrokenSeq: row.seq,
            reason: `event ${row.seq} does not link to the event before it`,
          };
        }
        const { hash, ...unhashed } = row;
        if (auditEventHash(unhashed) !== hash) {
          return { ok: false, count, firstBrokenSeq: row.seq, reason: `event ${row.seq} was altered` };
        }
        previousHash = hash;
        expectedSeq += 1;
      }
      if (rows.length < VERIFY_BATCH) break;
    }
    const count = expectedSeq - 1;
    if (count < head.lastSeq) {
      const missing = count + 1 === head.lastSeq ? `${head.lastSeq} is` : `${count + 1}–${head.lastSeq} are`;
      return { ok: false, count, firstBrokenSeq: count + 1, reason: `event ${missing} missing` };
    }
    if (previousHash !== head.lastHash) {
      return {
        ok: false,
        count,
        firstBrokenSeq: head.lastSeq,
        reason: `event ${head.lastSeq} does not match the chain head`,
      };
    }
    return { ok: true, count };
  }

  /** Newest first. */
  async list(filter: AuditListFilter): Promise<AuditEvent[]> {
    const limit = Math.min(Math.max(Math.trunc(filter.limit), 1), MAX_LIST_LIMIT);
    const rows = await this.#repository.list({ ...filter, limit });
    return rows.map(toEvent);
  }
}
