import type { Kysely } from 'kysely';
import type { Dialect } from '../database.js';
import * as initial from './0001_initial.js';
import * as signInBinding from './0002_sign_in_binding.js';
import * as recentOperationsIndex from './0003_recent_operations_index.js';

export interface PortableMigration {
  up(db: Kysely<unknown>, dialect: Dialect): Promise<void>;
}

/**
 * Every migration, in order. A static list rather than a directory scan, so the same code runs from
 * `src/` under the test runner and from `dist/` after a build. Names sort in the order they run.
 */
export const migrations: Readonly<Record<string, PortableMigration>> = {
  '0001_initial': initial,
  '0002_sign_in_binding': signInBinding,
  '0003_recent_operations_index': recentOperationsIndex,
};
