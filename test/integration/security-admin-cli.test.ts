import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CommandIo, runAuditVerify, runSessionsRevoke } from '../../src/cli/admin-commands.js';
import type { AuditEventRow } from '../../src/db/schema.js';
import { describeEachDialect } from '../support/databases.js';
import {
  type CommandResult,
  type HttpBrowser,
  type ProcessStack,
  type ServerProcess,
  startProcessStack,
} from '../support/portal-process.js';

/**
 * B5 (an administrator ends sessions) and I2 (`audit verify`) while a portal server process runs on
 * the same database: through the built `gitlab-extern` binary where the process is the point, and
 * through the command functions in this process (still beside the server) for the error cases.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const APPENDER = fileURLToPath(new URL('../support/audit-append-child.ts', import.meta.url));

describeEachDialect('B5: admin commands beside a running portal', (dialect) => {
  let stack: ProcessStack;
  let server: ServerProcess;
  const outputs: string[] = [];

  /** The built binary, as an administrator runs it. */
  async function cli(...args: string[]): Promise<CommandResult> {
    const result = await stack.command(args);
    outputs.push(result.stdout, result.stderr);
    return result;
  }

  /** The same command in this process, with its output captured. */
  async function inProcess(
    run: (io: CommandIo) => Promise<number>,
    env: Record<string, string> = {},
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const code = await run({
      env: { ...stack.env, ...env },
      cwd: stack.cwd,
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
    });
    outputs.push(stdout, stderr);
    return { code, stdout, stderr };
  }

  /** Signed in: the form opens. Signed out: sent to sign in, the cookie is cleared. */
  async function signedIn(browser: HttpBrowser): Promise<boolean> {
    const res = await browser.request('GET', '/sponsorships/new');
    if (res.status === 200) return true;
    expect(res.status).toBe(303);
    expect(res.location).toMatch(/\/login\?return_to=/);
    expect(browser.portalCookies.has('__Host-gle_session')).toBe(false);
    return false;
  }

  async function auditRows(action: string): Promise<AuditEventRow[]> {
    return stack.db.db
      .selectFrom('audit_events')
      .selectAll()
      .where('action', '=', action)
      .orderBy('seq')
      .execute();
  }

  beforeAll(async () => {
    stack = await startProcessStack(dialect);
    server = await stack.serve();
  });

  afterAll(async () => {
    if (!stack) return;
    for (const text of [...outputs, server.stdout(), server.stderr()]) {
      for (const secret of [...stack.canaries, 'glpat-', 'gloas-']) expect(text).not.toContain(secret);
    }
    // The server never met a locked database or any other failure while the commands ran.
    expect(server.logs().filter((l) => Number(l.level) >= 50)).toEqual([]);
    await stack.close();
  });

  it('B5: sessions revoke --user ends that user’s sessions; they are signed out at their next request', async () => {
    const alice = await stack.browser().signIn('alice');
    const aliceElsewhere = await stack.browser().signIn('alice');
    const bob = await stack.browser().signIn('bob');
    expect(await signedIn(alice)).toBe(true);
    const aliceId = stack.sim.user('alice')!.id;
    const bobId = stack.sim.user('bob')!.id;
    const revocations = () => stack.sim.requests({ method: 'POST', path: '/oauth/revoke' }).length;
    const revokedBefore = revocations();

    const byName = await cli('sessions', 'revoke', '--user', 'Alice');
    expect(byName).toMatchObject({ code: 0, stderr: '' });
    expect(byName.stdout).toBe(`Ended 2 sessions of @alice (GitLab id ${aliceId}).\n`);
    expect(await signedIn(alice)).toBe(false);
    expect(await signedIn(aliceElsewhere)).toBe(false);
    expect(await signedIn(bob)).toBe(true);
    // Their GitLab sign-in grants were revoked as well.
    expect(revocations() - revokedBefore).toBe(2);

    const byId = await cli('sessions', 'revoke', '--user', String(bobId), '--json');
    expect(byId.code).toBe(0);
    expect(JSON.parse(byId.stdout)).toEqual({ ended: 1, user: { id: bobId, username: 'bob' } });
    expect(await signedIn(bob)).toBe(false);

    const events = await auditRows('session.terminated');
    expect(events.map((e) => [e.actor_username, e.outcome, e.reason, e.target_name])).toEqual([
      ['alice', 'success', 'revoked_by_admin', 'alice'],
      ['alice', 'success', 'revoked_by_admin', 'alice'],
      ['bob', 'success', 'revoked_by_admin', 'bob'],
    ]);
    expect(JSON.parse(events[0]!.details!)).toEqual({
      command: 'sessions revoke',
      operator: expect.any(String),
    });
  });

  it('B5: sessions revoke --all ends every session and says how many', async () => {
    const browsers = await Promise.all(['alice', 'bob', 'alice'].map((u) => stack.browser().signIn(u)));
    const all = await inProcess((io) => runSessionsRevoke({ all: true, json: true }, io));
    expect(all).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(all.stdout)).toEqual({ ended: 3, all: true });
    for (const browser of browsers) expect(await signedIn(browser)).toBe(false);
    const none = await inProcess((io) => runSessionsRevoke({ all: true }, io));
    expect(none.stdout).toBe('Ended 0 sessions (all users).\n');
  });

  it('B5: unknown users, unclear requests and a bad configuration are refused with a message', async () => {
    const unknown = await cli('sessions', 'revoke', '--user', 'nobody');
    expect(unknown).toMatchObject({ code: 3, stdout: '' });
    expect(unknown.stderr).toBe(
      'gitlab-extern: No portal user "nobody": nobody with this GitLab id or username has signed in to the portal.\n',
    );
    const unknownJson = await inProcess((io) => runSessionsRevoke({ user: '999999', json: true }, io));
    expect(unknownJson.code).toBe(3);
    expect(JSON.parse(unknownJson.stdout)).toMatchObject({ error: { code: 'not_found' } });

    const neither = await inProcess((io) => runSessionsRevoke({}, io));
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain('--user <GitLab id or username>, or --all');
    expect((await inProcess((io) => runSessionsRevoke({ all: true, user: 'alice' }, io))).code).toBe(2);

    const misconfigured = await inProcess((io) => runAuditVerify({}, io), { SESSION_SECRET: 'Zx9Qw7Zx9Qw7' });
    expect(misconfigured.code).toBe(78);
    expect(misconfigured.stderr).toContain('SESSION_SECRET');
    expect(misconfigured.stderr).not.toContain('Zx9Qw7Zx9Qw7');
  });

  it('I2: audit verify prints a one-line summary and exits 0 while the chain holds', async () => {
    const rows = await sql<{ count: number | string }>`select count(*) as count from audit_events`.execute(
      stack.db.db,
    );
    const count = Number(rows.rows[0]!.count);
    expect(count).toBeGreaterThan(5);
    const ok = await cli('audit', 'verify');
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    expect(ok.stdout).toBe(`Audit log intact: ${count} events verified.\n`);
    const json = await inProcess((io) => runAuditVerify({ json: true }, io));
    expect(JSON.parse(json.stdout)).toEqual({ ok: true, count });
  });

  it('I2: audit verify exits non-zero naming the first broken event after an event was altered', async () => {
    const { db } = stack.db;
    // What only the database owner could do: lift the append-only guard and edit an event.
    if (dialect === 'sqlite') await sql`DROP TRIGGER audit_events_no_update`.execute(db);
    else await sql`ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change`.execute(db);
    const altered = await db
      .updateTable('audit_events')
      .set({ actor_username: 'mallory' })
      .where('seq', '=', 3)
      .executeTakeFirst();
    expect(Number(altered.numUpdatedRows)).toBe(1);

    const broken = await cli('audit', 'verify');
    expect(broken.code).toBe(1);
    expect(broken.stdout).toBe(
      'Audit log broken at event 3: event 3 was altered (2 events before it verified).\n',
    );
    const json = await inProcess((io) => runAuditVerify({ json: true }, io));
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({
      ok: false,
      count: 2,
      firstBrokenSeq: 3,
      reason: 'event 3 was altered',
    });
  });

  it('B5: the instance lock still keeps a second server off the SQLite file', async () => {
    if (dialect !== 'sqlite') return;
    const second = await cli('serve');
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain('Another gitlab-extern process is using the SQLite database');
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

const execFileAsync = promisify(execFile);

/** A process appending audit events as the server does (instance lock) or a command does (none). */
async function appender(url: string, lock: 'lock' | 'nolock', overlap: number) {
  const { stdout } = await execFileAsync(
    process.execPath,
    ['--import', './test/support/register-ts.mjs', APPENDER, url, lock, String(overlap)],
    { cwd: ROOT },
  );
  return JSON.parse(stdout) as { written: number; overlapped: number; errors: number; first: string | null };
}

// PostgreSQL serialises appends with a row lock; SQLite relies on taking its write lock first.
describe('B5: two processes writing the audit log of one SQLite file at once', () => {
  let stack: ProcessStack;

  beforeAll(async () => {
    stack = await startProcessStack('sqlite');
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('B5: the server and a maintenance command append together: no write fails, the chain verifies', async () => {
    const results = await Promise.all([
      appender(stack.db.url, 'lock', 150),
      appender(stack.db.url, 'nolock', 150),
    ]);
    for (const result of results) expect(result).toMatchObject({ overlapped: 150, errors: 0, first: null });
    const verified = await stack.command(['audit', 'verify', '--json']);
    expect(JSON.parse(verified.stdout)).toEqual({
      ok: true,
      count: results[0]!.written + results[1]!.written,
    });
  });
});
