import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import helmet from 'helmet';
import { DomainError, toDomainError, toProblem } from '../errors.js';
import { currentGitLabTiming, withGitLabTiming } from '../gitlab/timing.js';
import type { Logger } from '../logging/logger.js';
import { PUBLIC_DIR } from './assets.js';
import { ErrorPage } from './pages/error.js';
import { sendPage } from './render.js';
import { pageContext, type WebSettings, wantsJson } from './request-context.js';

export interface WebPluginOptions extends WebSettings {
  /** Origin of GitLab, allowed as a navigation target (sign-in redirects). */
  gitlabOrigin: string;
  logger: Logger;
}

/** Page titles and texts for the errors a user can meet, by status. */
const PAGE_TEXT: Record<number, { title: string; message: string }> = {
  400: { title: 'That did not work', message: 'The request was not valid.' },
  401: { title: 'Please sign in', message: 'Your session has ended. Sign in with GitLab to continue.' },
  403: { title: 'Not allowed', message: 'You are not allowed to do this.' },
  404: { title: 'Page not found', message: 'There is nothing at this address.' },
  405: { title: 'Not allowed', message: 'This address does not accept that kind of request.' },
  413: { title: 'Too much data', message: 'The form sent more data than the portal accepts.' },
  415: {
    title: 'Unsupported request',
    message: 'The request was sent in a format the portal does not accept.',
  },
  429: { title: 'Too many requests', message: 'Please wait a moment and try again.' },
};

/**
 * Everything the web layer shares: security headers with a per-response CSP nonce, cookies, form
 * parsing, static assets, no caching of dynamic responses, GitLab timing in `Server-Timing`, and
 * one error mapper for pages and `application/problem+json`.
 */
export async function registerWeb(app: FastifyInstance, opts: WebPluginOptions): Promise<void> {
  const { base } = opts;

  // Each request gets its own GitLab timing account (AsyncLocalStorage for the whole lifecycle).
  app.addHook('onRequest', (_req, _reply, done) => {
    withGitLabTiming(() => done());
  });
  app.addHook('onRequest', async (req, reply) => {
    req.startedAt = process.hrtime.bigint();
    if (!req.url.startsWith(`${base}/assets/`)) reply.header('cache-control', 'no-store');
  });
  app.addHook('onSend', async (req, reply, payload) => {
    const timing = currentGitLabTiming();
    const totalMs = Number(process.hrtime.bigint() - req.startedAt) / 1e6;
    reply.header(
      'server-timing',
      `gitlab;dur=${timing.ms.toFixed(2)};desc="${timing.calls} calls", app;dur=${Math.max(0, totalMs - timing.ms).toFixed(2)}`,
    );
    return payload;
  });

  // Security headers on every response, from one helmet middleware built at start: the CSP nonces
  // are directive functions that read this response's nonces. (@fastify/helmet would build a new
  // helmet middleware for every request to put its nonces in.) Helmet sets them on the raw response,
  // so that a route's own value (e.g. `Referrer-Policy: no-referrer` on the sign-in callback) wins.
  const securityHeaders = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'strict-dynamic'", (_req, res) => `'nonce-${nonceOf(res).script}'`],
        'style-src': ["'self'", (_req, res) => `'nonce-${nonceOf(res).style}'`],
        'img-src': ["'self'", 'data:'],
        'font-src': ["'self'"],
        'connect-src': ["'self'"],
        'object-src': ["'none'"],
        'base-uri': ["'none'"],
        'frame-ancestors': ["'none'"],
        'form-action': ["'self'"],
        'report-uri': [`${base}/csp-report`],
      },
    },
    strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
    referrerPolicy: { policy: 'strict-origin-when-cross-origin' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    crossOriginEmbedderPolicy: false,
    xFrameOptions: { action: 'deny' },
  });
  app.decorateReply('cspNonce', null);
  app.addHook('onRequest', (req, reply, done) => {
    const nonce = { script: randomHex(CSP_NONCE_BYTES), style: randomHex(CSP_NONCE_BYTES) };
    reply.cspNonce = nonce;
    (reply.raw as NonceCarrier)[NONCE] = nonce;
    securityHeaders(req.raw, reply.raw, (err?: unknown) => done(err as Error | undefined));
  });
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  await app.register(rateLimit, { global: false });
  await app.register(fastifyStatic, {
    root: PUBLIC_DIR,
    prefix: `${base}/assets/`,
    maxAge: '1y',
    immutable: true,
    index: false,
  });

  // CSP violation reports: logged, never stored; throttled so they cannot flood the logs.
  app.post(
    `${base}/csp-report`,
    { config: { rateLimit: { max: 30, timeWindow: '1 minute' } }, bodyLimit: 16 * 1024 },
    async (req, reply) => {
      opts.logger.warn({ cspReport: req.body }, 'content security policy violation');
      return reply.code(204).send();
    },
  );
  app.addContentTypeParser(
    ['application/csp-report', 'application/reports+json'],
    { parseAs: 'string' },
    (_req, body, done) => {
      try {
        done(null, JSON.parse(String(body)));
      } catch {
        done(null, {});
      }
    },
  );

  app.setErrorHandler((err, req, reply) => {
    const error = toDomainError(err);
    // Also under /assets/: an error answer is dynamic (it carries a CSP nonce) and never cached.
    reply.header('cache-control', 'no-store');
    if (error.status >= 500) req.log.error({ err }, 'request failed');
    else req.log.info({ code: error.code, status: error.status }, 'request refused');
    if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds));
    if (wantsJson(req, base)) {
      return reply.code(error.status).type('application/problem+json').send(toProblem(error, req.id));
    }
    const text = PAGE_TEXT[error.status];
    // Our own 4xx messages are written for the user; anything else gets the status's fixed text.
    const ownMessage = err instanceof DomainError && error.status < 500;
    return sendPage(
      reply,
      error.status,
      <ErrorPage
        ctx={pageContext(req, reply, opts)}
        status={error.status}
        title={text?.title ?? (error.status >= 500 ? 'Something went wrong' : 'That did not work')}
        message={ownMessage ? error.message : (text?.message ?? toProblem(error, req.id).detail)}
        requestId={req.id}
        action={error.status === 401 ? { label: 'Sign in with GitLab', path: '/login' } : undefined}
      />,
    );
  });

  app.setNotFoundHandler((req, reply) => {
    const error = new DomainError('not_found', 'There is nothing at this address.');
    reply.header('cache-control', 'no-store');
    if (wantsJson(req, base)) {
      return reply.code(404).type('application/problem+json').send(toProblem(error, req.id));
    }
    return sendPage(
      reply,
      404,
      <ErrorPage
        ctx={pageContext(req, reply, opts)}
        status={404}
        title="Page not found"
        message={error.message}
      />,
    );
  });
}

const NONCE = Symbol('cspNonce');
interface CspNonce {
  script: string;
  style: string;
}
type NonceCarrier = ServerResponse & { [NONCE]?: CspNonce };

function nonceOf(res: ServerResponse): CspNonce {
  const nonce = (res as NonceCarrier)[NONCE];
  if (!nonce) throw new Error('no CSP nonce for this response');
  return nonce;
}

const REQUEST_ID_BYTES = 9;
/** 128 bits, as helmet's nonces. */
const CSP_NONCE_BYTES = 16;
/** Random bytes are drawn this many at a time: one draw per value cost more than the rest of a small request. */
const RANDOM_POOL_BYTES = 8192;
let randomPool = Buffer.alloc(0);
let poolOffset = 0;

/** `bytes` fresh random bytes from the pool, each used once. */
function takeRandom(bytes: number): number {
  if (poolOffset + bytes > randomPool.length) {
    randomPool = randomBytes(RANDOM_POOL_BYTES);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += bytes;
  return at;
}

function randomHex(bytes: number): string {
  const at = takeRandom(bytes);
  return randomPool.toString('hex', at, at + bytes);
}

/** A short random id for each request (logged, shown on error pages, sent in problem bodies). */
export function requestId(): string {
  const at = takeRandom(REQUEST_ID_BYTES);
  return randomPool.toString('base64url', at, at + REQUEST_ID_BYTES);
}

declare module 'fastify' {
  interface FastifyRequest {
    startedAt: bigint;
  }
  interface FastifyReply {
    /** This response's CSP nonces (hex), set in `onRequest`. */
    cspNonce: CspNonce | null;
  }
}
