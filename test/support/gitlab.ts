import { randomBytes } from 'node:crypto';
import { type Simulator, type SimulatorOptions, startSimulator } from '@gitlab-extern/simulator';
import { afterEach, beforeEach } from 'vitest';
import { GitLabClient, type GitLabClientOptions } from '../../src/gitlab/client.js';
import { GitLabTransport, type GitLabTransportOptions } from '../../src/gitlab/transport.js';

/** A unique admin token per test file, so that any leak of it can be searched for. */
export const CANARY_TOKEN = `glpat-CANARY${randomBytes(10).toString('hex')}`;

/**
 * A fresh strict simulator per test. Strict mode fails the test when the adapter calls an endpoint the
 * simulator does not implement.
 */
export function useSimulator(options: SimulatorOptions = {}): () => Simulator {
  let current: Simulator | undefined;
  beforeEach(async () => {
    current = await startSimulator({ adminToken: CANARY_TOKEN, strict: true, ...options });
  });
  afterEach(async () => {
    const sim = current;
    current = undefined;
    await sim?.close();
    sim?.assertNoUnexpected();
  });
  return () => {
    if (!current) throw new Error('simulator not started');
    return current;
  };
}

/**
 * A transport tuned for tests: millisecond backoff, and a breaker and retry budget too large to
 * interfere unless a test sets them.
 */
export function testTransport(
  sim: Simulator,
  options: Partial<GitLabTransportOptions> = {},
): GitLabTransport {
  return new GitLabTransport({
    url: sim.url,
    token: CANARY_TOKEN,
    timeoutMs: 5_000,
    backoff: { baseMs: 5, maxMs: 50 },
    rateLimitFallbackMs: 20,
    breaker: { failureThreshold: 1_000, openMs: 1_000 },
    retryBudget: { ratio: 1, burst: 1_000 },
    ...options,
  });
}

export function testClient(
  sim: Simulator,
  transportOptions: Partial<GitLabTransportOptions> = {},
  clientOptions: GitLabClientOptions = {},
): GitLabClient {
  return new GitLabClient(testTransport(sim, transportOptions), clientOptions);
}

/** The rejection of `promise`, which must reject. */
export async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}
