import { readFile } from 'node:fs/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseDatabaseUrl } from '../../src/db/database-url.js';
import { describeEachDialect } from '../support/databases.js';
import {
  type Portal,
  type PortalClient,
  type PortalResponse,
  scrapeForms,
  startPortal,
} from '../support/portal.js';

/**
 * F1/I4: one run through sign-in, refusals, sign-out, session ends, CSRF refusals and account
 * creation on the happy path and on every way GitLab can fail; then everything the portal produced is
 * searched for secrets: its log, every HTTP response, every row of every table, the SQLite files
 * themselves and the audit log.
 */

const CREATE_USER = { method: 'POST', path: '/api/v4/users' };
const UPSTREAM_MARKER = 'GITLAB-UPSTREAM-BODY';

let serial = 0;
function person(prefix: string) {
  serial += 1;
  return {
    name: `${prefix} Person ${serial}`,
    username: `${prefix}.person${serial}`,
    email: `${prefix}.person${serial}@partner.example`,
    organisation: 'Partner Ltd',
    reason: 'Works with us on the analysis pipeline.',
  };
}

describeEachDialect('F1/I4: no secret leaves the server', (dialect) => {
  let portal: Portal;
  /** What each scenario answered, to show it ran the path it names. */
  const outcomes: Record<string, number> = {};
  const authorizationCodes: string[] = [];
  const states: string[] = [];
  const browsers: PortalClient[] = [];

  async function signIn(username: string): Promise<{ client: PortalClient; res: PortalResponse }> {
    const client = portal.client();
    browsers.push(client);
    const { callbackPath } = await client.authorize(username);
    const params = new URL(callbackPath, 'https://portal.example').searchParams;
    authorizationCodes.push(params.get('code')!);
    states.push(params.get('state')!);
    return { client, res: await client.get(callbackPath) };
  }

  async function create(
    client: PortalClient,
    label: string,
    fields = person(label),
  ): Promise<PortalResponse> {
    const form = await client.get('/sponsorships/new');
    const token = scrapeForms(form.body).find((f) => 'form_token' in f.fields)!.fields.form_token!;
    let res = await client.form('/sponsorships', { ...fields, form_token: token });
    outcomes[label] = res.status;
    if (res.status === 303) res = await client.follow(res);
    return res;
  }

  beforeAll(async () => {
    portal = await startPortal({ dialect });
    const { sim } = portal;
    const alice = (await signIn('alice')).client;
    const bob = (await signIn('bob')).client;

    // Sign-ins that do not work: refused by policy, replayed, cancelled.
    outcomes.refused = (await signIn('eve')).res.status;
    const replay = portal.client();
    const { callbackPath } = await replay.authorize('bob');
    authorizationCodes.push(new URL(callbackPath, 'https://portal.example').searchParams.get('code')!);
    await replay.get(callbackPath);
    outcomes.replayed = (await replay.get(callbackPath)).status;
    const cancelling = portal.client();
    outcomes.cancelled = (await cancelling.get(await cancelling.deny('root'))).status;

    // Creating accounts: the happy path, then every way GitLab can fail.
    await create(alice, 'created');
    sim.failNext(CREATE_USER, { status: 409, body: { message: 'Email has already been taken' } });
    await create(alice, 'conflict');
    sim.failNext(CREATE_USER, { status: 400, body: { message: { username: ['is reserved'] } } });
    await create(alice, 'rejected');
    outcomes.invalid = (
      await alice.form('/sponsorships', { ...person('invalid'), email: 'not-an-email' })
    ).status;
    sim.failNext(CREATE_USER, { status: 401, body: { message: '401 Unauthorized' } });
    await create(alice, 'unauthorized');
    sim.failNext(CREATE_USER, { status: 403, body: { message: '403 Forbidden' } });
    await create(alice, 'forbidden');
    sim.failNext(CREATE_USER, { status: 500, body: { message: '500 Internal Server Error' } }, 2);
    await create(alice, 'error500');
    const badGateway = `<html><body><h1>502 Bad Gateway</h1><p>${UPSTREAM_MARKER}</p><hr>nginx</body></html>`;
    sim.failNext(CREATE_USER, { status: 502, body: badGateway }, 2);
    await create(alice, 'error502');
    sim.resetNext(CREATE_USER);
    await create(bob, 'reset');
    sim.hangNext(CREATE_USER);
    await create(bob, 'hang');
    sim.malformedNext(CREATE_USER);
    await create(bob, 'malformed');
    sim.failNext(
      { method: 'PUT', path: '/api/v4/users/:id/custom_attributes/:key' },
      { status: 502, body: badGateway },
    );
    await create(bob, 'attributesFailed');
    sim.failNext(
      { method: 'GET', path: '/api/v4/users/:id' },
      { status: 401, body: { message: '401 Unauthorized' } },
    );
    outcomes.sponsorCheckRefused = (await alice.form('/sponsorships', person('check'))).status;

    // The admin token's self-check failing, and readiness reporting it.
    sim.failNext(
      { method: 'GET', path: '/api/v4/personal_access_tokens/self' },
      { status: 401, body: { message: '401 Unauthorized' } },
    );
    await portal.deps.readiness.refresh();
    outcomes.readiness = (await bob.get('/readyz')).status;

    // CSRF refusals, sign-out, sessions ended by an administrator.
    outcomes.csrf = (await bob.form('/sponsorships', person('csrf'), { csrf: 'x'.repeat(43) })).status;
    outcomes.signOut = (await alice.form('/logout')).status;
    outcomes.afterSignOut = (await alice.get('/sponsorships/new')).status;
    await portal.services.auth.revokeSessions({ userId: sim.user('bob')!.id });
    outcomes.afterRevoke = (await bob.get('/sponsorships/new')).status;
  });

  afterAll(async () => {
    await portal?.close();
  });

  it('F1/I4: each scenario ran the path it names', () => {
    expect(outcomes).toEqual({
      refused: 403,
      replayed: 400,
      cancelled: 403,
      created: 303,
      conflict: 422,
      rejected: 422,
      invalid: 422,
      unauthorized: 503,
      forbidden: 503,
      error500: 503,
      error502: 503,
      reset: 303,
      hang: 303,
      malformed: 303,
      attributesFailed: 303,
      sponsorCheckRefused: 503,
      readiness: 503,
      csrf: 403,
      signOut: 303,
      afterSignOut: 303,
      afterRevoke: 303,
    });
    expect(portal.sim.requests(CREATE_USER).map((r) => r.fault ?? 'ok')).toEqual(
      expect.arrayContaining(['respond', 'reset', 'hang', 'malformed_json', 'ok']),
    );
  });

  /** Every row of every table, as text. */
  async function databaseDump(): Promise<string> {
    const { db } = portal.db;
    const tables =
      dialect === 'sqlite'
        ? (await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db)).rows
        : (
            await sql<{
              name: string;
            }>`select tablename as name from pg_tables where schemaname = 'public'`.execute(db)
          ).rows;
    expect(tables.map((t) => t.name)).toEqual(
      expect.arrayContaining(['sessions', 'audit_events', 'operations']),
    );
    const dump: string[] = [];
    for (const { name } of tables) {
      const rows = await sql`select * from ${sql.table(name)}`.execute(db);
      dump.push(`${name}: ${JSON.stringify(rows.rows)}`);
    }
    return dump.join('\n');
  }

  /** The database file and its write-ahead log, byte for byte (SQLite only). */
  async function databaseFiles(): Promise<string> {
    const target = parseDatabaseUrl(portal.db.url, process.cwd());
    if (target.dialect !== 'sqlite') return '';
    const parts = await Promise.all(
      ['', '-wal'].map((suffix) => readFile(`${target.path}${suffix}`).catch(() => Buffer.alloc(0))),
    );
    return parts.map((b) => b.toString('latin1')).join('\n');
  }

  function hits(sources: Record<string, string>, secrets: Record<string, string[]>): string[] {
    const found: string[] = [];
    for (const [where, text] of Object.entries(sources)) {
      for (const [what, values] of Object.entries(secrets)) {
        for (const value of values) {
          if (value && text.includes(value)) found.push(`${what} (${value.slice(0, 10)}…) in ${where}`);
        }
      }
    }
    return found;
  }

  it('F1/I4: no secret, token, code or session id in logs, responses, database rows, files or audit', async () => {
    const { sim } = portal;
    const oauthTokens = [...sim.store.accessTokens.values()].flatMap((t) => [t.token, t.refreshToken]);
    const sessionIds = browsers.flatMap((b) => [b.cookies.get('__Host-gle_session') ?? '']);
    const everSet = portal.setCookies.map((c) => /^__Host-gle_(?:session|login)=([^;]+)/.exec(c)?.[1] ?? '');
    const csrfTokens = (
      await sql<{ csrf_token: string }>`select csrf_token from sessions`.execute(portal.db.db)
    ).rows;
    expect(oauthTokens.length).toBeGreaterThanOrEqual(6);
    expect(authorizationCodes.length).toBeGreaterThanOrEqual(4);
    expect(everSet.filter(Boolean).length).toBeGreaterThanOrEqual(8);

    const logs = portal.logs.join('');
    const responses = portal.transcript
      .map((r) => {
        // Set-Cookie is where the cookie values belong; everything else is searched.
        const { 'set-cookie': _cookies, ...headers } = r.headers;
        return `${JSON.stringify(headers)}\n${r.body}`;
      })
      .join('\n');
    const audit = JSON.stringify(await portal.audit());
    const dump = await databaseDump();
    const files = await databaseFiles();
    const secrets = {
      canary: portal.canaries,
      prefix: ['glpat-', 'gloas-'],
      'OAuth token': oauthTokens,
      'authorization code': authorizationCodes,
    };
    expect(hits({ logs, responses, audit, dump, files }, secrets)).toEqual([]);
    // Cookie values live only in the browser (the database has their keyed hashes).
    const cookies = { 'cookie value': [...new Set([...sessionIds, ...everSet])].filter(Boolean) };
    expect(hits({ logs, responses, audit, dump, files }, cookies)).toEqual([]);
    // CSRF tokens and states belong in pages and URLs, never in the log or the audit trail.
    const formSecrets = { 'CSRF token': csrfTokens.map((r) => r.csrf_token), state: states };
    expect(hits({ logs, audit }, formSecrets)).toEqual([]);
    expect(responses).not.toContain(UPSTREAM_MARKER);
    expect(await portal.leaks()).toEqual([]);
  });
});
