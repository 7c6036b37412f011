import type { Kysely, Transaction } from 'kysely';
import { type PreparedQuery, prepared, type ValueOf } from '../db/prepared.js';
import type { Database, OperationRow, SponsorshipRow } from '../db/schema.js';

export type DbTransaction = Transaction<Database>;

/** An `operations` row in the service's terms; `payload` and `result` stay JSON text. */
export interface OperationRecord {
  id: string;
  kind: string;
  sponsorId: number;
  idempotencyKey: string;
  requestHash: string;
  payload: string;
  state: string;
  step: string | null;
  gitlabUserId: number | null;
  result: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  attempts: number;
  leaseOwner: string | null;
  leaseUntil: string | null;
  createdAt: string;
  updatedAt: string;
}

export type NewOperationRecord = Pick<
  OperationRecord,
  | 'id'
  | 'kind'
  | 'sponsorId'
  | 'idempotencyKey'
  | 'requestHash'
  | 'payload'
  | 'state'
  | 'step'
  | 'attempts'
  | 'leaseOwner'
  | 'leaseUntil'
  | 'createdAt'
>;

/** The columns a step may change; `updatedAt` is always written. */
export interface OperationChange {
  state?: string;
  step?: string | null;
  gitlabUserId?: number | null;
  result?: string | null;
  errorCode?: string | null;
  errorMessage?: string | null;
  attempts?: number;
  leaseOwner?: string | null;
  leaseUntil?: string | null;
  updatedAt: string;
}

export interface SponsorshipRecord {
  id: string;
  gitlabUserId: number | null;
  username: string;
  email: string;
  name: string;
  organisation: string | null;
  reason: string;
  sponsorId: number;
  sponsorUsername: string;
  state: string;
  createdAt: string;
  updatedAt: string;
}

function toOperation(row: OperationRow): OperationRecord {
  return {
    id: row.id,
    kind: row.kind,
    sponsorId: row.sponsor_id,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    payload: row.payload,
    state: row.state,
    step: row.step,
    gitlabUserId: row.gitlab_user_id,
    result: row.result,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    attempts: row.attempts,
    leaseOwner: row.lease_owner,
    leaseUntil: row.lease_until,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toSponsorship(row: SponsorshipRow): SponsorshipRecord {
  return {
    id: row.id,
    gitlabUserId: row.gitlab_user_id,
    username: row.username,
    email: row.email,
    name: row.name,
    organisation: row.organisation,
    reason: row.reason,
    sponsorId: row.sponsor_id,
    sponsorUsername: row.sponsor_username,
    state: row.state,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const NEW_OPERATION_COLUMNS = [
  'id',
  'kind',
  'sponsor_id',
  'idempotency_key',
  'request_hash',
  'payload',
  'state',
  'step',
  'attempts',
  'lease_owner',
  'lease_until',
  'created_at',
  'updated_at',
] as const satisfies readonly (keyof NewOperationColumns)[];

const SPONSORSHIP_COLUMNS = [
  'id',
  'gitlab_user_id',
  'username',
  'email',
  'name',
  'organisation',
  'reason',
  'sponsor_id',
  'sponsor_username',
  'state',
  'created_at',
  'updated_at',
] as const satisfies readonly (keyof SponsorshipRow)[];

/** `{ column: value(column) }` for each column, for building a prepared query. */
function named<V>(value: ValueOf<V>, columns: readonly (keyof V & string)[]): V {
  return Object.fromEntries(columns.map((column) => [column, value(column)])) as V;
}

function changeColumns(change: OperationChange) {
  const columns: Partial<Record<keyof OperationRow, unknown>> = { updated_at: change.updatedAt };
  if (change.state !== undefined) columns.state = change.state;
  if (change.step !== undefined) columns.step = change.step;
  if (change.gitlabUserId !== undefined) columns.gitlab_user_id = change.gitlabUserId;
  if (change.result !== undefined) columns.result = change.result;
  if (change.errorCode !== undefined) columns.error_code = change.errorCode;
  if (change.errorMessage !== undefined) columns.error_message = change.errorMessage;
  if (change.attempts !== undefined) columns.attempts = change.attempts;
  if (change.leaseOwner !== undefined) columns.lease_owner = change.leaseOwner;
  if (change.leaseUntil !== undefined) columns.lease_until = change.leaseUntil;
  return columns as Partial<OperationRow>;
}

type NewOperationColumns = Omit<OperationRow, 'gitlab_user_id' | 'result' | 'error_code' | 'error_message'>;

/** All SQL of the sponsorship feature: operations (the create state machine) and sponsorships. */
export class SponsorshipRepository {
  readonly #db: Kysely<Database>;
  // Every create runs these; they are compiled once (see `prepared`).
  readonly #insertOperation: PreparedQuery<NewOperationColumns, unknown>;
  readonly #insertSponsorship: PreparedQuery<SponsorshipRow, unknown>;
  readonly #sponsorshipByEmail: PreparedQuery<{ email: string }, SponsorshipRow>;
  /** By the columns an update sets. */
  readonly #updates = new Map<string, PreparedQuery<Record<string, unknown>, unknown>>();

  constructor(db: Kysely<Database>) {
    this.#db = db;
    this.#insertOperation = prepared<NewOperationColumns, unknown>((value) =>
      db
        .insertInto('operations')
        .values(named<NewOperationColumns>(value, NEW_OPERATION_COLUMNS))
        .onConflict((oc) => oc.columns(['sponsor_id', 'idempotency_key']).doNothing()),
    );
    this.#insertSponsorship = prepared<SponsorshipRow, unknown>((value) =>
      db
        .insertInto('sponsorships')
        .values(named<SponsorshipRow>(value, SPONSORSHIP_COLUMNS))
        .onConflict((oc) => oc.doNothing()),
    );
    this.#sponsorshipByEmail = prepared((value) =>
      db.selectFrom('sponsorships').selectAll().where('email', '=', value('email')),
    );
  }

  transaction<T>(work: (trx: DbTransaction) => Promise<T>): Promise<T> {
    return this.#db.transaction().execute(work);
  }

  /**
   * Inserts the operation unless the sponsor already used this idempotency key (the unique constraint
   * decides, so concurrent requests cannot both insert). True when this call inserted it.
   */
  async insertOperation(trx: DbTransaction, op: NewOperationRecord): Promise<boolean> {
    const result = await this.#insertOperation(trx, {
      id: op.id,
      kind: op.kind,
      sponsor_id: op.sponsorId,
      idempotency_key: op.idempotencyKey,
      request_hash: op.requestHash,
      payload: op.payload,
      state: op.state,
      step: op.step,
      attempts: op.attempts,
      lease_owner: op.leaseOwner,
      lease_until: op.leaseUntil,
      created_at: op.createdAt,
      updated_at: op.createdAt,
    });
    return Number(result.numAffectedRows ?? 0) === 1;
  }

  async operation(id: string): Promise<OperationRecord | undefined> {
    const row = await this.#db.selectFrom('operations').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toOperation(row);
  }

  async operationByKey(sponsorId: number, idempotencyKey: string): Promise<OperationRecord | undefined> {
    const row = await this.#db
      .selectFrom('operations')
      .selectAll()
      .where('sponsor_id', '=', sponsorId)
      .where('idempotency_key', '=', idempotencyKey)
      .executeTakeFirst();
    return row && toOperation(row);
  }

  /** The sponsor's own operation of `kind`; another sponsor's id finds nothing. */
  async operationOfSponsor(
    id: string,
    sponsorId: number,
    kind: string,
  ): Promise<OperationRecord | undefined> {
    const row = await this.#db
      .selectFrom('operations')
      .selectAll()
      .where('id', '=', id)
      .where('sponsor_id', '=', sponsorId)
      .where('kind', '=', kind)
      .executeTakeFirst();
    return row && toOperation(row);
  }

  /** The completed operation that created this GitLab user for this sponsor. */
  async completedOperationForUser(
    gitlabUserId: number,
    sponsorId: number,
    kind: string,
  ): Promise<OperationRecord | undefined> {
    const row = await this.#db
      .selectFrom('operations')
      .selectAll()
      .where('gitlab_user_id', '=', gitlabUserId)
      .where('sponsor_id', '=', sponsorId)
      .where('kind', '=', kind)
      .where('state', '=', 'completed')
      .executeTakeFirst();
    return row && toOperation(row);
  }

  /**
   * Writes a step's progress only while `owner` holds the lease, so a replica that lost its lease
   * (it was too slow and another took over) cannot overwrite the new owner's progress.
   */
  async updateOperation(
    id: string,
    owner: string,
    change: OperationChange,
    trx?: DbTransaction,
  ): Promise<boolean> {
    const columns = changeColumns(change);
    const signature = Object.keys(columns).join(',');
    let update = this.#updates.get(signature);
    if (!update) {
      const set = Object.keys(columns) as (keyof OperationRow)[];
      update = prepared<Record<string, unknown>, unknown>((value) =>
        this.#db
          .updateTable('operations')
          .set(named<Partial<OperationRow>>(value as ValueOf<Partial<OperationRow>>, set))
          .where('id', '=', value('where_id') as string)
          .where('lease_owner', '=', value('where_owner') as string),
      );
      this.#updates.set(signature, update);
    }
    const result = await update(trx ?? this.#db, { ...columns, where_id: id, where_owner: owner });
    return Number(result.numAffectedRows ?? 0) === 1;
  }

  /** Takes the lease of an unfinished operation whose lease is free or has expired. */
  async claimOperation(
    id: string,
    owner: string,
    now: string,
    leaseUntil: string,
    states: readonly string[],
  ): Promise<boolean> {
    const result = await this.#db
      .updateTable('operations')
      .set({ lease_owner: owner, lease_until: leaseUntil, updated_at: now })
      .where('id', '=', id)
      .where('state', 'in', states)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Frees the leases other owners hold on unfinished operations; returns how many. */
  async releaseLeasesOfOthers(kind: string, states: readonly string[], owner: string): Promise<number> {
    const result = await this.#db
      .updateTable('operations')
      .set({ lease_owner: null, lease_until: null })
      .where('kind', '=', kind)
      .where('state', 'in', states)
      .where('lease_owner', 'is not', null)
      .where('lease_owner', '!=', owner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Unfinished operations nobody holds (or whose holder's lease expired), oldest first. */
  async resumableOperations(
    kind: string,
    states: readonly string[],
    now: string,
    limit: number,
  ): Promise<OperationRecord[]> {
    const rows = await this.#db
      .selectFrom('operations')
      .selectAll()
      .where('kind', '=', kind)
      .where('state', 'in', states)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)]))
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .limit(limit)
      .execute();
    return rows.map(toOperation);
  }

  /** Newest first; failures listed in `hideErrorCodes` are left out. */
  async recentOperations(
    sponsorId: number,
    kind: string,
    limit: number,
    hideErrorCodes: readonly string[],
  ): Promise<OperationRecord[]> {
    const rows = await this.#db
      .selectFrom('operations')
      .selectAll()
      .where('sponsor_id', '=', sponsorId)
      .where('kind', '=', kind)
      .where((eb) =>
        eb.or([
          eb('state', '<>', 'failed'),
          eb('error_code', 'is', null),
          eb('error_code', 'not in', hideErrorCodes),
        ]),
      )
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toOperation);
  }

  /** False when a sponsorship with this GitLab user or e-mail already exists (unique constraints). */
  async insertSponsorship(trx: DbTransaction, record: SponsorshipRecord): Promise<boolean> {
    const result = await this.#insertSponsorship(trx, {
      id: record.id,
      gitlab_user_id: record.gitlabUserId,
      username: record.username,
      email: record.email,
      name: record.name,
      organisation: record.organisation,
      reason: record.reason,
      sponsor_id: record.sponsorId,
      sponsor_username: record.sponsorUsername,
      state: record.state,
      created_at: record.createdAt,
      updated_at: record.updatedAt,
    });
    return Number(result.numAffectedRows ?? 0) === 1;
  }

  async sponsorshipByEmail(email: string): Promise<SponsorshipRecord | undefined> {
    const [row] = (await this.#sponsorshipByEmail(this.#db, { email: email.toLowerCase() })).rows;
    return row && toSponsorship(row);
  }

  async sponsorshipByGitLabUser(gitlabUserId: number): Promise<SponsorshipRecord | undefined> {
    const row = await this.#db
      .selectFrom('sponsorships')
      .selectAll()
      .where('gitlab_user_id', '=', gitlabUserId)
      .executeTakeFirst();
    return row && toSponsorship(row);
  }

  /** The sponsor's own sponsorship; another sponsor's id finds nothing. */
  async sponsorshipOfSponsor(id: string, sponsorId: number): Promise<SponsorshipRecord | undefined> {
    const row = await this.#db
      .selectFrom('sponsorships')
      .selectAll()
      .where('id', '=', id)
      .where('sponsor_id', '=', sponsorId)
      .executeTakeFirst();
    return row && toSponsorship(row);
  }
}
