import type { SimClock } from './clock.js';
import type { Faults } from './http/faults.js';
import type { Store } from './model/store.js';
import type { OidcKeys } from './oauth/keys.js';
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
  adminToken: string;
  strict: boolean;
  /** Recorded requests (newest last), capped at `requestLogLimit`. */
  requests: RecordedRequest[];
  requestLogLimit: number;
  unexpected: UnexpectedRequest[];
}
