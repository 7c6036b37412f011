import { afterEach, beforeEach, expect, it } from 'vitest';
import { describeEachDialect } from '../support/databases.js';
import {
  guardedProbe,
  type Portal,
  type PortalClient,
  type PortalResponse,
  startPortal,
} from '../support/portal.js';

describeEachDialect('CSRF protection', (dialect) => {
  let portal: Portal;
  let alice: PortalClient;

  beforeEach(async () => {
    portal = await startPortal({ dialect, routes: guardedProbe });
    alice = await portal.signIn('alice');
    await alice.csrfToken();
    portal.sim.clearRequests();
  });

  afterEach(async () => {
    await portal.close();
  });

  /** Refused with 403, audited, and GitLab was not asked anything. */
  async function expectRejected(res: PortalResponse, reason: string) {
    expect(res.status).toBe(403);
    expect(res.body).toContain('This form has expired or was sent from another site.');
    expect(portal.sim.requests()).toHaveLength(0);
    const [event] = await portal.audit('csrf.rejected');
    expect(event).toMatchObject({
      outcome: 'denied',
      reason,
      details: { method: 'POST', path: '/extern/probe' },
    });
  }

  it("C1: a valid token passes; a missing one or another session's is refused", async () => {
    await expectRejected(await alice.form('/probe', {}, { csrf: null }), 'token_missing');
    await expectRejected(await alice.form('/probe', {}, { csrf: '' }), 'token_missing');
    const bob = await portal.signIn('bob');
    portal.sim.clearRequests();
    await expectRejected(await alice.form('/probe', {}, { csrf: await bob.csrfToken() }), 'token_mismatch');
    await expectRejected(await alice.post('/probe', {}, { csrf: 'x'.repeat(43) }), 'token_mismatch');
    expect((await portal.audit('csrf.rejected'))[0]!.actor).toMatchObject({ username: 'alice' });

    const ok = await alice.form('/probe');
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ ok: true, username: 'alice' });
    expect((await alice.post('/probe')).status).toBe(200);
  });

  it('C1: without a session a state-changing request is refused and asks for a sign-in (D1)', async () => {
    const stranger = portal.client();
    const res = await stranger.form('/probe', {}, { csrf: 'x'.repeat(43) });
    expect(res.status).toBe(401);
    expect(res.body).toContain('Your session has ended. Sign in with GitLab to continue.');
    expect(portal.sim.requests()).toHaveLength(0);
    expect((await portal.audit('csrf.rejected'))[0]).toMatchObject({
      outcome: 'denied',
      reason: 'no_session',
    });
  });

  it("C3: the request must come from the portal's own origin", async () => {
    await expectRejected(
      await alice.form('/probe', {}, { origin: 'https://evil.example' }),
      'origin_mismatch',
    );
    await expectRejected(await alice.form('/probe', {}, { origin: 'null' }), 'origin_mismatch');
    await expectRejected(
      await alice.form('/probe', {}, { origin: 'http://portal.example' }),
      'origin_mismatch',
    );
    await expectRejected(
      await alice.form('/probe', {}, { headers: { 'sec-fetch-site': 'cross-site' } }),
      'cross_site',
    );
    await expectRejected(await alice.form('/probe', {}, { origin: null }), 'origin_missing');
    await expectRejected(
      await alice.form('/probe', {}, { origin: null, headers: { referer: 'https://evil.example/page' } }),
      'referer_mismatch',
    );
    const viaReferer = await alice.form(
      '/probe',
      {},
      { origin: null, headers: { referer: 'https://portal.example/extern/' } },
    );
    expect(viaReferer.status).toBe(200);
    const sameSite = await alice.form('/probe', {}, { headers: { 'sec-fetch-site': 'same-origin' } });
    expect(sameSite.status).toBe(200);
  });

  it('C3: the Host header cannot make another origin acceptable', async () => {
    const res = await alice.form(
      '/probe',
      {},
      {
        origin: 'https://evil.example',
        headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' },
      },
    );
    await expectRejected(res, 'origin_mismatch');
  });

  it('C2: a token inside a text/plain body (what a cross-site form can send) is not accepted', async () => {
    const token = await alice.csrfToken();
    const res = await alice.request('POST', '/probe', {
      headers: { origin: 'https://portal.example' },
      payload: `_csrf=${token}`,
      contentType: 'text/plain',
    });
    await expectRejected(res, 'token_missing');
  });

  it('sign-out is protected too: a cross-site form cannot sign anyone out', async () => {
    const res = await alice.form('/logout', {}, { origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    expect((await alice.get('/')).body).toContain('Signed in as <strong>alice</strong>');
    const missing = await alice.form('/logout', {}, { csrf: null });
    expect(missing.status).toBe(403);
    expect(await portal.db.db.selectFrom('sessions').selectAll().execute()).toHaveLength(1);
  });

  it('C3: GET requests change nothing', async () => {
    const { db } = portal.db;
    const snapshot = async () => ({
      users: await db.selectFrom('portal_users').selectAll().execute(),
      sessions: (await db.selectFrom('sessions').select(['id_hash', 'user_id', 'csrf_token']).execute())
        .length,
      audit: (await portal.audit()).length,
    });
    const before = await snapshot();
    for (const path of ['/', '/logout', '/probe', '/no-such-page', '/assets/app.css', '/healthz']) {
      const res = await alice.get(path);
      expect(res.status, path).toBeLessThan(500);
    }
    expect(await snapshot()).toEqual(before);
    expect(portal.sim.requests().filter((r) => r.method !== 'GET')).toEqual([]);
    expect((await alice.get('/')).body).toContain('Signed in as <strong>alice</strong>');
  });
});
