import type { FastifyRequest } from 'fastify';
import { constantTimeEqual } from '../crypto/random.js';

/** Methods that change state; GET, HEAD and OPTIONS never do. */
export const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The form field and header that carry the session's CSRF token. */
export const CSRF_FIELD = '_csrf';
export const CSRF_HEADER = 'x-csrf-token';

export type CsrfFailure =
  | 'cross_site'
  | 'origin_mismatch'
  | 'referer_mismatch'
  | 'origin_missing'
  | 'no_session'
  | 'token_missing'
  | 'token_mismatch';

function header(req: FastifyRequest, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/** The token the request carries: the `_csrf` form field (or JSON property), else the header. */
function sentToken(req: FastifyRequest): string | undefined {
  const body = req.body;
  if (typeof body === 'object' && body !== null && CSRF_FIELD in body) {
    const value = (body as Record<string, unknown>)[CSRF_FIELD];
    return typeof value === 'string' ? value : undefined;
  }
  return header(req, CSRF_HEADER);
}

/**
 * Why a state-changing request must be refused, or null when it may proceed. Where it comes from is
 * checked first (Fetch Metadata, then `Origin`, else `Referer`, against the configured public
 * origin, never the `Host` header; neither present is refused), then the synchronizer token is
 * compared with the session's in constant time.
 * @param expectedToken the session's token; undefined when there is no session.
 * @param tokenOptional the request may proceed without a session (signing out when already signed out).
 */
export function csrfFailure(
  req: FastifyRequest,
  publicOrigin: string,
  expectedToken: string | undefined,
  tokenOptional = false,
): CsrfFailure | null {
  if (header(req, 'sec-fetch-site') === 'cross-site') return 'cross_site';
  const origin = header(req, 'origin');
  if (origin !== undefined) {
    if (origin !== publicOrigin) return 'origin_mismatch';
  } else {
    const referer = header(req, 'referer');
    if (referer === undefined) return 'origin_missing';
    if (originOf(referer) !== publicOrigin) return 'referer_mismatch';
  }
  if (expectedToken === undefined) return tokenOptional ? null : 'no_session';
  const token = sentToken(req);
  if (token === undefined || token === '') return 'token_missing';
  return constantTimeEqual(token, expectedToken) ? null : 'token_mismatch';
}
