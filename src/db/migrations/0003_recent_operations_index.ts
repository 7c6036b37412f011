import type { Kysely } from 'kysely';

/**
 * The start page lists a sponsor's newest operations. Without this index the query reads every
 * operation of the sponsor and sorts them, so each view grows slower with the sponsor's history; with
 * it, the newest rows are read in order and the query stops at the limit.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('operations_sponsor_created')
    .on('operations')
    .columns(['sponsor_id', 'created_at', 'id'])
    .execute();
}
