import { describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index.js';
import { get, post, useSimulator } from './helpers.js';

// GitLab has two rate limiters with different answers (gitlab.md §7, §11 item 13): Rack::Attack
// throttles (`lib/gitlab/rack_attack.rb`) and the per-endpoint application limiter
// (`lib/gitlab/application_rate_limiter.rb`, `lib/api/helpers/rate_limiter.rb`).

const RATE_LIMIT_HEADERS = [
  'ratelimit-name',
  'ratelimit-limit',
  'ratelimit-observed',
  'ratelimit-remaining',
  'ratelimit-reset',
  'ratelimit-resettime',
  'retry-after',
];

function rateLimitHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of RATE_LIMIT_HEADERS) {
    const value = headers.get(name);
    if (value !== null) out[name] = value;
  }
  return out;
}

/** Frozen 10 s into a minute (and an hour), with a token that outlives the frozen instant. */
function frozenAt(sim: Simulator, iso = '2030-01-01T00:00:10Z'): string {
  sim.clock.freeze(new Date(iso));
  return sim.givenToken(sim.user('root')!, ['api'], null);
}

describe('Rack::Attack throttles — lib/gitlab/rack_attack.rb', () => {
  const sim = useSimulator();

  it('429 text/plain "Retry later\\n" with RateLimit-* and Retry-After once the limit is passed — Gitlab::RackAttack.throttled_response_headers', async () => {
    const s = sim();
    const token = frozenAt(s);
    s.rateLimit({ kind: 'rack_attack', match: { path: '/api/v4/user' }, limit: 2, periodSeconds: 60 });
    for (let i = 0; i < 2; i++) expect((await get(s, '/user', { token })).status).toBe(200);
    const res = await get(s, '/user', { token });
    expect(res.status).toBe(429);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(res.text).toBe('Retry later\n');
    expect(rateLimitHeaders(res.headers)).toEqual({
      'ratelimit-name': 'throttle_authenticated_api',
      'ratelimit-limit': '2',
      'ratelimit-observed': '3',
      'ratelimit-remaining': '0',
      'ratelimit-reset': String(Date.UTC(2030, 0, 1, 0, 1, 0) / 1000),
      'ratelimit-resettime': 'Tue, 01 Jan 2030 00:01:00 GMT',
      'retry-after': '50',
    });
    const next = await get(s, '/user', { token });
    expect(next.headers.get('ratelimit-observed')).toBe('4');
    expect(s.requests({ path: '/api/v4/user' }).map((r) => r.fault ?? null)).toEqual([
      null,
      null,
      'rack_attack_throttle',
      'rack_attack_throttle',
    ]);
  });

  it('normal responses carry no RateLimit-* or Retry-After headers, throttled path or not — lib/gitlab/rack_attack.rb', async () => {
    const s = sim();
    const token = frozenAt(s);
    const unthrottled = await get(s, '/user', { token });
    expect(rateLimitHeaders(unthrottled.headers)).toEqual({});
    s.rateLimit({ kind: 'rack_attack', match: { path: '/api/v4/user' }, limit: 5, periodSeconds: 60 });
    const underLimit = await get(s, '/user', { token });
    expect(underLimit.status).toBe(200);
    expect(rateLimitHeaders(underLimit.headers)).toEqual({});
  });

  it('RateLimit-Limit is the limit scaled to a 60-second window, rounded up — rack_attack.rb rounded_limit', async () => {
    const s = sim();
    const token = frozenAt(s, '2030-01-01T00:20:00Z');
    s.rateLimit({ kind: 'rack_attack', match: { path: '/api/v4/version' }, limit: 5, periodSeconds: 3600 });
    for (let i = 0; i < 5; i++) expect((await get(s, '/version', { token })).status).toBe(200);
    const res = await get(s, '/version', { token });
    expect(res.status).toBe(429);
    expect(rateLimitHeaders(res.headers)).toMatchObject({
      'ratelimit-limit': '1',
      'ratelimit-observed': '6',
      'ratelimit-remaining': '0',
      'retry-after': '2400',
      'ratelimit-resettime': 'Tue, 01 Jan 2030 01:00:00 GMT',
    });
  });

  it('counts in fixed windows aligned to the period: the next window lets requests through — rack-attack Cache#count', async () => {
    const s = sim();
    const token = frozenAt(s);
    s.rateLimit({ kind: 'rack_attack', match: { path: '/api/v4/user' }, limit: 1, periodSeconds: 60 });
    expect((await get(s, '/user', { token })).status).toBe(200);
    expect((await get(s, '/user', { token })).status).toBe(429);
    s.advanceTime(49_000);
    expect((await get(s, '/user', { token })).status).toBe(429);
    s.advanceTime(1_000);
    expect((await get(s, '/user', { token })).status).toBe(200);
  });

  it('reports the throttle’s own name and leaves other paths alone — lib/gitlab/rack_attack.rb throttle names', async () => {
    const s = sim();
    const token = frozenAt(s);
    s.rateLimit({
      kind: 'rack_attack',
      name: 'throttle_authenticated_web',
      match: { method: 'GET', path: '/api/v4/user' },
      limit: 0,
      periodSeconds: 60,
    });
    const res = await get(s, '/user', { token });
    expect(res.status).toBe(429);
    expect(res.headers.get('ratelimit-name')).toBe('throttle_authenticated_web');
    expect((await get(s, '/version', { token })).status).toBe(200);
  });

  it('answers before authentication, like middleware in front of the API — lib/gitlab/rack_attack.rb', async () => {
    const s = sim();
    frozenAt(s);
    s.rateLimit({ kind: 'rack_attack', match: { path: '/api/v4/user' }, limit: 0, periodSeconds: 60 });
    const res = await get(s, '/user', { token: 'glpat-unknown' });
    expect(res.status).toBe(429);
    expect(res.text).toBe('Retry later\n');
  });
});

describe('application rate limiter — lib/gitlab/application_rate_limiter.rb', () => {
  const sim = useSimulator();

  it('429 JSON {"message":{"error":…}} without RateLimit-* or Retry-After — lib/api/helpers/rate_limiter.rb', async () => {
    const s = sim();
    const token = frozenAt(s);
    s.rateLimit({ kind: 'application', match: { path: '/api/v4/user' }, limit: 1, periodSeconds: 600 });
    expect((await get(s, '/user', { token })).status).toBe(200);
    const res = await get(s, '/user', { token });
    expect(res.status).toBe(429);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toEqual({
      message: { error: 'This endpoint has been requested too many times. Try again later.' },
    });
    expect(rateLimitHeaders(res.headers)).toEqual({});
    expect(s.requests({ path: '/api/v4/user' }).at(-1)).toMatchObject({
      status: 429,
      fault: 'application_rate_limit',
    });
  });

  it('the limit is per window: after the period the endpoint answers again — ApplicationRateLimiter#throttled?', async () => {
    const s = sim();
    const token = frozenAt(s);
    s.rateLimit({ kind: 'application', match: { path: '/api/v4/version' }, limit: 2, periodSeconds: 60 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await get(s, '/version', { token })).status);
    expect(statuses).toEqual([200, 200, 429]);
    s.advanceTime(60_000);
    expect((await get(s, '/version', { token })).status).toBe(200);
  });

  it('is set up over HTTP too, and cleared with the faults — /-/sim/rate-limits', async () => {
    const s = sim();
    const token = frozenAt(s);
    const created = await post(s, '/-/sim/rate-limits', {
      kind: 'application',
      path: '/api/v4/version',
      limit: 0,
      period_seconds: 60,
    });
    expect(created.status).toBe(201);
    expect((await get(s, '/version', { token })).status).toBe(429);
    s.clearFaults();
    expect((await get(s, '/version', { token })).status).toBe(200);
  });
});
