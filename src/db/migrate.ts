import { type Kysely, type Migration, Migrator } from 'kysely';
import { dialectOf } from './database.js';
import { migrations } from './migrations/index.js';
import type { Database } from './schema.js';

/**
 * Brings the schema up to date; safe to run at every start and from several processes at once
 * (PostgreSQL takes an advisory lock, each migration runs in a transaction). Fails if the database has
 * migrations this build does not know, i.e. it was migrated by a newer version.
 * @returns the names of the migrations applied now (empty when already up to date).
 */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const dialect = dialectOf(db);
  const bound: Record<string, Migration> = {};
  for (const [name, migration] of Object.entries(migrations)) {
    bound[name] = { up: (migrationDb) => migration.up(migrationDb, dialect) };
  }
  const migrator = new Migrator({ db, provider: { getMigrations: async () => bound } });
  const { error, results = [] } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results.find((result) => result.status === 'Error')?.migrationName;
    const which = failed === undefined ? '' : ` ${failed}`;
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Database migration${which} failed: ${reason}`, { cause: error });
  }
  return results.filter((result) => result.status === 'Success').map((result) => result.migrationName);
}
