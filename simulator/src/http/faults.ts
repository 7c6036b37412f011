import type { SimClock } from '../clock.js';

/**
 * Fault injection for tests: make GitLab slow, broken, ambiguous or rate limited, the way a real
 * instance (or the network in front of it) can be.
 */
export interface RequestMatcher {
  /** HTTP method; any when omitted. */
  method?: string;
  /**
   * Path of the request without query, e.g. `/api/v4/users` or a pattern with `:param` and `*`
   * segments (`/api/v4/users/:id/block`, `/api/v4/projects/*`). Any path when omitted.
   */
  path?: string;
}

export type FaultAction =
  /**
   * Read the request, then answer with this status/body instead of handling it. A string body is
   * sent as-is (as `text/html` when it starts with `<`, else `text/plain`, unless `contentType` or a
   * `content-type` header says otherwise), e.g. a proxy's 502 page; any other body is sent as JSON.
   */
  | {
      type: 'respond';
      status: number;
      body?: unknown;
      contentType?: string;
      headers?: Record<string, string>;
    }
  /**
   * Wait, then handle normally. The request is handled even if the client gave up meanwhile, as
   * GitLab's Puma finishes requests whose client has left; only stopping the simulator cancels it.
   */
  | { type: 'latency'; ms: number }
  /**
   * Read the request, then never answer: the connection stays open until the client gives up or
   * the simulator stops.
   */
  | { type: 'hang' }
  /** Drop the connection (TCP reset) without reading or handling the request. */
  | { type: 'reset' }
  /**
   * Handle the request (the change is applied), then reset the connection before any byte of the
   * answer is sent: the ambiguous outcome a client must reconcile.
   */
  | { type: 'reset_after_apply' }
  /** Handle the request, then answer with its JSON body cut in half (unparseable). */
  | { type: 'malformed_json' };

export interface FaultRule {
  id: number;
  match: RequestMatcher;
  action: FaultAction;
  /** How many more requests this rule applies to; null = until cleared. */
  remaining: number | null;
}

interface RateLimitCounter {
  id: number;
  match: RequestMatcher;
  limit: number;
  periodSeconds: number;
  /** Start (Unix seconds) of the fixed window being counted, and the requests counted in it. */
  windowStart: number;
  count: number;
}

export type RateLimitRule =
  /** Rack::Attack throttle: text/plain `Retry later` with RateLimit-* and Retry-After headers. */
  | (RateLimitCounter & { kind: 'rack_attack'; name: string })
  /** Application rate limiter: JSON body, no rate-limit headers. */
  | (RateLimitCounter & { kind: 'application' });

/** What a throttled request is answered with (`Gitlab::RackAttack.throttled_response_headers`). */
export interface Throttled {
  rule: RateLimitRule;
  observed: number;
  /** Unix seconds at which the window ends. */
  resetAt: number;
  retryAfter: number;
}

export type NewRateLimit =
  | { kind: 'rack_attack'; match?: RequestMatcher; limit: number; periodSeconds: number; name?: string }
  | { kind: 'application'; match?: RequestMatcher; limit: number; periodSeconds: number };

const compiled = new Map<string, RegExp>();

function compile(path: string): RegExp {
  let re = compiled.get(path);
  if (re) return re;
  const escaped = path
    .split('/')
    .map((seg) => {
      if (seg === '*') return '.*';
      if (seg.startsWith(':')) return '[^/]+';
      return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  re = new RegExp(`^${escaped}/?$`);
  // Patterns come from tests and the control API; a cap keeps a runaway caller from growing this.
  if (compiled.size >= 1000) compiled.clear();
  compiled.set(path, re);
  return re;
}

export function matches(m: RequestMatcher, method: string, path: string): boolean {
  if (m.method && m.method.toUpperCase() !== method.toUpperCase()) return false;
  if (m.path === undefined) return true;
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // keep the raw path
  }
  const re = compile(m.path);
  return re.test(path) || re.test(decoded);
}

export class Faults {
  rules: FaultRule[] = [];
  rateLimits: RateLimitRule[] = [];
  /** Latency added to every request (ms). */
  baseLatencyMs = 0;
  private nextId = 1;

  constructor(private readonly clock: SimClock) {}

  add(match: RequestMatcher, action: FaultAction, times: number | null = 1): FaultRule {
    if (times !== null && !(Number.isInteger(times) && times >= 1)) {
      throw new Error(`a fault applies to a whole number (>= 1) of requests, or null for all; got ${times}`);
    }
    const rule: FaultRule = { id: this.nextId++, match, action, remaining: times };
    this.rules.push(rule);
    return rule;
  }

  addRateLimit(input: NewRateLimit): RateLimitRule {
    if (!(Number.isInteger(input.limit) && input.limit >= 0))
      throw new Error(`rate limit: limit must be a whole number, got ${input.limit}`);
    if (!(Number.isInteger(input.periodSeconds) && input.periodSeconds >= 1))
      throw new Error(`rate limit: periodSeconds must be a whole number >= 1, got ${input.periodSeconds}`);
    const base = {
      id: this.nextId++,
      match: input.match ?? {},
      limit: input.limit,
      periodSeconds: input.periodSeconds,
      windowStart: 0,
      count: 0,
    };
    const rule: RateLimitRule =
      input.kind === 'rack_attack'
        ? { ...base, kind: 'rack_attack', name: input.name ?? 'throttle_authenticated_api' }
        : { ...base, kind: 'application' };
    this.rateLimits.push(rule);
    return rule;
  }

  /** Removes one fault or rate limit by id; false when there is none. */
  remove(id: number): boolean {
    const before = this.rules.length + this.rateLimits.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    this.rateLimits = this.rateLimits.filter((r) => r.id !== id);
    return this.rules.length + this.rateLimits.length < before;
  }

  clear(): void {
    this.rules = [];
    this.rateLimits = [];
    this.baseLatencyMs = 0;
  }

  /** Picks (and consumes) the first rule matching this request. */
  take(method: string, path: string): FaultAction | undefined {
    const i = this.rules.findIndex((r) => matches(r.match, method, path));
    if (i === -1) return undefined;
    const rule = this.rules[i]!;
    if (rule.remaining !== null && --rule.remaining <= 0) this.rules.splice(i, 1);
    return rule.action;
  }

  /**
   * Counts the request against the matching limits in order and returns the first one it exceeds
   * (later limits are not counted then, like rack-attack's `throttles.any?`). Windows are fixed and
   * aligned to the period in Unix seconds; a request is throttled once the count exceeds the limit
   * (rack-attack `Cache#count`, `Gitlab::ApplicationRateLimiter#throttled?`).
   */
  throttle(method: string, path: string): Throttled | undefined {
    const now = this.clock.nowSeconds();
    for (const rule of this.rateLimits) {
      if (!matches(rule.match, method, path)) continue;
      const windowStart = now - (now % rule.periodSeconds);
      if (rule.windowStart !== windowStart) {
        rule.windowStart = windowStart;
        rule.count = 0;
      }
      rule.count++;
      if (rule.count > rule.limit) {
        const retryAfter = rule.periodSeconds - (now % rule.periodSeconds);
        return { rule, observed: rule.count, resetAt: now + retryAfter, retryAfter };
      }
    }
    return undefined;
  }
}
