/**
 * The simulator's notion of "now". It follows the wall clock, shifted by an offset that tests move
 * forward (`advance`) so that token expiry, membership expiry and dormancy can be exercised without
 * waiting. It can also be frozen at a fixed instant for deterministic assertions.
 */
export class SimClock {
  private offsetMs = 0;
  private frozenAt: number | undefined;

  nowMs(): number {
    return this.frozenAt ?? Date.now() + this.offsetMs;
  }

  now(): Date {
    return new Date(this.nowMs());
  }

  nowSeconds(): number {
    return Math.floor(this.nowMs() / 1000);
  }

  /** Moves simulated time forward (or backward with a negative value). */
  advance(ms: number): void {
    if (this.frozenAt !== undefined) this.frozenAt += ms;
    else this.offsetMs += ms;
  }

  /** Stops the clock at the given instant (or the current one); `unfreeze` lets it run again. */
  freeze(at: Date | number = this.nowMs()): void {
    this.frozenAt = typeof at === 'number' ? at : at.getTime();
  }

  get frozen(): boolean {
    return this.frozenAt !== undefined;
  }

  unfreeze(): void {
    if (this.frozenAt === undefined) return;
    this.offsetMs = this.frozenAt - Date.now();
    this.frozenAt = undefined;
  }

  /** Today's date in UTC as `YYYY-MM-DD`, the format GitLab uses for dates. */
  today(): string {
    return isoDate(this.nowMs());
  }
}

export function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** GitLab renders timestamps in UTC with milliseconds, e.g. `2024-05-01T10:00:00.000Z`. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

export const DAY_MS = 86_400_000;
