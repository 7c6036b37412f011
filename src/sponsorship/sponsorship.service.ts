import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditEventInput, AuditOutcome } from '../audit/audit.service.js';
import type { Clock } from '../clock.js';
import type { NewUserPasswordMode } from '../config/config.js';
import { sha256Hex } from '../crypto/random.js';
import { DomainError, type ErrorCode } from '../errors.js';
import type { CreateUserInput, GitLabAdminApi, UserListingOptions } from '../gitlab/client.js';
import { GitLabError } from '../gitlab/errors.js';
import type { GitLabUser } from '../gitlab/types.js';
import type {
  DbTransaction,
  OperationChange,
  OperationRecord,
  SponsorshipRepository,
} from './sponsorship.repository.js';
import { type CreateSponsorshipInput, parseCreateSponsorship } from './sponsorship.schema.js';
import { numberedCandidate, usernameCandidates, usernameProblems } from './username.js';

/**
 * Creating an external user is a persisted state machine in `operations` (security.md K1–K4):
 *
 *   create ──▶ attributes ──▶ verify ──▶ complete                    (state `running`)
 *     │  ▲ lost answer: state `unknown`, look the user up;
 *     └──┘ adopt it, or send the POST once more when it is not there
 *   any step ──▶ failed;  after the user exists: block ──▶ failed     (compensation)
 *
 * Two commits on the way to success, each waiting for the disk: the intent (the operation row at
 * `create` with its first attempt counted, and the audit event) before any GitLab call, and the
 * completion (the new user's id, the sponsorship and the audit outcome). Whatever happens in between
 * is found again by the rule for `create`: `attempts > 0` means a POST may have been sent, so a runner
 * that did not send it itself looks the user up before anything else and adopts it (the operation id
 * set on it among the custom attributes settles that it is ours), or sends the POST once more. Progress
 * is written earlier only when the runner lets go of the operation (a GitLab failure to retry later, a
 * compensation) or half its lease has passed. GitLab is only asked who holds a username or e-mail when
 * it refuses the POST.
 */

const CREATE_OPERATION_KIND = 'sponsorship.create';
const AUDIT_ACTION = 'sponsorship.create';

type CreationState = 'running' | 'unknown' | 'completed' | 'failed';
export type CreationStep = 'check' | 'create' | 'attributes' | 'verify' | 'complete' | 'block';

const UNFINISHED: readonly CreationState[] = ['running', 'unknown'];

/** The signed-in internal user who sponsors the account. */
export interface Sponsor {
  id: number;
  username: string;
  name: string;
}

type FailureReason =
  /** GitLab already has a user with this username. */
  | 'username_taken'
  /** The e-mail belongs to an internal GitLab user; internal accounts are never converted. */
  | 'email_internal_account'
  /** The e-mail belongs to an existing external user (see `existingAccount`). */
  | 'email_external_account'
  /** GitLab refused the e-mail as taken (e.g. someone's secondary address). */
  | 'email_taken'
  /** The portal already records a sponsorship for this e-mail. */
  | 'email_already_sponsored'
  /** After a lost answer, another account turned out to hold the e-mail or username. */
  | 'held_by_unrelated_account'
  /** GitLab refused the input (its 400 validation errors). */
  | 'gitlab_rejected'
  | 'gitlab_unavailable'
  /** GitLab refused the portal's admin token (401/403): for an administrator to fix. */
  | 'gitlab_token_refused'
  /** GitLab created the user without the restrictions asked for; the user was blocked. */
  | 'verification_failed'
  /** The new user vanished from GitLab before the operation finished. */
  | 'user_disappeared'
  /** The portal could not record the sponsorship (its e-mail or user is already recorded); the user was blocked. */
  | 'already_recorded'
  /** A step kept failing for longer than operations may stay unfinished. */
  | 'gave_up';

/** Failures that leave GitLab unchanged: the sponsor can correct the form or simply try again. */
const NOTHING_CREATED: ReadonlySet<FailureReason> = new Set([
  'username_taken',
  'email_internal_account',
  'email_external_account',
  'email_taken',
  'email_already_sponsored',
  'held_by_unrelated_account',
  'gitlab_rejected',
  'gitlab_unavailable',
  'gitlab_token_refused',
]);

/** An account that already uses the e-mail, with who sponsored it when that is known. */
export interface ExistingAccount {
  gitlabUserId: number;
  username: string;
  name: string;
  state: string;
  external: boolean;
  sponsor: { id: number | null; username: string } | null;
}

export interface CreationFailure {
  reason: FailureReason;
  code: ErrorCode;
  /** For the sponsor: what happened and what to do. */
  message: string;
  /** GitLab was left unchanged; the same request can be corrected and sent again. */
  nothingCreated: boolean;
  fieldErrors?: Record<string, string[]>;
  usernameSuggestions?: string[];
  existingAccount?: ExistingAccount;
  retryAfterSeconds?: number;
}

export interface CreatedAccount {
  gitlabUserId: number;
  username: string;
  name: string;
  email: string;
}

/** One create operation as every transport shows it. */
export interface SponsorshipCreation {
  operationId: string;
  state: CreationState;
  /** The step in progress or next; null once finished. */
  step: CreationStep | null;
  request: CreateSponsorshipInput;
  sponsor: Sponsor;
  createdAt: string;
  updatedAt: string;
  /** The GitLab user, once created or adopted. */
  account: CreatedAccount | null;
  sponsorshipId: string | null;
  /** The user was found after GitLab's answer was lost, rather than confirmed by the answer. */
  adopted: boolean;
  /** The user was blocked because the operation could not finish safely. */
  blocked: boolean;
  failure: CreationFailure | null;
}

export interface UsernameCheck {
  username: string;
  /** GitLab's rules the username breaks; empty when it is well-formed. */
  problems: string[];
  /** Null when not checked (no username, rule problems, or GitLab did not answer). */
  available: boolean | null;
  /** Free usernames derived from the name and e-mail, best first. */
  suggestions: string[];
}

export interface ResumeSummary {
  resumed: number;
  completed: number;
  failed: number;
  unfinished: number;
}

/** Where a step is when `onStep` is told: recorded before its GitLab calls, answered, recorded after. */
export type StepPhase = 'started' | 'answered' | 'finished';

export interface SponsorshipServiceDeps {
  repository: SponsorshipRepository;
  gitlab: Pick<
    GitLabAdminApi,
    | 'createUser'
    | 'getUser'
    | 'findUserByUsername'
    | 'findUsersByEmail'
    | 'setCustomAttribute'
    | 'getCustomAttributes'
    | 'blockUser'
  >;
  audit: { record(event: AuditEventInput, trx?: DbTransaction): Promise<unknown> };
  clock: Clock;
  logger: {
    info(obj: object, msg: string): void;
    warn(obj: object, msg: string): void;
    error(obj: object, msg: string): void;
  };
  passwordMode: NewUserPasswordMode;
  /** Identifies this process in leases; unique per service instance by default. */
  instanceId?: string;
  /** How long a runner owns an operation before another may take it over (default 2 min). */
  leaseMs?: number;
  /** How long a repeated request waits for the first one to finish (default 10 s). */
  waitMs?: number;
  /** When a step that hit a passing GitLab failure is tried again (default 30 s). */
  retryDelayMs?: number;
  /** How long an operation may stay unfinished before it is failed (and its user blocked); default 24 h. */
  maxUnfinishedMs?: number;
  /**
   * Called at each step boundary. Crash tests throw from it to stop an operation exactly there, as a
   * killed process would: the row keeps its state and lease.
   */
  onStep?: (event: {
    operationId: string;
    step: CreationStep | 'recorded';
    phase: StepPhase;
  }) => void | Promise<void>;
}

/** The custom attributes that record the sponsorship on the GitLab user (no dots: see gitlab.md §2.10). */
const SPONSOR_ATTRIBUTES = [
  'extern_sponsor_id',
  'extern_sponsor_username',
  'extern_created_at',
  'extern_organisation',
  'extern_operation_id',
] as const;

const IDEMPOTENCY_KEY = /^[A-Za-z0-9_-]{16,128}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** POSTs per operation: the first, and one more only after a lookup found nothing. */
const MAX_CREATE_ATTEMPTS = 2;
/** Tolerated difference between the portal's and GitLab's clocks when matching a creation time. */
const CLOCK_SKEW_MS = 5 * 60_000;
const MAX_SUGGESTIONS = 3;
const SUGGESTION_LOOKUPS = 6;
const POLL_MS = 50;

interface Payload {
  input: CreateSponsorshipInput;
  sponsor: Sponsor;
  requestId: string;
  ip: string | null;
}

interface StoredResult {
  account?: CreatedAccount;
  adopted?: boolean;
  sponsorshipId?: string;
  blocked?: boolean;
  /** Set when failing; during compensation (`block`) it is the failure to report afterwards. */
  failure?: CreationFailure;
}

interface Holders {
  byUsername: GitLabUser | null;
  byEmail: GitLabUser[];
}

/** One runner's view of the operation it holds the lease on. */
interface Run {
  /** The row as this runner knows it: what is stored, with `unwritten` applied. */
  op: OperationRecord;
  payload: Payload;
  result: StoredResult;
  resumed: boolean;
  /** The intent counted a POST that this runner has not sent yet. */
  unsent: boolean;
  /** Progress made since the last commit, written with the next one. */
  unwritten: Omit<OperationChange, 'updatedAt'>;
}

/** The operation cannot succeed; `compensate` blocks the user first when one was created. */
class StepFailure extends Error {
  constructor(
    readonly failure: CreationFailure,
    readonly compensate = false,
  ) {
    super(failure.message);
  }
}

/** A passing GitLab failure after the user exists: stop for now, `resumePending` tries again later. */
class Deferred extends Error {
  constructor(readonly error: unknown) {
    super('deferred');
  }
}

/** Another runner took the operation over (this one's lease expired). */
class LeaseLost extends Error {}

function isTransient(err: unknown): boolean {
  if (!(err instanceof GitLabError)) return false;
  if (err.kind === 'http') return err.status !== undefined && err.status >= 500;
  return err.kind !== 'ambiguous';
}

function isTokenRefused(err: unknown): err is GitLabError {
  return err instanceof GitLabError && err.kind === 'http' && (err.status === 401 || err.status === 403);
}

function isNotFound(err: unknown): boolean {
  return err instanceof GitLabError && err.kind === 'http' && err.status === 404;
}

function unavailable(err: GitLabError): CreationFailure {
  const limited = err.kind === 'rate_limited';
  return {
    reason: 'gitlab_unavailable',
    code: limited ? 'rate_limited' : 'upstream_unavailable',
    message: limited
      ? 'GitLab is limiting requests right now. Nothing was created; try again in a few minutes.'
      : 'GitLab is unavailable right now. Nothing was created; try again in a few minutes.',
    nothingCreated: true,
    ...(err.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: err.retryAfterSeconds }),
  };
}

const TOKEN_REFUSED: CreationFailure = {
  reason: 'gitlab_token_refused',
  code: 'upstream_unavailable',
  message:
    "GitLab refused the portal's admin token, so nothing was created. Please tell your GitLab administrator; " +
    'the portal needs a valid administrator token with the api scope.',
  nothingCreated: true,
};

/** GitLab's validation hash (`{"username":["is too short…"]}`) as form fields and a general message. */
function rejectedByGitLab(err: GitLabError): CreationFailure {
  const fields: Record<string, string> = {
    username: 'username',
    email: 'email',
    name: 'name',
    organization: 'organisation',
  };
  const labels: Record<string, string> = {
    username: 'this username',
    email: 'this e-mail address',
    name: 'this name',
    organisation: 'this organisation',
  };
  const fieldErrors: Record<string, string[]> = {};
  const general: string[] = [];
  for (const [attribute, messages] of Object.entries(err.fieldErrors() ?? {})) {
    const field = fields[attribute];
    for (const message of messages) {
      if (field)
        fieldErrors[field] = [
          ...(fieldErrors[field] ?? []),
          `GitLab refused ${labels[field]}: it ${message}.`,
        ];
      else general.push(`${attribute === 'base' ? '' : `${attribute} `}${message}`);
    }
  }
  if (typeof err.gitlabMessage === 'string') general.push(err.gitlabMessage);
  const detail = general.length > 0 ? ` GitLab said: ${general.join('; ')}.` : '';
  return {
    reason: 'gitlab_rejected',
    code: 'validation',
    message: `GitLab refused to create the account, so nothing was created.${detail}`,
    nothingCreated: true,
    fieldErrors,
  };
}

function sameText(a: string | null | undefined, b: string): boolean {
  return typeof a === 'string' && a.toLowerCase() === b.toLowerCase();
}

function requestHash(input: CreateSponsorshipInput): string {
  const { name, username, email, organisation, reason } = input;
  return sha256Hex(JSON.stringify([name, username, email, organisation, reason]));
}

/** The sponsor named in an admin note such as "Sponsored by @alice (…)". */
function sponsorFromNote(note: string | null): string | null {
  return note?.match(/Sponsored by @([A-Za-z0-9][A-Za-z0-9._-]*)/)?.[1] ?? null;
}

export class SponsorshipService {
  readonly #repo: SponsorshipRepository;
  readonly #gitlab: SponsorshipServiceDeps['gitlab'];
  readonly #audit: SponsorshipServiceDeps['audit'];
  readonly #clock: Clock;
  readonly #logger: SponsorshipServiceDeps['logger'];
  readonly #passwordMode: NewUserPasswordMode;
  readonly #owner: string;
  readonly #leaseMs: number;
  readonly #waitMs: number;
  readonly #retryDelayMs: number;
  readonly #maxUnfinishedMs: number;
  readonly #onStep: SponsorshipServiceDeps['onStep'];

  constructor(deps: SponsorshipServiceDeps) {
    this.#repo = deps.repository;
    this.#gitlab = deps.gitlab;
    this.#audit = deps.audit;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
    this.#passwordMode = deps.passwordMode;
    this.#owner = deps.instanceId ?? `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
    this.#leaseMs = deps.leaseMs ?? 120_000;
    this.#waitMs = deps.waitMs ?? 10_000;
    this.#retryDelayMs = deps.retryDelayMs ?? 30_000;
    this.#maxUnfinishedMs = deps.maxUnfinishedMs ?? 24 * 3_600_000;
    this.#onStep = deps.onStep;
  }

  /**
   * Creates an external GitLab user sponsored by `sponsor`, exactly once per `idempotencyKey`.
   * `input` is validated here (a `validation` error lists the problems per field) before anything is
   * stored or sent. A repeated key with the same input returns the first request's operation, waiting
   * briefly while it runs; with different input it is a `conflict`. Failures the sponsor can act on are
   * returned in `failure` (state `failed`); an unfinished state means the portal finishes later.
   * @throws DomainError `validation`, `conflict`, `storage_unavailable` (the audit record could not be written)
   */
  async create(
    sponsor: Sponsor,
    input: unknown,
    idempotencyKey: string,
    requestId: string,
    ip: string | null = null,
  ): Promise<SponsorshipCreation> {
    const request = parseCreateSponsorship(input);
    if (!IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new DomainError(
        'validation',
        'The form token is missing or malformed. Reload the form and try again.',
      );
    }
    const now = this.#clock.now();
    const payload: Payload = { input: request, sponsor, requestId, ip };
    const op: OperationRecord = {
      id: randomUUID(),
      kind: CREATE_OPERATION_KIND,
      sponsorId: sponsor.id,
      idempotencyKey,
      requestHash: requestHash(request),
      payload: JSON.stringify(payload),
      state: 'running',
      step: 'create',
      gitlabUserId: null,
      result: null,
      errorCode: null,
      errorMessage: null,
      // Counted before it is sent: a crash from here on leaves a row that says "look first".
      attempts: 1,
      leaseOwner: this.#owner,
      leaseUntil: this.#leaseEnd(now),
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
    };

    const inserted = await this.#recordIntent(op, payload);
    if (!inserted) return this.#existing(sponsor, idempotencyKey, op.requestHash);
    const run: Run = { op, payload, result: {}, resumed: false, unsent: true, unwritten: {} };
    try {
      await this.#notify(op.id, 'recorded', 'finished');
      await this.#drive(run);
    } catch (err) {
      // Like a crash: the row keeps its step and lease, and `resumePending` continues it later.
      this.#logger.error({ err, operationId: op.id }, 'sponsorship operation interrupted');
      const current = await this.#repo.operation(op.id).catch(() => undefined);
      if (!current) throw err;
      return this.#view(current);
    }
    return this.#view(run.op);
  }

  /** Rules, availability and suggestions for a username as the sponsor types it. */
  async checkUsername(query: { username?: string; name?: string; email?: string }): Promise<UsernameCheck> {
    const username = (query.username ?? '').trim();
    const problems = username === '' ? [] : usernameProblems(username);
    let available: boolean | null = null;
    if (username !== '' && problems.length === 0) {
      try {
        available = (await this.#gitlab.findUserByUsername(username)) === null;
      } catch (err) {
        if (!(err instanceof GitLabError)) throw err;
      }
    }
    const suggestions =
      available === true ? [] : await this.#suggestions(query.name ?? '', query.email ?? '', username);
    return { username, problems, available, suggestions };
  }

  /**
   * The sponsor's own create operation, by operation id or sponsorship id. Anyone else's, and ids
   * that do not exist, are `not_found` alike (no enumeration).
   */
  async get(id: string, sponsorId: number): Promise<SponsorshipCreation> {
    if (UUID.test(id)) {
      const op = await this.#repo.operationOfSponsor(id, sponsorId, CREATE_OPERATION_KIND);
      if (op) return this.#view(op);
      const sponsorship = await this.#repo.sponsorshipOfSponsor(id, sponsorId);
      if (sponsorship?.gitlabUserId != null) {
        const created = await this.#repo.completedOperationForUser(
          sponsorship.gitlabUserId,
          sponsorId,
          CREATE_OPERATION_KIND,
        );
        if (created) return this.#view(created);
      }
    }
    throw new DomainError('not_found', 'You have no sponsorship at this address.');
  }

  /**
   * The sponsor's latest create operations, newest first: finished, unfinished, and failures that
   * touched GitLab. Failures that left GitLab unchanged were shown on the form and are left out.
   */
  async recentFor(sponsorId: number, limit = 10): Promise<SponsorshipCreation[]> {
    const ops = await this.#repo.recentOperations(
      sponsorId,
      CREATE_OPERATION_KIND,
      Math.min(Math.max(Math.trunc(limit), 1), 100),
      [...NOTHING_CREATED],
    );
    return ops.map((op) => this.#view(op));
  }

  /**
   * Continues operations left unfinished by a crash, a lost GitLab answer or a passing GitLab failure,
   * oldest first. Each is taken under a lease first, so replicas running this together never run the
   * same operation; one whose lease has not expired is left to its holder. Run it at start-up and
   * periodically.
   */
  async resumePending(limit = 100): Promise<ResumeSummary> {
    const summary: ResumeSummary = { resumed: 0, completed: 0, failed: 0, unfinished: 0 };
    const now = this.#clock.now();
    const candidates = await this.#repo.resumableOperations(
      CREATE_OPERATION_KIND,
      UNFINISHED,
      now.toISOString(),
      limit,
    );
    for (const candidate of candidates) {
      const at = this.#clock.now();
      const claimed = await this.#repo.claimOperation(
        candidate.id,
        this.#owner,
        at.toISOString(),
        this.#leaseEnd(at),
        UNFINISHED,
      );
      if (!claimed) continue;
      const op = await this.#repo.operation(candidate.id);
      if (!op) continue;
      summary.resumed += 1;
      const run: Run = {
        op,
        payload: JSON.parse(op.payload) as Payload,
        result: op.result ? (JSON.parse(op.result) as StoredResult) : {},
        resumed: true,
        unsent: false,
        unwritten: {},
      };
      this.#logger.info(
        { operationId: op.id, step: op.step, state: op.state },
        'resuming unfinished sponsorship operation',
      );
      try {
        await this.#drive(run);
      } catch (err) {
        this.#logger.error({ err, operationId: op.id }, 'sponsorship operation interrupted again');
      }
      if (run.op.state === 'completed') summary.completed += 1;
      else if (run.op.state === 'failed') summary.failed += 1;
      else summary.unfinished += 1;
    }
    return summary;
  }

  /**
   * Frees the leases of operations whose runner is known to be gone, so that `resumePending` continues
   * them at once instead of after the lease runs out. Only for a database no other process can be
   * running operations on (SQLite, whose instance lock admits one server); never where replicas share
   * the database. Returns how many were freed.
   */
  async releaseLeasesOfGoneRunners(): Promise<number> {
    return this.#repo.releaseLeasesOfOthers(CREATE_OPERATION_KIND, UNFINISHED, this.#owner);
  }

  // ------------------------------------------------------------ recording

  /** The operation row and its `intent` audit event commit together, or neither does (I3). */
  async #recordIntent(op: OperationRecord, payload: Payload): Promise<boolean> {
    const { input, sponsor } = payload;
    try {
      return await this.#repo.transaction(async (trx) => {
        const inserted = await this.#repo.insertOperation(trx, op);
        if (!inserted) return false;
        await this.#audit.record(
          {
            action: AUDIT_ACTION,
            outcome: 'intent',
            requestId: payload.requestId,
            actor: { id: sponsor.id, username: sponsor.username },
            target: { type: 'user', id: null, name: input.username },
            details: {
              operationId: op.id,
              name: input.name,
              email: input.email,
              organisation: input.organisation,
              reason: input.reason,
            },
            ip: payload.ip,
          },
          trx,
        );
        return true;
      });
    } catch (err) {
      this.#logger.error({ err }, 'could not record a sponsorship operation and its audit intent');
      throw new DomainError(
        'storage_unavailable',
        'The portal cannot record this request right now, so nothing was created. Please try again later.',
        { cause: err },
      );
    }
  }

  /** A repeated key: the same request gets the first one's outcome; another request is refused. */
  async #existing(sponsor: Sponsor, idempotencyKey: string, hash: string): Promise<SponsorshipCreation> {
    let op = await this.#repo.operationByKey(sponsor.id, idempotencyKey);
    if (!op) throw new DomainError('internal', 'An operation with this key was reported but not found.');
    if (op.requestHash !== hash) {
      throw new DomainError(
        'conflict',
        'This form was already submitted with different details. Open a new form to sponsor another person.',
        { status: 422 },
      );
    }
    const until = Date.now() + this.#waitMs;
    while (this.#runningElsewhere(op) && Date.now() < until) {
      await sleep(POLL_MS);
      op = (await this.#repo.operation(op.id)) ?? op;
    }
    return this.#view(op);
  }

  #runningElsewhere(op: OperationRecord): boolean {
    return (UNFINISHED as readonly string[]).includes(op.state) && op.leaseOwner !== null;
  }

  #leaseEnd(from: Date): string {
    return new Date(from.getTime() + this.#leaseMs).toISOString();
  }

  async #notify(operationId: string, step: CreationStep | 'recorded', phase: StepPhase): Promise<void> {
    await this.#onStep?.({ operationId, step, phase });
  }

  /** Writes progress (with what is still unwritten) under this runner's lease and extends it. */
  async #write(run: Run, change: Omit<OperationChange, 'updatedAt'>, trx?: DbTransaction): Promise<void> {
    const now = this.#clock.now();
    const full: OperationChange = {
      leaseUntil: this.#leaseEnd(now),
      ...run.unwritten,
      ...change,
      updatedAt: now.toISOString(),
    };
    if (!(await this.#repo.updateOperation(run.op.id, this.#owner, full, trx))) throw new LeaseLost();
    run.unwritten = {};
    this.#apply(run, full);
  }

  /**
   * Progress that a crash may lose, because it is found again without it: it is written with the next
   * commit. (A new user's id: after a crash the user is looked up and adopted, as after a lost answer.)
   */
  #remember(run: Run, change: Omit<OperationChange, 'updatedAt'>): void {
    run.unwritten = { ...run.unwritten, ...change };
    this.#apply(run, change);
  }

  #apply(run: Run, change: Omit<OperationChange, 'updatedAt'> & { updatedAt?: string }): void {
    const op: Record<string, unknown> = { ...run.op };
    for (const [key, value] of Object.entries(change)) if (value !== undefined) op[key] = value;
    run.op = op as unknown as OperationRecord;
  }

  /** A transaction that writes the operation; on rollback the runner's copy goes back as well. */
  async #transaction<T>(run: Run, work: (trx: DbTransaction) => Promise<T>): Promise<T> {
    const { op, unwritten } = run;
    try {
      return await this.#repo.transaction(work);
    } catch (err) {
      run.op = op;
      run.unwritten = unwritten;
      throw err;
    }
  }

  /**
   * Records that `step` begins, before its GitLab calls. Usually the row already names it, or this
   * runner holds it for the next commit: the step before recorded or remembered it as next (or the
   * operation was inserted or claimed at it) and the lease was renewed. Then, unless the step records
   * something of its own (another POST counts its attempt) or less than half the lease is left, the
   * write would change nothing a restart needs, and it is skipped: each commit waits for the disk.
   */
  async #startStep(run: Run, step: CreationStep, change: Omit<OperationChange, 'updatedAt'> = {}) {
    const { op } = run;
    const leaseLeftMs = op.leaseUntil === null ? 0 : Date.parse(op.leaseUntil) - this.#clock.now().getTime();
    const recorded = op.step === step && op.leaseOwner === this.#owner && leaseLeftMs >= this.#leaseMs / 2;
    if (!recorded || Object.keys(change).length > 0) {
      await this.#write(run, { step, ...change });
    }
    await this.#notify(run.op.id, step, 'started');
  }

  /**
   * Ends the verification, which only reads from GitLab, without writing it down: `complete` commits
   * the whole outcome at once, and a crash in between only repeats the read.
   */
  async #passStep(run: Run, step: 'verify', next: 'complete') {
    run.op = { ...run.op, step: next };
    await this.#notify(run.op.id, step, 'finished');
  }

  // ------------------------------------------------------------ the state machine

  async #drive(run: Run): Promise<void> {
    while ((UNFINISHED as readonly string[]).includes(run.op.state)) {
      try {
        switch (run.op.step as CreationStep) {
          // Rows written by earlier versions of the portal may wait at `check`, now the start of `create`.
          case 'check':
          case 'create':
            await this.#create(run);
            break;
          case 'attributes':
            await this.#attributes(run);
            break;
          case 'verify':
            await this.#verify(run);
            break;
          case 'complete':
            await this.#complete(run);
            break;
          case 'block':
            await this.#block(run);
            break;
          default:
            throw new Error(`unknown step ${String(run.op.step)}`);
        }
      } catch (err) {
        if (err instanceof LeaseLost) return;
        if (err instanceof StepFailure) {
          await this.#fail(run, err.failure, err.compensate);
          continue;
        }
        if (err instanceof Deferred) {
          if (await this.#defer(run, err.error)) return;
          continue;
        }
        throw err;
      }
    }
  }

  async #create(run: Run): Promise<void> {
    if (run.unsent) {
      // The intent counted this POST: nothing more to record before sending it.
      run.unsent = false;
      await this.#checkRecords(run);
      await this.#notify(run.op.id, 'create', 'started');
      await this.#send(run);
      return;
    }
    // A POST may have been sent before (its answer was lost, or the process stopped): look first.
    if (run.op.attempts > 0) {
      await this.#reconcile(run);
      return;
    }
    await this.#checkRecords(run);
    await this.#post(run);
  }

  /** The portal's own records: one sponsorship per e-mail address. */
  async #checkRecords(run: Run): Promise<void> {
    const { input } = run.payload;
    const recorded = await this.#repo.sponsorshipByEmail(input.email);
    if (recorded) {
      throw new StepFailure({
        reason: 'email_already_sponsored',
        code: 'conflict',
        message: `The portal already has a sponsorship for ${input.email} (@${recorded.username}, sponsored by @${recorded.sponsorUsername}).`,
        nothingCreated: true,
        fieldErrors: { email: ['The portal already has a sponsorship for this e-mail address.'] },
        ...(recorded.gitlabUserId === null
          ? {}
          : {
              existingAccount: {
                gitlabUserId: recorded.gitlabUserId,
                username: recorded.username,
                name: recorded.name,
                state: recorded.state,
                external: true,
                sponsor: { id: recorded.sponsorId, username: recorded.sponsorUsername },
              },
            }),
      });
    }
    await this.#notify(run.op.id, 'check', 'finished');
  }

  /** Counts one more POST, then sends it. */
  async #post(run: Run): Promise<void> {
    await this.#startStep(run, 'create', { attempts: run.op.attempts + 1, state: 'running' });
    await this.#send(run);
  }

  /** `POST /users`, already counted in `attempts`. */
  async #send(run: Run): Promise<void> {
    const attempt = run.op.attempts;
    let user: GitLabUser;
    try {
      user = await this.#gitlab.createUser(this.#newUser(run));
    } catch (err) {
      if (!(err instanceof GitLabError)) throw err;
      if (err.kind === 'ambiguous' || err.kind === 'timeout' || err.kind === 'malformed') {
        this.#logger.warn(
          { err, operationId: run.op.id },
          'GitLab did not confirm the user creation; looking it up',
        );
        await this.#write(run, { state: 'unknown' });
        await this.#reconcile(run);
        return;
      }
      // After an earlier attempt whose answer was lost, "already taken" may mean "taken by us".
      if (err.kind === 'http' && err.status === 409 && attempt > 1) {
        await this.#write(run, { state: 'unknown' });
        await this.#reconcile(run);
        return;
      }
      throw await this.#createRefused(run, err);
    }
    await this.#notify(run.op.id, 'create', 'answered');
    run.result = { account: this.#account(user), adopted: false };
    this.#remember(run, { step: 'attributes', gitlabUserId: user.id, result: JSON.stringify(run.result) });
    await this.#notify(run.op.id, 'create', 'finished');
  }

  /**
   * Maps GitLab's refusal of `POST /users` onto the form. A conflict (409, or a 400 about the username
   * or e-mail) is explained by who holds them: an internal account's e-mail is refused (internal
   * accounts are never converted), an external account is shown with its sponsor, a taken username
   * gets free suggestions.
   */
  async #createRefused(run: Run, err: GitLabError): Promise<StepFailure> {
    const { input } = run.payload;
    const fields = err.kind === 'http' && err.status === 400 ? (err.fieldErrors() ?? {}) : {};
    if (err.kind === 'http' && (err.status === 409 || 'username' in fields || 'email' in fields)) {
      const held = await this.#heldBy(input);
      if (held) return new StepFailure(held);
    }
    if (err.kind === 'http' && err.status === 409) {
      if (err.gitlabMessage === 'Username has already been taken') {
        return new StepFailure(await this.#usernameTaken(input));
      }
      return new StepFailure({
        reason: 'email_taken',
        code: 'conflict',
        message: 'GitLab already has an account with this e-mail address, so nothing was created.',
        nothingCreated: true,
        fieldErrors: { email: ['This e-mail address is already used by a GitLab account.'] },
      });
    }
    if (err.kind === 'http' && err.status === 400) {
      const failure = rejectedByGitLab(err);
      if (failure.fieldErrors?.username) {
        failure.usernameSuggestions = await this.#suggestions(input.name, input.email, input.username);
      }
      return new StepFailure(failure);
    }
    return this.#failureBeforeCreate(err);
  }

  /** The GitLab users holding the username and the e-mail address asked for. */
  async #holders(input: CreateSponsorshipInput, options?: UserListingOptions): Promise<Holders> {
    const [byUsername, byEmail] = await Promise.all([
      this.#gitlab.findUserByUsername(input.username, options),
      this.#gitlab.findUsersByEmail(input.email, options),
    ]);
    return { byUsername, byEmail };
  }

  /**
   * Who in GitLab holds the e-mail or username, as the failure to show; null when nobody visible
   * does, or GitLab does not answer (then its own refusal is shown).
   */
  async #heldBy(input: CreateSponsorshipInput): Promise<CreationFailure | null> {
    let held: Holders;
    try {
      held = await this.#holders(input);
    } catch (err) {
      if (err instanceof GitLabError) return null;
      throw err;
    }
    const { byUsername, byEmail } = held;
    const internal = byEmail.find((u) => u.external !== true);
    if (internal) {
      return {
        reason: 'email_internal_account',
        code: 'conflict',
        message:
          'This e-mail address belongs to an existing internal GitLab account. Internal accounts are never ' +
          'converted to external ones; if the person already works here, they can use their own account.',
        nothingCreated: true,
        fieldErrors: {
          email: [
            'This e-mail belongs to an existing internal GitLab account; internal accounts are never converted.',
          ],
        },
      };
    }
    const external = byEmail[0];
    if (external) {
      const account = await this.#describeExisting(external);
      const by = account.sponsor ? `, sponsored by @${account.sponsor.username}` : '';
      return {
        reason: 'email_external_account',
        code: 'conflict',
        message: `This person already has an external GitLab account: @${account.username}${by}. No new account is needed.`,
        nothingCreated: true,
        fieldErrors: {
          email: [`This e-mail already belongs to the external GitLab account @${account.username}.`],
        },
        existingAccount: account,
      };
    }
    return byUsername ? this.#usernameTaken(input) : null;
  }

  /** A GitLab failure while nothing has been created yet. */
  #failureBeforeCreate(err: unknown): StepFailure {
    if (isTokenRefused(err)) {
      this.#logger.error({ err }, "GitLab refused the portal's admin token");
      return new StepFailure({ ...TOKEN_REFUSED });
    }
    if (err instanceof GitLabError && (isTransient(err) || err.kind === 'ambiguous')) {
      return new StepFailure(unavailable(err));
    }
    if (err instanceof GitLabError) {
      this.#logger.error({ err }, 'GitLab refused a call while creating a user');
      return new StepFailure({
        reason: 'gitlab_rejected',
        code: 'upstream_unavailable',
        message: 'GitLab refused the request, so nothing was created. Please tell your GitLab administrator.',
        nothingCreated: true,
      });
    }
    throw err;
  }

  /**
   * After a lost answer or a crash: adopt the user only if it is certainly the one this operation
   * asked for (its `extern_operation_id`, or else username, e-mail, external, created since the
   * operation began); never touch anyone else's account; send the POST once more only when nobody
   * holds the username or e-mail (K3).
   */
  async #reconcile(run: Run): Promise<void> {
    const { input } = run.payload;
    if (run.op.state !== 'unknown') await this.#write(run, { state: 'unknown' });
    let held: Holders;
    try {
      held = await this.#holders(input, { withCustomAttributes: true });
    } catch (err) {
      if (err instanceof GitLabError) throw new Deferred(err);
      throw err;
    }
    const { byUsername, byEmail } = held;
    const candidates = [byUsername, ...byEmail].filter((u): u is GitLabUser => u !== null);
    const ours = candidates.find((u) => this.#isOurs(run, u));
    if (ours) {
      this.#logger.warn(
        { operationId: run.op.id, gitlabUserId: ours.id },
        'adopting the GitLab user created by an unconfirmed request',
      );
      run.result = { account: this.#account(ours), adopted: true };
      this.#remember(run, {
        state: 'running',
        step: 'attributes',
        gitlabUserId: ours.id,
        result: JSON.stringify(run.result),
      });
      await this.#notify(run.op.id, 'create', 'finished');
      return;
    }
    const holder = candidates[0];
    if (holder) {
      this.#logger.error(
        { operationId: run.op.id, gitlabUserId: holder.id },
        'after an unconfirmed create, another GitLab account holds the username or e-mail; it was left untouched',
      );
      const field = byEmail.length > 0 ? 'email' : 'username';
      throw new StepFailure({
        reason: 'held_by_unrelated_account',
        code: 'conflict',
        message:
          'GitLab did not confirm the new account, and another GitLab account uses this ' +
          `${field === 'email' ? 'e-mail address' : 'username'}. Nothing was created; that account was not changed.`,
        nothingCreated: true,
        fieldErrors: {
          [field]: [
            `Another GitLab account already uses this ${field === 'email' ? 'e-mail address' : 'username'}.`,
          ],
        },
      });
    }
    if (run.op.attempts >= MAX_CREATE_ATTEMPTS) {
      throw new StepFailure({
        reason: 'gitlab_unavailable',
        code: 'upstream_unavailable',
        message:
          'GitLab did not confirm the new account, and it does not exist. Nothing was created; try again in a few minutes.',
        nothingCreated: true,
      });
    }
    await this.#post(run);
  }

  #isOurs(run: Run, user: GitLabUser): boolean {
    // The attributes are set right after the POST; the operation id among them settles it.
    const marker = user.customAttributes?.extern_operation_id;
    if (marker !== undefined) return marker === run.op.id;
    const { input } = run.payload;
    if (!sameText(user.username, input.username) || !sameText(user.email, input.email)) return false;
    if (user.external !== true || user.createdAt === null) return false;
    const created = Date.parse(user.createdAt);
    const began = Date.parse(run.op.createdAt);
    return created >= began - CLOCK_SKEW_MS && created <= this.#clock.now().getTime() + CLOCK_SKEW_MS;
  }

  /** The sponsorship on the GitLab user; the calls are independent and repeatable, so they go together. */
  async #attributes(run: Run): Promise<void> {
    const userId = this.#userId(run);
    const { sponsor, input } = run.payload;
    await this.#startStep(run, 'attributes');
    const values: Record<(typeof SPONSOR_ATTRIBUTES)[number], string> = {
      extern_sponsor_id: String(sponsor.id),
      extern_sponsor_username: sponsor.username,
      extern_created_at: run.op.createdAt,
      extern_organisation: input.organisation,
      extern_operation_id: run.op.id,
    };
    // Every call ends before the step goes on, so nothing is still being set when it fails or blocks.
    const settled = await Promise.allSettled(
      SPONSOR_ATTRIBUTES.map((key) => this.#gitlab.setCustomAttribute(userId, key, values[key])),
    );
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw this.#failureAfterCreate(failed.reason);
    await this.#notify(run.op.id, 'attributes', 'answered');
    // Not written down: the completion commits the user's id with the outcome, and a crash before it
    // finds the user again by the operation id just set on it.
    this.#remember(run, { step: 'verify' });
    await this.#notify(run.op.id, 'attributes', 'finished');
  }

  /** GitLab must have made exactly the restricted account that was asked for (D6). */
  async #verify(run: Run): Promise<void> {
    const userId = this.#userId(run);
    await this.#startStep(run, 'verify');
    let user: GitLabUser | null;
    try {
      user = await this.#gitlab.getUser(userId);
    } catch (err) {
      throw this.#failureAfterCreate(err);
    }
    await this.#notify(run.op.id, 'verify', 'answered');
    if (!user) throw this.#disappeared();
    const problems: string[] = [];
    if (user.external !== true) problems.push('it is not external');
    if (user.isAdmin) problems.push('it is an administrator');
    if (user.canCreateGroup !== false) problems.push('it may create groups');
    if (user.projectsLimit !== 0) problems.push(`its project limit is ${String(user.projectsLimit)}, not 0`);
    if (problems.length > 0) {
      this.#logger.error(
        { operationId: run.op.id, gitlabUserId: userId, problems },
        'GitLab created a user without the restrictions asked for; blocking it',
      );
      throw new StepFailure(
        {
          reason: 'verification_failed',
          code: 'internal',
          message:
            `GitLab created the account @${user.username}, but ${problems.join(', ')}. The portal blocked the ` +
            'account for safety. Please tell your GitLab administrator.',
          nothingCreated: false,
        },
        true,
      );
    }
    run.result = { ...run.result, account: this.#account(user) };
    await this.#passStep(run, 'verify', 'complete');
  }

  /** The sponsorship row, the finished operation and the audit outcome commit together. */
  async #complete(run: Run): Promise<void> {
    const account = run.result.account;
    if (!account) throw new Error('complete without an account');
    const { input, sponsor } = run.payload;
    // The transaction below is the step's record, before and after at once: it touches no GitLab.
    await this.#notify(run.op.id, 'complete', 'started');
    const now = this.#clock.now().toISOString();
    const sponsorshipId = randomUUID();
    const result: StoredResult = { ...run.result, sponsorshipId };
    const recorded = await this.#transaction(run, async (trx) => {
      const inserted = await this.#repo.insertSponsorship(trx, {
        id: sponsorshipId,
        gitlabUserId: account.gitlabUserId,
        username: account.username,
        email: account.email.toLowerCase(),
        name: account.name,
        organisation: input.organisation,
        reason: input.reason,
        sponsorId: sponsor.id,
        sponsorUsername: sponsor.username,
        state: 'active',
        createdAt: now,
        updatedAt: now,
      });
      if (!inserted) return false;
      await this.#write(
        run,
        {
          state: 'completed',
          step: null,
          result: JSON.stringify(result),
          leaseOwner: null,
          leaseUntil: null,
        },
        trx,
      );
      await this.#audit.record(
        this.#outcomeEvent(run, run.result.adopted ? 'adopted_after_ambiguous_response' : 'success', {
          sponsorshipId,
          external: true,
          ...(run.result.adopted ? { adopted: true } : {}),
        }),
        trx,
      );
      return true;
    });
    if (!recorded) {
      this.#logger.error(
        { operationId: run.op.id, gitlabUserId: account.gitlabUserId },
        'the sponsorship could not be recorded (e-mail or user already recorded); blocking the new user',
      );
      throw new StepFailure(
        {
          reason: 'already_recorded',
          code: 'conflict',
          message:
            `GitLab created @${account.username}, but the portal already records a sponsorship for this e-mail ` +
            'address or account, so the new account was blocked. Please tell your GitLab administrator.',
          nothingCreated: false,
        },
        true,
      );
    }
    run.result = result;
  }

  /** Compensation: the user exists but the operation cannot finish safely. */
  async #block(run: Run): Promise<void> {
    const userId = this.#userId(run);
    await this.#startStep(run, 'block');
    try {
      await this.#gitlab.blockUser(userId);
    } catch (err) {
      if (!isNotFound(err)) {
        if (err instanceof GitLabError) throw new Deferred(err);
        throw err;
      }
    }
    await this.#notify(run.op.id, 'block', 'answered');
    const failure = run.result.failure ?? this.#gaveUp(run);
    run.result = { ...run.result, blocked: true };
    await this.#finish(run, failure);
  }

  async #fail(run: Run, failure: CreationFailure, compensate: boolean): Promise<void> {
    if (compensate && run.op.gitlabUserId !== null) {
      run.result = { ...run.result, failure };
      await this.#write(run, { step: 'block', state: 'running', result: JSON.stringify(run.result) });
      return;
    }
    await this.#finish(run, failure);
  }

  async #finish(run: Run, failure: CreationFailure): Promise<void> {
    const result: StoredResult = { ...run.result, failure };
    await this.#transaction(run, async (trx) => {
      await this.#write(
        run,
        {
          state: 'failed',
          step: null,
          result: JSON.stringify(result),
          errorCode: failure.reason,
          errorMessage: failure.message,
          leaseOwner: null,
          leaseUntil: null,
        },
        trx,
      );
      await this.#audit.record(
        {
          ...this.#outcomeEvent(run, 'failure', {
            message: failure.message,
            ...(result.blocked ? { blocked: true } : {}),
          }),
          reason: failure.reason,
        },
        trx,
      );
    });
    run.result = result;
  }

  /**
   * A passing failure after the user exists: release the lease until the retry time. Past the
   * operation's time limit it fails instead (blocking the user if there is one). True when stopped.
   */
  async #defer(run: Run, cause: unknown): Promise<boolean> {
    const now = this.#clock.now();
    const age = now.getTime() - Date.parse(run.op.createdAt);
    if (age > this.#maxUnfinishedMs && run.op.step !== 'block') {
      this.#logger.error({ err: cause, operationId: run.op.id }, 'sponsorship operation gave up');
      await this.#fail(run, this.#gaveUp(run), true);
      return false;
    }
    this.#logger.warn(
      { err: cause, operationId: run.op.id, step: run.op.step },
      'sponsorship operation paused; it will be resumed',
    );
    await this.#write(run, {
      leaseOwner: null,
      leaseUntil: new Date(now.getTime() + this.#retryDelayMs).toISOString(),
    });
    return true;
  }

  #failureAfterCreate(err: unknown): Error {
    if (isNotFound(err)) return this.#disappeared();
    if (err instanceof GitLabError) return new Deferred(err);
    return err instanceof Error ? err : new Error(String(err));
  }

  #disappeared(): StepFailure {
    return new StepFailure({
      reason: 'user_disappeared',
      code: 'conflict',
      message: 'The new GitLab account was deleted before the portal finished setting it up.',
      nothingCreated: false,
    });
  }

  #gaveUp(run: Run): CreationFailure {
    const message =
      run.op.gitlabUserId === null
        ? `GitLab did not confirm whether the account ${run.payload.input.username} was created, and the portal ` +
          'could not find out in time. Please ask your GitLab administrator to check for it before trying again.'
        : 'GitLab kept failing while the portal was setting up the new account, so the account was blocked. ' +
          'Please tell your GitLab administrator.';
    return { reason: 'gave_up', code: 'upstream_unavailable', message, nothingCreated: false };
  }

  #outcomeEvent(run: Run, outcome: AuditOutcome, details: Record<string, unknown>): AuditEventInput {
    const { sponsor, input } = run.payload;
    const account = run.result.account;
    return {
      action: AUDIT_ACTION,
      outcome,
      requestId: run.payload.requestId,
      actor: { id: sponsor.id, username: sponsor.username },
      target: account
        ? { type: 'user', id: account.gitlabUserId, name: account.username }
        : { type: 'user', id: null, name: input.username },
      details: {
        operationId: run.op.id,
        email: input.email,
        ...(run.resumed ? { resumed: true } : {}),
        ...details,
      },
      ip: run.payload.ip,
    };
  }

  // ------------------------------------------------------------ GitLab helpers

  #newUser(run: Run): CreateUserInput {
    const { input, sponsor } = run.payload;
    const day = run.op.createdAt.slice(0, 10);
    return {
      name: input.name,
      username: input.username,
      email: input.email,
      external: true,
      projectsLimit: 0,
      canCreateGroup: false,
      password: this.#passwordMode === 'reset_link' ? 'reset_password' : 'force_random_password',
      skipConfirmation: this.#passwordMode === 'random_skip_confirmation',
      note:
        `Sponsored by @${sponsor.username} (${sponsor.name}, GitLab id ${sponsor.id}) via gitlab-extern on ${day}. ` +
        `Organisation: ${input.organisation}. Reason: ${input.reason}`,
      organization: input.organisation,
    };
  }

  #account(user: GitLabUser): CreatedAccount {
    return { gitlabUserId: user.id, username: user.username, name: user.name, email: user.email ?? '' };
  }

  #userId(run: Run): number {
    if (run.op.gitlabUserId === null) throw new Error(`step ${String(run.op.step)} without a GitLab user`);
    return run.op.gitlabUserId;
  }

  async #usernameTaken(input: CreateSponsorshipInput): Promise<CreationFailure> {
    const suggestions = await this.#suggestions(input.name, input.email, input.username);
    const hint = suggestions.length > 0 ? ` Available: ${suggestions.join(', ')}.` : '';
    return {
      reason: 'username_taken',
      code: 'conflict',
      message: `The username ${input.username} is already taken in GitLab.${hint}`,
      nothingCreated: true,
      fieldErrors: { username: [`This username is already taken in GitLab.${hint}`] },
      usernameSuggestions: suggestions,
    };
  }

  /** Up to three free usernames derived from the name and e-mail; lookups that fail are skipped. */
  async #suggestions(name: string, email: string, exclude: string): Promise<string[]> {
    const plain = usernameCandidates(name, email).filter((c) => !sameText(c, exclude));
    const base = plain[0] ?? (usernameProblems(exclude).length === 0 ? exclude : undefined);
    const numbered = base ? [2, 3, 4].map((n) => numberedCandidate(base, n)) : [];
    const candidates = [...new Set([...plain, ...numbered])]
      .filter((c) => !sameText(c, exclude) && usernameProblems(c).length === 0)
      .slice(0, SUGGESTION_LOOKUPS);
    const free = await Promise.all(
      candidates.map(async (candidate) => {
        try {
          return (await this.#gitlab.findUserByUsername(candidate)) === null;
        } catch (err) {
          if (err instanceof GitLabError) return false;
          throw err;
        }
      }),
    );
    return candidates.filter((_, i) => free[i]).slice(0, MAX_SUGGESTIONS);
  }

  /** The existing external account and its sponsor: the portal's record, the attributes, or the note. */
  async #describeExisting(user: GitLabUser): Promise<ExistingAccount> {
    let sponsor: ExistingAccount['sponsor'] = null;
    const recorded = await this.#repo.sponsorshipByGitLabUser(user.id);
    if (recorded) sponsor = { id: recorded.sponsorId, username: recorded.sponsorUsername };
    if (!sponsor) {
      try {
        const attributes = await this.#gitlab.getCustomAttributes(user.id);
        const username = attributes.extern_sponsor_username;
        const id = Number(attributes.extern_sponsor_id);
        if (username) sponsor = { id: Number.isSafeInteger(id) ? id : null, username };
      } catch (err) {
        if (!(err instanceof GitLabError)) throw err;
      }
    }
    if (!sponsor) {
      const fromNote = sponsorFromNote(user.note);
      if (fromNote) sponsor = { id: null, username: fromNote };
    }
    return {
      gitlabUserId: user.id,
      username: user.username,
      name: user.name,
      state: user.state,
      external: user.external === true,
      sponsor,
    };
  }

  // ------------------------------------------------------------ views

  #view(op: OperationRecord): SponsorshipCreation {
    const payload = JSON.parse(op.payload) as Payload;
    const result: StoredResult = op.result ? (JSON.parse(op.result) as StoredResult) : {};
    return {
      operationId: op.id,
      state: op.state as CreationState,
      step: op.step as CreationStep | null,
      request: payload.input,
      sponsor: payload.sponsor,
      createdAt: op.createdAt,
      updatedAt: op.updatedAt,
      account: result.account ?? null,
      sponsorshipId: result.sponsorshipId ?? null,
      adopted: result.adopted === true,
      blocked: result.blocked === true,
      failure: op.state === 'failed' ? (result.failure ?? null) : null,
    };
  }
}
