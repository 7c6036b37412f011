import { STATUS_CODES } from 'node:http';
import { ConfigError } from './config/config.js';

export type ErrorCode =
  | 'validation'
  | 'not_found'
  | 'conflict'
  | 'forbidden'
  | 'unauthorized'
  | 'upstream_unavailable'
  | 'upstream_timeout'
  | 'rate_limited'
  | 'ambiguous'
  | 'storage_unavailable'
  | 'internal';

interface CodeInfo {
  status: number;
  /** CLI exit status; stable so scripts can branch on it. */
  exitCode: number;
  /** Shown instead of the error's own message when the status is 5xx, and for errors from outside the domain. */
  publicDetail: string;
}

const codes: Record<ErrorCode, CodeInfo> = {
  validation: { status: 400, exitCode: 2, publicDetail: 'The request is not valid.' },
  not_found: { status: 404, exitCode: 3, publicDetail: 'Nothing was found at this address.' },
  conflict: { status: 409, exitCode: 4, publicDetail: 'The request conflicts with the current state.' },
  unauthorized: { status: 401, exitCode: 5, publicDetail: 'Please sign in.' },
  forbidden: { status: 403, exitCode: 6, publicDetail: 'You are not allowed to do this.' },
  rate_limited: { status: 429, exitCode: 7, publicDetail: 'Too many requests. Please try again later.' },
  upstream_unavailable: {
    status: 503,
    exitCode: 8,
    publicDetail: 'GitLab is not available right now. Please try again later.',
  },
  upstream_timeout: {
    status: 504,
    exitCode: 9,
    publicDetail: 'GitLab did not answer in time. Please try again later.',
  },
  ambiguous: {
    status: 502,
    exitCode: 10,
    publicDetail:
      'GitLab did not confirm whether the change was made. The portal will find out; check the status before trying again.',
  },
  storage_unavailable: {
    status: 503,
    exitCode: 11,
    publicDetail:
      'The portal cannot record changes right now, so nothing was changed. Please try again later.',
  },
  internal: { status: 500, exitCode: 1, publicDetail: 'An unexpected error occurred.' },
};

/** Exit status for an invalid configuration (sysexits EX_CONFIG). */
const CONFIG_EXIT_CODE = 78;

export interface DomainErrorOptions {
  /** Overrides the code's usual HTTP status, e.g. 413 for a `validation` error about size. */
  status?: number;
  /** Messages per input field, for forms and `application/problem+json` `errors`. */
  fieldErrors?: Record<string, string[]>;
  retryAfterSeconds?: number;
  cause?: unknown;
}

/**
 * An expected failure with a stable code. Its message is written for the user and is shown for 4xx
 * statuses; for 5xx statuses only the code's fixed text is shown, so messages may carry internals.
 */
export class DomainError extends Error {
  override readonly name = 'DomainError';
  readonly status: number;
  readonly fieldErrors: Record<string, string[]> | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: DomainErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status ?? codes[code].status;
    this.fieldErrors = options.fieldErrors;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    case 429:
      return 'rate_limited';
    default:
      return status >= 400 && status < 500 ? 'validation' : 'internal';
  }
}

function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('statusCode' in err)) return undefined;
  const status = err.statusCode;
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status < 600
    ? status
    : undefined;
}

/**
 * Any thrown value as a DomainError. Errors from the web framework that carry a 4xx `statusCode` (body
 * too large, malformed JSON, rate limit) keep their status but get the code's fixed text: their own
 * messages may quote the request. Everything else becomes `internal`.
 */
export function toDomainError(err: unknown): DomainError {
  if (err instanceof DomainError) return err;
  const status = httpStatusOf(err);
  const code = status === undefined ? 'internal' : codeForStatus(status);
  const usualStatus = status === undefined || status === codes[code].status;
  const message = usualStatus ? codes[code].publicDetail : `${STATUS_CODES[status] ?? 'Error'}.`;
  return new DomainError(code, message, {
    status: status !== undefined && status < 500 ? status : codes.internal.status,
    cause: err,
  });
}

/** RFC 9457 problem details (`application/problem+json`), with the stable code and request id. */
export interface Problem {
  type: 'about:blank';
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  requestId: string;
  errors?: Record<string, string[]>;
  retryAfterSeconds?: number;
}

export function toProblem(err: unknown, requestId: string): Problem {
  const error = toDomainError(err);
  const serverSide = error.status >= 500;
  const problem: Problem = {
    type: 'about:blank',
    title: STATUS_CODES[error.status] ?? 'Error',
    status: error.status,
    detail: serverSide ? codes[error.code].publicDetail : error.message,
    code: error.code,
    requestId,
  };
  if (!serverSide && error.fieldErrors) problem.errors = error.fieldErrors;
  if (error.retryAfterSeconds !== undefined) problem.retryAfterSeconds = error.retryAfterSeconds;
  return problem;
}

/** The CLI's exit status for a failure: one per error code, 78 for invalid configuration. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof ConfigError) return CONFIG_EXIT_CODE;
  return codes[toDomainError(err).code].exitCode;
}
