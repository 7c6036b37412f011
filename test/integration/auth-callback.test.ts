import type { IdTokenFault } from '@gitlab-extern/simulator';
import { afterEach, describe, expect, it } from 'vitest';
import { LOGIN_STATES_PER_IP } from '../../src/auth/auth.service.js';
import { ManualClock } from '../../src/clock.js';
import { describeEachDialect } from '../support/databases.js';
import {
  type Portal,
  type PortalClient,
  type PortalResponse,
  type StartPortalOptions,
  startPortal,
} from '../support/portal.js';

function hasSession(res: PortalResponse): boolean {
  return res.setCookies.some((c) => /^__Host-gle_session=[^;]+/.test(c));
}

function withParams(path: string, change: (params: URLSearchParams) => void): string {
  const url = new URL(path, 'https://portal.example');
  change(url.searchParams);
  return `${url.pathname}?${url.searchParams.toString()}`;
}

describeEachDialect('the OAuth callback', (dialect) => {
  let portal: Portal;
  const start = async (options: StartPortalOptions = {}) => {
    portal = await startPortal({ dialect, ...options });
    return portal;
  };

  afterEach(async () => {
    await portal.close();
  });

  const tokenRequests = () => portal.sim.requests({ method: 'POST', path: '/oauth/token' });

  /** The callback was refused: 400 page, no session, nothing sent to GitLab's token endpoint. */
  async function expectRejected(res: PortalResponse, reason: string) {
    expect(res.status).toBe(400);
    expect(res.body).toContain('This sign-in link is no longer valid');
    expect(hasSession(res)).toBe(false);
    expect(tokenRequests()).toHaveLength(0);
    expect(await portal.db.db.selectFrom('sessions').selectAll().execute()).toEqual([]);
    const [failed] = await portal.audit('login.failed');
    expect(failed).toMatchObject({ outcome: 'failure', reason });
  }

  describe('A2: state', () => {
    it('(a) a state other than the stored one is refused', async () => {
      await start();
      const client = portal.client();
      const { callbackPath } = await client.authorize('alice');
      const res = await client.get(withParams(callbackPath, (p) => p.set('state', 'x'.repeat(43))));
      await expectRejected(res, 'state_mismatch');
    });

    it('(b) a missing state is refused', async () => {
      await start();
      const client = portal.client();
      const { callbackPath } = await client.authorize('alice');
      await expectRejected(
        await client.get(withParams(callbackPath, (p) => p.delete('state'))),
        'state_missing',
      );
    });

    it('(c) a state given twice is refused', async () => {
      await start();
      const client = portal.client();
      const { callbackPath } = await client.authorize('alice');
      const state = new URL(callbackPath, 'https://x').searchParams.get('state')!;
      const res = await client.get(withParams(callbackPath, (p) => p.append('state', state)));
      await expectRejected(res, 'state_duplicated');
    });

    it('(d) a callback URL works once', async () => {
      await start();
      const client = portal.client();
      const { callbackPath } = await client.authorize('alice');
      expect((await client.get(callbackPath)).status).toBe(303);
      const replay = await client.get(callbackPath);
      expect(replay.status).toBe(400);
      expect(hasSession(replay)).toBe(false);
      expect(tokenRequests()).toHaveLength(1);
      expect((await portal.audit('login.failed'))[0]).toMatchObject({ reason: 'state_mismatch' });
    });

    it('(e) a callback opened in another browser is refused, and the state is used up', async () => {
      await start();
      const victim = portal.client();
      const { callbackPath } = await victim.authorize('alice');
      const attacker = portal.client();
      await expectRejected(await attacker.get(callbackPath), 'state_not_bound_to_browser');
      const late = await victim.get(callbackPath);
      expect(late.status).toBe(400);
      expect(tokenRequests()).toHaveLength(0);
    });

    it('(f) a callback after ten minutes is refused', async () => {
      const clock = new ManualClock();
      await start({ clock });
      const client = portal.client();
      const { callbackPath } = await client.authorize('alice');
      clock.advance(11 * 60_000);
      await expectRejected(await client.get(callbackPath), 'state_expired');
    });

    it('several tabs of one browser can sign in at the same time', async () => {
      await start();
      const client = portal.client();
      const first = await client.authorize('alice', undefined, { returnTo: '/extern/one' });
      const second = await client.authorize('alice', undefined, { returnTo: '/extern/two' });
      expect((await client.get(second.callbackPath)).location).toBe('/extern/two');
      expect((await client.get(first.callbackPath)).location).toBe('/extern/one');
    });
  });

  describe('A3: the ID token is checked', () => {
    const cases: [string, IdTokenFault | ((p: Portal) => IdTokenFault), string][] = [
      ['a wrong issuer', { claims: { iss: 'https://evil.example' } }, 'issuer_mismatch'],
      ['a wrong audience', { claims: { aud: 'another-client' } }, 'audience_mismatch'],
      [
        'an extra audience',
        (p) => ({ claims: { aud: [p.config.gitlab.clientId, 'another-client'] } }),
        'audience_mismatch',
      ],
      ['a bad signature', { badSignature: true }, 'bad_signature'],
      ['an unknown key id', { kid: 'no-such-key' }, 'bad_signature'],
      ['alg none', { alg: 'none' }, 'unsupported_alg'],
      ['no sub', { claims: { sub: null } }, 'missing_claim'],
      ['no iat', { claims: { iat: null } }, 'missing_claim'],
      ['an expired token', { expired: true }, 'token_expired'],
      ['iat a week ago', { claims: { iat: Math.floor(Date.now() / 1000) - 7 * 86_400 } }, 'token_expired'],
      ['iat in the future', { claims: { iat: Math.floor(Date.now() / 1000) + 3_600 } }, 'invalid_id_token'],
      ['another nonce', { claims: { nonce: 'replayed-nonce' } }, 'nonce_mismatch'],
    ];

    it.each(cases)(
      'an ID token with %s ends in a 400, no session and login.failed',
      async (_, fault, reason) => {
        await start();
        const client = portal.client();
        const { callbackPath } = await client.authorize('alice');
        portal.sim.oidcFaults = { idToken: typeof fault === 'function' ? fault(portal) : fault };
        const res = await client.get(callbackPath);
        expect(res.status).toBe(400);
        expect(res.body).toContain('Sign-in did not work');
        expect(hasSession(res)).toBe(false);
        expect(await portal.db.db.selectFrom('sessions').selectAll().execute()).toEqual([]);
        expect((await portal.audit('login.failed'))[0]).toMatchObject({ outcome: 'failure', reason });

        portal.sim.oidcFaults = {};
        expect((await portal.client().signIn('alice')).status).toBe(303);
      },
    );
  });

  describe('A4: one issuer', () => {
    it('discovery naming another issuer stops sign-in with a clear error, and /readyz says why', async () => {
      await start();
      portal.sim.oidcFaults = { discoveryIssuer: 'https://evil.example' };
      const res = await portal.client().get('/login');
      expect(res.status).toBe(503);
      expect(res.body).toContain('Sign-in with GitLab is not configured correctly');
      expect(res.location).toBeUndefined();
      expect(portal.sim.requests({ path: '/oauth/authorize' })).toHaveLength(0);
      expect(portal.logs.join('\n')).toMatch(/names an issuer other than GITLAB_URL/);

      await portal.deps.readiness.refresh();
      const ready = await portal.client().get('/readyz');
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body).checks.signIn).toMatchObject({
        status: 'fail',
        detail: expect.stringMatching(/issuer/),
      });

      portal.sim.oidcFaults = {};
      expect((await portal.client().get('/login')).status).toBe(303);
    });

    it('an authorization response naming another issuer is refused before the token request', async () => {
      await start();
      const client = portal.client();
      const { callbackPath } = await client.authorize('alice');
      const res = await client.get(withParams(callbackPath, (p) => p.set('iss', 'https://evil.example')));
      expect(res.status).toBe(400);
      expect(hasSession(res)).toBe(false);
      expect(tokenRequests()).toHaveLength(0);
      expect((await portal.audit('login.failed'))[0]).toMatchObject({ reason: 'issuer_mismatch' });
    });
  });

  it('A7: "Cancel" at GitLab ends the flow with a friendly page; the description is not reflected', async () => {
    await start();
    const client = portal.client();
    const denied = await client.deny('alice');
    expect(new URL(denied, 'https://x').searchParams.get('error')).toBe('access_denied');
    const hostile = withParams(denied, (p) => p.set('error_description', '<script>alert(1)</script>'));
    const res = await client.get(hostile);
    expect(res.status).toBe(403);
    expect(res.body).toContain('Sign-in cancelled');
    expect(res.body).not.toContain('<script>alert(1)</script>');
    expect(res.body).not.toContain('alert(1)');
    expect(hasSession(res)).toBe(false);
    expect((await portal.audit('login.failed'))[0]).toMatchObject({ reason: 'access_denied' });
    const again = await client.get(hostile);
    expect(again.status).toBe(400);
    expect((await portal.audit('login.failed'))[0]).toMatchObject({ reason: 'state_mismatch' });
  });

  it('H2: /login is rate-limited per address and pending sign-ins are bounded and purged', async () => {
    const clock = new ManualClock();
    await start({ clock });
    const client: PortalClient = portal.client({ ip: '127.9.9.9' });
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await client.get('/login')).status);
    expect(statuses.every((s) => s === 303)).toBe(true);
    const limited = await client.get('/login');
    expect(limited.status).toBe(429);
    expect(limited.body).toContain('Too many requests');
    const count = async () => (await portal.db.db.selectFrom('login_states').selectAll().execute()).length;
    expect(await count()).toBe(LOGIN_STATES_PER_IP);
    expect(portal.logs.join('\n')).toContain('sign-in rate limit reached');

    clock.advance(11 * 60_000);
    expect((await portal.client().get('/login')).status).toBe(303);
    expect(await count()).toBe(1);
  });
});
