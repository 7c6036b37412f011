import { describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index.js';
import { CALLBACK, tokenCall } from './browser.js';
import { get, useSimulator } from './helpers.js';

/** A user with an OAuth token of an application (as the code grant would issue it). */
function given(s: Simulator, opts: { confidential?: boolean; scopes?: string[] } = {}) {
  const alice = s.store.findUserByUsername('alice') ?? s.givenUser({ username: 'alice' });
  const client = s.givenApplication({
    name: 'Portal',
    redirectUri: CALLBACK,
    scopes: ['api', 'read_user', 'openid'],
    confidential: opts.confidential,
  });
  const token = s.store.issueAccessToken({
    userId: alice.id,
    applicationId: client.app.id,
    scopes: opts.scopes ?? ['read_user'],
  });
  const creds = { client_id: client.applicationId, client_secret: client.secret };
  return { alice, client, token, creds };
}

const REVOKE_DENIED = {
  error: 'unauthorized_client',
  error_description: 'You are not authorized to revoke this token',
};

describe('POST /oauth/revoke (RFC 7009; doorkeeper TokensController#revoke, app/controllers/oauth/tokens_controller.rb)', () => {
  const sim = useSimulator();

  it('an unknown token → 200 {} — TokensController#revoke', async () => {
    const s = sim();
    const { creds } = given(s);
    const res = await tokenCall(s, { token: 'nope', ...creds }, undefined, '/oauth/revoke');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
  });

  it('the owning client revokes its access token → 200 {}; the API then says revoked — TokensController#revoke_token', async () => {
    const s = sim();
    const { token, creds } = given(s);
    const res = await tokenCall(s, { token: token.token, ...creds }, undefined, '/oauth/revoke');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    const api = await get(s, '/user', { token: null, bearer: token.token });
    expect(api.status).toBe(401);
    expect(api.body.error_description).toBe('Token was revoked. You have to re-authorize from the user.');
  });

  it('revoking by refresh token (token_type_hint=refresh_token) revokes the whole row — TokensController#token', async () => {
    const s = sim();
    const { token, client } = given(s);
    const res = await tokenCall(
      s,
      { token: token.refreshToken, token_type_hint: 'refresh_token' },
      { id: client.applicationId, secret: client.secret },
      '/oauth/revoke',
    );
    expect(res.status).toBe(200);
    expect(token.revokedAt).not.toBeNull();
  });

  it("a confidential app's token without client authentication → 403 unauthorized_client — TokensController#authorized?", async () => {
    const s = sim();
    const { token } = given(s);
    const res = await tokenCall(s, { token: token.token }, undefined, '/oauth/revoke');
    expect(res.status).toBe(403);
    expect(res.body).toEqual(REVOKE_DENIED);
    expect(token.revokedAt).toBeNull();
  });

  it('another application cannot revoke the token → 403 — TokensController#authorized?', async () => {
    const s = sim();
    const { token } = given(s);
    const other = s.givenApplication({ name: 'Other', redirectUri: CALLBACK, scopes: ['api'] });
    const res = await tokenCall(
      s,
      { token: token.token, client_id: other.applicationId, client_secret: other.secret },
      undefined,
      '/oauth/revoke',
    );
    expect(res.status).toBe(403);
    expect(token.revokedAt).toBeNull();
  });

  it("a public app's token may be revoked with its client_id alone — by_uid_and_secret + authorized?", async () => {
    const s = sim();
    const { token, client } = given(s, { confidential: false });
    const res = await tokenCall(
      s,
      { token: token.token, client_id: client.applicationId },
      undefined,
      '/oauth/revoke',
    );
    expect(res.status).toBe(200);
    expect(token.revokedAt).not.toBeNull();
  });

  it('with ropc_without_client_credentials off, a request without a client → 403 — Oauth::TokensController#validate_presence_of_client', async () => {
    const s = sim();
    s.settings.ropcWithoutClientCredentials = false;
    const res = await tokenCall(s, { token: 'anything' }, undefined, '/oauth/revoke');
    expect(res.status).toBe(403);
    expect(res.body).toEqual(REVOKE_DENIED);
  });
});

describe('GET /oauth/token/info (app/controllers/oauth/token_info_controller.rb)', () => {
  const sim = useSimulator();

  async function info(s: Simulator, bearer?: string, query = '') {
    const res = await fetch(`${s.url}/oauth/token/info${query}`, {
      headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
    });
    return { status: res.status, headers: res.headers, body: await res.json() };
  }

  it("describes the token, with GitLab's scopes/expires_in_seconds aliases — AccessToken#as_json", async () => {
    const s = sim();
    const { token, alice, client } = given(s, { scopes: ['api', 'read_user'] });
    s.advanceTime(65_000);
    const res = await info(s, token.token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      resource_owner_id: alice.id,
      scope: ['api', 'read_user'],
      expires_in: 7135,
      application: { uid: client.applicationId },
      created_at: Math.floor(token.createdAt / 1000),
      scopes: ['api', 'read_user'],
      expires_in_seconds: 7135,
    });
  });

  it('the token may come as the access_token parameter — access_token_methods :from_access_token_param', async () => {
    const s = sim();
    const { token } = given(s);
    expect((await info(s, undefined, `?access_token=${token.token}`)).status).toBe(200);
  });

  it.each([
    ['expired', (s: Simulator) => s.advanceTime(7_200_000)],
    [
      'revoked',
      (s: Simulator) => {
        for (const t of s.store.accessTokens.values()) s.store.revokeAccessToken(t);
      },
    ],
    ['unknown', () => undefined],
  ])(
    'an %s token → 401 invalid_token "The access token is invalid" + WWW-Authenticate — InvalidTokenResponse',
    async (kind, spoil) => {
      const s = sim();
      const { token } = given(s);
      spoil(s);
      const res = await info(s, kind === 'unknown' ? 'f'.repeat(64) : token.token);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid_token', error_description: 'The access token is invalid' });
      expect(res.headers.get('www-authenticate')).toBe(
        'Bearer realm="Doorkeeper", error="invalid_token", error_description="The access token is invalid"',
      );
    },
  );

  it('a personal access token is not an OAuth token → 401 — doorkeeper_token', async () => {
    const s = sim();
    const res = await info(s, s.adminToken);
    expect(res.status).toBe(401);
  });

  it('using a refreshed token here revokes the refresh token it replaced — OAuth::Token.authenticate', async () => {
    const s = sim();
    const { token, client } = given(s);
    const refreshed = await tokenCall(s, {
      grant_type: 'refresh_token',
      refresh_token: token.refreshToken,
      client_id: client.applicationId,
      client_secret: client.secret,
    });
    expect(token.revokedAt).toBeNull();
    await info(s, refreshed.body.access_token);
    expect(token.revokedAt).not.toBeNull();
  });
});

describe('POST /oauth/introspect (RFC 7662; doorkeeper TokenIntrospection)', () => {
  const sim = useSimulator();

  it('the owning client sees the token active, with scope, client_id, token_type, exp, iat — TokenIntrospection#success_response', async () => {
    const s = sim();
    const { token, creds, client } = given(s, { scopes: ['read_user', 'openid'] });
    const res = await tokenCall(s, { token: token.token, ...creds }, undefined, '/oauth/introspect');
    expect(res.status).toBe(200);
    const iat = Math.floor(token.createdAt / 1000);
    expect(res.body).toEqual({
      active: true,
      scope: 'read_user openid',
      client_id: client.applicationId,
      token_type: 'Bearer',
      exp: iat + 7200,
      iat,
    });
  });

  it('a revoked or unknown token is {"active":false} — TokenIntrospection#failure_response', async () => {
    const s = sim();
    const { token, creds } = given(s);
    s.store.revokeAccessToken(token);
    for (const value of [token.token, 'unknown']) {
      const res = await tokenCall(s, { token: value, ...creds }, undefined, '/oauth/introspect');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ active: false });
    }
  });

  it('another client may not introspect the token: {"active":false} — allow_token_introspection', async () => {
    const s = sim();
    const { token } = given(s);
    const other = s.givenApplication({ name: 'Other', redirectUri: CALLBACK, scopes: ['api'] });
    const res = await tokenCall(
      s,
      { token: token.token, client_id: other.applicationId, client_secret: other.secret },
      undefined,
      '/oauth/introspect',
    );
    expect(res.body).toEqual({ active: false });
  });

  it('no client and no bearer token → 400 invalid_request (request_not_authorized) — TokenIntrospection#authorize!', async () => {
    const s = sim();
    const { token } = given(s);
    const res = await tokenCall(s, { token: token.token }, undefined, '/oauth/introspect');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: 'invalid_request',
      error_description:
        'Request need to be authorized. Required parameter for authorizing request is missing or invalid.',
    });
  });

  it('bad client credentials → 401 invalid_client — TokenIntrospection#authorize!', async () => {
    const s = sim();
    const { token, client } = given(s);
    const res = await tokenCall(
      s,
      { token: token.token, client_id: client.applicationId, client_secret: 'wrong' },
      undefined,
      '/oauth/introspect',
    );
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });

  it('a bearer token of the same application may introspect another token, but not itself — valid_authorized_token?', async () => {
    const s = sim();
    const { token, alice, client } = given(s);
    const other = s.store.issueAccessToken({
      userId: alice.id,
      applicationId: client.app.id,
      scopes: ['api'],
    });
    const call = (bearer: string) =>
      fetch(`${s.url}/oauth/introspect`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: token.token }),
      });
    const ok = await call(other.token);
    expect(ok.status).toBe(200);
    expect((await ok.json()).active).toBe(true);
    const self = await call(token.token);
    expect(self.status).toBe(401);
    expect(await self.json()).toEqual({
      error: 'invalid_token',
      error_description: 'The access token is invalid',
    });
  });
});
