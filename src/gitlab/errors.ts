import { inspect } from 'node:util';
import { DomainError } from '../errors.js';

/**
 * What went wrong with a GitLab call:
 * - `http`: GitLab answered with an error status (4xx, 500, a redirect) that retrying cannot fix.
 * - `timeout`: no complete answer to a read or other idempotent call within the deadline.
 * - `unavailable`: GitLab could not be reached, dropped the connection, or answered 502/503/504
 *   (after the retries an idempotent call is allowed).
 * - `rate_limited`: 429; `retryAfterSeconds` says when to try again when it is known.
 * - `ambiguous`: a call that changes state (e.g. `POST /users`) may or may not have taken effect; the
 *   caller must look the resource up instead of repeating the call.
 * - `malformed`: a success status with a body that is not the JSON expected.
 * - `breaker_open`: recent calls failed so often that calls are refused without contacting GitLab.
 */
export type GitLabErrorKind =
  | 'http'
  | 'timeout'
  | 'unavailable'
  | 'rate_limited'
  | 'ambiguous'
  | 'malformed'
  | 'breaker_open';

/** GitLab's `message` (or `error`) as sent: a sentence, or a hash such as `{"username":["is too short…"]}`. */
export type GitLabMessage = string | Readonly<Record<string, unknown>>;

export interface GitLabErrorInit {
  kind: GitLabErrorKind;
  method: string;
  /** Path below `/api/v4`, without query. */
  path: string;
  status?: number;
  gitlabMessage?: GitLabMessage;
  retryAfterSeconds?: number;
  attempts?: number;
  /** Error code of a failed connection (`ECONNREFUSED`, `ECONNRESET`…); never the error object itself. */
  networkCode?: string;
  /** Extra words for the message, e.g. why the outcome is unknown. */
  detail?: string;
}

/**
 * A failed GitLab call. It holds only data that is safe to log: no headers, no query string, no URL
 * with credentials and no wrapped library error (those can carry the request with its token).
 */
export class GitLabError extends Error {
  override readonly name = 'GitLabError';
  readonly kind: GitLabErrorKind;
  readonly method: string;
  readonly path: string;
  readonly status: number | undefined;
  readonly gitlabMessage: GitLabMessage | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly attempts: number;
  readonly networkCode: string | undefined;

  constructor(init: GitLabErrorInit) {
    super(describe(init));
    this.kind = init.kind;
    this.method = init.method;
    this.path = init.path;
    this.status = init.status;
    this.gitlabMessage = init.gitlabMessage;
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.attempts = init.attempts ?? 1;
    this.networkCode = init.networkCode;
  }

  /** Per-field messages when GitLab rejected the input with a validation hash. */
  fieldErrors(): Record<string, string[]> | undefined {
    const m = this.gitlabMessage;
    if (typeof m !== 'object' || m === null) return undefined;
    const out: Record<string, string[]> = {};
    for (const [field, value] of Object.entries(m)) {
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return undefined;
      out[field] = value;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      kind: this.kind,
      method: this.method,
      path: this.path,
      status: this.status,
      gitlabMessage: this.gitlabMessage,
      retryAfterSeconds: this.retryAfterSeconds,
      attempts: this.attempts,
      networkCode: this.networkCode,
      message: this.message,
    };
  }

  [inspect.custom](): string {
    return `${this.stack ?? this.message}\n${inspect(this.toJSON(), { breakLength: 110 })}`;
  }
}

const MAX_MESSAGE_CHARS = 300;

function describe(init: GitLabErrorInit): string {
  const call = `GitLab ${init.method} /${init.path}`;
  const status = init.status === undefined ? '' : ` answered ${init.status}`;
  const what: Record<GitLabErrorKind, string> = {
    http: '',
    timeout: ': no answer in time',
    unavailable: ': GitLab unavailable',
    rate_limited: ': rate limited',
    ambiguous: ': outcome unknown',
    malformed: ': unexpected response body',
    breaker_open: ': not attempted, too many recent failures',
  };
  let text = `${call}${status}${what[init.kind]}`;
  if (init.gitlabMessage !== undefined) {
    const m =
      typeof init.gitlabMessage === 'string' ? init.gitlabMessage : JSON.stringify(init.gitlabMessage);
    text += ` - ${m.length > MAX_MESSAGE_CHARS ? `${m.slice(0, MAX_MESSAGE_CHARS)}…` : m}`;
  }
  if (init.networkCode) text += ` (${init.networkCode})`;
  return init.detail ? `${text}; ${init.detail}` : text;
}

/** A path argument that would leave its segment (`..`, `.`, empty) or is not a safe integer. */
export class UnsafePathError extends Error {
  override readonly name = 'UnsafePathError';
}

/** The portal's error code for a GitLab failure. */
function domainCodeFor(err: GitLabError): DomainError['code'] {
  switch (err.kind) {
    case 'timeout':
      return 'upstream_timeout';
    case 'rate_limited':
      return 'rate_limited';
    case 'ambiguous':
      return 'ambiguous';
    case 'unavailable':
    case 'malformed':
    case 'breaker_open':
      return 'upstream_unavailable';
    case 'http':
      break;
  }
  switch (err.status) {
    case 400:
    case 422:
      return 'validation';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 409:
    case 412:
      return 'conflict';
    default:
      // 401 means the portal's own token is rejected, other statuses a GitLab fault: neither is
      // something the user can fix.
      return 'upstream_unavailable';
  }
}

/**
 * The failure as a DomainError (keeping the GitLab error as `cause`). Messages of 4xx codes are shown
 * to users, so they quote only GitLab's own explanation, never the call.
 */
export function fromGitLabError(err: GitLabError | UnsafePathError): DomainError {
  if (err instanceof UnsafePathError) {
    return new DomainError('validation', 'This GitLab reference is not valid.', { cause: err });
  }
  const code = domainCodeFor(err);
  const said = typeof err.gitlabMessage === 'string' ? err.gitlabMessage : undefined;
  const messages: Partial<Record<DomainError['code'], string>> = {
    validation: said ? `GitLab rejected the request: ${said}` : 'GitLab rejected the request.',
    forbidden: said ? `GitLab refused: ${said}` : 'GitLab refused this action.',
    not_found: 'GitLab has no such object.',
    conflict: said ?? 'GitLab reports a conflict with existing data.',
    rate_limited: 'GitLab is limiting requests. Please try again later.',
  };
  return new DomainError(code, messages[code] ?? err.message, {
    fieldErrors: code === 'validation' ? err.fieldErrors() : undefined,
    retryAfterSeconds: err.retryAfterSeconds,
    cause: err,
  });
}
