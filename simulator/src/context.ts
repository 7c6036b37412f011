import type { SimClock } from './clock.js';
import type { Faults } from './http/faults.js';
import type { Store } from './model/store.js';
import type { OidcKeys } from './oauth/keys.js';
import type { OidcFaults } from './oauth/oidc.js';
import type { SimSettings } from './settings.js';

export interface RecordedRequest {
  id: number;
  at: number;
  method: string;
  /** path without query */
  path: string;
  query: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  /** status code answered, once known (undefined for dropped/hung connections) */
  status?: number;
  /**
   * The injected behaviour that answered or shaped this request: a fault type (`respond`, `latency`,
   * `hang`, `reset`, `reset_after_apply`, `malformed_json`), `rack_attack_throttle` or
   * `application_rate_limit`.
   */
  fault?: string;
}

/** A request the simulator could not answer the way GitLab would (strict mode) or that crashed it. */
export interface UnexpectedRequest {
  method: string;
  path: string;
  at: number;
  reason: string;
}

/** Everything a route needs; one per simulator instance. */
export interface SimContext {
  store: Store;
  clock: SimClock;
  settings: SimSettings;
  faults: Faults;
  keys: OidcKeys;
  /** Deliberately broken ID tokens / discovery for relying-party security tests. */
  oidcFaults: OidcFaults;
  adminToken: string;
  strict: boolean;
  /** Recorded requests (newest last), capped at `requestLogLimit`. */
  requests: RecordedRequest[];
  requestLogLimit: number;
  unexpected: UnexpectedRequest[];
}
