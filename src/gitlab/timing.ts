import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';

/** GitLab time spent on behalf of one inbound request (for `Server-Timing`). */
export interface GitLabTiming {
  /** HTTP requests sent to GitLab, retries included. */
  calls: number;
  /**
   * Wall-clock milliseconds during which at least one GitLab call was in flight, waits between retries
   * included. Calls made at the same time count once, so the rest of the request's time is the
   * portal's own.
   */
  ms: number;
}

interface Account extends GitLabTiming {
  inFlight: number;
  /** When `inFlight` last went from 0 to 1. */
  since: number;
}

const storage = new AsyncLocalStorage<Account>();

/** Runs `fn` with a fresh GitLab timing account; calls made anywhere inside it are added to it. */
export function withGitLabTiming<T>(fn: () => T): T {
  return storage.run({ calls: 0, ms: 0, inFlight: 0, since: 0 }, fn);
}

/** A snapshot of the current account (calls still in flight count up to now); zeros outside `withGitLabTiming`. */
export function currentGitLabTiming(): GitLabTiming {
  const account = storage.getStore();
  if (!account) return { calls: 0, ms: 0 };
  const open = account.inFlight > 0 ? performance.now() - account.since : 0;
  return { calls: account.calls, ms: account.ms + open };
}

/** Marks the start of a GitLab call; the returned function ends it, with the HTTP requests it took. */
export function startGitLabCall(): (requests: number) => void {
  const account = storage.getStore();
  if (!account) return () => {};
  if (account.inFlight === 0) account.since = performance.now();
  account.inFlight += 1;
  return (requests) => {
    account.calls += requests;
    account.inFlight -= 1;
    if (account.inFlight === 0) account.ms += performance.now() - account.since;
  };
}
