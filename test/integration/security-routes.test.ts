import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { GitLabError } from '../../src/gitlab/errors.js';
import { describeEachDialect } from '../support/databases.js';
import { type Portal, type PortalClient, type PortalResponse, startPortal } from '../support/portal.js';

/**
 * D1 (deny by default) over the route table of the built app, and G1–G4 (security headers, CSP, CORS,
 * safe failures) over every response of a sweep through that table, signed in and signed out.
 */

interface Route {
  method: string;
  /** As registered, e.g. `/extern/sponsorships/:id`. */
  path: string;
}

/**
 * Every route of the app, from Fastify's printed radix tree: each line is one node whose text
 * continues its parent's, with the methods registered on it in parentheses.
 */
function routeInventory(app: FastifyInstance): Route[] {
  const routes: Route[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes().split('\n')) {
    const node = /^([│ ]*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!node) continue;
    const depth = node[1]!.length / 4;
    stack.length = depth;
    stack.push(node[2]!);
    for (const method of node[3]?.split(', ') ?? []) routes.push({ method, path: stack.join('') });
  }
  return routes.sort((a, b) => `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`));
}

const key = (r: Route) => `${r.method} ${r.path}`;

/**
 * Routes anyone may reach, each with why. `logout` is here on purpose: signing out without a session
 * changes nothing and lands on the start page (B4), and the POST is still CSRF-checked.
 */
const PUBLIC: Record<string, string> = {
  'GET /extern': 'start page',
  'HEAD /extern': 'start page',
  'GET /extern/login': 'starts the sign-in',
  'GET /extern/oauth/callback': "GitLab's redirect back",
  'GET /extern/assets/*': 'static files',
  'HEAD /extern/assets/*': 'static files',
  'GET /extern/healthz': 'liveness',
  'HEAD /extern/healthz': 'liveness',
  'GET /extern/readyz': 'readiness',
  'HEAD /extern/readyz': 'readiness',
  'GET /healthz': 'liveness for load balancers',
  'HEAD /healthz': 'liveness for load balancers',
  'GET /readyz': 'readiness for load balancers',
  'HEAD /readyz': 'readiness for load balancers',
  'POST /extern/csp-report': 'browsers report CSP violations without cookies',
  'GET /extern/logout': 'sign-out form; without a session it leads to the start page',
  'HEAD /extern/logout': 'sign-out form; without a session it leads to the start page',
  'POST /extern/logout': 'signing out without a session is a no-op',
};

/** Routes for signed-in sponsors only, with a concrete path to probe them. */
const PROTECTED: Record<string, string> = {
  'POST /extern/sponsorships': '/sponsorships',
  'GET /extern/sponsorships/new': '/sponsorships/new',
  'HEAD /extern/sponsorships/new': '/sponsorships/new',
  'GET /extern/sponsorships/username-check': '/sponsorships/username-check?username=jane',
  'HEAD /extern/sponsorships/username-check': '/sponsorships/username-check?username=jane',
  'GET /extern/sponsorships/:id': '/sponsorships/8a6e0804-2bd0-4912-8c8b-2b3f3a0b4c2e',
  'HEAD /extern/sponsorships/:id': '/sponsorships/8a6e0804-2bd0-4912-8c8b-2b3f3a0b4c2e',
};

/** A concrete path for a public route. */
function publicProbe(route: Route): string {
  if (route.path === '/extern/assets/*') return '/extern/assets/app.css';
  return route.path;
}

const HTML = { accept: 'text/html,application/xhtml+xml' };
const JSON_ACCEPT = { accept: 'application/json' };

describeEachDialect('D1: deny by default over the route table', (dialect) => {
  let portal: Portal;

  beforeAll(async () => {
    portal = await startPortal({ dialect });
  });

  afterAll(async () => {
    await portal?.close();
  });

  it('D1: every route is either public (allowlist) or for signed-in sponsors; none is undecided', () => {
    const inventory = routeInventory(portal.app).map(key);
    expect(inventory.length).toBeGreaterThan(20);
    const undecided = inventory.filter((r) => !(r in PUBLIC) && !(r in PROTECTED));
    expect(undecided, 'new routes must be added to PUBLIC or PROTECTED in this test').toEqual([]);
    const stale = [...Object.keys(PUBLIC), ...Object.keys(PROTECTED)].filter((r) => !inventory.includes(r));
    expect(stale, 'listed routes that no longer exist').toEqual([]);
    expect(Object.keys(PUBLIC).filter((r) => r in PROTECTED)).toEqual([]);
  });

  it('D1: signed out, every protected route sends pages to sign-in and answers JSON and changes with 401', async () => {
    const visitor = portal.client();
    portal.sim.clearRequests();
    for (const [route, path] of Object.entries(PROTECTED)) {
      const [method] = route.split(' ') as [string];
      if (method === 'GET' || method === 'HEAD') {
        const page = await visitor.request(method, path, { headers: HTML });
        expect(page.status, route).toBe(303);
        expect(page.location, route).toBe(`/extern/login?return_to=${encodeURIComponent(`/extern${path}`)}`);
        const json = await visitor.request(method, path, { headers: JSON_ACCEPT });
        expect(json.status, route).toBe(401);
        if (method === 'GET') {
          expect(JSON.parse(json.body), route).toMatchObject({ status: 401, code: 'unauthorized' });
        }
      } else {
        const form = await visitor.form(path, { name: 'x' }, { csrf: null });
        expect(form.status, route).toBe(401);
        expect(form.body, route).toContain('Sign in with GitLab');
        const json = await visitor.post(path, { name: 'x' }, { csrf: null });
        expect(json.status, route).toBe(401);
        expect(JSON.parse(json.body), route).toMatchObject({ status: 401, code: 'unauthorized' });
      }
    }
    // No handler ran: GitLab was never asked anything, nothing was stored.
    expect(portal.sim.requests()).toEqual([]);
    expect(await portal.db.db.selectFrom('operations').select('id').execute()).toEqual([]);
  });

  it('D1: signed in, the same routes are served (the decision is the session, not the path)', async () => {
    const alice = await portal.signIn('alice');
    for (const [route, path] of Object.entries(PROTECTED)) {
      const [method] = route.split(' ') as [string];
      const res =
        method === 'POST'
          ? await alice.form(path, {})
          : await alice.request(method, path, {
              headers: route.includes('username-check') ? JSON_ACCEPT : HTML,
            });
      expect([303, 401], route).not.toContain(res.status);
      expect(res.status, route).toBeLessThan(500);
    }
  });

  it('D1: signed out, every public route answers without asking for a sign-in', async () => {
    const visitor = portal.client();
    for (const route of routeInventory(portal.app).filter((r) => key(r) in PUBLIC)) {
      const res =
        route.method === 'POST'
          ? await visitor.form(publicProbe(route), {}, { csrf: null })
          : await visitor.request(route.method, publicProbe(route), { headers: HTML });
      expect(res.status, key(route)).not.toBe(401);
      expect(res.location ?? '', key(route)).not.toMatch(/\/login\?return_to=/);
      // Readiness may say 503: this portal's background checks never ran.
      if (!route.path.endsWith('/readyz')) expect(res.status, key(route)).toBeLessThan(500);
    }
  });
});

/** The directives of a Content-Security-Policy header. */
function cspDirectives(header: string): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const part of header.split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) directives.set(name.toLowerCase(), values);
  }
  return directives;
}

function scriptNonce(res: PortalResponse): string | undefined {
  const csp = String(res.headers['content-security-policy'] ?? '');
  return /'nonce-([^']+)'/.exec(cspDirectives(csp).get('script-src')?.join(' ') ?? '')?.[1];
}

const FOREIGN_ORIGIN = 'https://evil.example';
const SECRET_MARKERS = ['SELECT secret_column', 'GITLAB-UPSTREAM-BODY', 'internal detail'];

/** What G1–G4 require of one response; `label` names it in failures. */
function expectSafeHeaders(res: PortalResponse, label: string, options: { callback?: boolean } = {}) {
  const h = res.headers;
  const contentType = String(h['content-type'] ?? '');
  const isAsset = label.includes('/assets/') && res.status === 200;

  // G1: a strict CSP on every response (it matters on HTML; elsewhere it costs nothing).
  const csp = String(h['content-security-policy'] ?? '');
  expect(csp, `${label}: CSP`).not.toBe('');
  const d = cspDirectives(csp);
  const scriptSrc = d.get('script-src') ?? d.get('default-src') ?? [];
  expect(
    scriptSrc.some((v) => /^'nonce-[A-Za-z0-9+/_=-]{16,}'$/.test(v)),
    `${label}: script nonce`,
  ).toBe(true);
  expect(scriptSrc, label).not.toContain("'unsafe-inline'");
  expect(scriptSrc, label).not.toContain("'unsafe-eval'");
  expect(
    scriptSrc.some((v) => v === '*' || v.endsWith(':')),
    `${label}: no wildcard script source`,
  ).toBe(false);
  expect(d.get('object-src'), label).toEqual(["'none'"]);
  expect(d.get('base-uri'), label).toEqual(["'none'"]);
  expect(d.get('frame-ancestors'), label).toEqual(["'none'"]);
  expect(d.get('form-action'), label).toEqual(["'self'"]);
  expect(d.get('report-uri') ?? d.get('report-to'), `${label}: report endpoint`).toEqual([
    '/extern/csp-report',
  ]);

  // G2: transport, sniffing, referrer, opener, content type, fingerprinting.
  const hsts = String(h['strict-transport-security'] ?? '');
  expect(Number(/max-age=(\d+)/.exec(hsts)?.[1] ?? 0), `${label}: HSTS`).toBeGreaterThanOrEqual(31_536_000);
  expect(hsts, label).toMatch(/includeSubDomains/i);
  expect(h['x-content-type-options'], label).toBe('nosniff');
  expect(h['referrer-policy'], label).toBe(
    options.callback ? 'no-referrer' : 'strict-origin-when-cross-origin',
  );
  expect(h['cross-origin-opener-policy'], label).toBe('same-origin');
  if (res.body !== '' && /^(text\/|application\/(json|problem\+json|javascript))/.test(contentType)) {
    expect(contentType, `${label}: charset`).toMatch(/;\s*charset=utf-8/i);
  }
  expect(h['x-powered-by'], label).toBeUndefined();
  expect(String(h.server ?? ''), `${label}: no version in Server`).not.toMatch(/\d/);
  expect(['0', undefined], `${label}: X-XSS-Protection`).toContain(h['x-xss-protection']);

  // B6: nothing dynamic is cached; only successful static files are.
  if (isAsset) expect(h['cache-control'], label).toMatch(/immutable/);
  else expect(h['cache-control'], `${label}: Cache-Control`).toBe('no-store');

  // G3: CORS is closed, whatever the Origin.
  const cors = Object.keys(h).filter((name) => name.startsWith('access-control-'));
  expect(cors, `${label}: CORS headers`).toEqual([]);

  // G4: no internals anywhere.
  for (const marker of SECRET_MARKERS) expect(res.body, `${label}: ${marker}`).not.toContain(marker);
  expect(res.body, `${label}: stack trace`).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
}

/** Test-only routes that fail on purpose: an unexpected exception, and a GitLab error escaping. */
function failingRoutes(app: FastifyInstance): void {
  app.get('/extern/__test/boom', async () => {
    throw new Error('SELECT secret_column FROM sessions WHERE id_hash = ? -- internal detail');
  });
  app.get('/extern/__test/gitlab-boom', async () => {
    throw new GitLabError({
      kind: 'http',
      method: 'POST',
      path: 'users',
      status: 500,
      gitlabMessage: '<html><body>GITLAB-UPSTREAM-BODY stack: app/models/user.rb:42</body></html>',
    });
  });
}

describeEachDialect('G1–G4: headers and failures over the route table', (dialect) => {
  let portal: Portal;
  let alice: PortalClient;
  const swept: { label: string; res: PortalResponse; callback?: boolean }[] = [];

  beforeAll(async () => {
    portal = await startPortal({ dialect, routes: failingRoutes });
    alice = await portal.signIn('alice');
    const visitor = portal.client();
    const foreign = { origin: FOREIGN_ORIGIN };

    for (const route of routeInventory(portal.app)) {
      const probe = PROTECTED[key(route)] ?? publicProbe(route);
      for (const [who, client] of [
        ['signed out', visitor],
        ['signed in', alice],
      ] as const) {
        for (const accept of [HTML, JSON_ACCEPT]) {
          const label = `${who} ${route.method} ${probe} (${accept.accept.split(',')[0]})`;
          const res =
            route.method === 'POST'
              ? await client.request('POST', probe, {
                  headers: { ...foreign, ...accept },
                  payload: '{}',
                  contentType: 'application/json',
                })
              : await client.request(route.method, probe, { headers: { ...foreign, ...accept } });
          swept.push({ label, res, callback: route.path.endsWith('/oauth/callback') });
        }
      }
    }
    // Errors, static files and problem+json beyond what the table reaches.
    const extra: [string, PortalClient, string, Record<string, string>][] = [
      ['404 page', alice, '/no/such/page', HTML],
      ['404 problem+json', alice, '/no/such/page', JSON_ACCEPT],
      ['404 under assets', visitor, '/assets/missing.css', HTML],
      ['asset app.js', visitor, '/assets/app.js', HTML],
      ['asset favicon', visitor, '/assets/favicon.svg', HTML],
      ['500 page', alice, '/__test/boom', HTML],
      ['500 problem+json', alice, '/__test/boom', JSON_ACCEPT],
      ['GitLab error page', alice, '/__test/gitlab-boom', HTML],
      ['GitLab error problem+json', visitor, '/__test/gitlab-boom', JSON_ACCEPT],
      ['400 problem+json', alice, `/sponsorships/username-check?username=${'x'.repeat(2000)}`, JSON_ACCEPT],
    ];
    for (const [label, client, path, headers] of extra) {
      swept.push({
        label: `${label} ${path}`,
        res: await client.get(path, { headers: { ...headers, ...foreign } }),
      });
    }
    const callback = await portal.client().get('/oauth/callback?code=x&state=y', { headers: foreign });
    swept.push({ label: 'callback without a sign-in', res: callback, callback: true });
    const { callbackPath } = await visitor.authorize('bob');
    swept.push({ label: 'callback signing in', res: await visitor.get(callbackPath), callback: true });
  });

  afterAll(async () => {
    if (portal) expect(await portal.leaks()).toEqual([]);
    await portal?.close();
  });

  it('G1–G3: every response carries the security headers, no-store when dynamic, and no CORS grant', () => {
    expect(swept.length).toBeGreaterThan(90);
    expect(swept.map((s) => s.res.status)).toEqual(expect.arrayContaining([200, 204, 303, 400, 404, 500]));
    for (const { label, res, callback } of swept) expectSafeHeaders(res, label, { callback });
  });

  it('G1: the CSP nonce is new for every response and is the one on the page script', async () => {
    const nonces = swept.map((s) => scriptNonce(s.res));
    expect(new Set(nonces).size).toBe(nonces.length);
    const page = await alice.get('/');
    const nonce = scriptNonce(page);
    expect(page.body).toContain(`<script nonce="${nonce}"`);
    // Every script element on the page carries the nonce; there is no inline event handler.
    for (const tag of page.body.match(/<script\b[^>]*>/g) ?? []) expect(tag).toContain(`nonce="${nonce}"`);
    expect(page.body).not.toMatch(/\son[a-z]+=/i);
  });

  it('G4: a 500 shows only a reference id; the log has the details under the same id', async () => {
    const page = swept.find((s) => s.label.startsWith('500 page'))!.res;
    expect(page.status).toBe(500);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    const reference = /Reference for your administrator: <code>([A-Za-z0-9_-]+)<\/code>/.exec(page.body)?.[1];
    expect(reference).toBeDefined();
    expect(page.body).toContain('Something went wrong');

    const problem = swept.find((s) => s.label.startsWith('500 problem+json'))!.res;
    expect(problem.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    const body = JSON.parse(problem.body) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['code', 'detail', 'requestId', 'status', 'title', 'type']);
    expect(body).toMatchObject({ status: 500, code: 'internal', detail: 'An unexpected error occurred.' });

    const logged = portal.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    const failure = logged.find((l) => l.reqId === reference && l.msg === 'request failed');
    expect(JSON.stringify(failure)).toContain('SELECT secret_column');

    const gitlab = swept.find((s) => s.label.startsWith('GitLab error page'))!.res;
    expect(gitlab.status).toBe(500);
    expect(gitlab.body).not.toContain('GITLAB-UPSTREAM-BODY');
    expect(gitlab.body).not.toContain('user.rb');
  });

  it('G3: a CORS preflight from a foreign origin gets no grant', async () => {
    for (const path of ['/sponsorships', '/', '/login', '/sponsorships/username-check']) {
      const res = await alice.request('OPTIONS', path, {
        headers: {
          origin: FOREIGN_ORIGIN,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'x-csrf-token, content-type',
        },
      });
      expect([404, 405], path).toContain(res.status);
      expect(
        Object.keys(res.headers).filter((n) => n.startsWith('access-control-')),
        path,
      ).toEqual([]);
      expectSafeHeaders(res, `OPTIONS ${path}`);
    }
  });

  it('G4: TRACE and methods the portal does not use are refused without internals', async () => {
    const address = await listen(portal.app);
    for (const method of ['TRACE', 'TRACK', 'PUT', 'DELETE', 'PATCH', 'PROPFIND', 'FOO']) {
      for (const path of ['/extern/', '/extern/sponsorships', '/extern/login']) {
        const res = await raw(address, method, path, { cookie: `__Host-gle_session=${alice.sessionCookie}` });
        expect([400, 404, 405, 501], `${method} ${path}`).toContain(res.status);
        // Nothing of the request is echoed back (cross-site tracing), nothing of the server shows.
        expect(res.body, `${method} ${path}`).not.toContain(alice.sessionCookie);
        expect(res.body, `${method} ${path}`).not.toMatch(/fastify|node:internal|\n\s+at .+:\d+:\d+/i);
      }
    }
  });
});

/** Listens on a free local port (once per app) and returns the address. */
const listening = new WeakMap<FastifyInstance, Promise<AddressInfo>>();
function listen(app: FastifyInstance): Promise<AddressInfo> {
  let address = listening.get(app);
  if (!address) {
    address = app.listen({ host: '127.0.0.1', port: 0 }).then(() => app.server.address() as AddressInfo);
    listening.set(app, address);
  }
  return address;
}

/** One request over a real socket (for methods and sizes `inject` does not model). */
function raw(
  address: AddressInfo,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: address.address, port: address.port, method, path, headers, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
