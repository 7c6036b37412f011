import type { FastifyInstance } from 'fastify';
import type { Readiness } from './readiness.js';

/**
 * `/healthz`: the process is alive (no dependencies). `/readyz`: it can serve (see `Readiness`).
 * Both also answer at the root when the portal runs under a path prefix, for load balancers.
 */
export function registerHealthRoutes(
  app: FastifyInstance,
  opts: { base: string; readiness: Readiness },
): void {
  const prefixes = opts.base ? [opts.base, ''] : [''];
  for (const prefix of prefixes) {
    app.get(`${prefix}/healthz`, async () => ({ status: 'ok' }));
    app.get(`${prefix}/readyz`, async (_req, reply) => {
      const report = await opts.readiness.report();
      return reply
        .code(report.ready ? 200 : 503)
        .send({ status: report.ready ? 'ready' : 'not_ready', checks: report.checks });
    });
  }
}
