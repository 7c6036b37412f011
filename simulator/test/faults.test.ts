import { describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index.js';
import { ADMIN_TOKEN, del, get, post, useSimulator } from './helpers.js';

// The simulator's fault injection stands in for the failures between a client and GitLab that the
// portal must survive (security.md §2.3): proxy error pages, slowness, hangs, resets before and after
// the change, truncated bodies. Each test drives it through real HTTP.

/** A raw request, for the cases where the connection itself fails. */
function send(sim: Simulator, method: string, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${sim.url}/api/v4${path}`, {
    method,
    ...init,
    headers: { 'private-token': ADMIN_TOKEN, ...(init.headers as Record<string, string>) },
  });
}

/** Resolves once `condition` holds, polling briefly; fails after `ms`. */
async function until(condition: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A user whose token `DELETE /personal_access_tokens/self` revokes: a visible state change. */
function tokenOwner(sim: Simulator) {
  const alice = sim.givenUser({ username: 'alice' });
  const token = sim.givenToken(alice, ['api']);
  return { token, pat: () => sim.store.personalAccessTokens.get(token)! };
}

const socketError = expect.objectContaining({
  message: 'fetch failed',
  cause: expect.objectContaining({ code: expect.stringMatching(/^(ECONNRESET|UND_ERR_SOCKET|EPIPE)$/) }),
});

describe('respond: scripted status, body and headers', () => {
  const sim = useSimulator();

  it('answers the scripted JSON error with its headers instead of handling the request — security.md §2.3 (GitLab 500/502/503)', async () => {
    const s = sim();
    s.failNext(
      { method: 'GET', path: '/api/v4/user' },
      { status: 503, body: { message: '503 Service Unavailable' }, headers: { 'retry-after': '30' } },
    );
    const res = await get(s, '/user');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ message: '503 Service Unavailable' });
    expect(res.headers.get('retry-after')).toBe('30');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(s.requests({ path: '/api/v4/user' })).toMatchObject([{ status: 503, fault: 'respond' }]);
  });

  it('serves a proxy’s HTML 502 page as text/html, byte for byte — security.md J2 (HTML error pages from a proxy)', async () => {
    const s = sim();
    const page =
      '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';
    s.failNext({ path: '/api/v4/version' }, { status: 502, body: page });
    const res = await get(s, '/version');
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.text).toBe(page);
  });

  it('honours an explicit content type and sends a plain-text body as is — security.md J2', async () => {
    const s = sim();
    s.failNext(
      { path: '/api/v4/version' },
      { status: 500, body: 'GitLab is not responding', contentType: 'text/plain' },
    );
    const res = await get(s, '/version');
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(res.text).toBe('GitLab is not responding');
  });

  it('applies to `times` matching requests, then the endpoint answers normally again — security.md H3 (503 twice then 200)', async () => {
    const s = sim();
    s.failNext({ path: '/api/v4/user' }, { status: 500, body: { message: '500 Internal Server Error' } }, 2);
    expect((await get(s, '/user')).status).toBe(500);
    expect((await get(s, '/user')).status).toBe(500);
    const third = await get(s, '/user');
    expect(third.status).toBe(200);
    expect(third.body).toMatchObject({ username: 'root' });
  });

  it('with times = null applies until the faults are cleared — security.md §2.3 (fault held, then removed)', async () => {
    const s = sim();
    s.addFault({ path: '/api/v4/version' }, { type: 'respond', status: 503 }, null);
    for (let i = 0; i < 3; i++) expect((await get(s, '/version')).status).toBe(503);
    s.clearFaults();
    expect((await get(s, '/version')).status).toBe(200);
  });

  it('matches only the given method and path pattern (`:param`, `*`) — security.md §0 (scriptable per endpoint)', async () => {
    const s = sim();
    s.failNext({ method: 'DELETE', path: '/api/v4/personal_access_tokens/:id' }, { status: 500 });
    s.failNext({ method: 'GET', path: '/api/v4/*' }, { status: 502, body: 'bad gateway' });
    const user = await get(s, '/user');
    expect(user.status).toBe(502);
    expect((await get(s, '/version')).status).toBe(200);
    const revoke = await del(s, '/personal_access_tokens/self');
    expect(revoke.status).toBe(500);
    expect(s.store.personalAccessTokens.get(ADMIN_TOKEN)!.revoked).toBe(false);
  });

  it('records the body the client sent before the scripted failure, on any endpoint — security.md §0 (assert what was sent)', async () => {
    const s = sim();
    s.failNext(
      { method: 'POST', path: '/api/v4/users' },
      { status: 500, body: { message: '500 Internal Server Error' } },
    );
    const res = await post(s, '/users', { username: 'ext1', email: 'ext1@example.org' });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ message: '500 Internal Server Error' });
    expect(s.requests({ method: 'POST', path: '/api/v4/users' })).toMatchObject([
      { body: { username: 'ext1', email: 'ext1@example.org' }, status: 500, fault: 'respond' },
    ]);
    expect(s.unexpected).toEqual([]);
  });

  it('never applies to the control API under /-/sim — security.md §0', async () => {
    const s = sim();
    s.addFault({}, { type: 'respond', status: 500 }, null);
    const res = await get(s, '/-/sim/faults');
    expect(res.status).toBe(200);
    expect(res.body.faults).toHaveLength(1);
  });
});

describe('latency', () => {
  const sim = useSimulator();

  it('delays the next matching request, then handles it — security.md §2.3 (GitLab slow)', async () => {
    const s = sim();
    s.delayNext({ path: '/api/v4/version' }, 150);
    const started = performance.now();
    const res = await get(s, '/version');
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(res.status).toBe(200);
    const fast = performance.now();
    await get(s, '/version');
    expect(performance.now() - fast).toBeLessThan(140);
    expect(s.requests({ path: '/api/v4/version' }).map((r) => r.fault ?? null)).toEqual(['latency', null]);
  });

  it('setLatency slows every request until cleared — security.md §2.2 (simulator with realistic latency)', async () => {
    const s = sim();
    s.setLatency(100);
    for (const path of ['/version', '/user']) {
      const started = performance.now();
      expect((await get(s, path)).status).toBe(200);
      expect(performance.now() - started).toBeGreaterThanOrEqual(90);
    }
    s.clearFaults();
    expect(s.faults.baseLatencyMs).toBe(0);
  });

  it('still handles a slow request whose client gave up, as GitLab’s Puma finishes it — security.md J1', async () => {
    const s = sim();
    const { token, pat } = tokenOwner(s);
    s.delayNext({ method: 'DELETE', path: '/api/v4/personal_access_tokens/self' }, 150);
    const aborted = send(s, 'DELETE', '/personal_access_tokens/self', {
      headers: { 'private-token': token },
      signal: AbortSignal.timeout(30),
    });
    await expect(aborted).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(pat().revoked).toBe(false);
    await until(() => pat().revoked);
  });
  it('close() cancels a delayed request: it is never handled and no timer outlives the server — security.md §2.3 (no leak)', async () => {
    const s = sim();
    const { token, pat } = tokenOwner(s);
    s.delayNext({ method: 'DELETE', path: '/api/v4/personal_access_tokens/self' }, 200);
    const pending = send(s, 'DELETE', '/personal_access_tokens/self', {
      headers: { 'private-token': token },
    }).catch((e: unknown) => e);
    await until(() => s.requests({ method: 'DELETE' }).length === 1);
    const started = performance.now();
    await s.close();
    expect(performance.now() - started).toBeLessThan(150);
    expect(await pending).toEqual(socketError);
    // Past the delay: a request that was not cancelled would have been handled by now.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(pat().revoked).toBe(false);
  });
});

describe('hang', () => {
  const sim = useSimulator();

  it('never answers; the client times out and the simulator keeps serving — security.md §2.3 (GitLab hangs)', async () => {
    const s = sim();
    s.hangNext({ path: '/api/v4/user' });
    await expect(send(s, 'GET', '/user', { signal: AbortSignal.timeout(100) })).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    const [hung] = s.requests({ path: '/api/v4/user' });
    expect(hung).toMatchObject({ fault: 'hang' });
    expect(hung!.status).toBeUndefined();
    expect((await get(s, '/user')).status).toBe(200);
  });

  it('close() drops a hung connection at once instead of waiting for the client — security.md §2.3 (no leak)', async () => {
    const s = sim();
    s.hangNext({ path: '/api/v4/user' });
    const pending = send(s, 'GET', '/user').catch((e: unknown) => e);
    await until(() => s.requests({ path: '/api/v4/user' }).length === 1);
    const started = performance.now();
    await s.close();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(await pending).toEqual(socketError);
  });
});

describe('reset', () => {
  const sim = useSimulator();

  it('drops the connection before handling: the client sees a socket error and nothing changed — security.md §2.3 (reset_peer)', async () => {
    const s = sim();
    const { token, pat } = tokenOwner(s);
    s.resetNext({ method: 'DELETE', path: '/api/v4/personal_access_tokens/self' });
    const failed = await send(s, 'DELETE', '/personal_access_tokens/self', {
      headers: { 'private-token': token },
    }).catch((e: unknown) => e);
    expect(failed).toEqual(socketError);
    expect(pat().revoked).toBe(false);
    expect(s.requests({ method: 'DELETE' }).map((r) => [r.fault, r.status])).toEqual([['reset', undefined]]);
  });

  it('reset_after_apply makes the change, then drops the connection before answering — security.md §2.3 (response lost after success)', async () => {
    const s = sim();
    const { token, pat } = tokenOwner(s);
    s.resetAfterApplyNext({ method: 'DELETE', path: '/api/v4/personal_access_tokens/self' });
    const failed = await send(s, 'DELETE', '/personal_access_tokens/self', {
      headers: { 'private-token': token },
    }).catch((e: unknown) => e);
    expect(failed).toEqual(socketError);
    expect(pat().revoked).toBe(true);
    expect(s.requests({ method: 'DELETE' }).map((r) => [r.fault, r.status])).toEqual([
      ['reset_after_apply', undefined],
    ]);
    // The revoked token now gets GitLab's answer: the change really happened.
    const again = await get(s, '/user', { token });
    expect(again.status).toBe(401);
    expect(again.body.error_description).toBe('Token was revoked. You have to re-authorize from the user.');
  });
});

describe('malformed_json', () => {
  const sim = useSimulator();

  it('answers with half of the JSON body, which a client cannot parse — security.md §2.3 (malformed body)', async () => {
    const s = sim();
    s.malformedNext({ path: '/api/v4/user' });
    const res = await send(s, 'GET', '/user');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const text = await res.clone().text();
    expect(text.length).toBeGreaterThan(0);
    expect(() => JSON.parse(text)).toThrow(SyntaxError);
    await expect(res.json()).rejects.toThrow(SyntaxError);
  });

  it('turns a 204 into a 200 with an unparseable body, after applying the change — security.md J2', async () => {
    const s = sim();
    const { token, pat } = tokenOwner(s);
    s.malformedNext({ method: 'DELETE', path: '/api/v4/personal_access_tokens/self' });
    const res = await send(s, 'DELETE', '/personal_access_tokens/self', {
      headers: { 'private-token': token },
    });
    expect(res.status).toBe(200);
    await expect(res.json()).rejects.toThrow(SyntaxError);
    expect(pat().revoked).toBe(true);
  });
});
