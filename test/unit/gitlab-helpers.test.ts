import { describe, expect, it } from 'vitest';
import { fromGitLabError, GitLabError, UnsafePathError } from '../../src/gitlab/errors.js';
import { checkedPath, path, toSearchParams } from '../../src/gitlab/path.js';
import {
  backoffMs,
  CircuitBreaker,
  defaultBackoff,
  RetryBudget,
  retryAfterMs,
} from '../../src/gitlab/resilience.js';

describe('path', () => {
  it('encodes every value as one segment', () => {
    expect(path`projects/${'research/analysis'}/members/all/${7}`).toBe(
      'projects/research%2Fanalysis/members/all/7',
    );
    expect(path`projects/${'1/../../users'}/members`).toBe('projects/1%2F..%2F..%2Fusers/members');
    expect(path`users/${'a?b#c d'}`).toBe('users/a%3Fb%23c%20d');
  });

  it.each(['', '.', '..'])('refuses the value %j', (value) => {
    expect(() => path`users/${value}/block`).toThrow(UnsafePathError);
  });

  it.each([
    '/users',
    'users//block',
    'users/../version',
    'users/%2e%2E/version',
    'users/.%2e',
    'users?private_token=x',
    'users#x',
  ])('refuses the raw path %j', (raw) => {
    expect(() => checkedPath(raw)).toThrow(UnsafePathError);
  });
});

describe('toSearchParams', () => {
  it('writes hashes and arrays the Rails way and skips empty values', () => {
    const params = toSearchParams({
      custom_attributes: { sponsorID: 'alice' },
      user_ids: [1, 2],
      active: true,
      search: undefined,
      page: null,
    });
    expect([...params]).toEqual([
      ['custom_attributes[sponsorID]', 'alice'],
      ['user_ids[]', '1'],
      ['user_ids[]', '2'],
      ['active', 'true'],
    ]);
  });
});

describe('backoffMs', () => {
  it('grows exponentially, is capped, and stays within ±20 %', () => {
    const low = () => 0;
    const high = () => 0.999_999;
    expect(backoffMs(defaultBackoff, 1, low)).toBe(800);
    expect(backoffMs(defaultBackoff, 1, high)).toBe(1200);
    expect(backoffMs(defaultBackoff, 2, () => 0.5)).toBe(2000);
    expect(backoffMs(defaultBackoff, 20, () => 0.5)).toBe(30_000);
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2026-11-22T10:00:00Z');
  const headers = (h: Record<string, string>) => new Headers(h);

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterMs(headers({ 'retry-after': '2' }), now)).toBe(2000);
    expect(retryAfterMs(headers({ 'retry-after': 'Sun, 22 Nov 2026 10:00:30 GMT' }), now)).toBe(30_000);
    expect(retryAfterMs(headers({ 'retry-after': 'Sun, 22 Nov 2026 09:00:00 GMT' }), now)).toBe(0);
  });

  it('falls back to RateLimit-Reset, as a Unix time or as seconds', () => {
    expect(retryAfterMs(headers({ 'ratelimit-reset': String(now / 1000 + 45) }), now)).toBe(45_000);
    expect(retryAfterMs(headers({ 'ratelimit-reset': '12' }), now)).toBe(12_000);
  });

  it('is undefined when GitLab gives no usable hint', () => {
    expect(retryAfterMs(headers({}), now)).toBeUndefined();
    expect(retryAfterMs(headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
  });
});

describe('RetryBudget', () => {
  it('allows its burst, then one retry per ten requests', () => {
    const budget = new RetryBudget({ ratio: 0.1, burst: 2 });
    expect([budget.tryRetry(), budget.tryRetry(), budget.tryRetry()]).toEqual([true, true, false]);
    for (let i = 0; i < 9; i++) budget.recordRequest();
    expect(budget.tryRetry()).toBe(false);
    budget.recordRequest();
    budget.recordRequest();
    expect(budget.tryRetry()).toBe(true);
  });
});

describe('CircuitBreaker', () => {
  it('opens after the threshold, lets one probe through after the pause, and closes on success', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 2, openMs: 1000 }, () => now);
    breaker.recordFailure(false);
    expect(breaker.state).toBe('closed');
    breaker.recordFailure(false);
    expect(breaker.acquire()).toEqual({ allowed: false, retryAfterMs: 1000 });
    now = 1000;
    expect(breaker.acquire()).toEqual({ allowed: true, probe: true });
    expect(breaker.acquire()).toEqual({ allowed: false, retryAfterMs: 0 });
    breaker.recordSuccess(true);
    expect(breaker.state).toBe('closed');
    expect(breaker.acquire()).toEqual({ allowed: true, probe: false });
  });

  it('a failed probe reopens it for a full pause; a released probe lets the next call probe', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 1000 }, () => now);
    breaker.recordFailure(false);
    now = 1500;
    breaker.acquire();
    breaker.recordFailure(true);
    expect(breaker.acquire()).toEqual({ allowed: false, retryAfterMs: 1000 });
    now = 2500;
    breaker.acquire();
    breaker.release(true);
    expect(breaker.acquire()).toEqual({ allowed: true, probe: true });
  });
});

describe('fromGitLabError', () => {
  const error = (status: number, gitlabMessage?: string | Record<string, unknown>) =>
    new GitLabError({ kind: 'http', method: 'POST', path: 'users', status, gitlabMessage });

  it.each([
    [400, 'validation'],
    [401, 'upstream_unavailable'],
    [403, 'forbidden'],
    [404, 'not_found'],
    [409, 'conflict'],
    [500, 'upstream_unavailable'],
  ])('maps GitLab %i to %s', (status, code) => {
    expect(fromGitLabError(error(status)).code).toBe(code);
  });

  it('passes per-field messages on and keeps the GitLab error as cause', () => {
    const err = error(400, { username: ['is too short (minimum is 2 characters)'] });
    const domain = fromGitLabError(err);
    expect(domain.fieldErrors).toEqual({ username: ['is too short (minimum is 2 characters)'] });
    expect(domain.cause).toBe(err);
  });

  it('an unsafe path is a validation error', () => {
    expect(fromGitLabError(new UnsafePathError('x')).code).toBe('validation');
  });
});
