import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { sql } from 'kysely';
import { afterEach, expect, it } from 'vitest';
import { AuthService } from '../../src/auth/auth.service.js';
import { ManualClock } from '../../src/clock.js';
import { TokenCipher } from '../../src/crypto/aead.js';
import { describeEachDialect } from '../support/databases.js';
import {
  guardedProbe,
  type Portal,
  type PortalClient,
  type StartPortalOptions,
  startPortal,
} from '../support/portal.js';

describeEachDialect('sessions', (dialect) => {
  let portal: Portal;
  const start = async (options: StartPortalOptions = {}) => {
    portal = await startPortal({ dialect, routes: guardedProbe, ...options });
    return portal;
  };

  afterEach(async () => {
    await portal.close();
  });

  const sessionRows = () => portal.db.db.selectFrom('sessions').selectAll().execute();
  const html = { headers: { accept: 'text/html' } };
  const json = { headers: { accept: 'application/json' } };

  async function expectSignedOut(client: PortalClient) {
    const page = await client.get('/probe', html);
    expect(page.status).toBe(303);
    expect(page.location).toBe('/extern/login?return_to=%2Fextern%2Fprobe');
    const api = await client.get('/probe', json);
    expect(api.status).toBe(401);
    expect(api.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(api.body)).toMatchObject({ status: 401, code: 'unauthorized' });
  }

  it('B3: a session ends after the idle timeout, measured on the server', async () => {
    const clock = new ManualClock();
    await start({ clock });
    const client = await portal.signIn('alice');
    clock.advance(30 * 60_000 - 1_000);
    expect((await client.get('/probe', json)).status).toBe(200);
    clock.advance(30 * 60_000 + 1_000);
    const res = await client.get('/probe', html);
    expect(res.status).toBe(303);
    expect(res.setCookies.some((c) => c.startsWith('__Host-gle_session=;'))).toBe(true);
    expect(await sessionRows()).toEqual([]);
    expect((await portal.audit('session.terminated'))[0]).toMatchObject({ reason: 'idle_timeout' });
    await expectSignedOut(client);
  });

  it('B3: a session ends at the absolute timeout however busy it is', async () => {
    const clock = new ManualClock();
    await start({ clock, config: { SESSION_ABSOLUTE_HOURS: '1' } });
    const client = await portal.signIn('alice');
    const cookie = client.sessionCookie!;
    for (let minute = 20; minute < 60; minute += 20) {
      clock.advance(20 * 60_000);
      expect((await client.get('/probe', json)).status, `minute ${minute}`).toBe(200);
    }
    clock.advance(20 * 60_000 + 1_000);
    // A cookie replayed as it was (any client-side expiry is irrelevant) does not help.
    const res = await client.get('/probe', {
      headers: { accept: 'application/json', cookie: `__Host-gle_session=${cookie}` },
    });
    expect(res.status).toBe(401);
    expect(await sessionRows()).toEqual([]);
    expect((await portal.audit('session.terminated'))[0]).toMatchObject({ reason: 'absolute_timeout' });
  });

  it('sessions nobody comes back to are purged and their grants revoked', async () => {
    const clock = new ManualClock();
    await start({ clock });
    await portal.signIn('alice');
    const bob = await portal.signIn('bob');
    clock.advance(20 * 60_000);
    expect((await bob.get('/probe', json)).status).toBe(200);
    clock.advance(11 * 60_000);
    expect(await portal.services.auth.purgeExpired()).toEqual({ loginStates: 0, sessions: 1 });
    expect((await sessionRows()).map((r) => r.username)).toEqual(['bob']);
    expect(portal.sim.requests({ method: 'POST', path: '/oauth/revoke' })).toHaveLength(1);
    expect((await portal.audit('session.terminated'))[0]).toMatchObject({
      reason: 'expired',
      actor: { username: 'alice' },
    });
  });

  it('B4: sign-out is a POST that ends the session, revokes the tokens and clears the browser', async () => {
    await start();
    const client = await portal.signIn('alice');
    const cookie = client.sessionCookie!;
    const grants = () =>
      [...portal.sim.store.accessTokens.values()].filter((t) => t.userId === portal.sim.user('alice')!.id);

    const confirm = await client.get('/logout');
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain('Sign out of the portal?');
    expect((await client.get('/probe', json)).status).toBe(200);
    expect(await sessionRows()).toHaveLength(1);
    expect(grants().every((t) => t.revokedAt === null)).toBe(true);

    const res = await client.form('/logout');
    expect(res.status).toBe(303);
    expect(res.location).toBe('/extern/?signed_out=1');
    expect(res.headers['clear-site-data']).toBe('"cookies", "storage"');
    expect(res.setCookies.some((c) => c.startsWith('__Host-gle_session=;'))).toBe(true);
    expect(await sessionRows()).toEqual([]);
    expect(portal.sim.requests({ method: 'POST', path: '/oauth/revoke' })).toHaveLength(1);
    expect(grants().every((t) => t.revokedAt !== null)).toBe(true);
    expect((await portal.audit('logout'))[0]).toMatchObject({
      outcome: 'success',
      actor: { username: 'alice' },
    });

    const landing = await client.follow(res);
    expect(landing.body).toContain('You have signed out');
    expect(landing.body).toContain('Sign in with GitLab');

    const replay = portal.client();
    replay.cookies.set('__Host-gle_session', cookie);
    await expectSignedOut(replay);
  });

  it('B4: signing out without a session just lands on the start page', async () => {
    await start();
    const client = portal.client();
    const res = await client.form('/logout', {}, { csrf: null });
    expect(res.status).toBe(303);
    expect(portal.sim.requests({ method: 'POST', path: '/oauth/revoke' })).toHaveLength(0);
  });

  it('B5: a sponsor blocked in GitLab is signed out at the next change', async () => {
    await start();
    const client = await portal.signIn('alice');
    expect((await client.form('/probe')).status).toBe(200);
    portal.sim.setUserState(portal.sim.user('alice')!, 'blocked');
    const res = await client.form('/probe', {}, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(401);
    expect(res.body).toContain(
      'Your GitLab account can no longer sponsor collaborators. Your GitLab account is blocked.',
    );
    expect(res.body).toContain('Sign in with GitLab');
    expect(res.setCookies.some((c) => c.startsWith('__Host-gle_session=;'))).toBe(true);
    expect(await sessionRows()).toEqual([]);
    expect((await portal.audit('session.terminated'))[0]).toMatchObject({
      reason: 'gitlab_blocked',
      actor: { username: 'alice' },
    });
    await expectSignedOut(client);
  });

  it('B5: page views re-check the sponsor at most every five minutes', async () => {
    const clock = new ManualClock();
    await start({ clock });
    const client = await portal.signIn('alice');
    const alice = portal.sim.user('alice')!;
    const userChecks = () => portal.sim.requests({ method: 'GET', path: `/api/v4/users/${alice.id}` }).length;
    const atSignIn = userChecks();
    clock.advance(4 * 60_000);
    expect((await client.get('/')).body).toContain('Signed in as');
    expect(userChecks()).toBe(atSignIn);

    portal.sim.store.updateUser(alice, { external: true });
    clock.advance(60_000);
    const res = await client.get('/');
    expect(res.status).toBe(401);
    expect(res.body).toContain('Your GitLab account is an external account.');
    expect(userChecks()).toBe(atSignIn + 1);
    expect((await portal.audit('session.terminated'))[0]).toMatchObject({ reason: 'gitlab_external' });
    expect((await client.get('/')).body).toContain('Sign in with GitLab');
  });

  it('B5: when GitLab is down at a page view, the page is still served', async () => {
    const clock = new ManualClock();
    await start({ clock });
    const client = await portal.signIn('alice');
    const alice = portal.sim.user('alice')!;
    clock.advance(6 * 60_000);
    portal.sim.failNext(
      { method: 'GET', path: `/api/v4/users/${alice.id}` },
      { status: 503, body: 'down' },
      3,
    );
    const res = await client.get('/');
    expect(res.status).toBe(200);
    expect(res.body).toContain('Signed in as <strong>alice</strong>');
    expect(portal.logs.join('\n')).toContain('periodic sponsor check skipped');
    expect(await sessionRows()).toHaveLength(1);
  });

  it('B5: sessions can be revoked for one user or for everyone', async () => {
    await start();
    const alice = await portal.signIn('alice');
    const aliceAgain = await portal.signIn('alice');
    const bob = await portal.signIn('bob');
    const revoked = await portal.services.auth.revokeSessions({ userId: portal.sim.user('alice')!.id });
    expect(revoked).toBe(2);
    await expectSignedOut(alice);
    await expectSignedOut(aliceAgain);
    expect((await bob.get('/probe', json)).status).toBe(200);
    const events = await portal.audit('session.terminated');
    expect(events.filter((e) => e.reason === 'revoked_by_admin')).toHaveLength(2);

    expect(await portal.services.auth.revokeSessions({ all: true })).toBe(1);
    await expectSignedOut(bob);
  });

  it('A11: twenty parallel changes share one token refresh; no token is ever in a URL', async () => {
    await start({ simSettings: { accessTokenExpiresIn: 30 } });
    const client = await portal.signIn('alice');
    await client.csrfToken();
    portal.sim.clearRequests();
    // The refresh stays in flight until every request has reached the check, however fast the rest is.
    portal.sim.delayNext({ method: 'POST', path: '/oauth/token' }, 500);
    const results = await Promise.all(Array.from({ length: 20 }, () => client.form('/probe')));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    const refreshes = portal.sim
      .requests({ method: 'POST', path: '/oauth/token' })
      .filter((r) => (r.body as Record<string, string>).grant_type === 'refresh_token');
    expect(refreshes).toHaveLength(1);
    // The superseded grant is revoked, the new one kept.
    const tokens = [...portal.sim.store.accessTokens.values()].filter(
      (t) => t.userId === portal.sim.user('alice')!.id,
    );
    expect(tokens.filter((t) => t.revokedAt === null)).toHaveLength(1);
    for (const request of portal.sim.requests()) {
      expect(Object.keys(request.query)).not.toContain('access_token');
      expect(Object.keys(request.query)).not.toContain('private_token');
    }
  });

  it('A11: when GitLab refuses the refresh token, the session ends', async () => {
    await start({ simSettings: { accessTokenExpiresIn: 30 } });
    const client = await portal.signIn('alice');
    const alice = portal.sim.user('alice')!;
    // The user revokes the portal's access in GitLab.
    for (const token of portal.sim.store.accessTokens.values()) {
      if (token.userId === alice.id) portal.sim.store.revokeAccessToken(token);
    }
    const res = await client.form('/probe', {}, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).detail).toContain('GitLab has ended your sign-in');
    expect(await sessionRows()).toEqual([]);
    expect((await portal.audit('session.terminated'))[0]).toMatchObject({ reason: 'token_refresh_failed' });
  });

  it('A11: when GitLab is down during the check, the change is refused but the session is kept', async () => {
    await start();
    const client = await portal.signIn('alice');
    const alice = portal.sim.user('alice')!;
    portal.sim.failNext(
      { method: 'GET', path: `/api/v4/users/${alice.id}` },
      { status: 503, body: 'down' },
      3,
    );
    const res = await client.form('/probe', {}, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(503);
    expect(await sessionRows()).toHaveLength(1);
    expect((await client.form('/probe')).status).toBe(200);
  });

  it('F4: the database holds no token in clear; altered ciphertext means signed out, not a crash', async () => {
    await start();
    const client = await portal.signIn('alice');
    const other = await portal.signIn('bob');
    const secrets = [...portal.sim.store.accessTokens.values()].flatMap((t) => [t.token, t.refreshToken]);
    expect(secrets.length).toBeGreaterThanOrEqual(4);
    const { db } = portal.db;
    let dump = '';
    if (dialect === 'sqlite') {
      const file = new URL(portal.db.url).pathname;
      for (const path of [file, `${file}-wal`])
        if (existsSync(path)) dump += readFileSync(path).toString('latin1');
    } else {
      for (const table of ['sessions', 'login_states', 'portal_users', 'audit_events']) {
        const rows = await sql`SELECT * FROM ${sql.table(table)}`.execute(db);
        dump += JSON.stringify(rows.rows);
      }
    }
    expect(dump.length).toBeGreaterThan(1000);
    for (const secret of secrets) expect(dump).not.toContain(secret);

    const [row] = await db.selectFrom('sessions').selectAll().where('username', '=', 'alice').execute();
    const sealed = row!.access_token_enc;
    const flipped = `${sealed.slice(0, -3)}${sealed.at(-3) === 'A' ? 'B' : 'A'}${sealed.slice(-2)}`;
    await db
      .updateTable('sessions')
      .set({ access_token_enc: flipped })
      .where('id_hash', '=', row!.id_hash)
      .execute();
    await expectSignedOut(client);
    expect((await portal.audit('session.terminated'))[0]).toMatchObject({
      reason: 'token_decryption_failed',
      outcome: 'failure',
    });

    // A ciphertext moved to another row does not open there either.
    const [bobRow] = await db.selectFrom('sessions').selectAll().where('username', '=', 'bob').execute();
    await db
      .updateTable('sessions')
      .set({ refresh_token_enc: sealed })
      .where('id_hash', '=', bobRow!.id_hash)
      .execute();
    await expectSignedOut(other);
    expect((await portal.signIn('alice')).sessionCookie).toBeDefined();
  });

  it('F4: after a key rotation old sessions keep working and are sealed again with the new key', async () => {
    await start();
    const client = await portal.signIn('alice');
    const [before] = await sessionRows();
    const oldCipher = portal.deps.cipher;
    const accessToken = oldCipher.decrypt(before!.access_token_enc, before!.id_hash);
    const rotated = new TokenCipher({
      current: randomBytes(32).toString('base64url'),
      previous: portal.config.encryptionKey.current,
    });
    const { deps } = portal;
    const restarted = new AuthService({
      db: deps.database.db,
      oidc: deps.oidc,
      gitlab: deps.gitlab,
      cipher: rotated,
      clock: deps.clock,
      audit: portal.services.audit,
      logger: deps.logger,
      base: portal.base,
      secret: portal.config.session.secret,
      settings: { idleMinutes: 30, absoluteHours: 12, sponsorGroup: undefined },
    });
    const meta = { requestId: 'test', ip: '127.0.0.1' };
    const resolved = await restarted.resolveSession(client.sessionCookie, meta);
    expect(resolved).toMatchObject({ status: 'active', session: { username: 'alice' } });
    const [after] = await sessionRows();
    expect(after!.key_id).toBe(rotated.currentKeyId);
    expect(after!.key_id).not.toBe(before!.key_id);
    expect(rotated.decrypt(after!.access_token_enc, after!.id_hash)).toBe(accessToken);
    expect(() => oldCipher.decrypt(after!.access_token_enc, after!.id_hash)).toThrow();
  });
});
