import type { FastifyInstance } from 'fastify';
import { buildApp, createServices, type Services } from './app.js';
import type { Clock } from './clock.js';
import type { Config } from './config/config.js';
import { createDeps, type RealDeps } from './deps.js';
import type { Logger } from './logging/logger.js';

export interface RunningServer {
  app: FastifyInstance;
  deps: RealDeps;
  /** The URL the portal listens on (not necessarily `PUBLIC_URL`, which may be a proxy). */
  listenUrl: string;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then releases everything. */
  stop(graceMs?: number): Promise<void>;
}

/** How often interrupted multi-step operations are looked for and resumed. */
const RESUME_INTERVAL_MS = 30_000;
/** How often expired sign-ins and sessions are removed (and their GitLab grants revoked). */
const PURGE_INTERVAL_MS = 5 * 60_000;

/**
 * Runs `job` now and then every `intervalMs`, never two at once; failures are logged and retried at
 * the next tick. Returns a function that stops it and waits for a run in progress.
 */
function every(
  intervalMs: number,
  name: string,
  logger: Logger,
  job: () => Promise<unknown>,
): () => Promise<void> {
  let running: Promise<void> | undefined;
  const tick = () => {
    running ??= job()
      .then(
        () => undefined,
        (err) => logger.error({ err, job: name }, 'background job failed'),
      )
      .finally(() => {
        running = undefined;
      });
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}

/**
 * The process entry for a configured portal: adapters, app, listening socket, readiness checks and
 * the resumption of interrupted operations. Used by `gitlab-extern serve` and by demo mode.
 */
export async function startServer(
  config: Config,
  opts: { logger: Logger; clock?: Clock },
): Promise<RunningServer> {
  const deps = await createDeps(config, opts);
  let app: FastifyInstance;
  let services: Services;
  try {
    services = createServices(deps);
    // The SQLite instance lock admits one server, so operations still leased were left by a process
    // that stopped (a crash): they resume at once rather than when the lease runs out.
    if (deps.database.dialect === 'sqlite') {
      const released = await services.sponsorships.releaseLeasesOfGoneRunners();
      if (released > 0)
        opts.logger.warn({ operations: released }, 'resuming operations left by a stopped process');
    }
    app = await buildApp(deps, services);
    await app.listen({ host: config.http.host, port: config.http.port });
  } catch (err) {
    await deps.close();
    throw err;
  }
  await deps.readiness.start();
  const { logger } = opts;
  const jobs = [
    every(RESUME_INTERVAL_MS, 'resume operations', logger, () => services.sponsorships.resumePending()),
    every(PURGE_INTERVAL_MS, 'purge sessions', logger, () => services.auth.purgeExpired()),
  ];

  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
  let stopping: Promise<void> | undefined;
  return {
    app,
    deps,
    listenUrl: `http://${host}:${port}`,
    stop: (graceMs = 30_000) => {
      stopping ??= (async () => {
        deps.readiness.markClosing();
        const forced = setTimeout(() => app.server.closeAllConnections(), graceMs);
        forced.unref();
        await app.close();
        clearTimeout(forced);
        await Promise.all(jobs.map((stopJob) => stopJob()));
        await deps.close();
      })();
      return stopping;
    },
  };
}

/** Stops the server on SIGINT/SIGTERM and exits 0 once everything is released. */
export function stopOnSignals(
  server: { stop(): Promise<void> },
  logger: Logger,
  extra?: () => Promise<void>,
): void {
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutting down');
    server
      .stop()
      .then(() => extra?.())
      .then(
        () => process.exit(0),
        (err) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}
