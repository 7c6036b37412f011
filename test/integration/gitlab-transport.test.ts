import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { fromGitLabError, GitLabError, UnsafePathError } from '../../src/gitlab/errors.js';
import { path } from '../../src/gitlab/path.js';
import { currentGitLabTiming, withGitLabTiming } from '../../src/gitlab/timing.js';
import { type GitLabCallEvent, GitLabTransport } from '../../src/gitlab/transport.js';
import { CANARY_TOKEN, failure, testClient, testTransport, useSimulator } from '../support/gitlab.js';

const VERSION = { method: 'GET', path: '/api/v4/version' };
const CREATE_USER = { method: 'POST', path: '/api/v4/users' };
const serviceUnavailable = { status: 503, body: { message: '503 Service Unavailable' } };

const newUser = (username: string) => ({
  name: 'Ext Ernal',
  username,
  email: `${username}@partner.example`,
  external: true,
  projectsLimit: 0,
  canCreateGroup: false,
  password: 'reset_password' as const,
  skipConfirmation: true,
});

async function gitLabError(promise: Promise<unknown>): Promise<GitLabError> {
  const err = await failure(promise);
  expect(err).toBeInstanceOf(GitLabError);
  return err as GitLabError;
}

async function listen(server: Server | ReturnType<typeof createHttpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  return address.port;
}

/** A local port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('GitLab transport: authentication and paths', () => {
  const sim = useSimulator();

  it('sends the admin token only in the PRIVATE-TOKEN header, never in a URL', async () => {
    const s = sim();
    const client = testClient(s);
    await client.version();
    await client.tokenSelf();
    await client.currentUser();
    await client.findUserByUsername('root');
    const recorded = s.requests();
    expect(recorded.length).toBe(4);
    for (const r of recorded) {
      expect(r.headers['private-token']).toBe(CANARY_TOKEN);
      expect(r.headers.authorization).toBeUndefined();
      expect(r.headers.sudo).toBeUndefined();
      expect(r.path).not.toContain(CANARY_TOKEN);
      expect(JSON.stringify(r.query)).not.toContain(CANARY_TOKEN);
    }
  });

  it('keeps a hostile value inside its path segment', async () => {
    const s = sim();
    const transport = testTransport(s);
    const err = await gitLabError(transport.get(path`users/${'1/../../users'}/custom_attributes`));
    expect(err.status).toBe(404);
    expect(s.requests().map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /api/v4/users/1%2F..%2F..%2Fusers/custom_attributes',
    ]);
  });

  it('refuses dot and empty path values before sending anything', async () => {
    const s = sim();
    const transport = testTransport(s);
    expect(() => path`users/${'..'}`).toThrow(UnsafePathError);
    expect(() => path`users/${''}/block`).toThrow(UnsafePathError);
    expect(() => path`users/${Number.NaN}`).toThrow(UnsafePathError);
    expect(() => path`projects/${'group/project'}/members`).not.toThrow();
    await expect(testClient(s).getUser(-1)).rejects.toBeInstanceOf(UnsafePathError);
    await transport.get(path`version`);
    expect(s.requests()).toHaveLength(1);
  });

  it('does not follow a redirect, so the token header never reaches another host', async () => {
    const s = sim();
    const seen: string[] = [];
    const other = createHttpServer((req, res) => {
      seen.push(JSON.stringify(req.headers));
      res.end('{}');
    });
    const port = await listen(other);
    try {
      s.failNext(VERSION, { status: 302, headers: { location: `http://127.0.0.1:${port}/collect` } });
      const err = await gitLabError(testClient(s).version());
      expect(err.kind).toBe('http');
      expect(err.status).toBe(302);
      expect(seen).toEqual([]);
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });
});

describe('GitLab transport: fault matrix (security.md §2.3, H3, J1, J2, K3)', () => {
  const sim = useSimulator();

  it('429 with Retry-After: 1 twice, then 200: three attempts at least a second apart', async () => {
    const s = sim();
    s.failNext(
      VERSION,
      { status: 429, body: 'Retry later\n', contentType: 'text/plain', headers: { 'retry-after': '1' } },
      2,
    );
    const version = await testClient(s).version();
    expect(version.version).toBe(s.settings.version);
    const attempts = s.requests(VERSION);
    expect(attempts.map((r) => r.status)).toEqual([429, 429, 200]);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(1000);
  });

  it("honours Rack::Attack's RateLimit-* and Retry-After headers", async () => {
    const s = sim();
    // Start at the beginning of a throttle window so both first calls land in it.
    await sleep(1000 - (s.clock.nowMs() % 1000));
    s.rateLimit({ kind: 'rack_attack', match: VERSION, limit: 1, periodSeconds: 1 });
    const client = testClient(s);
    await client.version();
    await client.version();
    const attempts = s.requests(VERSION);
    expect(attempts.map((r) => r.status)).toEqual([200, 429, 200]);
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(1000);
  });

  it('429 without headers (application limiter): default backoff, then rate_limited after 3 attempts', async () => {
    const s = sim();
    s.rateLimit({ kind: 'application', match: VERSION, limit: 1, periodSeconds: 600 });
    const client = testClient(s, { rateLimitFallbackMs: 30 });
    await client.version();
    const err = await gitLabError(client.version());
    expect(err.kind).toBe('rate_limited');
    expect(err.status).toBe(429);
    expect(err.gitlabMessage).toEqual({
      error: 'This endpoint has been requested too many times. Try again later.',
    });
    expect(err.retryAfterSeconds).toBe(1);
    expect(err.attempts).toBe(3);
    expect(s.requests(VERSION).map((r) => r.status)).toEqual([200, 429, 429, 429]);
    expect(fromGitLabError(err).code).toBe('rate_limited');
  });

  it('fails fast with rate_limited when the requested wait would pass the deadline', async () => {
    const s = sim();
    s.failNext(VERSION, {
      status: 429,
      body: 'Retry later\n',
      contentType: 'text/plain',
      headers: { 'retry-after': '30' },
    });
    const err = await gitLabError(testClient(s, { timeoutMs: 2_000 }).version());
    expect(err.kind).toBe('rate_limited');
    expect(err.retryAfterSeconds).toBe(30);
    expect(s.requests(VERSION)).toHaveLength(1);
    expect(fromGitLabError(err).retryAfterSeconds).toBe(30);
  });

  it('503 three times: fails after exactly three attempts', async () => {
    const s = sim();
    s.failNext(VERSION, serviceUnavailable, 3);
    const err = await gitLabError(testClient(s).version());
    expect(err.kind).toBe('unavailable');
    expect(err.status).toBe(503);
    expect(err.attempts).toBe(3);
    expect(s.requests(VERSION)).toHaveLength(3);
    expect(fromGitLabError(err).code).toBe('upstream_unavailable');
  });

  it('a hanging GitLab gives a timeout error within the deadline, without a retry', async () => {
    const s = sim();
    s.hangNext(VERSION);
    const started = Date.now();
    const err = await gitLabError(testClient(s, { timeoutMs: 300 }).version());
    expect(err.kind).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(300 + 2_000);
    expect(s.requests(VERSION)).toHaveLength(1);
    expect(fromGitLabError(err).code).toBe('upstream_timeout');
  });

  it('an HTML 502 page from a proxy is retried, and never quoted in the error', async () => {
    const s = sim();
    const page = '<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>';
    s.failNext(VERSION, { status: 502, body: page, contentType: 'text/html' });
    await testClient(s).version();
    expect(s.requests(VERSION).map((r) => r.status)).toEqual([502, 200]);

    s.failNext(VERSION, { status: 502, body: page, contentType: 'text/html' }, 3);
    const err = await gitLabError(testClient(s).version());
    expect(err).toMatchObject({ kind: 'unavailable', status: 502, gitlabMessage: undefined });
    expect(err.message).not.toContain('<');
  });

  it('malformed JSON on a read is retried once, then reported as malformed', async () => {
    const s = sim();
    s.malformedNext(VERSION);
    await testClient(s).version();
    expect(s.requests(VERSION)).toHaveLength(2);

    s.clearRequests();
    s.malformedNext(VERSION, 3);
    const err = await gitLabError(testClient(s).version());
    expect(err.kind).toBe('malformed');
    expect(s.requests(VERSION)).toHaveLength(2);
  });

  it('a connection reset on a read is retried', async () => {
    const s = sim();
    s.resetNext(VERSION);
    await testClient(s).version();
    expect(s.requests(VERSION)).toHaveLength(2);
  });

  it('POST /users whose connection drops after GitLab created the user: ambiguous, one POST, one user', async () => {
    const s = sim();
    s.resetAfterApplyNext(CREATE_USER);
    const client = testClient(s);
    const err = await gitLabError(client.createUser(newUser('ext-ambiguous')));
    expect(err.kind).toBe('ambiguous');
    expect(fromGitLabError(err).code).toBe('ambiguous');
    expect(s.requests(CREATE_USER)).toHaveLength(1);
    expect([...s.store.users.values()].filter((u) => u.username === 'ext-ambiguous')).toHaveLength(1);
    // The caller reconciles by looking the user up.
    expect(await client.findUserByUsername('ext-ambiguous')).toMatchObject({ username: 'ext-ambiguous' });
  });

  it('POST /users is never retried: 503, reset, malformed answer and hang are ambiguous after one POST', async () => {
    const s = sim();
    const client = testClient(s, { timeoutMs: 400 });

    s.failNext(CREATE_USER, serviceUnavailable);
    expect(await gitLabError(client.createUser(newUser('ext-503')))).toMatchObject({
      kind: 'ambiguous',
      status: 503,
    });

    s.resetNext(CREATE_USER);
    expect((await gitLabError(client.createUser(newUser('ext-reset')))).kind).toBe('ambiguous');

    s.malformedNext(CREATE_USER);
    expect(await gitLabError(client.createUser(newUser('ext-garbled')))).toMatchObject({
      kind: 'ambiguous',
      status: 201,
    });

    s.hangNext(CREATE_USER);
    expect((await gitLabError(client.createUser(newUser('ext-hang')))).kind).toBe('ambiguous');

    expect(s.requests(CREATE_USER)).toHaveLength(4);
    // What GitLab actually did differs per case, which is why the caller must look.
    expect(s.user('ext-503')).toBeUndefined();
    expect(s.user('ext-reset')).toBeUndefined();
    expect(s.user('ext-garbled')).toBeDefined();
  });

  it('POST /users answered 429 is rate_limited and not retried', async () => {
    const s = sim();
    s.failNext(CREATE_USER, {
      status: 429,
      headers: { 'retry-after': '1' },
      body: 'Retry later\n',
      contentType: 'text/plain',
    });
    const err = await gitLabError(testClient(s).createUser(newUser('ext-limited')));
    expect(err).toMatchObject({ kind: 'rate_limited', retryAfterSeconds: 1 });
    expect(s.requests(CREATE_USER)).toHaveLength(1);
  });

  it('an unreachable GitLab is unavailable; a POST that never left is not ambiguous', async () => {
    const port = await closedPort();
    const transport = new GitLabTransport({
      url: `http://127.0.0.1:${port}`,
      token: CANARY_TOKEN,
      backoff: { baseMs: 1, maxMs: 5 },
    });
    const read = await gitLabError(transport.get(path`version`));
    expect(read).toMatchObject({ kind: 'unavailable', networkCode: 'ECONNREFUSED', attempts: 3 });
    const write = await gitLabError(transport.post(path`users`, { body: { username: 'x' } }));
    expect(write).toMatchObject({ kind: 'unavailable', networkCode: 'ECONNREFUSED', attempts: 1 });
  });
});

describe('GitLab transport: circuit breaker and retry budget', () => {
  const sim = useSimulator();

  it('opens after 5 consecutive failures, refuses calls while open, closes after a good probe', async () => {
    const s = sim();
    const transport = testTransport(s, { maxAttempts: 1, breaker: { failureThreshold: 5, openMs: 300 } });
    s.addFault(VERSION, { type: 'respond', ...serviceUnavailable }, null);
    for (let i = 0; i < 5; i++) {
      expect((await gitLabError(transport.get(path`version`))).kind).toBe('unavailable');
    }
    expect(transport.breaker.state).toBe('open');
    const refused = await gitLabError(transport.get(path`version`));
    expect(refused.kind).toBe('breaker_open');
    expect(refused.retryAfterSeconds).toBe(1);
    expect(fromGitLabError(refused).code).toBe('upstream_unavailable');
    expect(s.requests(VERSION)).toHaveLength(5);

    // Still failing when the probe goes out: open again at once.
    await sleep(350);
    expect((await gitLabError(transport.get(path`version`))).kind).toBe('unavailable');
    expect((await gitLabError(transport.get(path`version`))).kind).toBe('breaker_open');
    expect(s.requests(VERSION)).toHaveLength(6);

    s.clearFaults();
    await sleep(350);
    await transport.get(path`version`);
    expect(transport.breaker.state).toBe('closed');
    await transport.get(path`version`);
    expect(s.requests(VERSION)).toHaveLength(8);
  });

  it('the retry budget keeps retries to about 10 % of requests when everything fails', async () => {
    const s = sim();
    const transport = testTransport(s, {
      backoff: { baseMs: 1, maxMs: 2 },
      retryBudget: { ratio: 0.1, burst: 2 },
    });
    s.addFault(VERSION, { type: 'respond', ...serviceUnavailable }, null);
    const calls = 100;
    for (let i = 0; i < calls; i++) await failure(transport.get(path`version`));
    const retries = s.requests(VERSION).length - calls;
    expect(retries).toBeGreaterThan(0);
    expect(retries).toBeLessThanOrEqual(calls * 0.1 + 2);
  });
});

describe('GitLab transport: timing and call log', () => {
  const sim = useSimulator();

  it('adds every request, retries included, to the timing of the surrounding inbound request', async () => {
    const s = sim();
    const client = testClient(s);
    s.failNext(VERSION, serviceUnavailable);
    const timing = await withGitLabTiming(async () => {
      await client.version();
      await client.tokenSelf();
      return currentGitLabTiming();
    });
    expect(timing.calls).toBe(3);
    expect(timing.ms).toBeGreaterThan(0);
    expect(currentGitLabTiming()).toEqual({ calls: 0, ms: 0 });
  });

  it('reports each request to the log hook with method, path, status and outcome', async () => {
    const s = sim();
    const events: GitLabCallEvent[] = [];
    const client = testClient(s, { onCall: (e) => events.push(e) });
    s.failNext(VERSION, serviceUnavailable);
    await client.version();
    await client.getUser(424242);
    expect(events.map(({ ms: _ms, ...e }) => e)).toEqual([
      { method: 'GET', path: 'version', attempt: 1, status: 503, outcome: 'unavailable' },
      { method: 'GET', path: 'version', attempt: 2, status: 200, outcome: 'ok' },
      { method: 'GET', path: 'users/424242', attempt: 1, status: 404, outcome: 'http' },
    ]);
  });
});

describe('GitLab errors never contain the token (F1)', () => {
  const sim = useSimulator();

  it('no error message, stack, JSON, inspect output or log event carries the canary token', async () => {
    const s = sim();
    const events: GitLabCallEvent[] = [];
    const options = { timeoutMs: 400, onCall: (e: GitLabCallEvent) => events.push(e) };
    const client = testClient(s, options);
    const transport = testTransport(s, options);
    const errors: unknown[] = [];
    const collect = async (promise: Promise<unknown>) => errors.push(await failure(promise));

    // GitLab error bodies that echo the token must not carry it into the error either.
    s.failNext(VERSION, { status: 401, body: { message: `401 Unauthorized ${CANARY_TOKEN}` } });
    await collect(client.version());
    s.failNext(VERSION, { status: 403, body: { message: { token: [CANARY_TOKEN] } } });
    await collect(client.version());
    s.failNext(VERSION, { status: 500, body: { message: '500 Internal Server Error' } });
    await collect(client.version());
    s.failNext(
      VERSION,
      { status: 502, body: `<pre>PRIVATE-TOKEN: ${CANARY_TOKEN}</pre>`, contentType: 'text/html' },
      3,
    );
    await collect(client.version());
    s.resetNext(VERSION, 3);
    await collect(client.version());
    s.hangNext(VERSION);
    await collect(client.version());
    s.malformedNext(VERSION, 2);
    await collect(client.version());
    s.resetAfterApplyNext(CREATE_USER);
    await collect(client.createUser(newUser('ext-canary')));
    s.failNext(CREATE_USER, { status: 409, body: { message: 'Email has already been taken' } });
    await collect(client.createUser(newUser('ext-canary')));
    s.failNext(VERSION, { status: 200, body: { unexpected: true } });
    await collect(client.version());
    await collect(transport.get(path`users/${'1/../../users'}/custom_attributes`));
    await collect(
      new GitLabTransport({
        url: `http://127.0.0.1:${await closedPort()}`,
        token: CANARY_TOKEN,
        backoff: { baseMs: 1, maxMs: 5 },
      }).get(path`version`),
    );
    const breaker = testTransport(s, { maxAttempts: 1, breaker: { failureThreshold: 1, openMs: 60_000 } });
    s.failNext(VERSION, serviceUnavailable);
    await collect(breaker.get(path`version`));
    await collect(breaker.get(path`version`));

    const kinds = new Set(errors.map((e) => (e as GitLabError).kind));
    expect([...kinds].sort()).toEqual(
      ['ambiguous', 'breaker_open', 'http', 'malformed', 'timeout', 'unavailable'].sort(),
    );
    const outputs = errors.flatMap((err) => {
      const domain = fromGitLabError(err as GitLabError);
      return [
        String(err),
        (err as Error).message,
        (err as Error).stack ?? '',
        JSON.stringify(err),
        inspect(err, { showHidden: true, depth: null }),
        inspect(domain, { showHidden: true, depth: null }),
        JSON.stringify(domain),
      ];
    });
    outputs.push(
      JSON.stringify(events),
      inspect(transport, { showHidden: true, depth: null }),
      JSON.stringify(transport),
    );
    for (const text of outputs) {
      expect(text).not.toContain(CANARY_TOKEN);
      expect(text).not.toContain('glpat-');
    }
    expect(outputs.join('\n')).toContain('[REDACTED]');
  });
});
