import { describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index.js';
import { authorizationCode, CALLBACK, PASSWORD, tokenCall } from './browser.js';
import { get, useSimulator } from './helpers.js';

const INVALID_GRANT =
  'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.';
const INVALID_CLIENT =
  'Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.';

function expectOAuthError(
  res: { status: number; headers: Headers; body: any },
  status: number,
  error: string,
  description: string,
) {
  expect(res.status).toBe(status);
  expect(res.body).toEqual({ error, error_description: description });
  expect(res.headers.get('www-authenticate')).toBe(
    `Bearer realm="Doorkeeper", error="${error}", error_description="${description}"`,
  );
  expect(res.headers.get('cache-control')).toBe('no-store, no-cache');
}

describe('POST /oauth/token grant_type=authorization_code (doorkeeper AuthorizationCodeRequest)', () => {
  const sim = useSimulator();

  it('exchanges the code: exact body and no-cache headers — doorkeeper token_response.rb', async () => {
    const s = sim();
    const { exchange, alice, client } = await authorizationCode(s);
    const res = await exchange();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store, no-cache');
    expect(res.headers.get('pragma')).toBe('no-cache');
    expect(Object.keys(res.body)).toEqual([
      'access_token',
      'token_type',
      'expires_in',
      'refresh_token',
      'scope',
      'created_at',
    ]);
    expect(res.body).toEqual({
      access_token: expect.stringMatching(/^[0-9a-f]{64}$/),
      token_type: 'Bearer',
      expires_in: 7200,
      refresh_token: expect.stringMatching(/^[0-9a-f]{64}$/),
      scope: 'read_user api',
      created_at: s.clock.nowSeconds(),
    });
    expect(s.store.accessTokens.get(res.body.access_token)).toMatchObject({
      userId: alice.id,
      applicationId: client.app.id,
      scopes: ['read_user', 'api'],
    });
  });

  it('the access token works at the API — lib/gitlab/auth/auth_finders.rb', async () => {
    const s = sim();
    const { exchange } = await authorizationCode(s);
    const token = (await exchange()).body.access_token;
    const me = await get(s, '/user', { token: null, bearer: token });
    expect(me.status).toBe(200);
    expect(me.body.username).toBe('alice');
  });

  it('an OAuth token is not a PAT: /personal_access_tokens/self → 400 — lib/api/personal_access_tokens/self_information.rb', async () => {
    const s = sim();
    const { exchange } = await authorizationCode(s);
    const token = (await exchange()).body.access_token;
    const res = await get(s, '/personal_access_tokens/self', { token: null, bearer: token });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      message: '400 Bad request - This endpoint requires token type to be a personal access token',
    });
  });

  it('client authentication by HTTP Basic is accepted — Client::Credentials.from_basic', async () => {
    const s = sim();
    const { client, code, verifier } = await authorizationCode(s);
    const res = await tokenCall(
      s,
      { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier },
      { id: client.applicationId, secret: client.secret },
    );
    expect(res.status).toBe(200);
  });

  it('a confidential client without its secret → 401 invalid_client with WWW-Authenticate — Application.by_uid_and_secret', async () => {
    const s = sim();
    const { exchange } = await authorizationCode(s);
    expectOAuthError(await exchange({ client_secret: undefined }), 401, 'invalid_client', INVALID_CLIENT);
  });

  it('a wrong secret → 401 invalid_client — ErrorResponse#status', async () => {
    const s = sim();
    const { exchange } = await authorizationCode(s);
    expectOAuthError(await exchange({ client_secret: 'gloas-wrong' }), 401, 'invalid_client', INVALID_CLIENT);
  });

  it('a public client needs only client_id (with PKCE) — by_uid_and_secret (secret blank and not confidential)', async () => {
    const s = sim();
    const { exchange } = await authorizationCode(s, { confidential: false });
    expect((await exchange({ client_secret: undefined })).status).toBe(200);
  });

  it('a public client that sends a wrong secret is refused — by_uid_and_secret (secret_matches?)', async () => {
    const s = sim();
    const { exchange } = await authorizationCode(s, { confidential: false });
    expectOAuthError(await exchange({ client_secret: 'wrong' }), 401, 'invalid_client', INVALID_CLIENT);
  });

  it('missing grant_type → 400 invalid_request "Missing required parameter: grant_type." — Request.token_strategy', async () => {
    const res = await tokenCall(sim(), { code: 'x' });
    expectOAuthError(res, 400, 'invalid_request', 'Missing required parameter: grant_type.');
  });

  it('an unknown grant_type (implicit) → 400 unsupported_grant_type — Errors::InvalidTokenStrategy', async () => {
    const res = await tokenCall(sim(), { grant_type: 'implicit' });
    expectOAuthError(
      res,
      400,
      'unsupported_grant_type',
      'The authorization grant type is not supported by the authorization server.',
    );
  });

  it('missing code → invalid_request "Missing required parameter: code." — Request::AuthorizationCode#grant', async () => {
    const s = sim();
    const { exchange } = await authorizationCode(s);
    expectOAuthError(
      await exchange({ code: undefined }),
      400,
      'invalid_request',
      'Missing required parameter: code.',
    );
  });

  it('missing redirect_uri → invalid_request, checked before the client — AuthorizationCodeRequest#validate_params', async () => {
    const s = sim();
    const { exchange } = await authorizationCode(s);
    expectOAuthError(
      await exchange({ redirect_uri: undefined, client_secret: 'wrong' }),
      400,
      'invalid_request',
      'Missing required parameter: redirect_uri.',
    );
  });

  it('a PKCE code without code_verifier → invalid_request "Missing required parameter: code_verifier." — validate_params', async () => {
    const s = sim();
    const { exchange } = await authorizationCode(s);
    expectOAuthError(
      await exchange({ code_verifier: undefined }),
      400,
      'invalid_request',
      'Missing required parameter: code_verifier.',
    );
  });

  it('a wrong code_verifier → invalid_grant — AuthorizationCodeRequest#validate_code_verifier', async () => {
    const s = sim();
    const { exchange } = await authorizationCode(s);
    expectOAuthError(await exchange({ code_verifier: 'x'.repeat(43) }), 400, 'invalid_grant', INVALID_GRANT);
  });

  it('the plain method compares the verifier as is — AccessGrant.generate_code_challenge', async () => {
    const s = sim();
    const { exchange } = await authorizationCode(s, { pkce: 'plain' });
    expect((await exchange()).status).toBe(200);
  });

  it('a code_verifier sent for a code without a challenge → invalid_grant — validate_code_verifier (either side)', async () => {
    const s = sim();
    const { exchange } = await authorizationCode(s, { pkce: false });
    expectOAuthError(await exchange({ code_verifier: 'unexpected' }), 400, 'invalid_grant', INVALID_GRANT);
    expect((await exchange()).status).toBe(200);
  });

  it('a redirect_uri other than the one used at authorize → invalid_grant — AuthorizationCodeRequest#validate_redirect_uri', async () => {
    const s = sim();
    const { exchange } = await authorizationCode(s);
    expectOAuthError(
      await exchange({ redirect_uri: 'https://portal.example.com/other' }),
      400,
      'invalid_grant',
      INVALID_GRANT,
    );
  });

  it('a code is single-use; reusing it revokes nothing — AuthorizationCodeRequest (grant.revoke, InvalidGrantReuse)', async () => {
    const s = sim();
    const { exchange } = await authorizationCode(s);
    const first = await exchange();
    expect(first.status).toBe(200);
    expectOAuthError(await exchange(), 400, 'invalid_grant', INVALID_GRANT);
    expect((await get(s, '/user', { token: null, bearer: first.body.access_token })).status).toBe(200);
  });

  it('a code expires after 600 s — doorkeeper authorization_code_expires_in default', async () => {
    const s = sim();
    const { exchange } = await authorizationCode(s);
    s.advanceTime(600_000);
    expectOAuthError(await exchange(), 400, 'invalid_grant', INVALID_GRANT);
  });

  it('a code is still good just before 600 s — AccessGrant#expired?', async () => {
    const s = sim();
    const { exchange } = await authorizationCode(s);
    s.advanceTime(599_000);
    expect((await exchange()).status).toBe(200);
  });

  it('a code issued to another client → invalid_grant — validate_grant (grant.application_id == client.id)', async () => {
    const s = sim();
    const { exchange } = await authorizationCode(s);
    const other = s.givenApplication({ name: 'Other', redirectUri: CALLBACK, scopes: ['api'] });
    expectOAuthError(
      await exchange({ client_id: other.applicationId, client_secret: other.secret }),
      400,
      'invalid_grant',
      INVALID_GRANT,
    );
  });

  it('the access token expires after 7200 s at the API — access_token_expires_in 7200', async () => {
    const s = sim();
    const { exchange } = await authorizationCode(s);
    const token = (await exchange()).body.access_token;
    s.advanceTime(7_200_000);
    const res = await get(s, '/user', { token: null, bearer: token });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      error: 'invalid_token',
      error_description: 'Token is expired. You can either do re-authorization or token refresh.',
    });
  });

  it('a JSON body is accepted like a form — Rails params parsing', async () => {
    const s = sim();
    const { client, code, verifier } = await authorizationCode(s);
    const res = await fetch(`${s.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'authorization_code',
        code,
        redirect_uri: CALLBACK,
        code_verifier: verifier,
        client_id: client.applicationId,
        client_secret: client.secret,
      }),
    });
    expect(res.status).toBe(200);
  });
});

describe('POST /oauth/token grant_type=refresh_token (doorkeeper RefreshTokenRequest, lazy rotation)', () => {
  const sim = useSimulator();

  async function tokens(s: Simulator, opts: { confidential?: boolean } = {}) {
    const ctx = await authorizationCode(s, opts);
    const first = (await ctx.exchange()).body;
    const refresh = (extra: Record<string, string | undefined> = {}) => {
      const form: Record<string, string> = {};
      for (const [k, v] of Object.entries({
        grant_type: 'refresh_token',
        refresh_token: first.refresh_token,
        client_id: ctx.client.applicationId,
        client_secret: ctx.client.secret,
        ...extra,
      }))
        if (v !== undefined) form[k] = v;
      return tokenCall(s, form);
    };
    return { ...ctx, first, refresh };
  }

  it('issues a new access and refresh token with the same scopes — RefreshTokenRequest#create_access_token', async () => {
    const s = sim();
    const { first, refresh } = await tokens(s);
    const res = await refresh();
    expect(res.status).toBe(200);
    expect(res.body.access_token).not.toBe(first.access_token);
    expect(res.body.refresh_token).not.toBe(first.refresh_token);
    expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 7200, scope: 'read_user api' });
  });

  it('the old tokens keep working until the new access token is used at the API — auth_finders.rb revoke_previous_refresh_token!', async () => {
    const s = sim();
    const { first, refresh } = await tokens(s);
    const second = (await refresh()).body;
    expect((await get(s, '/user', { token: null, bearer: first.access_token })).status).toBe(200);
    const again = await refresh();
    expect(again.status).toBe(200);
    expect((await get(s, '/user', { token: null, bearer: second.access_token })).status).toBe(200);
    expectOAuthError(await refresh(), 400, 'invalid_grant', INVALID_GRANT);
    const old = await get(s, '/user', { token: null, bearer: first.access_token });
    expect(old.status).toBe(401);
    expect(old.body.error_description).toBe('Token was revoked. You have to re-authorize from the user.');
  });

  it('refresh tokens do not expire: an expired access token can still be refreshed — use_refresh_token', async () => {
    const s = sim();
    const { refresh } = await tokens(s);
    s.advanceDays(30);
    expect((await refresh()).status).toBe(200);
  });

  it('missing refresh_token → invalid_request — RefreshTokenRequest#validate_token_presence', async () => {
    const s = sim();
    const { refresh } = await tokens(s);
    expectOAuthError(
      await refresh({ refresh_token: undefined }),
      400,
      'invalid_request',
      'Missing required parameter: refresh_token.',
    );
  });

  it('an unknown refresh token → invalid_grant — RefreshTokenRequest#validate_token', async () => {
    const s = sim();
    const { refresh } = await tokens(s);
    expectOAuthError(await refresh({ refresh_token: 'f'.repeat(64) }), 400, 'invalid_grant', INVALID_GRANT);
  });

  it('bad client credentials → 401 invalid_client — RefreshTokenRequest#validate_client', async () => {
    const s = sim();
    const { refresh } = await tokens(s);
    expectOAuthError(await refresh({ client_secret: 'wrong' }), 401, 'invalid_client', INVALID_CLIENT);
  });

  it('no client for an application token, or another application → invalid_grant — RefreshTokenRequest#validate_client_match', async () => {
    const s = sim();
    const { refresh } = await tokens(s);
    const other = s.givenApplication({ name: 'Other', redirectUri: CALLBACK, scopes: ['api'] });
    expectOAuthError(
      await refresh({ client_id: undefined, client_secret: undefined }),
      400,
      'invalid_grant',
      INVALID_GRANT,
    );
    expectOAuthError(
      await refresh({ client_id: other.applicationId, client_secret: other.secret }),
      400,
      'invalid_grant',
      INVALID_GRANT,
    );
  });

  it('a narrower scope is granted, a wider one → invalid_scope — RefreshTokenRequest#validate_scope', async () => {
    const s = sim();
    const { refresh } = await tokens(s);
    expectOAuthError(
      await refresh({ scope: 'api openid' }),
      400,
      'invalid_scope',
      'The requested scope is invalid, unknown, or malformed.',
    );
    const narrow = await refresh({ scope: 'read_user' });
    expect(narrow.status).toBe(200);
    expect(narrow.body.scope).toBe('read_user');
  });

  it('a public client refreshes with client_id only — by_uid_and_secret', async () => {
    const s = sim();
    const { refresh } = await tokens(s, { confidential: false });
    expect((await refresh({ client_secret: undefined })).status).toBe(200);
  });
});

describe('POST /oauth/token grant_type=password (ROPC, config/initializers/doorkeeper.rb)', () => {
  const sim = useSimulator();

  function ropc(s: Simulator, form: Record<string, string>) {
    return tokenCall(s, { grant_type: 'password', username: 'alice', password: PASSWORD, ...form });
  }

  it('works without client credentials by default (ropc_without_client_credentials) and grants api — skip_client_authentication_for_password_grant', async () => {
    const s = sim();
    s.givenUser({ username: 'alice', password: PASSWORD });
    const res = await ropc(s, {});
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'api', refresh_token: expect.any(String) });
    expect(s.store.accessTokens.get(res.body.access_token)!.applicationId).toBeNull();
  });

  it("the login may be the e-mail address; the app's scopes bound the grant — resource_owner_from_credentials", async () => {
    const s = sim();
    s.givenUser({ username: 'alice', email: 'alice@example.com', password: PASSWORD });
    const client = s.givenApplication({ redirectUri: CALLBACK, scopes: ['read_user'] });
    const res = await ropc(s, {
      username: 'alice@example.com',
      scope: 'read_user',
      client_id: client.applicationId,
      client_secret: client.secret,
    });
    expect(res.status).toBe(200);
    const wide = await ropc(s, {
      scope: 'api',
      client_id: client.applicationId,
      client_secret: client.secret,
    });
    expectOAuthError(wide, 400, 'invalid_scope', 'The requested scope is invalid, unknown, or malformed.');
  });

  it('with ropc_without_client_credentials off, a request without a client → 401 invalid_client — PasswordAccessTokenRequest#validate_client', async () => {
    const s = sim();
    s.givenUser({ username: 'alice', password: PASSWORD });
    s.settings.ropcWithoutClientCredentials = false;
    expectOAuthError(await ropc(s, {}), 401, 'invalid_client', INVALID_CLIENT);
  });

  it('a client_id whose secret is missing (confidential app) → invalid_client — GitLab validate_client override', async () => {
    const s = sim();
    s.givenUser({ username: 'alice', password: PASSWORD });
    const client = s.givenApplication({ redirectUri: CALLBACK, scopes: ['api'] });
    expectOAuthError(
      await ropc(s, { client_id: client.applicationId }),
      401,
      'invalid_client',
      INVALID_CLIENT,
    );
  });

  it.each([
    ['a wrong password', {}, { password: 'nope' }],
    ['a 2FA user', { twoFactorEnabled: true }, {}],
    ['an auto-set password', { passwordAutomaticallySet: true }, {}],
    ['a blocked user', { state: 'blocked' }, {}],
    ['a deactivated user', { state: 'deactivated' }, {}],
  ] as const)(
    '%s → invalid_grant — resource_owner_from_credentials / find_with_user_password',
    async (_, patch, form) => {
      const s = sim();
      const alice = s.givenUser({ username: 'alice', password: PASSWORD });
      Object.assign(alice, patch);
      expectOAuthError(await ropc(s, form), 400, 'invalid_grant', INVALID_GRANT);
    },
  );
});

describe('POST /oauth/token grant_type=client_credentials (doorkeeper ClientCredentialsRequest)', () => {
  const sim = useSimulator();

  it('issues an application token without refresh token or user — ClientCredentials::Creator', async () => {
    const s = sim();
    const client = s.givenApplication({ redirectUri: CALLBACK, scopes: ['api', 'read_user'] });
    const res = await tokenCall(
      s,
      { grant_type: 'client_credentials', scope: 'read_user' },
      { id: client.applicationId, secret: client.secret },
    );
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual([
      'access_token',
      'token_type',
      'expires_in',
      'scope',
      'created_at',
    ]);
    const api = await get(s, '/user', { token: null, bearer: res.body.access_token });
    expect(api.status).toBe(401);
  });

  it('requires an authenticated client — ClientCredentials::Validator#validate_client', async () => {
    const res = await tokenCall(sim(), { grant_type: 'client_credentials' });
    expectOAuthError(res, 401, 'invalid_client', INVALID_CLIENT);
  });
});
