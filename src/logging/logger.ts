import { type DestinationStream, type Logger as PinoLogger, pino, stdSerializers } from 'pino';
import type { LogLevel } from '../config/config.js';

export type Logger = PinoLogger;

export const REDACTED = '[Redacted]';

/**
 * Keys whose values are never written, at any depth: credentials, tokens, cookies, OAuth verifiers.
 * `code` and `state` (the OAuth callback parameters) are matched only at the top level and in request
 * parameter objects, so error codes and other `state` fields stay readable.
 */
const SENSITIVE_KEY =
  /password|passwd|passphrase|secret|token|authorization|cookie|verifier|api[-_]?key|private[-_]?key|encryption[-_]?key/i;
const CALLBACK_KEY = /^(code|state)$/i;
const PARAMETER_OBJECT = /^(query|params|body|searchParams|callbackParams)$/;
const MAX_DEPTH = 8;

/**
 * pino's own redaction, for what the key walk cannot reach: bindings of child loggers (pino formats
 * them once, without the bindings formatter). Exact names, at the top level and one level down.
 */
const BOUND_KEYS = [
  'authorization',
  'Authorization',
  'cookie',
  'Cookie',
  'private-token',
  'PRIVATE-TOKEN',
  'token',
  'password',
  'secret',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'idToken',
  'id_token',
  'clientSecret',
  'client_secret',
  'sessionToken',
  'csrfToken',
  'csrf_token',
  'codeVerifier',
  'code_verifier',
];
const REDACT_PATHS = [
  ...BOUND_KEYS.flatMap((key) => [`["${key}"]`, `*["${key}"]`]),
  // Top level only: nested `code` is usually an error code.
  'code',
  'state',
];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * A copy of `value` with sensitive keys replaced. Only plain objects and arrays are walked: errors go
 * through the `err` serializer (which calls this on its plain result), other class instances are left
 * to their serializers. `ancestors` holds the objects on the current path, to cut cycles.
 */
function redact(
  value: unknown,
  parentKey: string | undefined,
  depth: number,
  ancestors: Set<object>,
): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (ancestors.has(value)) return '[Circular]';
  if (!Array.isArray(value) && !isPlainObject(value)) return value;
  // pino itself stops at depth 5; anything deeper is replaced rather than written unchecked.
  if (depth > MAX_DEPTH) return '[Object]';
  ancestors.add(value);
  let copy: unknown;
  if (Array.isArray(value)) {
    copy = value.map((item) => redact(item, parentKey, depth + 1, ancestors));
  } else {
    const callbackScope = parentKey === undefined || PARAMETER_OBJECT.test(parentKey);
    const entries = Object.entries(value).map(([key, child]) => {
      const sensitive = SENSITIVE_KEY.test(key) || (callbackScope && CALLBACK_KEY.test(key));
      return [key, sensitive ? REDACTED : redact(child, key, depth + 1, ancestors)];
    });
    copy = Object.fromEntries(entries);
  }
  ancestors.delete(value);
  return copy;
}

function redactRoot<T>(value: T): T {
  return redact(value, undefined, 0, new Set()) as T;
}

interface RequestLike {
  id?: unknown;
  method?: string;
  url?: string;
  ip?: string;
  socket?: { remoteAddress?: string };
}

/** Method and path only: the query string may carry an OAuth `code`/`state` or other secrets. */
function serializeRequest(request: RequestLike) {
  return {
    id: request.id,
    method: request.method,
    path: request.url?.split('?', 1)[0],
    remoteAddress: request.ip ?? request.socket?.remoteAddress,
  };
}

function serializeResponse(reply: { statusCode?: number }) {
  return { statusCode: reply.statusCode };
}

/**
 * The standard error serializer, then redaction. Its result (and nested errors) are not plain objects,
 * so it is flattened to JSON first: that is what would be written anyway.
 */
function serializeError(error: Error): unknown {
  const serialized = stdSerializers.err(error);
  let plain: unknown;
  try {
    plain = JSON.parse(JSON.stringify(serialized));
  } catch {
    plain = { type: serialized.type, message: serialized.message, stack: serialized.stack };
  }
  return redact(plain, 'err', 0, new Set());
}

export interface LoggerOptions {
  level: LogLevel;
  /** Where lines go; default: standard output. */
  destination?: DestinationStream;
}

/**
 * The process logger (JSON lines). Redaction is by key name at any depth, so a header object, an
 * upstream error's request config or a form body logged by mistake cannot carry a secret out.
 * Message strings are not inspected: never interpolate a value into a message.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      formatters: {
        bindings: (bindings) => redactRoot(bindings),
        log: (object) => redactRoot(object),
      },
      serializers: { req: serializeRequest, res: serializeResponse, err: serializeError },
    },
    options.destination,
  );
}
