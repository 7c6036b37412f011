import type { SimContext } from './context.js';
import { runMembershipJobs } from './membership-jobs.js';

/**
 * GitLab's background workers that matter to API clients, run on a timer and whenever simulated
 * time moves: users whose deletion was scheduled (`DeleteUserWorker`) disappear, and time-limited
 * memberships and project shares are reminded about and removed (`membership-jobs.ts`).
 */
export function runPeriodicJobs(sim: SimContext): void {
  const { store } = sim;
  const due = sim.clock.nowMs() - sim.settings.userDeletionDelayMs;
  for (const user of store.scheduledDeletions()) {
    if (user.deletionScheduledAt! <= due) store.deleteUser(user);
  }
  runMembershipJobs(store);
}
