import type { Insertable, Kysely } from 'kysely';
import type { Database, LoginStateRow, LoginStatesTable } from '../db/schema.js';

export type NewLoginState = Insertable<LoginStatesTable>;

/** Pending sign-ins (between the redirect to GitLab and the callback). */
export class LoginStateRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(row: NewLoginState): Promise<void> {
    await this.#db.insertInto('login_states').values(row).execute();
  }

  /**
   * Removes the pending sign-in and returns it. The delete is the single use: of two callbacks with
   * the same state only one gets the row.
   */
  async take(idHash: string): Promise<LoginStateRow | undefined> {
    return this.#db
      .deleteFrom('login_states')
      .where('id_hash', '=', idHash)
      .returningAll()
      .executeTakeFirst();
  }

  async purgeExpired(now: string): Promise<number> {
    const result = await this.#db
      .deleteFrom('login_states')
      .where('expires_at', '<=', now)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Keeps only the `keep` newest pending sign-ins started from `ip`. */
  async trimForIp(ip: string, keep: number): Promise<void> {
    const rows = await this.#db
      .selectFrom('login_states')
      .select('id_hash')
      .where('ip', '=', ip)
      .orderBy('created_at', 'desc')
      .orderBy('id_hash')
      .execute();
    const surplus = rows.slice(keep).map((row) => row.id_hash);
    if (surplus.length > 0)
      await this.#db.deleteFrom('login_states').where('id_hash', 'in', surplus).execute();
  }

  async count(): Promise<number> {
    const row = await this.#db
      .selectFrom('login_states')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async countForBrowser(browserHash: string): Promise<number> {
    const row = await this.#db
      .selectFrom('login_states')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('browser_hash', '=', browserHash)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
