import { AsyncLocalStorage } from 'node:async_hooks';

/** GitLab time spent on behalf of one inbound request (for `Server-Timing`). */
export interface GitLabTiming {
  /** HTTP requests sent to GitLab, retries included. */
  calls: number;
  /** Sum of the durations of the GitLab calls, waits between retries included. */
  ms: number;
}

const storage = new AsyncLocalStorage<GitLabTiming>();

/** Runs `fn` with a fresh GitLab timing account; calls made anywhere inside it are added to it. */
export function withGitLabTiming<T>(fn: () => T): T {
  return storage.run({ calls: 0, ms: 0 }, fn);
}

/** A snapshot of the current account; zeros outside `withGitLabTiming`. */
export function currentGitLabTiming(): GitLabTiming {
  const timing = storage.getStore();
  return { calls: timing?.calls ?? 0, ms: timing?.ms ?? 0 };
}

export function recordGitLabCall(requests: number, ms: number): void {
  const timing = storage.getStore();
  if (!timing) return;
  timing.calls += requests;
  timing.ms += ms;
}
