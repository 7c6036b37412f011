import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AuditService } from '../audit/audit.service.js';
import { DomainError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { HomePage, type RecentSponsorship, StartPage } from '../web/pages/home.js';
import { SignInProblemPage, SignInRefusedPage, SignOutPage } from '../web/pages/sign-in.js';
import { sendPage } from '../web/render.js';
import { pageContext, type WebSettings } from '../web/request-context.js';
import { type AuthService, LOGIN_TTL_MS, type SignInProblem } from './auth.service.js';
import {
  clearCookie,
  LOGIN_COOKIE,
  readTokenCookie,
  SESSION_COOKIE,
  setLoginCookie,
  setSessionCookie,
} from './cookies.js';
import { csrfFailure, UNSAFE_METHODS } from './csrf.js';
import { bindReply, dropSession, requestMeta } from './guard.js';

export interface AuthRoutesOptions {
  service: AuthService;
  audit: AuditService;
  logger: Logger;
  web: WebSettings;
  /** `PUBLIC_URL`: its origin is the only one state-changing requests may come from. */
  publicUrl: string;
  /** The signed-in sponsor's recent sponsorships for the start page; none when not given. */
  recentSponsorships?: (sponsorId: number) => Promise<readonly RecentSponsorship[]>;
}

/** Sign-in attempts per client address and minute (H2). */
const LOGIN_RATE = { max: 30, timeWindow: '1 minute' };
const CALLBACK_RATE = { max: 60, timeWindow: '1 minute' };
/**
 * CSRF refusals written to the audit log per client address and minute. Anyone can send cross-site
 * POSTs without signing in; past this many, refusals from that address are still refused and logged,
 * but no longer fill the audit log.
 */
const CSRF_AUDIT_RATE = { max: 30, timeWindow: '1 minute' };

const PROBLEMS: Record<SignInProblem, { status: number; title: string; message: string }> = {
  expired_link: {
    status: 400,
    title: 'This sign-in link is no longer valid',
    message:
      'A sign-in works once, in the browser that started it, within ten minutes. Nothing was signed in. Please start again.',
  },
  cancelled: {
    status: 403,
    title: 'Sign-in cancelled',
    message: 'GitLab did not confirm who you are, so you are not signed in.',
  },
  failed: {
    status: 400,
    title: 'Sign-in did not work',
    message:
      "GitLab's answer could not be verified, so you are not signed in. Please try again; if it keeps happening, tell your administrator.",
  },
  unavailable: {
    status: 503,
    title: 'GitLab is not available',
    message: 'The portal could not reach GitLab to sign you in. Please try again in a few minutes.',
  },
  misconfigured: {
    status: 503,
    title: 'Sign-in is not available',
    message: 'Sign-in with GitLab is not configured correctly. Please tell your administrator.',
  },
};

const loginQuery = z.object({ return_to: z.string().max(1024).optional().catch(undefined) }).catch({});
const homeQuery = z.object({ signed_out: z.literal('1').optional().catch(undefined) }).catch({});

/**
 * Sign-in, sessions and CSRF for the whole app: the session hook (every request), the CSRF check
 * (every state-changing request), the start page, `/login`, `/oauth/callback` and `/logout`.
 */
export function registerAuth(app: FastifyInstance, opts: AuthRoutesOptions): void {
  const { service, web } = opts;
  const { base } = web;
  const publicOrigin = new URL(opts.publicUrl).origin;
  app.decorate('authRuntime', { service, base });

  const skipSession = (path: string) =>
    path.startsWith(`${base}/assets/`) ||
    [`${base}/healthz`, `${base}/readyz`, '/healthz', '/readyz', `${base}/csp-report`].includes(path);

  app.addHook('onRequest', async (req, reply) => {
    bindReply(req, reply);
    const path = req.url.split('?', 1)[0] ?? '';
    if (skipSession(path)) return;
    const presented = req.cookies[SESSION_COOKIE];
    if (presented === undefined) return;
    const resolved = await service.resolveSession(readTokenCookie(req, SESSION_COOKIE), requestMeta(req));
    if (resolved.status !== 'active') {
      dropSession(req);
      return;
    }
    req.auth = resolved.session;
    if (resolved.checkDue && (req.method === 'GET' || req.method === 'HEAD')) await recheck(req);
  });

  /** The periodic check on page views: GitLab being down does not stop anyone reading pages. */
  async function recheck(req: FastifyRequest): Promise<void> {
    let result: Awaited<ReturnType<AuthService['checkSponsor']>>;
    try {
      result = await service.checkSponsor(req.auth!, requestMeta(req));
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      req.log.warn({ code: err.code }, 'periodic sponsor check skipped: GitLab did not answer');
      return;
    }
    if (!result.ok) {
      dropSession(req);
      throw new DomainError('unauthorized', result.message);
    }
    req.auth = result.session;
  }

  const csrfAuditCounter = app.createRateLimit({ ...CSRF_AUDIT_RATE, keyGenerator: (req) => req.ip });
  app.addHook('preHandler', async (req) => {
    // No route, nothing to protect: the request ends as a 404 without writing to the audit log.
    if (!UNSAFE_METHODS.has(req.method) || req.routeOptions.url === undefined) return;
    const path = req.url.split('?', 1)[0] ?? '';
    // Browsers send CSP reports without cookies or tokens; the route only logs them.
    if (path === `${base}/csp-report`) return;
    const failure = csrfFailure(req, publicOrigin, req.auth?.csrfToken, path === `${base}/logout`);
    if (failure === null) return;
    const meta = requestMeta(req);
    const allowance = await csrfAuditCounter(req);
    if (allowance.isAllowed || !allowance.isExceeded) {
      await opts.audit.record({
        action: 'csrf.rejected',
        outcome: 'denied',
        reason: failure,
        actor: req.auth ? { id: req.auth.userId, username: req.auth.username } : null,
        details: { method: req.method, path },
        requestId: meta.requestId,
        ip: meta.ip,
      });
    } else {
      req.log.warn({ reason: failure, path }, 'CSRF refusal not audited: too many from this address');
    }
    // From the portal's own origin but signed out (e.g. the session timed out): sign in again (D1).
    if (failure === 'no_session') {
      throw new DomainError('unauthorized', 'Your session has ended. Sign in with GitLab to continue.');
    }
    throw new DomainError(
      'forbidden',
      'This form has expired or was sent from another site. Go back, reload the page and try again.',
    );
  });

  app.get(`${base}/`, async (req, reply) => {
    const ctx = pageContext(req, reply, web);
    if (!req.auth) {
      const { signed_out } = homeQuery.parse(req.query);
      return sendPage(reply, 200, <StartPage ctx={ctx} signedOut={signed_out === '1'} />);
    }
    const recent = (await opts.recentSponsorships?.(req.auth.userId)) ?? [];
    return sendPage(reply, 200, <HomePage ctx={ctx} recent={recent} />);
  });

  const onExceeded = (req: FastifyRequest) => {
    opts.logger.warn({ ip: req.ip, path: req.url.split('?', 1)[0] }, 'sign-in rate limit reached');
  };

  app.get(
    `${base}/login`,
    // No HEAD twin: a HEAD (link prefetch, monitoring) must not start or finish a sign-in.
    { exposeHeadRoute: false, config: { rateLimit: { ...LOGIN_RATE, onExceeded } } },
    async (req, reply) => {
      const { return_to } = loginQuery.parse(req.query);
      const started = await service.beginSignIn({
        browserSecret: readTokenCookie(req, LOGIN_COOKIE),
        returnTo: return_to,
        meta: requestMeta(req),
      });
      if (started.kind === 'failed') return problemPage(req, reply, started.problem);
      setLoginCookie(reply, started.browserSecret, LOGIN_TTL_MS / 1000);
      return reply.redirect(started.authorizationUrl.href, 303);
    },
  );

  app.get(
    `${base}/oauth/callback`,
    {
      exposeHeadRoute: false,
      config: { rateLimit: { ...CALLBACK_RATE, onExceeded } },
      // The URL carries the authorization code: no page reached from here may learn it via Referer.
      onSend: async (_req, reply, payload) => {
        reply.header('referrer-policy', 'no-referrer');
        return payload;
      },
    },
    async (req, reply) => callback(req, reply),
  );

  async function callback(req: FastifyRequest, reply: FastifyReply) {
    const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
    const meta = requestMeta(req);
    const previous = req.auth;
    const result = await service.completeSignIn({
      params: new URLSearchParams(query),
      browserSecret: readTokenCookie(req, LOGIN_COOKIE),
      meta,
    });
    if (result.kind === 'signed_in') {
      // A new sign-in replaces whatever session this browser had.
      if (previous) await service.endSession(previous, 'replaced_by_sign_in', meta);
      setSessionCookie(reply, result.sessionToken);
      if (result.browserDone) clearCookie(reply, LOGIN_COOKIE);
      return reply.redirect(result.returnTo, 303);
    }
    if (result.kind === 'refused') {
      return sendPage(
        reply,
        403,
        <SignInRefusedPage ctx={pageContext(req, reply, web)} message={result.message} />,
      );
    }
    return problemPage(req, reply, result.problem);
  }

  function problemPage(req: FastifyRequest, reply: FastifyReply, which: SignInProblem) {
    const problem = PROBLEMS[which];
    return sendPage(
      reply,
      problem.status,
      <SignInProblemPage
        ctx={pageContext(req, reply, web)}
        title={problem.title}
        message={problem.message}
        retry={which !== 'misconfigured'}
      />,
    );
  }

  app.get(`${base}/logout`, async (req, reply) => {
    if (!req.auth) return reply.redirect(`${base}/`, 303);
    return sendPage(reply, 200, <SignOutPage ctx={pageContext(req, reply, web)} />);
  });

  app.post(`${base}/logout`, async (req, reply) => {
    if (req.auth) await service.signOut(req.auth, requestMeta(req));
    req.auth = null;
    clearCookie(reply, SESSION_COOKIE);
    clearCookie(reply, LOGIN_COOKIE);
    reply.header('clear-site-data', '"cookies", "storage"');
    return reply.redirect(`${base}/?signed_out=1`, 303);
  });
}
