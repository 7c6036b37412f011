import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import { GitLabError, type GitLabErrorInit, type GitLabErrorKind, type GitLabMessage } from './errors.js';
import { type ApiPath, checkedPath, type Query, toSearchParams } from './path.js';
import {
  type BackoffOptions,
  type BreakerOptions,
  backoffMs,
  CircuitBreaker,
  defaultBackoff,
  defaultBreaker,
  defaultRetryBudget,
  RetryBudget,
  type RetryBudgetOptions,
  retryAfterMs,
} from './resilience.js';
import { startGitLabCall } from './timing.js';

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

/** One HTTP request to GitLab, as reported to the `onCall` hook: nothing secret, no query string. */
export interface GitLabCallEvent {
  method: string;
  /** Path below `/api/v4`. */
  path: string;
  /** 1 for the first attempt of a call, 2 for its first retry… */
  attempt: number;
  /** Undefined when no response arrived. */
  status: number | undefined;
  ms: number;
  outcome: 'ok' | GitLabErrorKind;
}

export interface GitLabTransportOptions {
  /** GitLab's external URL (`GITLAB_URL`), e.g. `https://gitlab.example.com`. */
  url: string;
  /** The admin personal access token; sent only in the `PRIVATE-TOKEN` header. */
  token: string;
  /** Deadline for one call, retries and waits included (`GITLAB_TIMEOUT_MS`). */
  timeoutMs?: number;
  /** Attempts per idempotent call, the first one included. */
  maxAttempts?: number;
  backoff?: Partial<BackoffOptions>;
  /** Wait before retrying a 429 that came without `Retry-After`/`RateLimit-Reset`. */
  rateLimitFallbackMs?: number;
  breaker?: Partial<BreakerOptions>;
  retryBudget?: Partial<RetryBudgetOptions>;
  /** Larger response bodies are treated as malformed. */
  maxResponseBytes?: number;
  onCall?: (event: GitLabCallEvent) => void;
  userAgent?: string;
}

export interface GitLabRequest {
  query?: Query | URLSearchParams;
  /** Sent as JSON. */
  body?: unknown;
  /**
   * Whether repeating the call is harmless. Defaults to true for GET, HEAD, PUT and DELETE; set it
   * for POSTs that only move something into a state (`/users/:id/block`).
   */
  idempotent?: boolean;
  /** Run the call as this user (`Sudo` header); needs a token with the `sudo` scope. */
  sudo?: number | string;
  /** Aborts the call early, e.g. when the inbound request ends. */
  signal?: AbortSignal;
}

export interface GitLabResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON; null for an empty body. */
  body: unknown;
}

export interface PageOptions {
  sudo?: number | string;
  signal?: AbortSignal;
  /** A listing longer than this many pages is refused as malformed (default 1,000). */
  maxPages?: number;
}

type BreakerEffect = 'failure' | 'success' | 'neutral';

type AttemptResult =
  | { ok: true; response: GitLabResponse }
  | {
      ok: false;
      failure: GitLabErrorInit;
      retryable: boolean;
      breaker: BreakerEffect;
      /** The wait GitLab asked for, if it said. */
      serverWaitMs?: number;
    };

/** What is sent: GitLab's JSON API needs no more than a method, headers and a JSON body. */
interface OutgoingRequest {
  method: HttpMethod;
  headers: Record<string, string>;
  body: string | undefined;
}

/** GitLab's answer up to its headers; `body` is still to be read. */
interface IncomingAnswer {
  status: number;
  headers: Headers;
  body: IncomingMessage;
}

interface CallContext {
  method: HttpMethod;
  path: ApiPath;
  url: URL;
  init: OutgoingRequest;
  idempotent: boolean;
  deadline: number;
  attempt: number;
  signal: AbortSignal | undefined;
}

// Failures while connecting: the request never left this process, so even a POST can be reported as
// "not done".
const CONNECT_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * Idle keep-alive connections are closed after this long, before GitLab's own idle limit (nginx: 75 s)
 * closes them under a request.
 */
const IDLE_CONNECTION_MS = 4_000;

const isTlsCode = (code: string) => /^(?:CERT_|ERR_TLS|ERR_SSL|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_)/.test(code);

/**
 * The HTTP layer under every GitLab call: base URL, token header, deadline, retries of idempotent
 * calls only, rate-limit waits, a retry budget and a circuit breaker, and errors without secrets.
 * One instance per process: the budget and the breaker are shared by all calls.
 */
export class GitLabTransport {
  /** `<GITLAB_URL>/api/v4/` */
  readonly apiUrl: string;
  readonly timeoutMs: number;
  readonly breaker: CircuitBreaker;
  readonly #token: string;
  readonly #maxAttempts: number;
  readonly #backoff: BackoffOptions;
  readonly #rateLimitFallbackMs: number;
  readonly #budget: RetryBudget;
  readonly #maxResponseBytes: number;
  readonly #onCall: ((event: GitLabCallEvent) => void) | undefined;
  readonly #userAgent: string;
  readonly #agent: HttpAgent;

  constructor(options: GitLabTransportOptions) {
    const base = new URL(options.url);
    if (base.protocol !== 'https:' && base.protocol !== 'http:')
      throw new Error('GITLAB_URL must be http(s)');
    if (base.username || base.password || base.search || base.hash) {
      throw new Error('GITLAB_URL must not contain credentials, a query or a fragment');
    }
    if (!options.token) throw new Error('The GitLab admin token is empty');
    this.apiUrl = `${base.origin}${base.pathname.replace(/\/+$/, '')}/api/v4/`;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.#token = options.token;
    this.#maxAttempts = options.maxAttempts ?? 3;
    this.#backoff = { ...defaultBackoff, ...options.backoff };
    this.#rateLimitFallbackMs = options.rateLimitFallbackMs ?? 3_000;
    this.breaker = new CircuitBreaker({ ...defaultBreaker, ...options.breaker });
    this.#budget = new RetryBudget({ ...defaultRetryBudget, ...options.retryBudget });
    this.#maxResponseBytes = options.maxResponseBytes ?? 10 * 1024 * 1024;
    this.#onCall = options.onCall;
    this.#userAgent = options.userAgent ?? 'gitlab-extern';
    const agentOptions = { keepAlive: true, timeout: IDLE_CONNECTION_MS };
    this.#agent = base.protocol === 'https:' ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  }

  get(path: ApiPath, request?: Omit<GitLabRequest, 'body'>): Promise<GitLabResponse> {
    return this.request('GET', path, request);
  }

  post(path: ApiPath, request?: GitLabRequest): Promise<GitLabResponse> {
    return this.request('POST', path, request);
  }

  put(path: ApiPath, request?: GitLabRequest): Promise<GitLabResponse> {
    return this.request('PUT', path, request);
  }

  delete(path: ApiPath, request?: GitLabRequest): Promise<GitLabResponse> {
    return this.request('DELETE', path, request);
  }

  async request(method: HttpMethod, apiPath: ApiPath, request: GitLabRequest = {}): Promise<GitLabResponse> {
    const started = performance.now();
    const path = checkedPath(apiPath);
    const url = new URL(path, this.apiUrl);
    url.search = toSearchParams(request.query).toString();
    const ctx: CallContext = {
      method,
      path,
      url,
      init: this.requestInit(method, request),
      idempotent: request.idempotent ?? IDEMPOTENT_METHODS.has(method),
      deadline: started + this.timeoutMs,
      attempt: 0,
      signal: request.signal,
    };
    this.#budget.recordRequest();
    let malformedRetried = false;
    let last: GitLabErrorInit | undefined;
    const timed = startGitLabCall();
    try {
      for (;;) {
        const permit = this.breaker.acquire();
        if (!permit.allowed) {
          if (last) throw new GitLabError(last);
          throw new GitLabError({
            kind: 'breaker_open',
            method,
            path,
            attempts: 0,
            retryAfterSeconds: Math.ceil(permit.retryAfterMs / 1000),
          });
        }
        ctx.attempt += 1;
        const attemptStarted = performance.now();
        const result = await this.attempt(ctx);
        this.reportToBreaker(result, permit.probe);
        this.emit(ctx, result, performance.now() - attemptStarted);
        if (result.ok) return result.response;

        last = result.failure;
        const mayRetry =
          ctx.idempotent &&
          result.retryable &&
          ctx.attempt < this.#maxAttempts &&
          !(result.failure.kind === 'malformed' && malformedRetried);
        if (!mayRetry) throw new GitLabError(last);
        if (result.failure.kind === 'malformed') malformedRetried = true;

        const wait = this.waitBeforeRetry(result, ctx.attempt);
        if (wait >= ctx.deadline - performance.now()) {
          throw new GitLabError({
            ...last,
            retryAfterSeconds: last.kind === 'rate_limited' ? Math.ceil(wait / 1000) : last.retryAfterSeconds,
            detail: 'waiting to retry would pass the deadline',
          });
        }
        if (!this.#budget.tryRetry()) throw new GitLabError({ ...last, detail: 'retry budget exhausted' });
        try {
          await sleep(wait, undefined, { signal: ctx.signal });
        } catch {
          throw new GitLabError({
            kind: 'timeout',
            method,
            path,
            attempts: ctx.attempt,
            detail: 'cancelled',
          });
        }
      }
    } finally {
      timed(ctx.attempt);
    }
  }

  /**
   * Every page of a listing, following `Link: rel="next"` (offset and keyset pagination) or
   * `X-Next-Page`. Only the query of a next link is used, never its host or path.
   */
  async *pages(path: ApiPath, query: Query = {}, options: PageOptions = {}): AsyncGenerator<unknown[]> {
    const maxPages = options.maxPages ?? 1000;
    let params: URLSearchParams | undefined = toSearchParams(query);
    if (!params.has('per_page')) params.set('per_page', '100');
    for (let page = 1; params; page++) {
      if (page > maxPages) {
        throw new GitLabError({
          kind: 'malformed',
          method: 'GET',
          path,
          detail: `listing did not end after ${maxPages} pages`,
        });
      }
      const res = await this.request('GET', path, {
        query: params,
        sudo: options.sudo,
        signal: options.signal,
      });
      if (!Array.isArray(res.body)) {
        throw new GitLabError({
          kind: 'malformed',
          method: 'GET',
          path,
          status: res.status,
          detail: 'a listing did not answer with an array',
        });
      }
      yield res.body;
      params = nextPageParams(res.headers, params);
    }
  }

  toJSON(): Record<string, unknown> {
    return { apiUrl: this.apiUrl, timeoutMs: this.timeoutMs, breaker: this.breaker.state };
  }

  [inspect.custom](): string {
    return `GitLabTransport ${inspect(this.toJSON())}`;
  }

  private requestInit(method: HttpMethod, request: GitLabRequest): OutgoingRequest {
    const headers: Record<string, string> = {
      'private-token': this.#token,
      accept: 'application/json',
      'user-agent': this.#userAgent,
    };
    if (request.sudo !== undefined) headers.sudo = String(request.sudo);
    let body: string | undefined;
    if (request.body !== undefined) {
      body = JSON.stringify(request.body);
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return { method, headers, body };
  }

  /**
   * Sends one request; resolves once the status and headers are in. Node's HTTP client rather than
   * fetch: a GitLab call costs a fraction of the CPU and memory, and every create makes ten. Like
   * fetch with `redirect: 'manual'`, it never follows a redirect, which would resend the
   * PRIVATE-TOKEN header to whatever host a `Location` names.
   */
  private send(ctx: CallContext, signal: AbortSignal): Promise<IncomingAnswer> {
    const { method, headers, body } = ctx.init;
    const send = ctx.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(ctx.url, { method, headers, agent: this.#agent, signal }, (res) => {
        const answer = new Headers();
        const raw = res.rawHeaders;
        for (let i = 0; i + 1 < raw.length; i += 2) answer.append(raw[i]!, raw[i + 1]!);
        resolve({ status: res.statusCode ?? 0, headers: answer, body: res });
      });
      req.once('error', reject);
      req.end(body);
    });
  }

  private async attempt(ctx: CallContext): Promise<AttemptResult> {
    // A timer cleared as soon as the attempt ends, rather than AbortSignal.timeout, whose timer (and
    // signal) would outlive every call by the whole deadline: under load, memory filled with them.
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), Math.max(1, Math.ceil(ctx.deadline - performance.now())));
    timer.unref();
    const deadline = timeout.signal;
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, deadline]) : deadline;
    try {
      let res: IncomingAnswer;
      try {
        res = await this.send(ctx, signal);
      } catch (err) {
        return this.networkFailure(ctx, err, deadline, undefined);
      }
      let text: string;
      try {
        text = await readBody(res, this.#maxResponseBytes);
      } catch (err) {
        if (err instanceof BodyTooLarge)
          return this.unreadableSuccess(ctx, res.status, 'response body too large');
        return this.networkFailure(ctx, err, deadline, res.status);
      }
      return this.classify(ctx, res, text);
    } finally {
      clearTimeout(timer);
    }
  }

  private classify(ctx: CallContext, res: Omit<IncomingAnswer, 'body'>, text: string): AttemptResult {
    const { method, path, attempt: attempts } = ctx;
    const status = res.status;
    const json = /\bjson\b/i.test(res.headers.get('content-type') ?? '');
    if (status >= 200 && status < 300) {
      if (text === '') return { ok: true, response: { status, headers: res.headers, body: null } };
      if (!json) return this.unreadableSuccess(ctx, status, 'the answer is not JSON');
      try {
        return { ok: true, response: { status, headers: res.headers, body: JSON.parse(text) } };
      } catch {
        return this.unreadableSuccess(ctx, status, 'the answer is not valid JSON');
      }
    }
    const gitlabMessage = json ? this.messageOf(text) : undefined;
    const base = { method, path, status, gitlabMessage, attempts };
    if (status === 429) {
      const serverWaitMs = retryAfterMs(res.headers);
      const retryAfterSeconds = Math.ceil((serverWaitMs ?? this.#rateLimitFallbackMs) / 1000);
      return {
        ok: false,
        failure: { ...base, kind: 'rate_limited', retryAfterSeconds },
        retryable: true,
        breaker: 'success',
        serverWaitMs,
      };
    }
    if (status >= 500) {
      if (!ctx.idempotent) {
        return {
          ok: false,
          failure: { ...base, kind: 'ambiguous', detail: 'GitLab failed after receiving the request' },
          retryable: false,
          breaker: 'failure',
        };
      }
      const gateway = status === 502 || status === 503 || status === 504;
      const serverWaitMs = status === 503 ? retryAfterMs(res.headers) : undefined;
      return {
        ok: false,
        failure: {
          ...base,
          kind: gateway ? 'unavailable' : 'http',
          retryAfterSeconds: serverWaitMs === undefined ? undefined : Math.ceil(serverWaitMs / 1000),
        },
        retryable: gateway,
        breaker: 'failure',
        serverWaitMs,
      };
    }
    return { ok: false, failure: { ...base, kind: 'http' }, retryable: false, breaker: 'success' };
  }

  /** A success status whose body cannot be used: for a change, we cannot tell what GitLab did. */
  private unreadableSuccess(ctx: CallContext, status: number, detail: string): AttemptResult {
    const kind = ctx.idempotent ? 'malformed' : 'ambiguous';
    return {
      ok: false,
      failure: { kind, method: ctx.method, path: ctx.path, status, attempts: ctx.attempt, detail },
      retryable: ctx.idempotent,
      breaker: 'failure',
    };
  }

  private networkFailure(
    ctx: CallContext,
    err: unknown,
    deadline: AbortSignal,
    status: number | undefined,
  ): AttemptResult {
    const base = { method: ctx.method, path: ctx.path, status, attempts: ctx.attempt };
    if (deadline.aborted || ctx.signal?.aborted) {
      const detail = deadline.aborted ? `no complete answer within ${this.timeoutMs} ms` : 'cancelled';
      return {
        ok: false,
        failure: { ...base, kind: ctx.idempotent ? 'timeout' : 'ambiguous', detail },
        retryable: false,
        breaker: deadline.aborted ? 'failure' : 'neutral',
      };
    }
    const networkCode = networkCodeOf(err);
    if (
      networkCode &&
      status === undefined &&
      (CONNECT_ERROR_CODES.has(networkCode) || isTlsCode(networkCode))
    ) {
      return {
        ok: false,
        failure: { ...base, kind: 'unavailable', networkCode },
        retryable: !isTlsCode(networkCode),
        breaker: 'failure',
      };
    }
    return {
      ok: false,
      failure: ctx.idempotent
        ? { ...base, kind: 'unavailable', networkCode }
        : {
            ...base,
            kind: 'ambiguous',
            networkCode,
            detail: 'the connection failed after the request was sent',
          },
      retryable: true,
      breaker: 'failure',
    };
  }

  /** GitLab's `message`, or `error` (+ `error_description`), with any echo of the token removed. */
  private messageOf(text: string): GitLabMessage | undefined {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const body = parsed as Record<string, unknown>;
    let message: unknown = body.message;
    if (message === undefined && typeof body.error === 'string') {
      message =
        typeof body.error_description === 'string' ? `${body.error}: ${body.error_description}` : body.error;
    }
    if (typeof message === 'string') return message.split(this.#token).join('[REDACTED]');
    if (typeof message === 'object' && message !== null && !Array.isArray(message)) {
      return JSON.parse(JSON.stringify(message).split(this.#token).join('[REDACTED]')) as GitLabMessage;
    }
    return undefined;
  }

  private waitBeforeRetry(result: Extract<AttemptResult, { ok: false }>, retry: number): number {
    const backoff = backoffMs(this.#backoff, retry);
    if (result.serverWaitMs !== undefined) return Math.max(result.serverWaitMs, backoff);
    if (result.failure.kind === 'rate_limited') return Math.max(this.#rateLimitFallbackMs, backoff);
    return backoff;
  }

  private reportToBreaker(result: AttemptResult, probe: boolean): void {
    const effect = result.ok ? 'success' : result.breaker;
    if (effect === 'success') this.breaker.recordSuccess(probe);
    else if (effect === 'failure') this.breaker.recordFailure(probe);
    else this.breaker.release(probe);
  }

  private emit(ctx: CallContext, result: AttemptResult, ms: number): void {
    if (!this.#onCall) return;
    const event: GitLabCallEvent = {
      method: ctx.method,
      path: ctx.path,
      attempt: ctx.attempt,
      status: result.ok ? result.response.status : result.failure.status,
      ms,
      outcome: result.ok ? 'ok' : result.failure.kind,
    };
    try {
      this.#onCall(event);
    } catch {
      // A failing log hook must not turn a GitLab success into a failure.
    }
  }
}

/** The query for the next page, or undefined on the last page. */
function nextPageParams(headers: Headers, current: URLSearchParams): URLSearchParams | undefined {
  const link = headers.get('link');
  if (link) {
    for (const part of link.split(',')) {
      const match = /<([^>]*)>\s*;\s*rel="?next"?/i.exec(part);
      if (!match?.[1]) continue;
      let next: URL;
      try {
        next = new URL(match[1]);
      } catch {
        return undefined;
      }
      const params = new URLSearchParams(next.search);
      params.delete('private_token');
      params.delete('access_token');
      return params;
    }
  }
  const nextPage = headers.get('x-next-page');
  if (nextPage && /^\d+$/.test(nextPage)) {
    const params = new URLSearchParams(current);
    params.set('page', nextPage);
    return params;
  }
  return undefined;
}

class BodyTooLarge extends Error {}

/** The whole body as text; an answer cut off before its end (reset, deadline) is an error. */
async function readBody(res: IncomingAnswer, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > maxBytes) {
      res.body.destroy();
      throw new BodyTooLarge();
    }
    chunks.push(chunk);
  }
  return new TextDecoder().decode(Buffer.concat(chunks, size));
}

/** The `code` of a network error or of one of its causes, if it looks like a plain error code. */
function networkCodeOf(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(code)) {
      return code === 'EPROTO' ? (tlsCodeOf(message) ?? code) : code;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * A TLS handshake that fails while the request is being written (e.g. https:// to a plain-HTTP port)
 * surfaces as EPROTO; OpenSSL's reason in the message gives the code Node's TLS layer would have
 * used, e.g. `ERR_SSL_WRONG_VERSION_NUMBER`.
 */
function tlsCodeOf(message: unknown): string | undefined {
  const reason =
    typeof message === 'string' ? /SSL routines:[^:]*:([a-z0-9 ]{1,60})/i.exec(message)?.[1] : undefined;
  return reason === undefined ? undefined : `ERR_SSL_${reason.trim().toUpperCase().replaceAll(' ', '_')}`;
}
