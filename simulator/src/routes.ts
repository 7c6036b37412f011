import type { FastifyInstance } from 'fastify';
import { currentUserRoutes } from './api/current-user.js';
import { instanceRoutes } from './api/instance.js';
import { personalAccessTokenRoutes } from './api/personal-access-tokens.js';
import type { SimContext } from './context.js';
import { type ApiRoute, registerApiRoute } from './http/app.js';

/** Every REST API v4 endpoint the simulator implements. */
export const apiRoutes: ApiRoute[] = [...instanceRoutes, ...currentUserRoutes, ...personalAccessTokenRoutes];

export function registerRoutes(app: FastifyInstance, sim: SimContext): void {
  for (const route of apiRoutes) registerApiRoute(app, sim, route);
}
