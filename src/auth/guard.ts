/**
 * What other features use to protect their routes. Stable; every function takes the Fastify request
 * (and reply where a hook needs it) and nothing else.
 *
 * - `requireSponsor` — a `preHandler` for every route that needs a signed-in sponsor (all routes but
 *   the public ones: start page, `/login`, `/oauth/callback`, `/assets/*`, `/healthz`, `/readyz`,
 *   `/csp-report`, error pages). Signed out: pages (GET/HEAD) get a 303 to `/login?return_to=…`,
 *   JSON clients and other methods a 401. Afterwards `req.auth` is set.
 *
 *       app.get(`${base}/sponsorships/new`, { preHandler: requireSponsor }, handler)
 *
 * - `assertSponsorStillAllowed(req)` — call it in every state-changing handler before anything is
 *   done in GitLab. It asks GitLab (admin token) whether the sponsor is still active, internal, human
 *   and, when `SPONSOR_GROUP` is set, still in that group, and refreshes the sponsor's OAuth token
 *   when it is about to expire (one check per session at a time; concurrent requests share it). It
 *   resolves to the fresh session and GitLab's user; it throws a `DomainError` `unauthorized` (401)
 *   after ending the session when the sponsor may no longer sponsor or GitLab ended the sign-in, and
 *   `upstream_unavailable` / `upstream_timeout` when GitLab cannot answer (the session is kept).
 *
 *       const { gitlabUser } = await assertSponsorStillAllowed(req);
 *
 * - CSRF: every POST/PUT/PATCH/DELETE is already checked before its handler runs (token, `Origin`,
 *   Fetch Metadata); a failure is a 403 and the handler never runs. Forms only need the token:
 *   render `<CsrfField token={ctx.csrfToken} />` (`pageContext` fills `csrfToken`), or
 *   `csrfToken(req)` for a JSON client, which sends it as the `X-CSRF-Token` header.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../errors.js';
import type { GitLabUser } from '../gitlab/types.js';
import { wantsJson } from '../web/request-context.js';
import type { AuthService, RequestMeta } from './auth.service.js';
import { clearCookie, SESSION_COOKIE } from './cookies.js';
import { safeReturnTo } from './return-to.js';
import type { AuthenticatedSession } from './session.types.js';

export { CsrfField } from '../web/components.js';

/** The sign-in service and path prefix, shared with the hooks through the Fastify instance. */
export interface AuthRuntime {
  service: AuthService;
  base: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    authRuntime: AuthRuntime;
  }
}

/** The signed-in sponsor after a live check against GitLab. */
export interface LiveSponsor {
  session: AuthenticatedSession;
  gitlabUser: GitLabUser;
}

// The reply of each request, so that functions given only the request can still clear its cookie.
const replies = new WeakMap<FastifyRequest, FastifyReply>();

export function bindReply(req: FastifyRequest, reply: FastifyReply): void {
  replies.set(req, reply);
}

function runtime(req: FastifyRequest): AuthRuntime {
  return req.server.authRuntime;
}

export function requestMeta(req: FastifyRequest): RequestMeta {
  const userAgent = req.headers['user-agent'];
  return { requestId: req.id, ip: req.ip, userAgent: typeof userAgent === 'string' ? userAgent : undefined };
}

/** Forgets the session for the rest of this request and tells the browser to drop its cookie. */
export function dropSession(req: FastifyRequest): void {
  req.auth = null;
  const reply = replies.get(req);
  if (reply) clearCookie(reply, SESSION_COOKIE);
}

/** `preHandler`: only signed-in sponsors get through. */
export async function requireSponsor(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (req.auth) return;
  const { base } = runtime(req);
  if (!wantsJson(req, base) && (req.method === 'GET' || req.method === 'HEAD')) {
    const back = safeReturnTo(req.url, base);
    const query = back === undefined ? '' : `?return_to=${encodeURIComponent(back)}`;
    await reply.redirect(`${base}/login${query}`, 303);
    return;
  }
  throw new DomainError('unauthorized', 'Your session has ended. Sign in with GitLab to continue.');
}

/** The live check before a state-changing action; see the top of this file. */
export async function assertSponsorStillAllowed(req: FastifyRequest): Promise<LiveSponsor> {
  const session = req.auth;
  if (!session)
    throw new DomainError('unauthorized', 'Your session has ended. Sign in with GitLab to continue.');
  const result = await runtime(req).service.checkSponsor(session, requestMeta(req));
  if (!result.ok) {
    dropSession(req);
    throw new DomainError('unauthorized', result.message);
  }
  req.auth = result.session;
  return { session: result.session, gitlabUser: result.gitlabUser };
}

/** The session's CSRF token, for forms and JSON clients. */
export function csrfToken(req: FastifyRequest): string {
  if (!req.auth)
    throw new DomainError('unauthorized', 'Your session has ended. Sign in with GitLab to continue.');
  return req.auth.csrfToken;
}
