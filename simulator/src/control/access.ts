import type { FastifyRequest } from 'fastify';
import type { SimContext } from '../context.js';
import { requestParams } from '../http/app.js';
import { tokenFromRequest } from '../http/auth.js';
import { sameSecret } from '../model/secrets.js';
import type { User } from '../model/types.js';
import { sessionIdFromRequest } from '../web/session.js';

export type ControlAccess =
  | { allowed: true }
  | { allowed: false; status: 401 }
  | { allowed: false; status: 403; user?: User };

/**
 * Who may drive the simulator: whoever holds its admin token (`PRIVATE-TOKEN`, `Authorization:
 * Bearer` or `private_token`), or an active administrator signed in to its web pages (the
 * `_gitlab_session` cookie set by `/users/sign_in`). Credentials the simulator does not know → 401;
 * known ones that are not enough → 403.
 */
export function controlAccess(sim: SimContext, req: FastifyRequest): ControlAccess {
  const token = tokenFromRequest(req, requestParams(req));
  if (token !== undefined && sameSecret(token, sim.adminToken)) return { allowed: true };
  const sessionId = sessionIdFromRequest(req);
  const session = sessionId === undefined ? undefined : sim.store.webSessions.get(sessionId);
  const user = session ? sim.store.users.get(session.userId) : undefined;
  if (user?.admin && user.state === 'active') return { allowed: true };
  const knownToken =
    token !== undefined && (sim.store.personalAccessTokens.has(token) || sim.store.accessTokens.has(token));
  if (knownToken || user) return { allowed: false, status: 403, user };
  return { allowed: false, status: 401 };
}
