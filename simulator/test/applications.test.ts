import { describe, expect, it } from 'vitest';
import { CALLBACK, tokenCall } from './browser.js';
import { del, get, post, useSimulator } from './helpers.js';

describe('Applications API (lib/api/applications.rb)', () => {
  const sim = useSimulator();

  it('POST /applications → 201 ApplicationWithSecret (secret shown once) — lib/api/entities/application_with_secret.rb', async () => {
    const s = sim();
    const res = await post(s, '/applications', {
      name: 'Portal',
      redirect_uri: `${CALLBACK}\nhttp://127.0.0.1/callback`,
      scopes: 'openid profile email',
    });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body)).toEqual([
      'id',
      'application_id',
      'application_name',
      'callback_url',
      'confidential',
      'scopes',
      'secret',
    ]);
    expect(res.body).toEqual({
      id: expect.any(Number),
      application_id: expect.stringMatching(/^[0-9a-f]{64}$/),
      application_name: 'Portal',
      callback_url: `${CALLBACK}\nhttp://127.0.0.1/callback`,
      confidential: true,
      scopes: ['openid', 'profile', 'email'],
      secret: expect.stringMatching(/^gloas-[0-9a-f]{64}$/),
    });
    const app = s.store.applicationsByUid.get(res.body.application_id)!;
    expect(app.redirectUris).toEqual([CALLBACK, 'http://127.0.0.1/callback']);
    expect(app.secret).toBe(res.body.secret);
  });

  it('confidential=false creates a public application — params confidential (Boolean, default true)', async () => {
    const res = await post(sim(), '/applications', {
      name: 'SPA',
      redirect_uri: CALLBACK,
      scopes: 'read_user',
      confidential: false,
    });
    expect(res.status).toBe(201);
    expect(res.body.confidential).toBe(false);
  });

  it('a non-admin gets 403 even with missing params (authenticated_as_admin! runs first); no token → 401 — lib/api/applications.rb before', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const res = await post(s, '/applications', {}, { token: s.givenToken(alice) });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: '403 Forbidden' });
    expect((await post(s, '/applications', {}, { token: null })).status).toBe(401);
  });

  it('missing params → 400 Grape error listing them in order — lib/api/applications.rb params', async () => {
    const res = await post(sim(), '/applications', {});
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'name is missing, redirect_uri is missing, scopes is missing' });
  });

  it('blank scopes → 400 "scopes is empty" — allow_blank: false', async () => {
    const res = await post(sim(), '/applications', { name: 'x', redirect_uri: CALLBACK, scopes: ' ' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'scopes is empty' });
  });

  it('an unknown scope → 400 {"message":{"scopes":[…]}} — doorkeeper enforce_configured_scopes', async () => {
    const res = await post(sim(), '/applications', {
      name: 'x',
      redirect_uri: CALLBACK,
      scopes: 'api superpowers',
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: { scopes: ["doesn't match configured on the server."] } });
  });

  it.each([
    ['https://portal.example.com/cb#frag', 'cannot contain a fragment.'],
    ['javascript://portal.example.com/%0Aalert(1)', 'is forbidden by the server.'],
    ['/relative/callback', 'must be an absolute URI.'],
  ])(
    'redirect_uri %s → 400 "%s" — doorkeeper RedirectUriValidator, forbid_redirect_uri',
    async (uri, message) => {
      const res = await post(sim(), '/applications', { name: 'x', redirect_uri: uri, scopes: 'api' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ message: { redirect_uri: [message] } });
    },
  );

  it('a blank name is a model error — Doorkeeper::Application validates :name presence', async () => {
    const res = await post(sim(), '/applications', { name: '', redirect_uri: CALLBACK, scopes: 'api' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: { name: ["can't be blank"] } });
  });

  it('GET /applications lists instance-wide applications without secrets — lib/api/entities/application.rb', async () => {
    const s = sim();
    const created = (
      await post(s, '/applications', { name: 'Portal', redirect_uri: CALLBACK, scopes: 'api' })
    ).body;
    const res = await get(s, '/applications');
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      {
        id: created.id,
        application_id: created.application_id,
        application_name: 'Portal',
        callback_url: CALLBACK,
        confidential: true,
        scopes: ['api'],
      },
    ]);
  });

  it("DELETE /applications/:id → 204 and the application's tokens stop working — Doorkeeper::Application dependent: :delete_all", async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const created = (
      await post(s, '/applications', { name: 'Portal', redirect_uri: CALLBACK, scopes: 'api' })
    ).body;
    const app = s.store.applicationsByUid.get(created.application_id)!;
    const token = s.store.issueAccessToken({ userId: alice.id, applicationId: app.id, scopes: ['api'] });
    const res = await del(s, `/applications/${created.id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect((await get(s, '/user', { token: null, bearer: token.token })).status).toBe(401);
    expect((await get(s, '/applications')).body).toEqual([]);
  });

  it('DELETE of an unknown id → 404 "404 Application Not Found"; a non-integer id → 400 "id is invalid" — not_found!(\'Application\')', async () => {
    const s = sim();
    const missing = await del(s, '/applications/999');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ message: '404 Application Not Found' });
    const bad = await del(s, '/applications/abc');
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: 'id is invalid' });
  });

  it('POST /applications/:id/renew-secret → 201 with a new secret; the old one no longer authenticates — Application#renew_secret', async () => {
    const s = sim();
    const created = (
      await post(s, '/applications', { name: 'Portal', redirect_uri: CALLBACK, scopes: 'api' })
    ).body;
    const res = await post(s, `/applications/${created.id}/renew-secret`);
    expect(res.status).toBe(201);
    expect(res.body.secret).toMatch(/^gloas-[0-9a-f]{64}$/);
    expect(res.body.secret).not.toBe(created.secret);
    const old = await tokenCall(
      s,
      { grant_type: 'client_credentials' },
      { id: created.application_id, secret: created.secret },
    );
    expect(old.status).toBe(401);
    const renewed = await tokenCall(
      s,
      { grant_type: 'client_credentials' },
      { id: created.application_id, secret: res.body.secret },
    );
    expect(renewed.status).toBe(200);
  });
});
