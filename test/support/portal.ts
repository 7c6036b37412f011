import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applySeed,
  type Seed,
  type SimSettings,
  type Simulator,
  startSimulator,
} from '@gitlab-extern/simulator';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { type AppDeps, basePath, buildApp, createServices, type Services } from '../../src/app.js';
import type { AuditEvent } from '../../src/audit/audit.service.js';
import { assertSponsorStillAllowed, requireSponsor } from '../../src/auth/guard.js';
import { createOidcClient } from '../../src/auth/oidc.js';
import { type Clock, systemClock } from '../../src/clock.js';
import { type Config, type ConfigValues, parseConfig } from '../../src/config/config.js';
import { TokenCipher } from '../../src/crypto/aead.js';
import type { Dialect } from '../../src/db/database.js';
import { DEMO_ACCOUNTS, demoSeed } from '../../src/demo/organisation.js';
import { GitLabClient } from '../../src/gitlab/client.js';
import { GitLabTransport } from '../../src/gitlab/transport.js';
import { Readiness } from '../../src/health/readiness.js';
import { createLogger } from '../../src/logging/logger.js';
import { type TestDatabase, testDatabase } from './databases.js';

/**
 * The whole portal for integration tests: the GitLab simulator in-process (strict mode) seeded like
 * demo mode, the portal registered on it as a confidential OAuth application, a fresh migrated
 * database, the app built from real adapters, and cookie-jar clients that drive it through
 * `app.inject` the way a browser would, including the real sign-in through GitLab's pages.
 *
 *     const portal = await startPortal({ dialect });
 *     const alice = await portal.signIn('alice');
 *     const page = await alice.get('/');
 *     await portal.close();
 *
 * Paths given to clients are portal paths ('/login'); the path prefix of `PUBLIC_URL` is added.
 */

export interface StartPortalOptions {
  dialect?: Dialect;
  /** More simulator state, applied after the demo organisation. */
  seed?: Seed;
  /** Simulator instance settings (e.g. `accessTokenExpiresIn`). */
  simSettings?: Partial<SimSettings>;
  /** Configuration values that replace the generated ones (e.g. `SPONSOR_GROUP`). */
  config?: ConfigValues;
  clock?: Clock;
  /** Routes a test adds (registered before the app is ready), e.g. a probe behind the guard. */
  routes?: (app: FastifyInstance, services: Services) => void;
}

export interface PortalResponse {
  status: number;
  headers: LightMyRequestResponse['headers'];
  body: string;
  /** The `Location` header, if any. */
  location: string | undefined;
  setCookies: string[];
}

export interface Portal {
  app: FastifyInstance;
  sim: Simulator;
  db: TestDatabase;
  config: Config;
  deps: AppDeps;
  services: Services;
  /** The path prefix ('/extern'). */
  base: string;
  /** Every log line the portal wrote. */
  logs: string[];
  /** Every response the portal sent to a client of this harness. */
  transcript: PortalResponse[];
  /** Every `Set-Cookie` the portal sent. */
  setCookies: string[];
  /** Secret values that must never appear in output: admin token, client secret, keys. */
  canaries: string[];
  client(options?: { ip?: string }): PortalClient;
  /** A new browser, signed in through the real flow; its client. */
  signIn(username: string, password?: string): Promise<PortalClient>;
  /** Audit events, newest first. */
  audit(action?: string): Promise<AuditEvent[]>;
  /** Makes GitLab's next `GET /users/:id` for `username` report these fields (a change mid-flight). */
  gitlabReports(username: string, changes: Record<string, unknown>): Promise<void>;
  /** Where a canary (or a `glpat-`/`gloas-` token) appears in logs, responses or the audit log. */
  leaks(): Promise<string[]>;
  close(): Promise<void>;
}

function unescapeHtml(s: string): string {
  return s
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&#x27;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

interface ScrapedForm {
  action: string;
  method: string;
  fields: Record<string, string>;
  html: string;
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.[\]]*)="([^"]*)"/g))
    out[m[1]!] = unescapeHtml(m[2]!);
  return out;
}

/** The forms of a page, with their hidden and text fields. */
export function scrapeForms(html: string): ScrapedForm[] {
  return [...html.matchAll(/<form([^>]*)>([\s\S]*?)<\/form>/g)].map((m) => {
    const a = attributes(m[1]!);
    const fields: Record<string, string> = {};
    for (const input of m[2]!.matchAll(/<input([^>]*)>/g)) {
      const i = attributes(input[1]!);
      if (i.name && i.type !== 'checkbox') fields[i.name] = i.value ?? '';
    }
    return { action: a.action ?? '', method: (a.method ?? 'get').toUpperCase(), fields, html: m[0] };
  });
}

function scrapeForm(html: string, marker?: string): ScrapedForm {
  const form = scrapeForms(html).find((f) => marker === undefined || f.html.includes(marker));
  if (!form) throw new Error(`no form${marker ? ` with ${marker}` : ''} in page:\n${html.slice(0, 2000)}`);
  return form;
}

/** Applies `Set-Cookie` headers to a jar (expired cookies are removed). */
function store(jar: Map<string, string>, setCookies: readonly string[]): void {
  for (const header of setCookies) {
    const [pair = '', ...attrs] = header.split(';').map((p) => p.trim());
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    const expired = attrs.some((a) => /^max-age=0$/i.test(a)) || value === '';
    if (expired) jar.delete(name);
    else jar.set(name, value);
  }
}

function cookieHeader(jar: Map<string, string>): string | undefined {
  return jar.size === 0 ? undefined : [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

/** The browser's side of GitLab: its own cookies, manual redirects, form posts. */
class GitLabBrowser {
  readonly cookies = new Map<string, string>();

  constructor(private readonly sim: Simulator) {}

  async request(method: string, url: string, form?: Record<string, string>) {
    const headers: Record<string, string> = {};
    const cookie = cookieHeader(this.cookies);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (form) {
      body = new URLSearchParams(form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const absolute = new URL(url, this.sim.url).toString();
    const res = await fetch(absolute, { method, headers, body, redirect: 'manual' });
    store(this.cookies, res.headers.getSetCookie());
    const location = res.headers.get('location');
    return {
      status: res.status,
      text: await res.text(),
      location: location ? new URL(location, absolute).toString() : undefined,
    };
  }

  /** Follows redirects within GitLab; stops at the first page or at a redirect elsewhere. */
  async follow(first: { status: number; text: string; location: string | undefined }) {
    let res = first;
    for (let i = 0; i < 10 && res.location?.startsWith(this.sim.url); i++)
      res = await this.request('GET', res.location);
    return res;
  }
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Overrides the client's source address. */
  ip?: string;
}

export interface UnsafeRequestOptions extends RequestOptions {
  /** The CSRF token to send; default: the session's (scraped from a page). null sends none. */
  csrf?: string | null;
  /** The `Origin` header; default: the portal's public origin. null sends none. */
  origin?: string | null;
}

/** One browser: portal cookies, GitLab cookies, and helpers for the portal's pages and forms. */
export class PortalClient {
  readonly cookies = new Map<string, string>();
  readonly gitlab: GitLabBrowser;
  #csrf: string | undefined;

  constructor(
    private readonly portal: Portal,
    private readonly ip: string,
  ) {
    this.gitlab = new GitLabBrowser(portal.sim);
  }

  /** A portal path with the prefix ('/login' → '/extern/login'); paths that have it stay. */
  url(path: string): string {
    const { base } = this.portal;
    if (base && (path === base || path.startsWith(`${base}/`) || path.startsWith(`${base}?`))) return path;
    return `${base}${path}`;
  }

  get publicOrigin(): string {
    return new URL(this.portal.config.publicUrl).origin;
  }

  get sessionCookie(): string | undefined {
    return this.cookies.get('__Host-gle_session');
  }

  async request(
    method: string,
    path: string,
    options: RequestOptions & { payload?: string; contentType?: string } = {},
  ): Promise<PortalResponse> {
    const headers: Record<string, string> = { 'user-agent': 'portal-test', ...options.headers };
    const cookie = cookieHeader(this.cookies);
    if (cookie && !('cookie' in headers)) headers.cookie = cookie;
    if (options.contentType) headers['content-type'] = options.contentType;
    const res = await this.portal.app.inject({
      method: method as 'GET',
      url: this.url(path),
      headers,
      payload: options.payload,
      remoteAddress: options.ip ?? this.ip,
    });
    const raw = res.headers['set-cookie'];
    const setCookies = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
    store(this.cookies, setCookies);
    if (setCookies.some((c) => c.startsWith('__Host-gle_session='))) this.#csrf = undefined;
    const location = res.headers.location;
    const response: PortalResponse = {
      status: res.statusCode,
      headers: res.headers,
      body: res.body,
      location: typeof location === 'string' ? location : undefined,
      setCookies,
    };
    this.portal.transcript.push(response);
    this.portal.setCookies.push(...setCookies);
    return response;
  }

  get(path: string, options: RequestOptions = {}): Promise<PortalResponse> {
    return this.request('GET', path, options);
  }

  /** The session's CSRF token, from the sign-out form on the start page. */
  async csrfToken(): Promise<string> {
    if (this.#csrf) return this.#csrf;
    const page = await this.get('/');
    const token = scrapeForms(page.body).find((f) => '_csrf' in f.fields)?.fields._csrf;
    if (!token) throw new Error(`no CSRF token on the start page (status ${page.status})`);
    this.#csrf = token;
    return token;
  }

  async #unsafeHeaders(
    options: UnsafeRequestOptions,
  ): Promise<{ headers: Record<string, string>; csrf?: string }> {
    const headers: Record<string, string> = { ...options.headers };
    const origin = options.origin === undefined ? this.publicOrigin : options.origin;
    if (origin !== null) headers.origin = origin;
    const csrf = options.csrf === undefined ? await this.csrfToken() : (options.csrf ?? undefined);
    return { headers, csrf };
  }

  /** A form post (`application/x-www-form-urlencoded`) with `_csrf` and `Origin` added. */
  async form(path: string, fields: Record<string, string> = {}, options: UnsafeRequestOptions = {}) {
    const { headers, csrf } = await this.#unsafeHeaders(options);
    const body = new URLSearchParams(fields);
    if (csrf !== undefined) body.set('_csrf', csrf);
    return this.request('POST', path, {
      ...options,
      headers,
      payload: body.toString(),
      contentType: 'application/x-www-form-urlencoded',
    });
  }

  /** A JSON request (default POST) with `X-CSRF-Token` and `Origin` added. */
  async post(path: string, json: unknown = {}, options: UnsafeRequestOptions & { method?: string } = {}) {
    const { headers, csrf } = await this.#unsafeHeaders(options);
    if (csrf !== undefined) headers['x-csrf-token'] = csrf;
    headers.accept ??= 'application/json';
    return this.request(options.method ?? 'POST', path, {
      ...options,
      headers,
      payload: JSON.stringify(json),
      contentType: 'application/json',
    });
  }

  /** Follows one redirect to a portal page. */
  follow(res: PortalResponse): Promise<PortalResponse> {
    if (!res.location) throw new Error(`not a redirect: ${res.status}`);
    return this.get(res.location);
  }

  /**
   * The sign-in up to GitLab's redirect back: `/login`, GitLab's sign-in form (skipped when this
   * browser is already signed in to GitLab), consent. Returns the callback path (with code and state)
   * without opening it.
   */
  async authorize(
    username: string,
    password = DEMO_ACCOUNTS.find((a) => a.username === username)?.password ?? '',
    options: { returnTo?: string; headers?: Record<string, string> } = {},
  ): Promise<{ login: PortalResponse; authorizeUrl: URL; callbackPath: string }> {
    const query = options.returnTo === undefined ? '' : `?return_to=${encodeURIComponent(options.returnTo)}`;
    const login = await this.get(`/login${query}`, { headers: options.headers });
    if (login.status !== 303 || !login.location) {
      throw new Error(`/login answered ${login.status}: ${login.body.slice(0, 500)}`);
    }
    const authorizeUrl = new URL(login.location);
    let page = await this.gitlab.follow(await this.gitlab.request('GET', authorizeUrl.toString()));
    if (page.text.includes('Sign in to GitLab')) {
      const form = scrapeForm(page.text, 'sign-in-button');
      const signedIn = await this.gitlab.request('POST', form.action, {
        ...form.fields,
        'user[login]': username,
        'user[password]': password,
      });
      if (signedIn.status !== 302)
        throw new Error(`GitLab sign-in of ${username} failed:\n${signedIn.text.slice(0, 1500)}`);
      page = await this.gitlab.follow(signedIn);
    }
    let back: string | undefined;
    if (page.text.includes('data-testid="authorization-button"')) {
      const decision = await this.gitlab.request(
        'POST',
        scrapeForm(page.text, 'authorization-button').action,
        {
          ...scrapeForm(page.text, 'authorization-button').fields,
        },
      );
      back = decision.location;
    } else {
      // Approved without asking (GitLab's redirect page), or already redirected back.
      back = page.location ?? /<a href="([^"]+)">Click here to redirect/.exec(page.text)?.[1];
      if (back) back = unescapeHtml(back);
    }
    if (!back?.startsWith(this.portal.config.publicUrl)) {
      throw new Error(`GitLab did not send the browser back to the portal:\n${page.text.slice(0, 1500)}`);
    }
    const url = new URL(back);
    return { login, authorizeUrl, callbackPath: `${url.pathname}${url.search}` };
  }

  /** GitLab's "Cancel" on the consent page; returns the callback path carrying `error=access_denied`. */
  async deny(username: string): Promise<string> {
    const password = DEMO_ACCOUNTS.find((a) => a.username === username)?.password ?? '';
    const login = await this.get('/login');
    let page = await this.gitlab.follow(await this.gitlab.request('GET', login.location!));
    if (page.text.includes('Sign in to GitLab')) {
      const form = scrapeForm(page.text, 'sign-in-button');
      page = await this.gitlab.follow(
        await this.gitlab.request('POST', form.action, {
          ...form.fields,
          'user[login]': username,
          'user[password]': password,
        }),
      );
    }
    const cancel = scrapeForm(page.text, 'name="_method"');
    const back = await this.gitlab.request('POST', cancel.action, cancel.fields);
    const url = new URL(back.location!);
    return `${url.pathname}${url.search}`;
  }

  /** The whole sign-in; returns the callback's answer (a 303 into the portal when it worked). */
  async signIn(
    username: string,
    password?: string,
    options: { returnTo?: string } = {},
  ): Promise<PortalResponse> {
    const { callbackPath } = await this.authorize(username, password, options);
    return this.get(callbackPath);
  }
}

/**
 * Routes behind the guard, for tests of what every feature gets: `GET /probe` (signed-in sponsors
 * only) and `POST /probe` (signed in, CSRF-checked, then the live sponsor check), both answering JSON.
 */
export function guardedProbe(app: FastifyInstance): void {
  const { base } = app.authRuntime;
  app.get(`${base}/probe`, { preHandler: requireSponsor }, async (req) => ({ username: req.auth?.username }));
  app.post(`${base}/probe`, { preHandler: requireSponsor }, async (req) => {
    const { gitlabUser } = await assertSponsorStillAllowed(req);
    return { ok: true, username: gitlabUser.username };
  });
}

/** Starts the simulator, database and portal; see the top of this file. */
export async function startPortal(options: StartPortalOptions = {}): Promise<Portal> {
  const hex = (n: number) => randomBytes(n).toString('hex');
  const adminToken = `glpat-CANARY${hex(10)}`;
  const clientSecret = `gloas-CANARY${hex(16)}`;
  const clientId = `portal-${hex(8)}`;
  const sessionSecret = `CANARYsession${randomBytes(32).toString('base64url')}`;
  const encryptionKey = randomBytes(32).toString('base64url');
  const publicUrl = options.config?.PUBLIC_URL ?? 'https://portal.example/extern';

  const seed = demoSeed();
  const sim = await startSimulator({
    adminToken,
    strict: true,
    rootPassword: DEMO_ACCOUNTS.find((a) => a.username === 'root')!.password,
    settings: options.simSettings,
    seed: {
      ...seed,
      applications: [
        {
          name: 'gitlab-extern',
          redirect_uri: `${publicUrl}/oauth/callback`,
          scopes: 'openid profile email',
          confidential: true,
          application_id: clientId,
          secret: clientSecret,
        },
      ],
    },
  });
  if (options.seed) applySeed(sim.store, options.seed);

  let db: TestDatabase | undefined;
  let dataDir: string | undefined;
  try {
    db = await testDatabase(options.dialect ?? 'sqlite');
    dataDir = await mkdtemp(join(tmpdir(), 'gitlab-extern-portal-'));
    const { config } = parseConfig({
      GITLAB_URL: sim.url,
      GITLAB_CLIENT_ID: clientId,
      GITLAB_CLIENT_SECRET: clientSecret,
      GITLAB_ADMIN_TOKEN: adminToken,
      PUBLIC_URL: publicUrl,
      SESSION_SECRET: sessionSecret,
      ENCRYPTION_KEY: encryptionKey,
      DATABASE_URL: db.url,
      DATA_DIR: dataDir,
      GITLAB_TIMEOUT_MS: '5000',
      LOG_LEVEL: 'info',
      ...options.config,
    });
    const logs: string[] = [];
    const logger = createLogger({
      level: 'info',
      destination: { write: (line: string) => void logs.push(line) },
    });
    const clock = options.clock ?? systemClock;
    const gitlab = new GitLabClient(
      new GitLabTransport({
        url: sim.url,
        token: adminToken,
        timeoutMs: 5_000,
        backoff: { baseMs: 5, maxMs: 50 },
        rateLimitFallbackMs: 20,
        breaker: { failureThreshold: 1_000, openMs: 1_000 },
        retryBudget: { ratio: 1, burst: 1_000 },
      }),
    );
    const oidc = createOidcClient(config);
    const deps: AppDeps = {
      config,
      database: db,
      gitlab,
      oidc,
      cipher: new TokenCipher(config.encryptionKey),
      clock,
      logger,
      readiness: new Readiness({ database: db, gitlab, clock, logger, checkSignIn: () => oidc.ready() }),
    };
    const services = createServices(deps);
    const app = await buildApp(deps, services);
    options.routes?.(app, services);
    await app.ready();

    let clients = 0;
    const testDb = db;
    const testDir = dataDir;
    const portal: Portal = {
      app,
      sim,
      db: testDb,
      config,
      deps,
      services,
      base: basePath(config.publicUrl),
      logs,
      transcript: [],
      setCookies: [],
      canaries: [adminToken, clientSecret, sessionSecret, encryptionKey, config.encryptionKey.current],
      client(clientOptions = {}) {
        clients += 1;
        return new PortalClient(
          portal,
          clientOptions.ip ?? `127.0.${Math.floor(clients / 250)}.${(clients % 250) + 1}`,
        );
      },
      async signIn(username, password) {
        const client = portal.client();
        const res = await client.signIn(username, password);
        if (res.status !== 303 || !client.sessionCookie) {
          throw new Error(`sign-in of ${username} failed: ${res.status}\n${res.body.slice(0, 1500)}`);
        }
        return client;
      },
      audit: (action) => services.audit.list({ action, limit: 500 }),
      async gitlabReports(username, changes) {
        const user = sim.user(username);
        if (!user) throw new Error(`no GitLab user ${username}`);
        const res = await fetch(`${sim.url}/api/v4/users/${user.id}`, {
          headers: { 'private-token': adminToken },
        });
        const entity = (await res.json()) as Record<string, unknown>;
        sim.failNext(
          { method: 'GET', path: `/api/v4/users/${user.id}` },
          { status: 200, body: { ...entity, ...changes } },
        );
      },
      async leaks() {
        const events = await services.audit.list({ limit: 500 });
        const sources: [string, string][] = [
          ['logs', logs.join('\n')],
          ['responses', portal.transcript.map((r) => `${JSON.stringify(r.headers)}\n${r.body}`).join('\n')],
          ['audit', JSON.stringify(events)],
        ];
        const hits: string[] = [];
        for (const [where, text] of sources) {
          for (const secret of [...portal.canaries, 'glpat-', 'gloas-']) {
            if (text.includes(secret)) hits.push(`${where} contains ${secret.slice(0, 12)}…`);
          }
        }
        return hits;
      },
      async close() {
        try {
          await app.close();
        } finally {
          await sim.close();
          await testDb.cleanup();
          await rm(testDir, { recursive: true, force: true });
        }
        sim.assertNoUnexpected();
      },
    };
    return portal;
  } catch (err) {
    await sim.close();
    await db?.cleanup();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}
