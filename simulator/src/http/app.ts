import { randomUUID } from 'node:crypto';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type HTTPMethods,
} from 'fastify';
import FindMyWay from 'find-my-way';
import qs from 'qs';
import type { RecordedRequest, SimContext } from '../context.js';
import type { Store } from '../model/store.js';
import { type Caller, isAdmin, requireUser, resolveCaller } from './auth.js';
import { ApiError, grapeError, routeNotFound, unauthorized } from './errors.js';
import type { FaultAction, Throttled } from './faults.js';
import { type Rule, validateParams } from './grape.js';
import { type Page, type PageRequest, paginateOffset } from './pagination.js';

export const API_PREFIX = '/api/v4';

export interface RouteCtx {
  sim: SimContext;
  store: Store;
  req: FastifyRequest;
  reply: FastifyReply;
  /** undefined for anonymous requests */
  caller: Caller | undefined;
  /** `can_admin_all_resources?` for the caller */
  isAdmin: boolean;
  /** Declared params after Grape validation, with route params merged in. */
  params: Record<string, unknown>;
  /** Every param the client sent (query, body, route). */
  raw: Record<string, unknown>;
  /** Response status; defaults to 201 for POST and 200 otherwise (Grape). */
  status: number;
  /** Extra response headers. */
  headers: Record<string, string>;
  /** The caller, or 401 (`authenticate!`). */
  user(): Caller;
  /** Offset pagination with GitLab's headers over the already-ordered result. */
  paginate<T>(items: readonly T[], opts?: { enforcedType?: 'User' | 'Group' }): T[];
  /** Applies a page computed elsewhere (e.g. keyset) and returns its items. */
  usePage<T>(page: Page<T>): T[];
  /** The absolute URL and params for Link headers. */
  pageRequest(): PageRequest;
}

export interface ApiRoute {
  method: HTTPMethods | HTTPMethods[];
  /** Path below `/api/v4`, Fastify syntax (`/users/:id`). */
  path: string;
  /** Route-param requirements; a mismatch is an unmatched route (`{"error":"404 Not Found"}`). */
  requirements?: Record<string, RegExp>;
  /** The Users API also accepts `read_user` tokens for GET/HEAD (`lib/api/users.rb`). */
  readUser?: boolean;
  /** Any token scope is accepted (e.g. `/personal_access_tokens/self`). */
  anyScope?: boolean;
  /**
   * Grape `before` filters: `required` = `authenticate!`, `non_get` = `authenticate_non_get!`.
   * They run before parameter validation.
   */
  auth?: 'optional' | 'required' | 'non_get';
  params?: readonly Rule[];
  handler(ctx: RouteCtx): unknown;
}

/** The scopes that grant access to an endpoint, in GitLab's registration order. */
export function allowedScopes(method: string, readUser: boolean): string[] {
  const read = method === 'GET' || method === 'HEAD';
  const scopes = ['api'];
  if (read) scopes.push('read_api');
  if (read && readUser) scopes.push('read_user');
  return scopes;
}

export function sendJson(
  reply: FastifyReply,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  reply.code(status).headers(headers).type('application/json');
  if (status === 204 || body === undefined) return reply.send();
  return reply.send(JSON.stringify(body));
}

function sendApiError(reply: FastifyReply, err: ApiError) {
  reply.code(err.status).headers(err.headers).type(err.contentType);
  return reply.send(err.contentType === 'application/json' ? JSON.stringify(err.body) : String(err.body));
}

/** Rack-style params: query merged with the form/JSON body (body wins). */
export function requestParams(req: FastifyRequest): Record<string, unknown> {
  const query = (req.query ?? {}) as Record<string, unknown>;
  const body = req.body;
  if (body && typeof body === 'object' && !Array.isArray(body) && !Buffer.isBuffer(body)) {
    return { ...query, ...(body as Record<string, unknown>) };
  }
  return { ...query };
}

type ApiRouter = FindMyWay.Instance<FindMyWay.HTTPVersion.V1>;

/**
 * The API routes in their own find-my-way router (Fastify's), built once per route list and shared
 * by the simulators of a process: registering every endpoint with each Fastify instance costs more
 * than the rest of a simulator's start, and tests start hundreds. Fastify sees one wildcard route.
 */
const apiRouters = new WeakMap<readonly ApiRoute[], ApiRouter>();

function apiRouter(routes: readonly ApiRoute[]): ApiRouter {
  let router = apiRouters.get(routes);
  if (router) return router;
  router = FindMyWay({ ignoreTrailingSlash: true, maxParamLength: 1000 });
  for (const route of routes) {
    for (const method of [route.method].flat()) {
      router.on(method as FindMyWay.HTTPMethod, route.path, () => undefined, route);
    }
  }
  apiRouters.set(routes, router);
  return router;
}

/** Registers the REST API: one Fastify route below `/api/v4`, dispatched through `apiRouter`. */
export function registerApiRoutes(app: FastifyInstance, sim: SimContext, routes: readonly ApiRoute[]): void {
  const router = apiRouter(routes);
  app.route({
    method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    url: `${API_PREFIX}/*`,
    handler: async (req, reply) => {
      const path = req.url.split('?')[0]!.slice(API_PREFIX.length);
      const method = req.method.toUpperCase() as FindMyWay.HTTPMethod;
      const found = router.find(method, path) ?? (method === 'HEAD' ? router.find('GET', path) : null);
      if (!found) return reply.callNotFound();
      const routeParams: Record<string, string> = {};
      for (const [name, value] of Object.entries(found.params))
        if (value !== undefined) routeParams[name] = value;
      return handleApiRequest(sim, found.store as ApiRoute, routeParams, req, reply);
    },
  });
}

async function handleApiRequest(
  sim: SimContext,
  route: ApiRoute,
  routeParams: Record<string, string>,
  req: FastifyRequest,
  reply: FastifyReply,
) {
  for (const [name, re] of Object.entries(route.requirements ?? {})) {
    if (!re.test(routeParams[name] ?? '')) throw routeNotFound();
  }
  const raw = { ...requestParams(req), ...routeParams };
  const method = req.method.toUpperCase();
  const caller = resolveCaller(sim.store, req, raw, {
    allowedScopes: route.anyScope ? 'any' : allowedScopes(method, !!route.readUser),
  });
  if (route.auth === 'required' && !caller) throw unauthorized();
  if (route.auth === 'non_get' && !caller && method !== 'GET' && method !== 'HEAD') throw unauthorized();
  const params = { ...(route.params ? validateParams(raw, route.params) : raw), ...routeParams };
  const ctx: RouteCtx = {
    sim,
    store: sim.store,
    req,
    reply,
    caller,
    isAdmin: isAdmin(sim.store, caller),
    params,
    raw,
    status: method === 'POST' ? 201 : 200,
    headers: {},
    user: () => requireUser(caller),
    pageRequest: () => {
      const declared: Record<string, unknown> = { ...raw, ...params };
      for (const name of Object.keys(routeParams)) delete declared[name];
      return { url: sim.store.baseUrl + req.url.split('?')[0], params: declared };
    },
    paginate: (items, opts) => ctx.usePage(paginateOffset(items, ctx.pageRequest(), opts)),
    usePage: (page) => {
      Object.assign(ctx.headers, page.headers);
      return page.items;
    },
  };
  const body = await route.handler(ctx);
  return sendJson(reply, ctx.status, body, ctx.headers);
}

export interface BuildAppOptions {
  /** Extra registrations (API route modules, web pages, control endpoints). */
  register(app: FastifyInstance, sim: SimContext): void;
}

/**
 * The simulator's HTTP server: body/query parsing like Rack, request recording, fault injection,
 * GitLab's API headers and error bodies, and strict mode for unimplemented endpoints.
 */
export function buildSimApp(sim: SimContext, opts: BuildAppOptions): FastifyInstance {
  const app = Fastify({
    logger: false,
    forceCloseConnections: true,
    bodyLimit: 10 * 1024 * 1024,
    routerOptions: {
      querystringParser: (s: string) => qs.parse(s, { depth: 5, arrayLimit: 1000, parameterLimit: 10_000 }),
      ignoreTrailingSlash: true,
      maxParamLength: 1000,
    },
  });

  // Rack ignores bodies it cannot parse; Grape then sees only the query params.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body).trim();
    if (text === '') return done(null, {});
    try {
      done(null, JSON.parse(text));
    } catch {
      done(grapeError('There was a problem with the payload: the JSON could not be parsed'));
    }
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, qs.parse(String(body), { depth: 5, arrayLimit: 1000, parameterLimit: 10_000 }));
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.decorateRequest('simRecord', null);
  app.decorateRequest('simFault', null);

  let requestSeq = 0;
  // Injected delays still running; stopping the simulator cancels them so that no request is
  // handled after `close()` and no timer outlives the server.
  const delays = new Set<() => void>();
  const delay = (ms: number) =>
    new Promise<boolean>((resolve) => {
      const cancel = () => {
        clearTimeout(timer);
        delays.delete(cancel);
        resolve(false);
      };
      const timer = setTimeout(() => {
        delays.delete(cancel);
        resolve(true);
      }, ms);
      delays.add(cancel);
    });
  app.addHook('preClose', async () => {
    for (const cancel of [...delays]) cancel();
  });

  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0]!;
    const record: RecordedRequest = {
      id: ++requestSeq,
      at: sim.clock.nowMs(),
      method: req.method,
      path,
      query: (req.query ?? {}) as Record<string, unknown>,
      headers: { ...req.headers },
      body: undefined,
    };
    (req as SimRequest).simRecord = record;
    reply.header('x-request-id', randomUUID().replaceAll('-', '').slice(0, 26).toUpperCase());
    if (path.startsWith('/-/sim/')) return;
    sim.requests.push(record);
    // `shift` drops the oldest entry in constant time; `splice(0, n)` copies the whole log on every
    // request once it is full.
    while (sim.requests.length > sim.requestLogLimit) sim.requests.shift();

    if (sim.faults.baseLatencyMs > 0 && !(await delay(sim.faults.baseLatencyMs))) return reply.hijack();

    // Rack::Attack answers from middleware, before Rails adds the API's headers.
    const throttled = sim.faults.throttle(req.method, path);
    if (throttled?.rule.kind === 'rack_attack') {
      record.fault = 'rack_attack_throttle';
      return sendRackAttackThrottled(reply, throttled, throttled.rule.name);
    }
    if (path.startsWith(API_PREFIX)) {
      reply.header('x-frame-options', 'SAMEORIGIN');
      reply.header('x-content-type-options', 'nosniff');
      reply.header('cache-control', 'max-age=0, private, must-revalidate');
      reply.header('vary', 'Origin');
    }
    if (throttled) {
      record.fault = 'application_rate_limit';
      return sendJson(reply, 429, {
        message: { error: 'This endpoint has been requested too many times. Try again later.' },
      });
    }

    const fault = sim.faults.take(req.method, path);
    if (!fault) return;
    record.fault = fault.type;
    if (fault.type === 'latency') {
      if (!(await delay(fault.ms))) reply.hijack();
    } else if (fault.type === 'reset') {
      // Before the body is read, like a connection dropped on the way in.
      reply.hijack();
      req.raw.socket.resetAndDestroy();
    } else {
      (req as SimRequest).simFault = fault;
    }
  });

  // Scripted answers and hangs come once the body has arrived, so that the request is recorded
  // whole (tests assert what was sent to a GitLab that then failed).
  app.addHook('preHandler', async (req, reply) => {
    const record = (req as SimRequest).simRecord;
    if (record) record.body = req.body;
    const fault = (req as SimRequest).simFault;
    if (fault?.type === 'respond') return sendFaultResponse(reply, fault);
    // Nothing is ever written; the client's timeout or `close()` ends the connection.
    if (fault?.type === 'hang') reply.hijack();
  });

  app.addHook('onSend', async (req, reply, payload) => {
    const fault = (req as SimRequest).simFault?.type;
    if (fault === 'reset_after_apply') {
      // The handler has run and its change is in the store; the reset goes out before the first
      // byte of the answer, so the client cannot tell whether anything happened.
      req.raw.socket.resetAndDestroy();
      return payload;
    }
    if (fault === 'malformed_json') {
      // A 204 has no body to spoil; answer 200 so the client does try to parse one.
      if (reply.statusCode === 204) reply.code(200);
      reply.type('application/json');
      return truncateJson(typeof payload === 'string' ? payload : '');
    }
    return payload;
  });

  app.addHook('onResponse', async (req, reply) => {
    const record = (req as SimRequest).simRecord;
    if (record && (req as SimRequest).simFault?.type !== 'reset_after_apply')
      record.status = reply.statusCode;
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof ApiError) return sendApiError(reply, err);
    const e = err as { statusCode?: number; code?: string };
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return sendJson(reply, 413, { message: '413 Request Entity Too Large' });
    sim.unexpected.push({
      method: req.method,
      path: req.url.split('?')[0]!,
      at: sim.clock.nowMs(),
      reason: `internal error: ${err instanceof Error ? err.stack : String(err)}`,
    });
    if (sim.strict)
      process.stderr.write(`gitlab simulator: internal error on ${req.method} ${req.url}: ${String(err)}\n`);
    return sendJson(reply, 500, { message: '500 Internal Server Error' });
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0]!;
    if (path.startsWith('/api/v3/')) {
      return sendJson(reply, 410, { error: 'API V3 is no longer supported. Use API V4 instead.' });
    }
    if (sim.strict) {
      sim.unexpected.push({ method: req.method, path, at: sim.clock.nowMs(), reason: 'not implemented' });
      process.stderr.write(`gitlab simulator (strict): ${req.method} ${path} is not implemented\n`);
      return sendJson(reply, 501, {
        error: `The GitLab simulator does not implement ${req.method} ${path} (strict mode)`,
      });
    }
    if (path.startsWith(API_PREFIX)) return sendApiError(reply, routeNotFound());
    return reply
      .code(404)
      .type('text/html; charset=utf-8')
      .send('<!DOCTYPE html><title>Not Found</title><h1>404</h1>');
  });

  opts.register(app, sim);
  return app;
}

interface SimRequest extends FastifyRequest {
  simRecord: RecordedRequest | null;
  /** A fault that acts after the request was read: respond, hang, reset_after_apply, malformed_json. */
  simFault: FaultAction | null;
}

/** `Gitlab::RackAttack.throttled_response_headers` and `Gitlab::Throttle.rate_limiting_response_text`. */
function sendRackAttackThrottled(reply: FastifyReply, throttled: Throttled, name: string) {
  const { rule, observed, resetAt, retryAfter } = throttled;
  return reply
    .code(429)
    .headers({
      'ratelimit-name': name,
      'ratelimit-limit': String(Math.ceil((rule.limit * 60) / rule.periodSeconds)),
      'ratelimit-observed': String(observed),
      'ratelimit-remaining': String(Math.max(0, rule.limit - observed)),
      'ratelimit-reset': String(resetAt),
      'ratelimit-resettime': new Date(resetAt * 1000).toUTCString(),
      'retry-after': String(retryAfter),
    })
    .type('text/plain')
    .send('Retry later\n');
}

function sendFaultResponse(reply: FastifyReply, fault: Extract<FaultAction, { type: 'respond' }>) {
  const headers = fault.headers ?? {};
  const headerType = Object.entries(headers).find(([name]) => name.toLowerCase() === 'content-type')?.[1];
  const text = typeof fault.body === 'string';
  const contentType =
    fault.contentType ??
    headerType ??
    (!text
      ? 'application/json'
      : /^\s*</.test(fault.body as string)
        ? 'text/html; charset=utf-8'
        : 'text/plain');
  reply.code(fault.status).headers(headers).type(contentType);
  if (fault.body === undefined) return reply.send();
  return reply.send(text ? (fault.body as string) : JSON.stringify(fault.body));
}

/** Half of the body; never valid JSON, even when half of a short body would be (`12345` → `12`). */
function truncateJson(text: string): string {
  const cut = text.slice(0, Math.floor(text.length / 2));
  if (cut !== '') {
    try {
      JSON.parse(cut);
    } catch {
      return cut;
    }
  }
  return `${cut}{"`;
}
