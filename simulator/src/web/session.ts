import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SimContext } from '../context.js';
import { sameSecret, urlSafeToken } from '../model/secrets.js';
import type { Store } from '../model/store.js';
import type { User } from '../model/types.js';
import type { Flash } from './html.js';

/**
 * GitLab's web session: the `_gitlab_session` cookie (HttpOnly, SameSite=Lax, path /). A signed-in
 * browser's cookie is the id of a `store.webSessions` entry; every browser, signed in or not, also
 * has per-session data (CSRF token, return-to URL, flash) kept here, as Rails keeps it in the session.
 */
export const SESSION_COOKIE = '_gitlab_session';

interface SessionData {
  csrfToken: string;
  /** Devise's `user_return_to`: where to go after signing in. */
  returnTo: string | null;
  flash: Flash | null;
}

export interface BrowserSession {
  id: string;
  data: SessionData;
  /** The signed-in user, if any. */
  user: User | undefined;
}

// Per-store so that simulators in one process never see each other's sessions.
const sessionData = new WeakMap<Store, Map<string, SessionData>>();
// Browsers that never sign in (crawlers, load tests) must not grow memory without bound.
const MAX_SESSIONS = 50_000;

function dataFor(store: Store): Map<string, SessionData> {
  let map = sessionData.get(store);
  if (!map) {
    map = new Map();
    sessionData.set(store, map);
  }
  return map;
}

function newData(): SessionData {
  return { csrfToken: urlSafeToken(43), returnTo: null, flash: null };
}

function remember(store: Store, id: string, data: SessionData): void {
  const map = dataFor(store);
  if (map.size >= MAX_SESSIONS) {
    for (const key of map.keys()) {
      if (map.size < MAX_SESSIONS * 0.9) break;
      if (!store.webSessions.has(key)) map.delete(key);
    }
  }
  map.set(id, data);
}

export function sessionIdFromRequest(req: FastifyRequest): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    try {
      return decodeURIComponent(value) || undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * Whether a signed-in user may keep using the web session (Devise's `active_for_authentication?`
 * runs on every request: blocked, banned and pending users are signed out).
 */
function mayStaySignedIn(user: User): boolean {
  return user.state === 'active' || user.state === 'deactivated';
}

/** The request's session, or undefined when the browser has none (or an unknown one). */
export function loadSession(sim: SimContext, req: FastifyRequest): BrowserSession | undefined {
  const id = sessionIdFromRequest(req);
  if (!id) return undefined;
  const { store } = sim;
  const web = store.webSessions.get(id);
  let data = dataFor(store).get(id);
  if (!web && !data) return undefined;
  if (!data) {
    data = newData();
    remember(store, id, data);
  }
  let user = web ? store.users.get(web.userId) : undefined;
  if (web && (!user || !mayStaySignedIn(user))) {
    store.webSessions.delete(id);
    user = undefined;
  }
  return { id, data, user };
}

function setCookie(sim: SimContext, reply: FastifyReply, id: string): void {
  const secure = sim.store.baseUrl.startsWith('https:') ? '; Secure' : '';
  reply.header('set-cookie', `${SESSION_COOKIE}=${id}; path=/; HttpOnly; SameSite=Lax${secure}`);
}

/** The request's session, creating an anonymous one (and its cookie) when there is none. */
export function ensureSession(sim: SimContext, req: FastifyRequest, reply: FastifyReply): BrowserSession {
  const existing = loadSession(sim, req);
  if (existing) return existing;
  const id = urlSafeToken(32);
  const data = newData();
  remember(sim.store, id, data);
  setCookie(sim, reply, id);
  return { id, data, user: undefined };
}

/**
 * Devise `sign_in`: a new session id (no session fixation) bound to the user; the old session's
 * data is dropped.
 */
export function signInSession(
  sim: SimContext,
  reply: FastifyReply,
  user: User,
  previous: BrowserSession | undefined,
): BrowserSession {
  if (previous) endSessionData(sim, previous.id);
  const web = sim.store.createWebSession(user.id);
  const data = newData();
  remember(sim.store, web.id, data);
  setCookie(sim, reply, web.id);
  return { id: web.id, data, user };
}

function endSessionData(sim: SimContext, id: string): void {
  sim.store.webSessions.delete(id);
  dataFor(sim.store).delete(id);
}

/** Devise `sign_out`: the session is destroyed; a fresh anonymous one carries the flash. */
export function signOutSession(
  sim: SimContext,
  reply: FastifyReply,
  session: BrowserSession | undefined,
): BrowserSession {
  if (session) endSessionData(sim, session.id);
  const id = urlSafeToken(32);
  const data = newData();
  remember(sim.store, id, data);
  setCookie(sim, reply, id);
  return { id, data, user: undefined };
}

/** Rails' `verified_request?`: the form's `authenticity_token` must match the session's. */
export function csrfValid(session: BrowserSession | undefined, params: Record<string, unknown>): boolean {
  const sent = params.authenticity_token;
  if (!session || typeof sent !== 'string') return false;
  return sameSecret(sent, session.data.csrfToken);
}

export function setFlash(session: BrowserSession, flash: Flash): void {
  session.data.flash = flash;
}

/** The flash set by the previous request, shown once. */
export function takeFlash(session: BrowserSession | undefined): Flash | null {
  if (!session) return null;
  const flash = session.data.flash;
  session.data.flash = null;
  return flash;
}
