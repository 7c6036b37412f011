import type { FastifyInstance } from 'fastify';
import type { SimContext } from '../context.js';
import { registerAuthorizeRoutes } from '../oauth/authorize.js';
import { registerOidcRoutes } from '../oauth/oidc.js';
import { registerTokenRoutes } from '../oauth/token.js';
import { registerSignInRoutes } from './sign-in.js';

/** GitLab's web side: sign-in and account pages, the OAuth 2.0 provider and OpenID Connect. */
export function registerWeb(app: FastifyInstance, sim: SimContext): void {
  registerSignInRoutes(app, sim);
  registerAuthorizeRoutes(app, sim);
  registerTokenRoutes(app, sim);
  registerOidcRoutes(app, sim);
}
