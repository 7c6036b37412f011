import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/audit.service.js';
import { describeEachDialect } from '../support/databases.js';
import { type Portal, type PortalClient, scrapeForms, startPortal } from '../support/portal.js';

/**
 * I1: every security event is audited exactly once, with who, what, on whom, how it ended, why,
 * under which request and when (UTC). I3: when the audit log cannot be written, no account is created.
 */

const CREATE_USER = { method: 'POST', path: '/api/v4/users' };
const UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function person(username: string) {
  return {
    name: `${username} Example`,
    username,
    email: `${username}@partner.example`,
    organisation: 'Partner Ltd',
    reason: 'Works with us on the analysis pipeline.',
  };
}

describeEachDialect('I1/I3: the audit trail', (dialect) => {
  let portal: Portal;

  beforeEach(async () => {
    portal = await startPortal({ dialect });
  });

  afterEach(async () => {
    expect(await portal.leaks()).toEqual([]);
    await portal.close();
  });

  /** The audit events `work` produced, oldest first. */
  async function during(work: () => Promise<unknown>): Promise<AuditEvent[]> {
    const last = (await portal.audit())[0]?.seq ?? 0;
    const started = Date.now();
    await work();
    const events = (await portal.audit()).filter((e) => e.seq > last).reverse();
    for (const event of events) {
      expect(event.at, event.action).toMatch(UTC);
      expect(Date.parse(event.at), event.action).toBeGreaterThanOrEqual(started - 1000);
      expect(Date.parse(event.at), event.action).toBeLessThanOrEqual(Date.now() + 1000);
    }
    return events;
  }

  const summary = (events: AuditEvent[]) => events.map((e) => [e.action, e.outcome, e.reason]);

  /** Fields every event caused by a request carries. */
  function expectFromRequest(event: AuditEvent) {
    expect(event.requestId, event.action).toMatch(/^[A-Za-z0-9_-]{8,}$/);
    expect(event.ip, event.action).toMatch(/^127\.0\.\d+\.\d+$/);
  }

  async function formToken(client: PortalClient): Promise<string> {
    const page = await client.get('/sponsorships/new');
    return scrapeForms(page.body).find((f) => 'form_token' in f.fields)!.fields.form_token!;
  }

  it('I1: each sign-in outcome, sign-out and session end is audited once, with its actor and reason', async () => {
    const alice = portal.sim.user('alice')!;
    const eve = portal.sim.user('eve')!;
    let client!: PortalClient;
    const success = await during(async () => {
      client = await portal.signIn('alice');
    });
    expect(summary(success)).toEqual([['login.success', 'success', null]]);
    expect(success[0]!.actor).toEqual({ id: alice.id, username: 'alice' });
    expectFromRequest(success[0]!);

    const refused = await during(async () => {
      const res = await portal.client().signIn('eve');
      expect(res.status).toBe(403);
    });
    expect(summary(refused)).toEqual([['login.refused', 'denied', 'external']]);
    expect(refused[0]).toMatchObject({
      actor: { id: eve.id, username: 'eve' },
      target: { type: 'user', id: String(eve.id) },
    });
    expectFromRequest(refused[0]!);

    const failed = await during(async () => {
      const browser = portal.client();
      const { callbackPath } = await browser.authorize('bob');
      expect((await portal.client().get(callbackPath)).status).toBe(400);
    });
    expect(summary(failed)).toEqual([['login.failed', 'failure', 'state_not_bound_to_browser']]);
    expect(failed[0]!.actor).toBeNull();
    expectFromRequest(failed[0]!);

    const signedOut = await during(() => client.form('/logout'));
    expect(summary(signedOut)).toEqual([['logout', 'success', 'user_signed_out']]);
    expect(signedOut[0]!.actor).toEqual({ id: alice.id, username: 'alice' });
    expectFromRequest(signedOut[0]!);

    const bob = await portal.signIn('bob');
    const bobId = portal.sim.user('bob')!.id;
    const bobsForm = await formToken(bob);
    portal.sim.setUserState(portal.sim.user('bob')!, 'blocked');
    const terminated = await during(async () => {
      const res = await bob.form('/sponsorships', { ...person('jane.blocked'), form_token: bobsForm });
      expect(res.status).toBe(401);
    });
    expect(summary(terminated)).toEqual([['session.terminated', 'success', 'gitlab_blocked']]);
    expect(terminated[0]!.actor).toEqual({ id: bobId, username: 'bob' });
    expectFromRequest(terminated[0]!);

    await portal.signIn('alice');
    const revoked = await during(() =>
      portal.services.auth.revokeSessions({ userId: alice.id }, null, { command: 'sessions revoke' }),
    );
    expect(summary(revoked)).toEqual([['session.terminated', 'success', 'revoked_by_admin']]);
    expect(revoked[0]).toMatchObject({
      target: { type: 'user', id: String(alice.id), name: 'alice' },
      details: { command: 'sessions revoke' },
    });
  });

  it('I1: a CSRF refusal is audited with the actor, the route and why', async () => {
    const alice = await portal.signIn('alice');
    const token = await formToken(alice);
    const events = await during(async () => {
      const res = await alice.form(
        '/sponsorships',
        { ...person('csrf.case'), form_token: token },
        { csrf: null },
      );
      expect(res.status).toBe(403);
    });
    expect(summary(events)).toEqual([['csrf.rejected', 'denied', 'token_missing']]);
    expect(events[0]).toMatchObject({
      actor: { username: 'alice' },
      details: { method: 'POST', path: '/extern/sponsorships' },
    });
    expectFromRequest(events[0]!);
    expect(portal.sim.requests(CREATE_USER)).toEqual([]);
  });

  it('I1/H2: cross-site posts without a session are refused, and audited at most 30 a minute per address', async () => {
    const crossSite = { origin: 'https://attacker.example', csrf: null };
    const flooder = portal.client({ ip: '198.51.100.7' });
    const events = await during(async () => {
      for (let i = 0; i < 35; i++) {
        expect((await flooder.form('/sponsorships', person('flood'), crossSite)).status).toBe(403);
      }
    });
    expect(events).toHaveLength(30);
    for (const event of events) {
      expect(event).toMatchObject({
        action: 'csrf.rejected',
        outcome: 'denied',
        actor: null,
        ip: '198.51.100.7',
      });
    }
    const unaudited = portal.logs.filter((l) => l.includes('CSRF refusal not audited'));
    expect(unaudited).toHaveLength(5);
    expect(JSON.parse(unaudited[0]!)).toMatchObject({ level: 40, path: '/extern/sponsorships' });

    // Other addresses, and signed-in sponsors elsewhere, are still audited.
    const other = await during(() => portal.client({ ip: '198.51.100.8' }).form('/logout', {}, crossSite));
    expect(other.map((e) => [e.action, e.ip])).toEqual([['csrf.rejected', '198.51.100.8']]);
    expect(portal.sim.requests(CREATE_USER)).toEqual([]);
  });

  it('I1: a creation is audited as intent and outcome, under one request', async () => {
    const alice = await portal.signIn('alice');
    const token = await formToken(alice);
    const events = await during(async () => {
      expect((await alice.form('/sponsorships', { ...person('jane.doe'), form_token: token })).status).toBe(
        303,
      );
    });
    const created = portal.sim.user('jane.doe')!;
    expect(summary(events)).toEqual([
      ['sponsorship.create', 'intent', null],
      ['sponsorship.create', 'success', null],
    ]);
    const [intent, outcome] = events as [AuditEvent, AuditEvent];
    expect(intent).toMatchObject({
      actor: { username: 'alice' },
      target: { type: 'user', id: null, name: 'jane.doe' },
      details: { email: 'jane.doe@partner.example', organisation: 'Partner Ltd' },
    });
    expect(outcome).toMatchObject({
      actor: { username: 'alice' },
      target: { type: 'user', id: String(created.id), name: 'jane.doe' },
      details: { operationId: intent.details!.operationId, external: true },
    });
    expect(outcome.requestId).toBe(intent.requestId);
    expectFromRequest(intent);
    expectFromRequest(outcome);
    expect(portal.sim.requests(CREATE_USER)).toHaveLength(1);
  });

  it('I1: a user GitLab did not restrict is blocked, and the failure says so', async () => {
    const alice = await portal.signIn('alice');
    const token = await formToken(alice);
    const { sim } = portal;
    const newId = sim.store.nextUserId();
    // Hold the first attribute call until the test has made GitLab "forget" the restrictions (D6).
    sim.delayNext({ method: 'PUT', path: `/api/v4/users/${newId}/custom_attributes/:key` }, 300);
    const events = await during(async () => {
      const sent = alice.form('/sponsorships', { ...person('jane.loose'), form_token: token });
      while (!sim.user('jane.loose')) await sleep(5);
      sim.store.updateUser(sim.user('jane.loose')!, { external: false });
      expect((await sent).status).toBe(303);
    });
    expect(summary(events)).toEqual([
      ['sponsorship.create', 'intent', null],
      ['sponsorship.create', 'failure', 'verification_failed'],
    ]);
    expect(events[1]).toMatchObject({
      target: { type: 'user', id: String(newId), name: 'jane.loose' },
      details: { blocked: true },
    });
    expect(sim.user('jane.loose')!.state).toBe('blocked');
  });

  it('I3: when the audit log cannot be written, creating answers 503 and GitLab never sees the POST', async () => {
    const alice = await portal.signIn('alice');
    const token = await formToken(alice);
    const { db } = portal.db;
    if (dialect === 'sqlite') {
      await sql`CREATE TRIGGER audit_unwritable BEFORE INSERT ON audit_events
        BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`.execute(db);
    } else {
      await sql`CREATE FUNCTION audit_unwritable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'could not extend file' USING ERRCODE = 'disk_full'; END $$`.execute(db);
      await sql`CREATE TRIGGER audit_unwritable BEFORE INSERT ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_unwritable()`.execute(db);
    }
    const page = await alice.form('/sponsorships', { ...person('jane.unaudited'), form_token: token });
    expect(page.status).toBe(503);
    expect(page.body).toContain('cannot record changes right now');
    const json = await alice.form(
      '/sponsorships',
      { ...person('jane.unaudited'), form_token: await formToken(alice) },
      { headers: { accept: 'application/json' } },
    );
    expect(json.status).toBe(503);
    expect(JSON.parse(json.body)).toMatchObject({ status: 503, code: 'storage_unavailable' });
    expect(portal.sim.requests(CREATE_USER)).toEqual([]);
    expect(portal.sim.user('jane.unaudited')).toBeUndefined();
    expect(await db.selectFrom('operations').select('id').execute()).toEqual([]);

    // Writable again: the same request goes through and the chain still verifies.
    await sql`DROP TRIGGER audit_unwritable${dialect === 'postgres' ? sql` ON audit_events` : sql``}`.execute(
      db,
    );
    const res = await alice.form('/sponsorships', {
      ...person('jane.unaudited'),
      form_token: await formToken(alice),
    });
    expect(res.status).toBe(303);
    expect(await portal.services.audit.verify()).toMatchObject({ ok: true });
  });
});
