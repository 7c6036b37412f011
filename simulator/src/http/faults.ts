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
  /** Answer with this status/body instead of handling the request. */
  | {
      type: 'respond';
      status: number;
      body?: unknown;
      contentType?: string;
      headers?: Record<string, string>;
    }
  /** Wait, then handle normally. */
  | { type: 'latency'; ms: number }
  /** Never answer (the connection stays open until the client gives up or the simulator stops). */
  | { type: 'hang' }
  /** Drop the connection without handling the request. */
  | { type: 'reset' }
  /** Handle the request (the change is applied), then drop the connection before answering: the ambiguous case. */
  | { type: 'reset_after_apply' }
  /** Handle the request, then answer with a truncated, unparseable JSON body. */
  | { type: 'malformed_json' };

export interface FaultRule {
  id: number;
  match: RequestMatcher;
  action: FaultAction;
  /** How many more requests this rule applies to; null = until cleared. */
  remaining: number | null;
}

export type RateLimitRule =
  /** Rack::Attack throttle: text/plain `Retry later` with RateLimit-* and Retry-After headers. */
  | {
      kind: 'rack_attack';
      id: number;
      match: RequestMatcher;
      limit: number;
      periodSeconds: number;
      name: string;
      hits: number[];
    }
  /** Application rate limiter: JSON body, no rate-limit headers. */
  | {
      kind: 'application';
      id: number;
      match: RequestMatcher;
      limit: number;
      periodSeconds: number;
      hits: number[];
    };

export type NewRateLimit =
  | { kind: 'rack_attack'; match?: RequestMatcher; limit: number; periodSeconds: number; name?: string }
  | { kind: 'application'; match?: RequestMatcher; limit: number; periodSeconds: number };

function compile(path: string): RegExp {
  const escaped = path
    .split('/')
    .map((seg) => {
      if (seg === '*') return '.*';
      if (seg.startsWith(':')) return '[^/]+';
      return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${escaped}/?$`);
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
    const rule: FaultRule = { id: this.nextId++, match, action, remaining: times };
    this.rules.push(rule);
    return rule;
  }

  addRateLimit(input: NewRateLimit): RateLimitRule {
    const base = {
      id: this.nextId++,
      match: input.match ?? {},
      limit: input.limit,
      periodSeconds: input.periodSeconds,
      hits: [],
    };
    const rule: RateLimitRule =
      input.kind === 'rack_attack'
        ? { ...base, kind: 'rack_attack', name: input.name ?? 'throttle_authenticated_api' }
        : { ...base, kind: 'application' };
    this.rateLimits.push(rule);
    return rule;
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

  /** Counts the request against matching limits; returns the limit it exceeds, if any. */
  throttle(
    method: string,
    path: string,
  ): { rule: RateLimitRule; observed: number; resetAt: number } | undefined {
    const now = this.clock.nowMs();
    for (const rule of this.rateLimits) {
      if (!matches(rule.match, method, path)) continue;
      const periodMs = rule.periodSeconds * 1000;
      // Fixed windows aligned to the period, as Rack::Attack does.
      const windowStart = Math.floor(now / periodMs) * periodMs;
      rule.hits = rule.hits.filter((t) => t >= windowStart);
      rule.hits.push(now);
      if (rule.hits.length > rule.limit) {
        return { rule, observed: rule.hits.length, resetAt: windowStart + periodMs };
      }
    }
    return undefined;
  }
}
