import type { AppDeps } from './app.js';
import { createOidcClient } from './auth/oidc.js';
import { type Clock, systemClock } from './clock.js';
import type { Config } from './config/config.js';
import { TokenCipher } from './crypto/aead.js';
import { openDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { createGitLabClient } from './gitlab/client.js';
import { Readiness } from './health/readiness.js';
import type { Logger } from './logging/logger.js';

export interface RealDeps extends AppDeps {
  /** Releases what the dependencies hold (database connections, timers). */
  close(): Promise<void>;
}

/**
 * The production adapters for a configuration: the database (migrated), the GitLab client with the
 * admin token, token encryption, the clock and readiness checks. Demo mode uses the same factory.
 */
export async function createDeps(config: Config, opts: { logger: Logger; clock?: Clock }): Promise<RealDeps> {
  const { logger } = opts;
  const clock = opts.clock ?? systemClock;
  const database = openDatabase(config.database, {
    onConnectionError: (error) => logger.warn({ code: error.code }, 'database connection lost; reconnecting'),
  });
  try {
    const applied = await migrateToLatest(database.db);
    if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
  } catch (err) {
    await database.close();
    throw err;
  }
  const gitlab = createGitLabClient(config.gitlab, {
    onCall: (event) => logger.debug({ gitlab: event }, 'gitlab call'),
  });
  const cipher = new TokenCipher(config.encryptionKey);
  const oidc = createOidcClient(config);
  const readiness = new Readiness({ database, gitlab, clock, logger, checkSignIn: () => oidc.ready() });
  return {
    config,
    database,
    gitlab,
    oidc,
    cipher,
    clock,
    logger,
    readiness,
    close: async () => {
      readiness.stop();
      await database.close();
    },
  };
}
