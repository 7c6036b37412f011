import { createHash } from 'node:crypto';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { keyedHash } from '../../src/crypto/random.js';
import { describeEachDialect } from '../support/databases.js';
import { type Portal, type PortalResponse, startPortal } from '../support/portal.js';

function sessionCookieOf(res: PortalResponse): string | undefined {
  const header = res.setCookies.find((c) => c.startsWith('__Host-gle_session='));
  const value = header?.split(';')[0]?.split('=')[1];
  return value ? value : undefined;
}

describeEachDialect('sign-in with GitLab', (dialect) => {
  let portal: Portal;

  beforeEach(async () => {
    portal = await startPortal({ dialect });
  });

  afterEach(async () => {
    await portal.close();
  });

  it('signs alice in through GitLab and shows her start page', async () => {
    const alice = portal.sim.user('alice')!;
    const client = portal.client();
    const { login, authorizeUrl, callbackPath } = await client.authorize('alice');
    expect(login.status).toBe(303);
    expect(authorizeUrl.origin + authorizeUrl.pathname).toBe(`${portal.sim.url}/oauth/authorize`);

    const callback = await client.get(callbackPath);
    expect(callback.status).toBe(303);
    expect(callback.location).toBe('/extern/');
    const cookie = sessionCookieOf(callback);
    expect(cookie).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const home = await client.follow(callback);
    expect(home.status).toBe(200);
    expect(home.body).toContain('Signed in as <strong>alice</strong>');
    expect(home.body).toContain('Welcome, Alice Martin');
    expect(home.body).toContain('You have not sponsored anyone yet.');
    expect(home.body).toContain('href="/extern/sponsorships/new"');

    const { db } = portal.db;
    const users = await db.selectFrom('portal_users').selectAll().execute();
    expect(users).toMatchObject([
      { gitlab_id: alice.id, username: 'alice', name: 'Alice Martin', email: 'alice@research.example' },
    ]);
    const sessions = await db.selectFrom('sessions').selectAll().execute();
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({
      id_hash: keyedHash(portal.config.session.secret)(cookie!),
      user_id: alice.id,
      username: 'alice',
      ip: '127.0.0.2',
    });
    expect(sessions[0]!.access_token_enc).toMatch(/^v1\./);
    expect(sessions[0]!.refresh_token_enc).toMatch(/^v1\./);
    expect(await db.selectFrom('login_states').selectAll().execute()).toEqual([]);

    const [success] = await portal.audit('login.success');
    expect(success).toMatchObject({
      actor: { id: alice.id, username: 'alice' },
      outcome: 'success',
      ip: '127.0.0.2',
    });

    const [token] = portal.sim.requests({ method: 'POST', path: '/oauth/token' });
    expect(token!.body).toMatchObject({
      grant_type: 'authorization_code',
      redirect_uri: 'https://portal.example/extern/oauth/callback',
      client_id: portal.config.gitlab.clientId,
    });
    expect((token!.body as Record<string, string>).code_verifier).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
  });

  it('A1: a thousand sign-ins get unique states and S256 challenges; verifiers never leave the server', async () => {
    const states = new Set<string>();
    const challenges = new Set<string>();
    const challengeByState = new Map<string, string>();
    for (let i = 0; i < 1000; i++) {
      const client = portal.client({ ip: `127.1.${i >> 8}.${i & 255}` });
      const res = await client.get('/login');
      expect(res.status).toBe(303);
      const url = new URL(res.location!);
      const params = url.searchParams;
      expect(params.get('response_type')).toBe('code');
      expect(params.get('code_challenge_method')).toBe('S256');
      expect(params.getAll('code_challenge_method')).toHaveLength(1);
      const challenge = params.get('code_challenge')!;
      const state = params.get('state')!;
      expect(challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(state.length).toBeGreaterThanOrEqual(22);
      expect(params.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      states.add(state);
      challenges.add(challenge);
      challengeByState.set(state, challenge);
    }
    expect(states.size).toBe(1000);
    expect(challenges.size).toBe(1000);
    expect(portal.transcript.some((r) => r.location?.includes('plain'))).toBe(false);

    const rows = await portal.db.db.selectFrom('login_states').selectAll().execute();
    expect(rows).toHaveLength(1000);
    const output = [
      ...portal.logs,
      ...portal.transcript.map((r) => `${JSON.stringify(r.headers)}${r.body}`),
    ].join('\n');
    for (const row of rows.slice(0, 50)) {
      const verifier = portal.deps.cipher.decrypt(row.code_verifier_enc, row.id_hash);
      expect(verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(output).not.toContain(verifier);
      expect(JSON.stringify(row)).not.toContain(verifier);
      const state = [...states].find((s) => keyedHash(portal.config.session.secret)(s) === row.id_hash)!;
      expect(createHash('sha256').update(verifier).digest('base64url')).toBe(challengeByState.get(state));
    }
  });

  it('A5: Host and X-Forwarded-Host do not change the redirect URI sent to GitLab', async () => {
    const client = portal.client();
    const hostile = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' };
    const { authorizeUrl, callbackPath } = await client.authorize('alice', undefined, { headers: hostile });
    expect(authorizeUrl.searchParams.get('redirect_uri')).toBe(
      'https://portal.example/extern/oauth/callback',
    );
    const res = await client.get(callbackPath, { headers: hostile });
    expect(res.status).toBe(303);
    const [token] = portal.sim.requests({ method: 'POST', path: '/oauth/token' });
    expect((token!.body as Record<string, string>).redirect_uri).toBe(
      'https://portal.example/extern/oauth/callback',
    );
  });

  it('A6: every hostile return_to lands on the start page; a portal path is honoured', async () => {
    const hostile = [
      'https://evil.com',
      '//evil.com',
      '/\\evil.com',
      '\\/evil.com',
      '/%2F%2Fevil.com',
      'javascript:alert(1)',
      'https://portal.example.evil.com',
      '/%0d%0aLocation:%20https://evil.com',
      '/extern//evil.com',
      '/extern/../evil',
      '/extern/%2e%2e/%2e%2e/evil',
      '/extern/logout',
    ];
    for (const returnTo of hostile) {
      const res = await portal.client().signIn('alice', undefined, { returnTo });
      expect(res.status, returnTo).toBe(303);
      expect(res.location, returnTo).toBe('/extern/');
      expect(Object.keys(res.headers).filter((h) => h.toLowerCase() === 'location')).toHaveLength(1);
    }
    const good = await portal
      .client()
      .signIn('alice', undefined, { returnTo: '/extern/sponsorships/new?step=2' });
    expect(good.location).toBe('/extern/sponsorships/new?step=2');
  });

  it('A8: the callback answers with a 303 to a clean URL, no Referer, and the code stays out of the logs', async () => {
    const client = portal.client();
    const { callbackPath } = await client.authorize('alice');
    const code = new URL(callbackPath, 'https://portal.example').searchParams.get('code')!;
    const res = await client.get(callbackPath);
    expect(res.status).toBe(303);
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.location).toBe('/extern/');
    const landing = await client.follow(res);
    for (const [, url] of landing.body.matchAll(/(?:href|src|action)="([^"]*)"/g)) {
      expect(url!.startsWith('/') || url!.startsWith('#'), url).toBe(true);
      expect(url!.startsWith('//'), url).toBe(false);
    }
    expect(portal.logs.join('\n')).not.toContain(code);
    // A failed callback gets the same header.
    const again = await client.get(callbackPath);
    expect(again.status).toBe(400);
    expect(again.headers['referrer-policy']).toBe('no-referrer');
  });

  it('A9: only openid, profile and email are requested', async () => {
    const res = await portal.client().get('/login');
    const scopes = new URL(res.location!).searchParams.get('scope')!.split(' ');
    expect(scopes.sort()).toEqual(['email', 'openid', 'profile']);
  });

  it('A10: identity is the GitLab user id: a renamed user keeps the account, a reused e-mail does not get it', async () => {
    const alice = portal.sim.user('alice')!;
    await portal.signIn('alice');
    portal.sim.store.updateUser(alice, { username: 'alice-m', email: 'alice.m@research.example' });
    const renamed = await portal.signIn('alice-m', 'demo-alice-pass');
    expect((await renamed.get('/')).body).toContain('Signed in as <strong>alice-m</strong>');
    const { db } = portal.db;
    expect(await db.selectFrom('portal_users').select(['gitlab_id', 'username', 'email']).execute()).toEqual([
      { gitlab_id: alice.id, username: 'alice-m', email: 'alice.m@research.example' },
    ]);

    const carol = portal.sim.givenUser({
      username: 'carol',
      name: 'Carol',
      email: 'alice@research.example',
      password: 'carol-pass-123',
    });
    const client = await portal.signIn('carol', 'carol-pass-123');
    expect((await client.get('/')).body).toContain('Signed in as <strong>carol</strong>');
    const users = await db
      .selectFrom('portal_users')
      .select(['gitlab_id', 'username'])
      .orderBy('gitlab_id')
      .execute();
    expect(users).toEqual([
      { gitlab_id: alice.id, username: 'alice-m' },
      { gitlab_id: carol.id, username: 'carol' },
    ]);
    const sessions = await db
      .selectFrom('sessions')
      .select(['user_id', 'username'])
      .orderBy('user_id')
      .execute();
    expect(sessions.map((s) => s.user_id)).toEqual([alice.id, alice.id, carol.id]);
  });

  it('B1: the session id is new at sign-in and a planted cookie is never adopted', async () => {
    const client = portal.client();
    client.cookies.set('__Host-gle_session', 'attacker-chosen-value-attacker-chosen-value');
    const before = await client.get('/');
    expect(before.body).toContain('Sign in with GitLab');
    client.cookies.set('__Host-gle_session', 'A'.repeat(43));
    const res = await client.signIn('alice');
    const issued = sessionCookieOf(res)!;
    expect(issued).not.toBe('A'.repeat(43));
    const rows = await portal.db.db.selectFrom('sessions').select('id_hash').execute();
    expect(rows.map((r) => r.id_hash)).toEqual([keyedHash(portal.config.session.secret)(issued)]);

    const second = await client.signIn('alice');
    const rotated = sessionCookieOf(second)!;
    expect(rotated).not.toBe(issued);
    const after = await portal.db.db.selectFrom('sessions').select('id_hash').execute();
    expect(after.map((r) => r.id_hash)).toEqual([keyedHash(portal.config.session.secret)(rotated)]);
  });

  it('B2: every cookie the portal sets is __Host-, Secure, HttpOnly, Path=/, SameSite=Lax, without Domain', async () => {
    const client = await portal.signIn('alice');
    await client.get('/logout');
    await client.form('/logout');
    await portal.client().signIn('eve');
    expect(portal.setCookies.length).toBeGreaterThanOrEqual(5);
    for (const cookie of portal.setCookies) {
      const [pair, ...attributes] = cookie.split(';').map((p) => p.trim());
      expect(pair, cookie).toMatch(/^__Host-gle_(session|login)=/);
      const names = attributes.map((a) => a.split('=')[0]!.toLowerCase());
      expect(names, cookie).toEqual(expect.arrayContaining(['path', 'secure', 'httponly', 'samesite']));
      expect(names, cookie).not.toContain('domain');
      expect(attributes, cookie).toContain('Path=/');
      expect(attributes, cookie).toContain('SameSite=Lax');
      const maxAge = attributes.find((a) => a.startsWith('Max-Age='));
      if (maxAge) expect(Number(maxAge.slice(8)), cookie).toBeLessThanOrEqual(600);
    }
  });

  it('I4, F1: no secret, token, cookie or code appears in logs, responses or the audit log', async () => {
    const client = portal.client();
    const { callbackPath } = await client.authorize('alice');
    const code = new URL(callbackPath, 'https://portal.example').searchParams.get('code')!;
    await client.get(callbackPath);
    const csrf = await client.csrfToken();
    await client.form('/logout');
    await portal.client().signIn('eve');
    expect(await portal.leaks()).toEqual([]);
    const logs = portal.logs.join('\n');
    const tokens = [...portal.sim.store.accessTokens.values()].flatMap((t) => [t.token, t.refreshToken]);
    for (const secret of [code, csrf, ...tokens]) expect(logs).not.toContain(secret);
    const cookies = portal.setCookies.map((c) => c.split(';')[0]!.split('=')[1]!).filter((v) => v.length > 0);
    for (const value of cookies) expect(logs).not.toContain(value);
    const audit = JSON.stringify(await portal.audit());
    for (const secret of [code, csrf, ...tokens, ...cookies]) expect(audit).not.toContain(secret);
  });

  it('works for a portal on a loopback address without a path prefix, as in demo mode', async () => {
    await portal.close();
    portal = await startPortal({ dialect, config: { PUBLIC_URL: 'http://127.0.0.1:3000' } });
    const client = portal.client();
    const { authorizeUrl, callbackPath } = await client.authorize('alice', undefined, {
      returnTo: '//evil.com',
    });
    expect(authorizeUrl.searchParams.get('redirect_uri')).toBe('http://127.0.0.1:3000/oauth/callback');
    const res = await client.get(callbackPath);
    expect(res.status).toBe(303);
    expect(res.location).toBe('/');
    expect(res.setCookies[0]).toMatch(/^__Host-gle_session=[^;]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    expect((await client.get('/')).body).toContain('Signed in as <strong>alice</strong>');
    expect((await client.form('/logout')).location).toBe('/?signed_out=1');
    for (const returnTo of ['/%2F%2Fevil.com', '/\\evil.com', '/oauth/callback?code=x']) {
      expect((await portal.client().signIn('alice', undefined, { returnTo })).location, returnTo).toBe('/');
    }
  });
});
