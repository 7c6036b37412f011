import type { Kysely } from 'kysely';

/**
 * Sign-in state for several tabs at once: a pending sign-in is keyed by the hash of its OAuth `state`
 * and bound to the browser by the hash of a random value in the pre-login cookie, so the state itself
 * is not stored. Sessions record when the sponsor's rights were last checked against GitLab.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('login_states').renameColumn('state', 'browser_hash').execute();
  await db.schema.createIndex('login_states_ip').on('login_states').columns(['ip', 'created_at']).execute();
  await db.schema
    .createIndex('login_states_browser_hash')
    .on('login_states')
    .column('browser_hash')
    .execute();
  await db.schema.alterTable('sessions').addColumn('checked_at', 'text').execute();
}
