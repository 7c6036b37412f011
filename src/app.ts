import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { AuditService } from './audit/audit.service.js';
import { registerAuth } from './auth/auth.routes.js';
import { AuthService } from './auth/auth.service.js';
import type { OidcClient } from './auth/oidc.js';
import type { Clock } from './clock.js';
import type { Config } from './config/config.js';
import type { TokenCipher } from './crypto/aead.js';
import type { DatabaseHandle } from './db/database.js';
import type { GitLabAdminApi } from './gitlab/client.js';
import { registerHealthRoutes } from './health/health.routes.js';
import type { Readiness } from './health/readiness.js';
import type { Logger } from './logging/logger.js';
import { SponsorshipRepository } from './sponsorship/sponsorship.repository.js';
import { recentSponsorships, registerSponsorshipRoutes } from './sponsorship/sponsorship.routes.js';
import { SponsorshipService } from './sponsorship/sponsorship.service.js';
import { assetUrls } from './web/assets.js';
import { registerWeb, requestId } from './web/plugin.js';

/** Everything the app needs from the outside world; tests and demo mode pass their own. */
export interface AppDeps {
  config: Config;
  database: DatabaseHandle;
  gitlab: GitLabAdminApi;
  /** Sign-in with GitLab (OpenID Connect). */
  oidc: OidcClient;
  cipher: TokenCipher;
  clock: Clock;
  logger: Logger;
  readiness: Readiness;
}

/** The services every transport (web pages, JSON API, CLI) shares. */
export interface Services {
  audit: AuditService;
  auth: AuthService;
  sponsorships: SponsorshipService;
}

export function createServices(deps: AppDeps): Services {
  const audit = new AuditService({ db: deps.database.db, clock: deps.clock });
  const { config } = deps;
  const auth = new AuthService({
    db: deps.database.db,
    oidc: deps.oidc,
    gitlab: deps.gitlab,
    cipher: deps.cipher,
    clock: deps.clock,
    audit,
    logger: deps.logger,
    base: basePath(config.publicUrl),
    secret: config.session.secret,
    settings: {
      idleMinutes: config.session.idleMinutes,
      absoluteHours: config.session.absoluteHours,
      sponsorGroup: config.sponsorGroup,
    },
  });
  const sponsorships = new SponsorshipService({
    repository: new SponsorshipRepository(deps.database.db),
    gitlab: deps.gitlab,
    audit,
    clock: deps.clock,
    logger: deps.logger,
    passwordMode: config.newUserPasswordMode,
  });
  return { audit, auth, sponsorships };
}

/** A hop count becomes "trust the n nearest proxies" (Fastify's types lack the numeric form). */
function fastifyTrustProxy(value: Config['http']['trustProxy']) {
  return typeof value === 'number' ? (_address: string, hop: number) => hop < value : value;
}

/** The path prefix the portal is served under, from `PUBLIC_URL` (e.g. `/extern`, or ''). */
export function basePath(publicUrl: string): string {
  return new URL(publicUrl).pathname.replace(/\/+$/, '');
}

/**
 * Assembles the web app from its dependencies. It never listens: `server.ts` does, and tests use
 * `app.inject` or listen on a port of their own.
 */
export async function buildApp(
  deps: AppDeps,
  services: Services = createServices(deps),
): Promise<FastifyInstance> {
  const { config } = deps;
  const base = basePath(config.publicUrl);
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    genReqId: requestId,
    trustProxy: fastifyTrustProxy(config.http.trustProxy),
    bodyLimit: 64 * 1024,
    // Whole-request deadline for slow clients; GitLab calls have their own, shorter timeouts.
    requestTimeout: 30_000,
    connectionTimeout: 30_000,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true },
  });
  app.decorateRequest('auth', null);

  const web = { base, assets: assetUrls(base) };
  await registerWeb(app, { ...web, gitlabOrigin: new URL(config.gitlab.url).origin, logger: deps.logger });
  registerHealthRoutes(app, { base, readiness: deps.readiness });
  registerAuth(app, {
    service: services.auth,
    audit: services.audit,
    logger: deps.logger,
    web,
    publicUrl: config.publicUrl,
    recentSponsorships: recentSponsorships(services.sponsorships),
  });
  registerSponsorshipRoutes(app, {
    service: services.sponsorships,
    web,
    gitlabUrl: config.gitlab.url,
    passwordMode: config.newUserPasswordMode,
  });
  return app;
}
