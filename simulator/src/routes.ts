import type { FastifyInstance } from 'fastify';
import { applicationRoutes } from './api/applications.js';
import { currentUserRoutes } from './api/current-user.js';
import { customAttributeRoutes } from './api/custom-attributes.js';
import { groupRoutes } from './api/groups.js';
import { instanceRoutes } from './api/instance.js';
import { invitationRoutes } from './api/invitations.js';
import { memberRoutes } from './api/members.js';
import { personalAccessTokenRoutes } from './api/personal-access-tokens.js';
import { projectShareRoutes } from './api/project-share.js';
import { projectRoutes } from './api/projects.js';
import { userModerationRoutes } from './api/user-moderation.js';
import { userRoutes } from './api/users.js';
import type { SimContext } from './context.js';
import { registerControlRoutes } from './control/routes.js';
import { type ApiRoute, registerApiRoutes } from './http/app.js';
import { registerWeb } from './web/routes.js';

/** Every REST API v4 endpoint the simulator implements. */
export const apiRoutes: ApiRoute[] = [
  ...instanceRoutes,
  ...currentUserRoutes,
  ...personalAccessTokenRoutes,
  ...userRoutes,
  ...userModerationRoutes,
  ...customAttributeRoutes,
  ...applicationRoutes,
  ...groupRoutes,
  ...projectRoutes,
  ...projectShareRoutes,
  ...memberRoutes,
  ...invitationRoutes,
];

export function registerRoutes(app: FastifyInstance, sim: SimContext): void {
  registerApiRoutes(app, sim, apiRoutes);
  registerControlRoutes(app, sim);
  registerWeb(app, sim);
}
