import { sql } from 'kysely';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { describeEachDialect } from '../support/databases.js';
import { type Portal, scrapeForms, startPortal } from '../support/portal.js';

/**
 * E4: text built to break SQL, log lines or headers goes through every entry point (form fields,
 * query strings, paths, CSP reports, a GitLab account's name) and comes out as plain data: the
 * database keeps it verbatim, each log record stays one JSON line, the audit chain verifies.
 */

const SQL_NAME = "Robert'); DROP TABLE audit_events;--";
const LOG_FORGERY = 'evil\nINFO login.success user=admin';
const CRLF_FORGERY = 'evil\r\nINFO login.success user=admin\r\n';

/** Every record the portal logged since `from`: each must be exactly one line of JSON. */
function records(portal: Portal, from: number): Record<string, unknown>[] {
  return portal.logs.slice(from).map((chunk) => {
    expect(chunk.endsWith('\n'), chunk).toBe(true);
    expect(chunk.slice(0, -1), chunk).not.toMatch(/[\r\n\u2028\u2029]/);
    return JSON.parse(chunk) as Record<string, unknown>;
  });
}

describeEachDialect('E4: injection into the database, logs and headers', (dialect) => {
  let portal: Portal;

  beforeEach(async () => {
    portal = await startPortal({
      dialect,
      seed: {
        users: [
          {
            username: 'robert',
            name: `${SQL_NAME}\r\nINFO login.success user=admin`,
            email: 'robert@example.com',
            password: 'robert-pass-123',
          },
        ],
      },
    });
  });

  afterEach(async () => {
    expect(await portal.leaks()).toEqual([]);
    await portal.close();
  });

  it('E4: SQL and CR/LF in names stay data: the database is intact, log records stay one line each', async () => {
    const logsBefore = portal.logs.length;
    const linesBefore = portal.logs.join('').split('\n').length;

    // A GitLab account whose name is an injection signs in.
    const robert = await portal.signIn('robert', 'robert-pass-123');
    const home = await robert.get('/');
    expect(home.status).toBe(200);

    // Form fields: SQL in the name and organisation, a forged log line in the (multi-line) reason.
    const form = await robert.get('/sponsorships/new');
    const token = scrapeForms(form.body).find((f) => 'form_token' in f.fields)!.fields.form_token!;
    const input = {
      name: SQL_NAME,
      username: 'robert.tables',
      email: 'robert.tables@partner.example',
      organisation: "Evil'; DELETE FROM sessions; --",
      reason: LOG_FORGERY,
    };
    const created = await robert.form('/sponsorships', { ...input, form_token: token });
    expect(created.status).toBe(303);
    const result = await robert.follow(created);
    expect(result.body).toMatch(/Robert(&#39;|')\); DROP TABLE audit_events;--/);

    // Line breaks where the form allows none are refused, and shown back escaped.
    const refused = await robert.form('/sponsorships', { ...input, name: LOG_FORGERY, form_token: token });
    expect(refused.status).toBe(422);
    expect(refused.body).toContain('Keep the name on one line');

    // Query strings, paths, a return address and a CSP report carrying the same text.
    const check = await robert.get(
      `/sponsorships/username-check?username=${encodeURIComponent(CRLF_FORGERY)}`,
      {
        headers: { accept: 'application/json' },
      },
    );
    expect(check.status).toBe(200);
    const login = await portal
      .client()
      .get(`/login?return_to=${encodeURIComponent(`/extern/${CRLF_FORGERY}`)}`);
    expect(login.status).toBe(303);
    expect(login.location).not.toMatch(/[\r\n]/);
    expect((await robert.get(`/${encodeURIComponent(CRLF_FORGERY)}'%20OR%201=1--`)).status).toBe(404);
    const report = await portal.client().request('POST', '/csp-report', {
      payload: JSON.stringify({ 'csp-report': { 'document-uri': CRLF_FORGERY, 'blocked-uri': SQL_NAME } }),
      contentType: 'application/csp-report',
    });
    expect(report.status).toBe(204);

    // The database has every table and the text verbatim.
    const { db } = portal.db;
    const [sponsorship] = await db
      .selectFrom('sponsorships')
      .select(['name', 'organisation', 'reason'])
      .execute();
    expect(sponsorship).toEqual({ name: SQL_NAME, organisation: input.organisation, reason: LOG_FORGERY });
    const [user] = await db
      .selectFrom('portal_users')
      .select('name')
      .where('username', '=', 'robert')
      .execute();
    expect(user?.name).toBe(`${SQL_NAME}\r\nINFO login.success user=admin`);
    expect(portal.sim.user('robert.tables')).toMatchObject({ name: SQL_NAME });
    expect(await db.selectFrom('sessions').select('id_hash').execute()).toHaveLength(1);
    const tables =
      dialect === 'sqlite'
        ? (await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db)).rows
        : (
            await sql<{
              name: string;
            }>`select tablename as name from pg_tables where schemaname = 'public'`.execute(db)
          ).rows;
    expect(tables.map((t) => t.name)).toEqual(
      expect.arrayContaining(['audit_events', 'audit_chain_head', 'sessions', 'sponsorships', 'operations']),
    );

    // The audit log holds the text as data and still verifies.
    const [intent] = await portal
      .audit('sponsorship.create')
      .then((events) => events.filter((e) => e.outcome === 'intent'));
    expect(intent?.details).toMatchObject({ name: SQL_NAME, reason: LOG_FORGERY });
    expect(await portal.services.audit.verify()).toMatchObject({ ok: true });

    // Each record is one line; the line count grew by exactly the number of records.
    const added = records(portal, logsBefore);
    expect(added.length).toBeGreaterThan(10);
    expect(portal.logs.join('').split('\n').length - linesBefore).toBe(added.length);
    expect(
      portal.logs
        .join('')
        .split('\n')
        .filter((line) => line.startsWith('INFO')),
    ).toEqual([]);
    expect(added.some((r) => JSON.stringify(r).includes('evil\\r\\nINFO'))).toBe(true);
  });
});
