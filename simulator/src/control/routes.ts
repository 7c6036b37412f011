import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { isoTime } from '../clock.js';
import type { RecordedRequest, SimContext } from '../context.js';
import { sendJson } from '../http/app.js';
import { ApiError } from '../http/errors.js';
import { type FaultAction, type FaultRule, matches, type RateLimitRule } from '../http/faults.js';
import { runPeriodicJobs } from '../jobs.js';
import { ACCESS_LEVELS, type MailMessage } from '../model/types.js';
import {
  applySeed,
  type Seed,
  type SeedApplication,
  type SeedGroup,
  type SeedProject,
  type SeedUser,
  seedApplication,
  seedGroup,
  seedProject,
  seedUser,
  validateSeed,
} from '../seed.js';
import { checkSettings, Fields, isPlainObject, Problems } from '../validation.js';
import { ensureSession } from '../web/session.js';
import { type ControlAccess, controlAccess } from './access.js';
import { MAIL_PAGE_CSP, renderMailDenied, renderMailPage } from './mail-page.js';

const CONTROL_PREFIX = '/-/sim';

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const FAULT_TYPES = ['respond', 'latency', 'hang', 'reset', 'reset_after_apply', 'malformed_json'] as const;
const MAX_LATENCY_MS = 600_000;
// Keeps simulated time inside what a Date can show.
const MAX_CLOCK_STEP_SECONDS = 3_153_600_000;
/** RFC 9110 field-name token; values may hold any visible or space character but no line breaks. */
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE_RE = /^[\t\x20-\x7e\x80-\xff]*$/;

interface Answer {
  status: number;
  body?: unknown;
}

const ok = (body: unknown): Answer => ({ status: 200, body });
const created = (body: unknown): Answer => ({ status: 201, body });
const noContent = (): Answer => ({ status: 204 });

/** 400 listing every problem; `error` reads on its own, `problems` is for programs. */
function invalid(problems: readonly string[]): ApiError {
  return new ApiError(400, { error: problems.join('; '), problems });
}

function check(problems: Problems): void {
  if (!problems.empty) throw invalid(problems.list);
}

/** The JSON body as an object (an empty body is `{}`); the admin token may travel in it. */
function body(req: FastifyRequest): Record<string, unknown> {
  const raw = req.body;
  if (raw === undefined || raw === null || (Buffer.isBuffer(raw) && raw.length === 0)) return {};
  if (Buffer.isBuffer(raw)) throw invalid(['body: must be JSON (Content-Type: application/json)']);
  if (!isPlainObject(raw)) throw invalid(['body: must be a JSON object']);
  const { private_token: _token, ...rest } = raw;
  return rest;
}

/** A single-valued query parameter. */
function query(req: FastifyRequest, name: string): string | undefined {
  const value = (req.query as Record<string, unknown> | undefined)?.[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw invalid([`${name}: must be given once, as text`]);
  return value;
}

// ---------------------------------------------------------------- views

function mailView(m: MailMessage) {
  return {
    id: m.id,
    to: m.to,
    subject: m.subject,
    kind: m.kind,
    sent_at: isoTime(m.sentAt),
    reset_link: m.resetLink,
    confirmation_link: m.confirmationLink,
    text: m.text,
    html: m.html,
  };
}

function actionView(action: FaultAction) {
  if (action.type !== 'respond') return action;
  const { contentType, ...rest } = action;
  return contentType === undefined ? rest : { ...rest, content_type: contentType };
}

function faultView(rule: FaultRule) {
  return {
    id: rule.id,
    method: rule.match.method ?? null,
    path: rule.match.path ?? null,
    times: rule.remaining,
    action: actionView(rule.action),
  };
}

function rateLimitView(rule: RateLimitRule) {
  return {
    id: rule.id,
    kind: rule.kind,
    ...(rule.kind === 'rack_attack' ? { name: rule.name } : {}),
    method: rule.match.method ?? null,
    path: rule.match.path ?? null,
    limit: rule.limit,
    period_seconds: rule.periodSeconds,
  };
}

function requestView(r: RecordedRequest) {
  return {
    id: r.id,
    at: isoTime(r.at),
    method: r.method,
    path: r.path,
    query: r.query,
    headers: r.headers,
    body: Buffer.isBuffer(r.body) ? r.body.toString('utf8') : (r.body ?? null),
    status: r.status ?? null,
    fault: r.fault ?? null,
  };
}

function clockView(sim: SimContext) {
  return { now: isoTime(sim.clock.nowMs()), now_ms: sim.clock.nowMs(), frozen: sim.clock.frozen };
}

// ---------------------------------------------------------------- body checks

function matcher(f: Fields): { method?: string; path?: string } {
  const method = f.string('method');
  if (method !== undefined && !HTTP_METHODS.includes(method.toUpperCase())) {
    f.problem('method', `must be one of: ${HTTP_METHODS.join(', ')}`);
  }
  const path = f.string('path');
  if (path !== undefined && !path.startsWith('/')) {
    f.problem('path', "must start with '/', e.g. /api/v4/users or /api/v4/users/:id");
  }
  return {
    ...(method !== undefined ? { method: method.toUpperCase() } : {}),
    ...(path !== undefined ? { path } : {}),
  };
}

function headerText(f: Fields, key: string, value: string, label = key): void {
  if (!HEADER_VALUE_RE.test(value))
    f.problem(key, `${label} must not contain line breaks or control characters`);
}

function faultAction(p: Problems, value: unknown): FaultAction | undefined {
  if (!isPlainObject(value)) {
    p.add('action', value === undefined ? 'missing' : 'must be an object');
    return undefined;
  }
  const type = new Fields(p, value, 'action').oneOf('type', FAULT_TYPES, { required: true });
  if (type === undefined) return undefined;
  const keys =
    type === 'respond'
      ? ['type', 'status', 'body', 'content_type', 'headers']
      : type === 'latency'
        ? ['type', 'ms']
        : ['type'];
  const f = Fields.of(p, value, 'action', keys)!;
  if (type === 'latency') {
    const ms = f.integer('ms', { required: true, min: 0, max: MAX_LATENCY_MS });
    return ms === undefined ? undefined : { type, ms };
  }
  if (type !== 'respond') return { type };
  const status = f.integer('status', { required: true, min: 100, max: 599 });
  const contentType = f.string('content_type', { nonEmpty: true });
  if (contentType !== undefined) headerText(f, 'content_type', contentType, 'the content type');
  const headers = f.stringMap('headers');
  for (const [name, v] of Object.entries(headers ?? {})) {
    if (!HEADER_NAME_RE.test(name)) f.problem('headers', `'${name}' is not a valid header name`);
    else headerText(f, 'headers', v, `the value of ${name}`);
  }
  if (status === undefined) return undefined;
  return {
    type,
    status,
    ...(f.has('body') ? { body: f.value.body } : {}),
    ...(contentType !== undefined ? { contentType } : {}),
    ...(headers !== undefined ? { headers } : {}),
  };
}

// ---------------------------------------------------------------- registration

type Handler = (
  req: FastifyRequest,
  reply: FastifyReply,
  params: Record<string, string>,
) => Answer | undefined;

interface ControlRoute {
  method: HTTPMethods;
  /** Path segments below the prefix; `:name` matches any one segment. */
  segments: string[];
  run(req: FastifyRequest, reply: FastifyReply, params: Record<string, string>): Promise<unknown>;
}

/** The route's parameters when `path` (segments below the prefix) matches it. */
function matchSegments(route: ControlRoute, path: readonly string[]): Record<string, string> | undefined {
  if (route.segments.length !== path.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < path.length; i++) {
    const want = route.segments[i]!;
    if (want.startsWith(':')) {
      if (path[i] === '') return undefined;
      params[want.slice(1)] = path[i]!;
    } else if (want !== path[i]) return undefined;
  }
  return params;
}

/**
 * The simulator's own test-control API under `/-/sim`: captured mail, fault injection, rate limits,
 * the clock, settings, recorded requests and scenario helpers. Only the admin token or an admin web
 * session may use it.
 */
export function registerControlRoutes(app: FastifyInstance, sim: SimContext): void {
  const methodsByPath = new Map<string, HTTPMethods[]>();
  // Dispatched by the one Fastify route at the end: registering each with Fastify would cost more
  // than the rest of a simulator's start.
  const routes: ControlRoute[] = [];

  const route = (
    method: HTTPMethods,
    path: string,
    handler: Handler,
    opts: { html?: boolean; readableWithoutSignIn?: () => boolean } = {},
  ) => {
    const url = CONTROL_PREFIX + path;
    if (!path.includes(':')) methodsByPath.set(url, [...(methodsByPath.get(url) ?? []), method]);
    routes.push({
      method,
      segments: path.split('/').slice(1),
      run: async (req, reply, params) => {
        reply.header('cache-control', 'no-store');
        const access: ControlAccess = opts.readableWithoutSignIn?.()
          ? { allowed: true }
          : controlAccess(sim, req);
        if (!access.allowed) {
          if (opts.html) {
            // Signing in from here comes back to this page (Devise's `user_return_to`).
            if (access.status === 401) ensureSession(sim, req, reply).data.returnTo = req.url;
            reply.header('content-security-policy', MAIL_PAGE_CSP);
            return reply
              .code(access.status)
              .type('text/html; charset=utf-8')
              .send(renderMailDenied(access.status, access.status === 403 ? access.user?.name : undefined));
          }
          return sendJson(
            reply,
            access.status,
            access.status === 401
              ? { message: '401 Unauthorized' }
              : {
                  message:
                    '403 Forbidden - the simulator control API needs the admin token or an administrator session',
                },
          );
        }
        const answer = handler(req, reply, params);
        if (answer === undefined) return reply;
        return sendJson(reply, answer.status, answer.body);
      },
    });
  };

  // ------------------------------------------------------------ mail

  const mails = (req: FastifyRequest) => {
    const to = query(req, 'to')?.toLowerCase();
    const kind = query(req, 'kind');
    const out: MailMessage[] = [];
    for (let i = sim.store.mails.length - 1; i >= 0; i--) {
      const m = sim.store.mails[i]!;
      if ((to === undefined || m.to.toLowerCase() === to) && (kind === undefined || m.kind === kind))
        out.push(m);
    }
    return out;
  };

  route(
    'GET',
    '/mail',
    (req, reply) => {
      const list = mails(req);
      reply
        .header('content-security-policy', MAIL_PAGE_CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .type('text/html; charset=utf-8')
        .send(renderMailPage(sim.store, list, { to: query(req, 'to') }));
      return undefined;
    },
    { html: true, readableWithoutSignIn: () => sim.settings.publicMailViewer },
  );
  route('GET', '/mail.json', (req) => ok(mails(req).map(mailView)), {
    readableWithoutSignIn: () => sim.settings.publicMailViewer,
  });
  route('DELETE', '/mail', () => {
    sim.store.mails.length = 0;
    return noContent();
  });

  // ------------------------------------------------------------ faults, latency, rate limits

  const faultsState = () => ({
    faults: sim.faults.rules.map(faultView),
    rate_limits: sim.faults.rateLimits.map(rateLimitView),
    latency_ms: sim.faults.baseLatencyMs,
  });

  route('POST', '/faults', (req) => {
    const p = new Problems();
    const f = Fields.of(p, body(req), '', ['method', 'path', 'times', 'action'])!;
    const match = matcher(f);
    const times = f.value.times === null ? null : (f.integer('times', { min: 1 }) ?? 1);
    const action = faultAction(p, f.value.action);
    check(p);
    return created(faultView(sim.faults.add(match, action!, times)));
  });
  route('GET', '/faults', () => ok(faultsState()));
  route('DELETE', '/faults', () => {
    sim.faults.clear();
    return noContent();
  });
  route('DELETE', '/faults/:id', (_req, _reply, params) => {
    const id = params.id!;
    if (!/^\d+$/.test(id) || !sim.faults.remove(Number(id))) {
      throw new ApiError(404, { error: `no fault or rate limit with id ${id}` });
    }
    return noContent();
  });

  route('PUT', '/latency', (req) => {
    const p = new Problems();
    const ms = Fields.of(p, body(req), '', ['ms'])!.integer('ms', {
      required: true,
      min: 0,
      max: MAX_LATENCY_MS,
    });
    check(p);
    sim.faults.baseLatencyMs = ms!;
    return ok({ ms });
  });

  route('POST', '/rate-limits', (req) => {
    const p = new Problems();
    const f = Fields.of(p, body(req), '', ['kind', 'method', 'path', 'limit', 'period_seconds', 'name'])!;
    const kind = f.oneOf('kind', ['rack_attack', 'application'] as const, { required: true });
    const match = matcher(f);
    const limit = f.integer('limit', { required: true, min: 0 });
    const periodSeconds = f.integer('period_seconds', { required: true, min: 1 });
    const name = f.string('name', { nonEmpty: true });
    if (name !== undefined && kind === 'application') {
      f.problem('name', 'only a rack_attack throttle has a name (sent as RateLimit-Name)');
    }
    check(p);
    const rule =
      kind === 'rack_attack'
        ? sim.faults.addRateLimit({ kind, match, limit: limit!, periodSeconds: periodSeconds!, name })
        : sim.faults.addRateLimit({
            kind: 'application',
            match,
            limit: limit!,
            periodSeconds: periodSeconds!,
          });
    return created(rateLimitView(rule));
  });
  route('GET', '/rate-limits', () => ok(sim.faults.rateLimits.map(rateLimitView)));

  // ------------------------------------------------------------ clock

  route('GET', '/clock', () => ok(clockView(sim)));
  route('POST', '/clock/advance', (req) => {
    const p = new Problems();
    const f = Fields.of(p, body(req), '', ['seconds'])!;
    const seconds = f.value.seconds;
    if (seconds === undefined) f.problem('seconds', 'missing');
    else if (typeof seconds !== 'number' || !Number.isFinite(seconds))
      f.problem('seconds', 'must be a number');
    else if (Math.abs(seconds) > MAX_CLOCK_STEP_SECONDS) {
      f.problem('seconds', `must be at most ${MAX_CLOCK_STEP_SECONDS} (100 years) either way`);
    }
    check(p);
    sim.clock.advance((seconds as number) * 1000);
    runPeriodicJobs(sim);
    return ok(clockView(sim));
  });
  route('POST', '/clock/freeze', (req) => {
    const p = new Problems();
    const at = Fields.of(p, body(req), '', ['at'])!.time('at');
    check(p);
    sim.clock.freeze(at === undefined ? undefined : Date.parse(at));
    return ok(clockView(sim));
  });
  route('POST', '/clock/unfreeze', () => {
    sim.clock.unfreeze();
    return ok(clockView(sim));
  });

  // ------------------------------------------------------------ settings

  route('GET', '/settings', () => ok(sim.settings));
  route('PATCH', '/settings', (req) => {
    const p = new Problems();
    const changes = checkSettings(p, body(req), '');
    check(p);
    Object.assign(sim.settings, changes);
    return ok(sim.settings);
  });

  // ------------------------------------------------------------ recorded requests

  route('GET', '/requests', (req) => {
    const method = query(req, 'method');
    const path = query(req, 'path');
    const match = { ...(method ? { method } : {}), ...(path ? { path } : {}) };
    return ok(sim.requests.filter((r) => matches(match, r.method, r.path)).map(requestView));
  });
  route('DELETE', '/requests', () => {
    sim.requests.length = 0;
    return noContent();
  });
  route('GET', '/unexpected', () =>
    ok(sim.unexpected.map((u) => ({ method: u.method, path: u.path, at: isoTime(u.at), reason: u.reason }))),
  );
  route('DELETE', '/unexpected', () => {
    sim.unexpected.length = 0;
    return noContent();
  });

  // ------------------------------------------------------------ scenario helpers

  /** Checks one seed entry against the store; messages name its fields directly (`username: missing`). */
  const checkEntry = (section: 'users' | 'groups' | 'projects' | 'applications', value: unknown) => {
    const problems = validateSeed({ [section]: [value] }, sim.store, { label: () => '', root: 'body' });
    if (problems.length > 0) throw invalid(problems);
  };

  route('POST', '/users', (req) => {
    const input = body(req);
    checkEntry('users', input);
    const { user, tokens } = seedUser(sim.store, input as unknown as SeedUser);
    return created({
      id: user.id,
      username: user.username,
      name: user.name,
      email: user.email,
      state: user.state,
      admin: user.admin,
      external: user.external,
      tokens: tokens.map((t) => ({
        id: t.id,
        name: t.name,
        token: t.token,
        scopes: t.scopes,
        expires_at: t.expiresAt,
        revoked: t.revoked,
      })),
    });
  });

  route('POST', '/groups', (req) => {
    const input = body(req);
    checkEntry('groups', input);
    const group = seedGroup(sim.store, input as unknown as SeedGroup);
    return created({
      id: group.id,
      name: group.name,
      path: group.path,
      full_path: group.fullPath,
      parent_id: group.parentId,
      visibility: group.visibility,
    });
  });

  route('POST', '/projects', (req) => {
    const input = body(req);
    checkEntry('projects', input);
    const project = seedProject(sim.store, input as unknown as SeedProject);
    return created({
      id: project.id,
      name: project.name,
      path: project.path,
      path_with_namespace: sim.store.projectFullPath(project),
      namespace_id: project.namespaceId,
      visibility: project.visibility,
    });
  });

  route('POST', '/applications', (req) => {
    const input = body(req);
    checkEntry('applications', input);
    const application = seedApplication(sim.store, input as unknown as SeedApplication);
    return created({
      id: application.id,
      name: application.name,
      application_id: application.uid,
      secret: application.secret,
      redirect_uri: application.redirectUris.join('\n'),
      scopes: application.scopes.join(' '),
      confidential: application.confidential,
      trusted: application.trusted,
    });
  });

  route('POST', '/members', (req) => {
    const p = new Problems();
    const f = Fields.of(p, body(req), '', ['group', 'project', 'user', 'access_level', 'expires_at'])!;
    const ref = (key: string) => {
      const v = f.value[key];
      if (v === undefined) return undefined;
      if ((typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && v !== '')) return v;
      f.problem(key, 'must be a full path or an id');
      return undefined;
    };
    const groupRef = ref('group');
    const projectRef = ref('project');
    const userRef = ref('user');
    if (f.has('group') === f.has('project')) p.add('body', 'give exactly one of group and project');
    const group = groupRef === undefined ? undefined : sim.store.findGroup(groupRef);
    if (groupRef !== undefined && !group) f.problem('group', `unknown group '${groupRef}'`);
    const project = projectRef === undefined ? undefined : sim.store.findProject(projectRef);
    if (projectRef !== undefined && !project) f.problem('project', `unknown project '${projectRef}'`);
    if (!f.has('user')) f.problem('user', 'missing');
    const user = userRef === undefined ? undefined : sim.store.findUserByIdOrUsername(userRef);
    if (userRef !== undefined && !user) f.problem('user', `unknown user '${userRef}'`);
    const accessLevel = f.oneOf('access_level', ACCESS_LEVELS, { required: true });
    const expiresAt = f.date('expires_at', { nullable: true });
    check(p);
    const source = group
      ? { type: 'Namespace' as const, id: group.id }
      : { type: 'Project' as const, id: project!.id };
    sim.store.addUserMember(source, user!.id, accessLevel!, { expiresAt });
    return created({
      source_type: source.type,
      source_id: source.id,
      user_id: user!.id,
      username: user!.username,
      access_level: accessLevel,
      expires_at: expiresAt ?? null,
    });
  });

  route('POST', '/seed', (req) => {
    const seed = body(req);
    const problems = validateSeed(seed, sim.store);
    if (problems.length > 0) throw invalid(problems);
    const summary = applySeed(sim.store, seed as Seed);
    return created({
      users: summary.users,
      groups: summary.groups,
      projects: summary.projects,
      applications: summary.applications,
      generated_users: summary.generatedUsers,
    });
  });

  // Anything else under /-/sim is a mistake in the caller's script: say so instead of a GitLab 404.
  const unknownControlEndpoint = (req: FastifyRequest, reply: FastifyReply, path: string) => {
    const allowed = methodsByPath.get(path.replace(/\/$/, ''));
    if (allowed) {
      const allow = allowed.includes('GET') ? [...allowed, 'HEAD'] : allowed;
      return sendJson(
        reply,
        405,
        { error: `${req.method} is not supported on ${path}` },
        { allow: allow.join(', ') },
      );
    }
    return sendJson(reply, 404, { error: `unknown simulator control endpoint ${req.method} ${path}` });
  };

  app.route({
    method: HTTP_METHODS as HTTPMethods[],
    url: `${CONTROL_PREFIX}/*`,
    handler: async (req, reply) => {
      const path = req.url.split('?')[0]!;
      const segments = path
        .slice(CONTROL_PREFIX.length)
        .replace(/(.)\/$/, '$1')
        .split('/')
        .slice(1);
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      for (const r of routes) {
        if (r.method !== method) continue;
        const params = matchSegments(r, segments);
        if (params) return r.run(req, reply, params);
      }
      return unknownControlEndpoint(req, reply, path);
    },
  });
}
