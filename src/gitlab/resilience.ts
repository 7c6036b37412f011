export interface BackoffOptions {
  /** Wait before the first retry. */
  baseMs: number;
  factor: number;
  maxMs: number;
  /** Random spread around each wait, as a fraction (0.2 = ±20 %). */
  jitter: number;
}

export const defaultBackoff: BackoffOptions = { baseMs: 1000, factor: 2, maxMs: 30_000, jitter: 0.2 };

/** Capped exponential backoff with jitter; `retry` is 1 for the first retry. */
export function backoffMs(
  options: BackoffOptions,
  retry: number,
  random: () => number = Math.random,
): number {
  const raw = Math.min(options.maxMs, options.baseMs * options.factor ** (retry - 1));
  const spread = raw * options.jitter * (2 * random() - 1);
  return Math.max(0, Math.round(raw + spread));
}

/**
 * How long GitLab asks us to wait, from `Retry-After` (seconds or an HTTP date) or, failing that,
 * `RateLimit-Reset` (GitLab sends a Unix time; small values are read as seconds from now, as in the
 * IETF RateLimit header draft). Undefined when neither header is usable.
 */
export function retryAfterMs(headers: Headers, now: number = Date.now()): number | undefined {
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  const reset = headers.get('ratelimit-reset')?.trim();
  if (reset && /^\d+$/.test(reset)) {
    const value = Number(reset);
    return value > 1_000_000_000 ? Math.max(0, value * 1000 - now) : value * 1000;
  }
  return undefined;
}

export interface RetryBudgetOptions {
  /** Retries allowed per request sent (0.1 = retries stay within 10 % of requests). */
  ratio: number;
  /** Retries that can be saved up; also the allowance a fresh process starts with. */
  burst: number;
}

export const defaultRetryBudget: RetryBudgetOptions = { ratio: 0.1, burst: 10 };

/**
 * A process-wide token bucket for retries: each first attempt deposits `ratio` of a token, each retry
 * takes a whole one. Under a total outage retries therefore fall to `ratio` of the traffic instead of
 * multiplying it.
 */
export class RetryBudget {
  private tokens: number;

  constructor(private readonly options: RetryBudgetOptions) {
    this.tokens = options.burst;
  }

  recordRequest(): void {
    this.tokens = Math.min(this.options.burst, this.tokens + this.options.ratio);
  }

  tryRetry(): boolean {
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export interface BreakerOptions {
  /** Consecutive upstream failures that open the breaker. */
  failureThreshold: number;
  /** How long the breaker stays open before letting one probe call through. */
  openMs: number;
}

export const defaultBreaker: BreakerOptions = { failureThreshold: 5, openMs: 30_000 };

export type BreakerState = 'closed' | 'open' | 'half_open';

/** The answer to "may I call GitLab now?": a permit to report back on, or how long to wait. */
export type BreakerDecision = { allowed: true; probe: boolean } | { allowed: false; retryAfterMs: number };

/**
 * Circuit breaker over all GitLab calls: after `failureThreshold` consecutive failed attempts it
 * refuses calls for `openMs`, then lets a single probe through; the probe's result closes or reopens it.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  private stateValue: BreakerState = 'closed';

  constructor(
    private readonly options: BreakerOptions,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    return this.stateValue;
  }

  acquire(): BreakerDecision {
    if (this.stateValue === 'closed') return { allowed: true, probe: false };
    const waited = this.now() - this.openedAt;
    if (this.stateValue === 'open' && waited >= this.options.openMs) this.stateValue = 'half_open';
    if (this.stateValue === 'half_open' && !this.probing) {
      this.probing = true;
      return { allowed: true, probe: true };
    }
    return { allowed: false, retryAfterMs: Math.max(0, this.options.openMs - waited) };
  }

  /** GitLab answered coherently (any status but a server failure). */
  recordSuccess(probe: boolean): void {
    if (probe) this.probing = false;
    this.failures = 0;
    this.stateValue = 'closed';
  }

  recordFailure(probe: boolean): void {
    if (probe) this.probing = false;
    this.failures += 1;
    const trips = probe || this.failures >= this.options.failureThreshold;
    // Calls already in flight when the breaker opened must not extend the open period.
    if (trips && this.stateValue !== 'open') {
      this.stateValue = 'open';
      this.openedAt = this.now();
    }
  }

  /** The attempt ended without telling anything about GitLab (e.g. our caller gave up). */
  release(probe: boolean): void {
    if (probe) this.probing = false;
  }
}
