import { afterEach, expect, it } from 'vitest';
import { describeEachDialect } from '../support/databases.js';
import { type Portal, type PortalResponse, type StartPortalOptions, startPortal } from '../support/portal.js';

/**
 * Who may sign in is decided from GitLab's live data (admin token), after GitLab has said who the
 * visitor is. GitLab itself already stops blocked users and bots at its sign-in form and token
 * endpoint, so those refusals are provoked by GitLab reporting the change between the token exchange
 * and the portal's check.
 */
describeEachDialect('who may sign in', (dialect) => {
  let portal: Portal;
  const start = async (options: StartPortalOptions = {}) => {
    portal = await startPortal({ dialect, ...options });
    return portal;
  };

  afterEach(async () => {
    await portal.close();
  });

  async function expectRefused(res: PortalResponse, username: string, reason: string, text: string) {
    expect(res.status).toBe(403);
    expect(res.body).toContain('You cannot sponsor collaborators');
    expect(res.body).toContain(text);
    expect(res.setCookies.some((c) => /^__Host-gle_session=[^;]+/.test(c))).toBe(false);
    const { db } = portal.db;
    expect(await db.selectFrom('sessions').selectAll().execute()).toEqual([]);
    expect(await db.selectFrom('portal_users').selectAll().execute()).toEqual([]);
    const [refused] = await portal.audit('login.refused');
    expect(refused).toMatchObject({
      outcome: 'denied',
      reason,
      actor: { id: portal.sim.user(username)!.id },
    });
    // The grant GitLab issued is revoked at once.
    expect(portal.sim.requests({ method: 'POST', path: '/oauth/revoke' })).toHaveLength(1);
    const tokens = [...portal.sim.store.accessTokens.values()].filter(
      (t) => t.userId === portal.sim.user(username)!.id,
    );
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens.every((t) => t.revokedAt !== null)).toBe(true);
  }

  it('refuses eve, an external user', async () => {
    await start();
    const res = await portal.client().signIn('eve');
    await expectRefused(res, 'eve', 'external', 'Your GitLab account is an external account.');
    expect(res.body).toContain('Only internal GitLab users can sponsor collaborators.');
  });

  it('refuses mallory when GitLab reports her blocked', async () => {
    await start();
    portal.sim.setUserState(portal.sim.user('mallory')!, 'active');
    await portal.gitlabReports('mallory', { state: 'blocked' });
    const res = await portal.client().signIn('mallory');
    await expectRefused(res, 'mallory', 'blocked', 'Your GitLab account is blocked.');
  });

  it('refuses a deactivated account', async () => {
    await start();
    await portal.gitlabReports('bob', { state: 'deactivated' });
    const res = await portal.client().signIn('bob');
    await expectRefused(res, 'bob', 'deactivated', 'Your GitLab account is deactivated.');
  });

  it('refuses a bot', async () => {
    await start();
    await portal.gitlabReports('bob', { bot: true });
    const res = await portal.client().signIn('bob');
    await expectRefused(res, 'bob', 'bot', 'Bot and service accounts cannot sponsor collaborators.');
  });

  it('with SPONSOR_GROUP, refuses non-members and lets members in, inherited membership included', async () => {
    await start({
      config: { SPONSOR_GROUP: 'teaching/seminars' },
      seed: { groups: [{ path: 'seminars', parent: 'teaching' }] },
    });
    const res = await portal.client().signIn('alice');
    await expectRefused(
      res,
      'alice',
      'not_in_group',
      'Only members of the GitLab group “teaching/seminars” can sponsor collaborators.',
    );
    expect((await portal.audit('login.refused'))[0]!.details).toEqual({ group: 'teaching/seminars' });

    // bob is Maintainer of the parent group `teaching` only.
    const bob = await portal.signIn('bob');
    expect((await bob.get('/')).body).toContain('Signed in as <strong>bob</strong>');
  });

  it('when GitLab cannot check the user, nobody is signed in and the grant is revoked', async () => {
    await start();
    const alice = portal.sim.user('alice')!;
    portal.sim.failNext(
      { method: 'GET', path: `/api/v4/users/${alice.id}` },
      { status: 503, body: 'down' },
      3,
    );
    const res = await portal.client().signIn('alice');
    expect(res.status).toBe(503);
    expect(res.body).toContain('GitLab is not available');
    expect(await portal.db.db.selectFrom('sessions').selectAll().execute()).toEqual([]);
    expect((await portal.audit('login.failed'))[0]).toMatchObject({ reason: 'gitlab_unavailable' });
    expect(portal.sim.requests({ method: 'POST', path: '/oauth/revoke' })).toHaveLength(1);
  });
});
