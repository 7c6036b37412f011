import type { Insertable, Kysely } from 'kysely';
import { type PreparedQuery, prepared } from '../db/prepared.js';
import type { Database, SessionRow, SessionsTable } from '../db/schema.js';

export type NewSession = Insertable<SessionsTable>;

/** The encrypted token columns of a session, written together. */
export interface SessionTokenColumns {
  access_token_enc: string;
  refresh_token_enc: string | null;
  token_expires_at: string | null;
  key_id: string;
}

/** Sessions and the portal users they belong to. */
export class SessionRepository {
  readonly #db: Kysely<Database>;
  // Every signed-in request reads its session (see `prepared`).
  readonly #find: PreparedQuery<{ idHash: string }, SessionRow>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
    this.#find = prepared((value) =>
      db.selectFrom('sessions').selectAll().where('id_hash', '=', value('idHash')),
    );
  }

  /** Records a sign-in of the GitLab user `gitlabId`, creating the portal user on the first one. */
  async upsertUser(
    user: { gitlabId: number; username: string; name: string; email: string | null },
    at: string,
  ): Promise<void> {
    await this.#db
      .insertInto('portal_users')
      .values({
        gitlab_id: user.gitlabId,
        username: user.username,
        name: user.name,
        email: user.email,
        first_sign_in_at: at,
        last_sign_in_at: at,
      })
      .onConflict((oc) =>
        oc.column('gitlab_id').doUpdateSet({
          username: user.username,
          name: user.name,
          email: user.email,
          last_sign_in_at: at,
        }),
      )
      .execute();
  }

  /** Keeps the portal user's name current when GitLab reports a change after sign-in. */
  async renameUser(gitlabId: number, username: string, name: string): Promise<void> {
    await this.#db
      .updateTable('portal_users')
      .set({ username, name })
      .where('gitlab_id', '=', gitlabId)
      .execute();
  }

  /** A portal user by GitLab id, or by username in any case (GitLab usernames are case-insensitive). */
  async findUser(ref: number | string): Promise<{ id: number; username: string } | undefined> {
    const row = await this.#db
      .selectFrom('portal_users')
      .select(['gitlab_id', 'username'])
      .where((eb) =>
        typeof ref === 'number'
          ? eb('gitlab_id', '=', ref)
          : eb(eb.fn('lower', ['username']), '=', ref.toLowerCase()),
      )
      .executeTakeFirst();
    return row && { id: row.gitlab_id, username: row.username };
  }

  async insert(session: NewSession): Promise<void> {
    await this.#db.insertInto('sessions').values(session).execute();
  }

  async find(idHash: string): Promise<SessionRow | undefined> {
    return (await this.#find(this.#db, { idHash })).rows[0];
  }

  /** Deletes the session and returns it (undefined when it was already gone). */
  async delete(idHash: string): Promise<SessionRow | undefined> {
    return this.#db.deleteFrom('sessions').where('id_hash', '=', idHash).returningAll().executeTakeFirst();
  }

  async deleteForUser(userId: number): Promise<SessionRow[]> {
    return this.#db.deleteFrom('sessions').where('user_id', '=', userId).returningAll().execute();
  }

  async deleteAll(): Promise<SessionRow[]> {
    return this.#db.deleteFrom('sessions').returningAll().execute();
  }

  /** Sessions past their absolute lifetime or idle since `idleSince`. */
  async deleteExpired(now: string, idleSince: string): Promise<SessionRow[]> {
    return this.#db
      .deleteFrom('sessions')
      .where((eb) => eb.or([eb('expires_at', '<=', now), eb('last_seen_at', '<', idleSince)]))
      .returningAll()
      .execute();
  }

  async touch(idHash: string, lastSeenAt: string): Promise<void> {
    await this.#db
      .updateTable('sessions')
      .set({ last_seen_at: lastSeenAt })
      .where('id_hash', '=', idHash)
      .execute();
  }

  /**
   * Stores new tokens, but only if the session still holds `previousAccessTokenEnc`: when another
   * process refreshed first, its tokens stay. Returns whether the row was updated.
   */
  async replaceTokens(
    idHash: string,
    previousAccessTokenEnc: string,
    tokens: SessionTokenColumns,
  ): Promise<boolean> {
    const result = await this.#db
      .updateTable('sessions')
      .set(tokens)
      .where('id_hash', '=', idHash)
      .where('access_token_enc', '=', previousAccessTokenEnc)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async markChecked(
    idHash: string,
    fields: { checkedAt: string; username: string; name: string },
  ): Promise<void> {
    await this.#db
      .updateTable('sessions')
      .set({ checked_at: fields.checkedAt, username: fields.username, name: fields.name })
      .where('id_hash', '=', idHash)
      .execute();
  }
}
