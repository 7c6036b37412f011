import * as client from 'openid-client';
import { describe, expect, it } from 'vitest';
import type { IdTokenFault, Simulator } from '../src/index.js';
import { Browser, form } from './browser.js';
import { get, useSimulator } from './helpers.js';

/**
 * A relying party built on the real `openid-client` v6 (Authorization Code + PKCE S256 + state +
 * nonce), as the portal uses it, against the simulator's OAuth/OIDC provider. openid-client checks
 * discovery, the authorization response, the token response and the ID token itself.
 */
const PASSWORD = 'correct-horse-battery';
// Never contacted: the browser stops at the redirect back to the client.
const CALLBACK = 'http://127.0.0.1:9/auth/callback';

async function relyingParty(s: Simulator, auth: 'post' | 'basic' = 'post') {
  const app = s.givenApplication({
    name: 'Portal',
    redirectUri: CALLBACK,
    scopes: ['openid', 'profile', 'email', 'read_user'],
  });
  const config = await client.discovery(
    new URL(s.url),
    app.applicationId,
    undefined,
    auth === 'post' ? client.ClientSecretPost(app.secret) : client.ClientSecretBasic(app.secret),
    { execute: [client.allowInsecureRequests] },
  );
  return { app, config };
}

/**
 * The user's side: the authorize URL bounces to the sign-in form, signing in returns to the consent
 * page, Authorize redirects back to the client. Returns the callback URL and the checks to apply.
 */
async function login(s: Simulator, config: client.Configuration, browser = new Browser(s)) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: CALLBACK,
    scope: 'openid profile email read_user',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  let res = await browser.follow(await browser.get(url.toString()));
  if (res.text.includes('Sign in to GitLab')) {
    res = await browser.submit(form(res.text), { 'user[login]': 'alice', 'user[password]': PASSWORD });
    res = await browser.follow(res);
  }
  expect(res.text).toContain('Authorize Portal');
  const back = await browser.submit(form(res.text, 'Authorize Portal'));
  expect(back.status).toBe(302);
  expect(back.location!.startsWith(CALLBACK)).toBe(true);
  return {
    callback: new URL(back.location!),
    checks: { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce },
  };
}

/** The error a promise rejects with (openid-client wraps the detailed check failure in `cause`). */
async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected the promise to reject');
}

describe('openid-client v6 against the simulator (Authorization Code + PKCE + nonce)', () => {
  const sim = useSimulator();

  it('discovers GitLab, signs the user in, and validates the ID token — doorkeeper-openid_connect + doorkeeper', async () => {
    const s = sim();
    const alice = s.givenUser({
      username: 'alice',
      name: 'Alice',
      email: 'alice@example.com',
      password: PASSWORD,
    });
    const { config, app } = await relyingParty(s);
    expect(config.serverMetadata().issuer).toBe(s.url);
    const { callback, checks } = await login(s, config);
    const tokens = await client.authorizationCodeGrant(config, callback, {
      ...checks,
      idTokenExpected: true,
    });
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.expires_in).toBe(7200);
    expect(tokens.scope).toBe('openid profile email read_user');
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({
      iss: s.url,
      sub: String(alice.id),
      aud: app.applicationId,
      nonce: checks.expectedNonce,
      email: 'alice@example.com',
      email_verified: true,
    });
    expect((await get(s, '/user', { token: null, bearer: tokens.access_token })).body.username).toBe('alice');
  });

  it('client_secret_basic fails against GitLab: openid-client form-encodes the "-" of gloas- secrets and doorkeeper never URL-decodes Basic credentials — doorkeeper client_authentication/client_secret_basic.rb', async () => {
    const s = sim();
    s.givenUser({ username: 'alice', password: PASSWORD });
    const { config } = await relyingParty(s, 'basic');
    const { callback, checks } = await login(s, config);
    const e = await rejection(client.authorizationCodeGrant(config, callback, checks));
    expect(e.code).toBe('OAUTH_WWW_AUTHENTICATE_CHALLENGE');
    expect(e.status).toBe(401);
    expect(e.cause[0].parameters).toMatchObject({ realm: 'Doorkeeper', error: 'invalid_client' });
  });

  it('refreshes, reads userinfo, introspects and revokes — RefreshTokenRequest, UserinfoController, TokensController', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', name: 'Alice', password: PASSWORD });
    const { config } = await relyingParty(s);
    const { callback, checks } = await login(s, config);
    const tokens = await client.authorizationCodeGrant(config, callback, {
      ...checks,
      idTokenExpected: true,
    });
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    expect(refreshed.claims()!.sub).toBe(String(alice.id));
    const info = await client.fetchUserInfo(config, refreshed.access_token, String(alice.id));
    expect(info).toMatchObject({ sub: String(alice.id), name: 'Alice', preferred_username: 'alice' });
    expect((await client.tokenIntrospection(config, refreshed.access_token)).active).toBe(true);
    await client.tokenRevocation(config, refreshed.refresh_token!);
    expect((await client.tokenIntrospection(config, refreshed.access_token)).active).toBe(false);
    // Token-endpoint errors carry WWW-Authenticate, so openid-client reports them as a challenge.
    const e = await rejection(client.refreshTokenGrant(config, refreshed.refresh_token!));
    expect(e.code).toBe('OAUTH_WWW_AUTHENTICATE_CHALLENGE');
    expect(e.status).toBe(400);
    expect(e.cause[0].parameters.error).toBe('invalid_grant');
  });

  it('a second login of a signed-in user goes straight to consent — SessionsController + doorkeeper', async () => {
    const s = sim();
    s.givenUser({ username: 'alice', password: PASSWORD });
    const { config } = await relyingParty(s);
    const browser = new Browser(s);
    await login(s, config, browser);
    const cookie = browser.sessionCookie;
    const { callback, checks } = await login(s, config, browser);
    expect(browser.sessionCookie).toBe(cookie);
    await expect(client.authorizationCodeGrant(config, callback, checks)).resolves.toHaveProperty(
      'access_token',
    );
  });

  it('a tampered state is caught by the client — RFC 6749 §10.12', async () => {
    const s = sim();
    s.givenUser({ username: 'alice', password: PASSWORD });
    const { config } = await relyingParty(s);
    const { callback, checks } = await login(s, config);
    const e = await rejection(
      client.authorizationCodeGrant(config, callback, { ...checks, expectedState: 'something-else' }),
    );
    expect(e.cause.message).toMatch(/unexpected "state" response parameter value/);
  });

  it.each<[string, IdTokenFault, RegExp]>([
    ['a wrong iss', { claims: { iss: 'https://evil.example' } }, /"iss" \(issuer\) claim value/],
    ['a wrong aud', { claims: { aud: 'another-client' } }, /"aud" \(audience\) claim value/],
    ['a missing sub', { claims: { sub: null } }, /"sub" \(subject\) claim missing/],
    ['a wrong nonce', { claims: { nonce: 'replayed' } }, /"nonce" claim value/],
    ['an expired token', { expired: true }, /"exp" \(expiration time\) claim value/],
    ['alg none', { alg: 'none' }, /unexpected JWT "alg" header parameter/],
  ])('an ID token with %s is rejected by openid-client — Simulator#oidcFaults', async (_, fault, message) => {
    const s = sim();
    s.givenUser({ username: 'alice', password: PASSWORD });
    const { config } = await relyingParty(s);
    const { callback, checks } = await login(s, config);
    s.oidcFaults = { idToken: fault };
    const e = await rejection(
      client.authorizationCodeGrant(config, callback, { ...checks, idTokenExpected: true }),
    );
    expect(e.cause.message).toMatch(message);
  });

  it('a bad ID token signature is rejected once non-repudiation checks are on — Simulator#oidcFaults badSignature', async () => {
    const s = sim();
    s.givenUser({ username: 'alice', password: PASSWORD });
    const { config } = await relyingParty(s);
    client.enableNonRepudiationChecks(config);
    const { callback, checks } = await login(s, config);
    s.oidcFaults = { idToken: { badSignature: true } };
    const e = await rejection(
      client.authorizationCodeGrant(config, callback, { ...checks, idTokenExpected: true }),
    );
    expect(e.cause.message).toMatch(/JWT signature verification failed/);
  });

  it('discovery whose issuer differs from the expected one is rejected — Simulator#oidcFaults discoveryIssuer', async () => {
    const s = sim();
    s.oidcFaults = { discoveryIssuer: 'https://gitlab.evil.example' };
    const app = s.givenApplication({ redirectUri: CALLBACK, scopes: ['openid'] });
    await expect(
      client.discovery(new URL(s.url), app.applicationId, app.secret, undefined, {
        execute: [client.allowInsecureRequests],
      }),
    ).rejects.toThrow(/issuer/);
  });
});
