import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The portal's two cookies. Both use the `__Host-` prefix, which makes browsers insist on `Secure`,
 * `Path=/` and no `Domain`, so no sibling host or path can set or shadow them. `Secure` cookies are
 * accepted from `http://localhost` and `http://127.0.0.1` too, the only plain-HTTP public URLs the
 * configuration allows.
 *
 * - the session cookie holds a random token; the database keeps only its SHA-256;
 * - the pre-login cookie binds pending sign-ins to this browser (several tabs share it) and lives as
 *   long as a pending sign-in.
 */
export const SESSION_COOKIE = '__Host-gle_session';
export const LOGIN_COOKIE = '__Host-gle_login';

/** A 32-byte random token in base64url: what both cookies hold. */
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

const BASE: CookieSerializeOptions = { path: '/', secure: true, httpOnly: true, sameSite: 'lax' };

/** The cookie's value if it has the shape of a portal token; anything else is ignored. */
export function readTokenCookie(req: FastifyRequest, name: string): string | undefined {
  const value = req.cookies[name];
  return value !== undefined && TOKEN_FORMAT.test(value) ? value : undefined;
}

/** A browser-session cookie: the server enforces the idle and absolute timeouts. */
export function setSessionCookie(reply: FastifyReply, token: string): void {
  reply.setCookie(SESSION_COOKIE, token, BASE);
}

export function setLoginCookie(reply: FastifyReply, value: string, maxAgeSeconds: number): void {
  reply.setCookie(LOGIN_COOKIE, value, { ...BASE, maxAge: maxAgeSeconds });
}

export function clearCookie(reply: FastifyReply, name: string): void {
  reply.setCookie(name, '', { ...BASE, maxAge: 0, expires: new Date(0) });
}
