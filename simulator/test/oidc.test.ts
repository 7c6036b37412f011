import { createHash } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index.js';
import { authorizationCode, PASSWORD, tokenCall } from './browser.js';
import { useSimulator } from './helpers.js';

/** Signs alice in, authorizes `scope`, and exchanges the code. */
async function codeFlow(s: Simulator, scope: string, nonce?: string) {
  const { alice, client, exchange } = await authorizationCode(s, { scope, nonce });
  const res = await exchange();
  expect(res.status).toBe(200);
  return { alice, client, tokens: res.body };
}

async function userinfo(s: Simulator, token: string, method = 'GET') {
  const res = await fetch(`${s.url}/oauth/userinfo`, {
    method,
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

function subLegacy(id: number): string {
  return createHash('sha256').update(`${id}-gitlab-simulator-secret-key-base`).digest('hex');
}

describe('OIDC discovery and keys (doorkeeper-openid_connect DiscoveryController, app/controllers/jwks_controller.rb)', () => {
  const sim = useSimulator();

  it("GET /.well-known/openid-configuration lists GitLab's endpoints and capabilities — DiscoveryController#provider_response", async () => {
    const s = sim();
    const res = await fetch(`${s.url}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const body = await res.json();
    expect(body).toEqual({
      issuer: s.url,
      authorization_endpoint: `${s.url}/oauth/authorize`,
      token_endpoint: `${s.url}/oauth/token`,
      revocation_endpoint: `${s.url}/oauth/revoke`,
      introspection_endpoint: `${s.url}/oauth/introspect`,
      userinfo_endpoint: `${s.url}/oauth/userinfo`,
      jwks_uri: `${s.url}/oauth/discovery/keys`,
      scopes_supported: [
        'api',
        'read_api',
        'read_user',
        'create_runner',
        'manage_runner',
        'k8s_proxy',
        'self_rotate',
        'read_repository',
        'write_repository',
        'read_registry',
        'write_registry',
        'read_virtual_registry',
        'write_virtual_registry',
        'read_observability',
        'write_observability',
        'ai_features',
        'sudo',
        'admin_mode',
        'read_service_ping',
        'openid',
        'profile',
        'email',
        'ai_workflows',
      ],
      response_types_supported: ['code'],
      response_modes_supported: ['query', 'fragment', 'form_post'],
      grant_types_supported: [
        'authorization_code',
        'password',
        'client_credentials',
        'device_code',
        'refresh_token',
      ],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      claim_types_supported: ['normal'],
      claims_supported: [
        'iss',
        'sub',
        'aud',
        'exp',
        'iat',
        'sub_legacy',
        'name',
        'nickname',
        'preferred_username',
        'email',
        'email_verified',
        'website',
        'profile',
        'picture',
        'groups',
        'groups_direct',
        'https://gitlab.org/claims/groups/owner',
        'https://gitlab.org/claims/groups/maintainer',
        'https://gitlab.org/claims/groups/developer',
      ],
      code_challenge_methods_supported: ['plain', 'S256'],
    });
    expect(body).not.toHaveProperty('end_session_endpoint');
  });

  it('the JWKS lists RSA signing keys and is cacheable for a day, at both paths — JwksController#keys/#index', async () => {
    const s = sim();
    for (const path of ['/oauth/discovery/keys', '/-/jwks']) {
      const res = await fetch(s.url + path);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('max-age=86400, public, must-revalidate, no-transform');
      const { keys } = await res.json();
      expect(keys).toHaveLength(2);
      for (const key of keys) {
        expect(Object.keys(key).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
        expect(key).toMatchObject({ kty: 'RSA', e: 'AQAB', use: 'sig', alg: 'RS256' });
      }
    }
  });

  it('webfinger answers with the issuer relation; a missing resource is 400 — DiscoveryController#webfinger', async () => {
    const s = sim();
    const res = await fetch(`${s.url}/.well-known/webfinger?resource=acct:alice@example.com`);
    expect(await res.json()).toEqual({
      subject: 'acct:alice@example.com',
      links: [{ rel: 'http://openid.net/specs/connect/1.0/issuer', href: `${s.url}/` }],
    });
    expect((await fetch(`${s.url}/.well-known/webfinger`)).status).toBe(400);
  });
});

describe('ID token (doorkeeper-openid_connect IdToken, config/initializers/doorkeeper_openid_connect.rb)', () => {
  const sim = useSimulator();

  it('is issued with openid, signed RS256 with kid and typ JWT, verifiable with the JWKS — IdToken#as_jws_token', async () => {
    const s = sim();
    const { tokens, client } = await codeFlow(s, 'openid read_user', 'n-0S6_WzA2Mj');
    expect(Object.keys(tokens)).toEqual([
      'access_token',
      'token_type',
      'expires_in',
      'refresh_token',
      'scope',
      'created_at',
      'id_token',
    ]);
    const header = decodeProtectedHeader(tokens.id_token);
    expect(header).toEqual({ alg: 'RS256', kid: s.context.keys.signing.kid, typ: 'JWT' });
    const jwks = createLocalJWKSet(await (await fetch(`${s.url}/oauth/discovery/keys`)).json());
    const { payload } = await jwtVerify(tokens.id_token, jwks, {
      issuer: s.url,
      audience: client.applicationId,
    });
    expect(payload.nonce).toBe('n-0S6_WzA2Mj');
  });

  it("carries exactly GitLab's ID-token claims (profile claims are userinfo-only) — IdToken#claims", async () => {
    const s = sim();
    const group = s.givenGroup({ path: 'acme' });
    const sub = s.givenGroup({ path: 'team', parent: group });
    const before = s.clock.nowSeconds();
    const alice = s.givenUser({ username: 'alice', password: PASSWORD });
    s.givenMember(sub, alice, 30);
    const { tokens, client } = await codeFlow(s, 'openid email', 'nonce-1');
    const claims = decodeJwt(tokens.id_token);
    expect(claims).toEqual({
      iss: s.url,
      sub: String(alice.id),
      aud: client.applicationId,
      exp: (claims.iat as number) + 120,
      iat: expect.any(Number),
      nonce: 'nonce-1',
      auth_time: Math.floor(alice.currentSignInAt! / 1000),
      sub_legacy: subLegacy(alice.id),
      email: 'alice@example.com',
      email_verified: true,
      groups_direct: ['acme/team'],
    });
    expect(claims.iat).toBeGreaterThanOrEqual(before);
  });

  it('is not issued without the openid scope — doorkeeper-openid_connect TokenResponse', async () => {
    const s = sim();
    const { tokens } = await codeFlow(s, 'read_user');
    expect(tokens).not.toHaveProperty('id_token');
  });

  it('without the email scope, email is the public e-mail, or absent — doorkeeper_openid_connect.rb email claim', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', password: PASSWORD });
    const none = decodeJwt((await codeFlow(s, 'openid')).tokens.id_token);
    expect(none).not.toHaveProperty('email');
    expect(none).not.toHaveProperty('email_verified');
    alice.publicEmail = 'alice@example.com';
    const pub = decodeJwt((await codeFlow(s, 'openid')).tokens.id_token);
    expect(pub).toMatchObject({ email: 'alice@example.com', email_verified: true });
  });

  it('exp follows openid_id_token_expire_in_seconds — doorkeeper-openid_connect expiration', async () => {
    const s = sim();
    s.settings.idTokenExpireInSeconds = 300;
    const claims = decodeJwt((await codeFlow(s, 'openid')).tokens.id_token);
    expect((claims.exp as number) - (claims.iat as number)).toBe(300);
  });

  it('the refresh grant issues a new ID token, without nonce — TokenResponse (IdToken.new(token))', async () => {
    const s = sim();
    const { tokens, client } = await codeFlow(s, 'openid', 'n1');
    const res = await tokenCall(s, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
      client_id: client.applicationId,
      client_secret: client.secret,
    });
    const claims = decodeJwt(res.body.id_token);
    expect(claims.sub).toBe(String(s.user('alice')!.id));
    expect(claims).not.toHaveProperty('nonce');
  });
});

describe('GET|POST /oauth/userinfo (doorkeeper-openid_connect UserinfoController)', () => {
  const sim = useSimulator();

  it("returns sub and GitLab's userinfo claims, groups including subgroups, and role claims — UserInfo#claims", async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', name: 'Alice', password: PASSWORD });
    alice.websiteUrl = 'alice.example.com';
    const acme = s.givenGroup({ path: 'acme' });
    s.givenGroup({ path: 'sub', parent: acme });
    const ops = s.givenGroup({ path: 'ops' });
    const dev = s.givenGroup({ path: 'dev' });
    s.givenMember(acme, alice, 50);
    s.givenMember(ops, alice, 40);
    s.givenMember(dev, alice, 30);
    const { tokens } = await codeFlow(s, 'openid email');
    const res = await userinfo(s, tokens.access_token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      sub: String(alice.id),
      sub_legacy: subLegacy(alice.id),
      name: 'Alice',
      nickname: 'alice',
      preferred_username: 'alice',
      email: 'alice@example.com',
      email_verified: true,
      website: 'http://alice.example.com',
      profile: `${s.url}/alice`,
      picture: s.store.userAvatarUrl(alice),
      groups: ['acme', 'acme/sub', 'ops', 'dev'],
      'https://gitlab.org/claims/groups/owner': ['acme'],
      'https://gitlab.org/claims/groups/maintainer': ['ops'],
      'https://gitlab.org/claims/groups/developer': ['dev'],
    });
  });

  it('role claims are left out when empty; groups_direct never appears — doorkeeper_openid_connect.rb (.presence, response: [:id_token])', async () => {
    const s = sim();
    const { tokens } = await codeFlow(s, 'openid');
    const res = await userinfo(s, tokens.access_token, 'POST');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual([
      'sub',
      'sub_legacy',
      'name',
      'nickname',
      'preferred_username',
      'profile',
      'picture',
      'groups',
    ]);
    expect(res.body.groups).toEqual([]);
  });

  it('a token without openid → 403 insufficient_scope — doorkeeper_authorize! :openid (ForbiddenTokenResponse)', async () => {
    const s = sim();
    const { tokens } = await codeFlow(s, 'read_user');
    const res = await userinfo(s, tokens.access_token);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      error: 'insufficient_scope',
      error_description: 'Access to this resource requires scope "openid".',
    });
    expect(res.headers.get('www-authenticate')).toBeNull();
  });

  it('an invalid or expired token → 401 invalid_token with WWW-Authenticate — InvalidTokenResponse', async () => {
    const s = sim();
    const { tokens } = await codeFlow(s, 'openid');
    s.advanceTime(7_200_000);
    for (const token of [tokens.access_token, 'garbage']) {
      const res = await userinfo(s, token);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_token');
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
  });
});

describe('OIDC faults for relying-party security tests (Simulator#oidcFaults)', () => {
  const sim = useSimulator();

  it('idToken.claims replaces or removes claims (wrong iss, missing sub)', async () => {
    const s = sim();
    s.oidcFaults = { idToken: { claims: { iss: 'https://evil.example', sub: null } } };
    const claims = decodeJwt((await codeFlow(s, 'openid')).tokens.id_token);
    expect(claims.iss).toBe('https://evil.example');
    expect(claims).not.toHaveProperty('sub');
  });

  it('idToken.alg none yields an unsigned token; badSignature one that fails verification', async () => {
    const s = sim();
    s.oidcFaults = { idToken: { alg: 'none' } };
    const unsigned = (await codeFlow(s, 'openid')).tokens.id_token as string;
    expect(decodeProtectedHeader(unsigned)).toEqual({ alg: 'none', typ: 'JWT' });
    expect(unsigned.endsWith('.')).toBe(true);
    s.oidcFaults = { idToken: { badSignature: true } };
    const forged = (await codeFlow(s, 'openid')).tokens.id_token as string;
    const jwks = createLocalJWKSet(s.context.keys.jwks() as never);
    await expect(jwtVerify(forged, jwks)).rejects.toThrow(/signature/);
  });

  it('idToken.expired issues a token whose exp has passed; discoveryIssuer changes the advertised issuer', async () => {
    const s = sim();
    s.oidcFaults = { idToken: { expired: true }, discoveryIssuer: 'https://other.example' };
    const claims = decodeJwt((await codeFlow(s, 'openid')).tokens.id_token);
    expect(claims.exp as number).toBeLessThan(s.clock.nowSeconds());
    const doc = await (await fetch(`${s.url}/.well-known/openid-configuration`)).json();
    expect(doc.issuer).toBe('https://other.example');
  });
});
