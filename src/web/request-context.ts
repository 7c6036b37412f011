import type { FastifyReply, FastifyRequest } from 'fastify';
import '../auth/session.types.js';
import type { AssetUrls } from './assets.js';
import type { PageContext } from './context.js';

export interface WebSettings {
  base: string;
  assets: AssetUrls;
}

/** The per-request page context: path prefix, CSP nonce, assets and the signed-in sponsor. */
export function pageContext(req: FastifyRequest, reply: FastifyReply, web: WebSettings): PageContext {
  const nonce = reply.cspNonce?.script ?? '';
  const auth = req.auth;
  return {
    base: web.base,
    nonce,
    assets: web.assets,
    user: auth ? { id: auth.userId, username: auth.username, name: auth.name } : undefined,
    csrfToken: auth?.csrfToken,
  };
}

/** JSON clients get problem+json; browsers get pages. */
export function wantsJson(req: FastifyRequest, base: string): boolean {
  const path = req.url.split('?')[0] ?? '';
  if (path.startsWith(`${base}/api/`)) return true;
  const accept = req.headers.accept ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
}
