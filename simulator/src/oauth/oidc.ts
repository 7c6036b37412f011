import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SignJWT } from 'jose';
import type { SimContext } from '../context.js';
import { requestParams } from '../http/app.js';
import type { Store } from '../model/store.js';
import type { Group, OAuthAccessToken, OAuthApplication, User } from '../model/types.js';
import {
  blank,
  doorkeeperToken,
  GRANT_TYPES,
  JSON_UTF8,
  SERVER_SCOPES,
  sendInvalidToken,
  sendJsonUtf8,
  str,
  tokenAccessible,
} from './doorkeeper.js';

/**
 * GitLab's OpenID Connect provider (doorkeeper-openid_connect 1.8 as configured in
 * `config/initializers/doorkeeper_openid_connect.rb`): discovery, JWKS, userinfo and ID tokens.
 */

/**
 * Deliberately broken OIDC answers, for a relying party's security tests. Set through
 * `Simulator#oidcFaults`; applies to every ID token / discovery document until cleared.
 */
export interface OidcFaults {
  idToken?: IdTokenFault;
  /** `issuer` reported by `/.well-known/openid-configuration` instead of the real one. */
  discoveryIssuer?: string;
}

export interface IdTokenFault {
  /**
   * Claims replaced in the payload; `null` removes a claim. E.g. `{ iss: 'https://evil.example' }`,
   * `{ aud: 'someone-else' }`, `{ sub: null }`, `{ nonce: 'wrong' }`.
   */
  claims?: Record<string, unknown>;
  /** Issue the token already expired (`iat` and `exp` in the past). */
  expired?: boolean;
  /** `none`: an unsigned token (`alg: none`, empty signature). */
  alg?: 'none';
  /** Sign correctly, then corrupt the signature. */
  badSignature?: boolean;
  /** A `kid` header naming no published key. */
  kid?: string;
}

const CLAIM_GROUP_OWNER = 'https://gitlab.org/claims/groups/owner';
const CLAIM_GROUP_MAINTAINER = 'https://gitlab.org/claims/groups/maintainer';
const CLAIM_GROUP_DEVELOPER = 'https://gitlab.org/claims/groups/developer';

/** The claims GitLab configures, in declaration order (they follow `iss sub aud exp iat` in discovery). */
const CONFIGURED_CLAIMS = [
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
  CLAIM_GROUP_OWNER,
  CLAIM_GROUP_MAINTAINER,
  CLAIM_GROUP_DEVELOPER,
];

/** Stands in for Rails' `secret_key_base` in the `sub_legacy` digest; fixed so it is stable across runs. */
const SECRET_KEY_BASE = 'gitlab-simulator-secret-key-base';

const JWKS_CACHE_CONTROL = 'max-age=86400, public, must-revalidate, no-transform';

// ------------------------------------------------------------------ claims

interface GroupMembership {
  group: Group;
  accessLevel: number;
}

/** The user's direct, non-expired group memberships (`user.groups`), in group id order. */
function directGroups(store: Store, user: User): GroupMembership[] {
  const out: GroupMembership[] = [];
  for (const m of store.membershipsOf(user.id)) {
    if (m.source.type !== 'Namespace' || store.isExpired(m)) continue;
    const group = store.groups.get(m.source.id);
    if (group) out.push({ group, accessLevel: m.accessLevel });
  }
  return out.sort((a, b) => a.group.id - b.group.id);
}

/** `user.membership_groups`: direct groups and all their descendants. */
function membershipGroups(store: Store, direct: GroupMembership[]): string[] {
  const seen = new Map<number, Group>();
  for (const { group } of direct) {
    for (const g of store.groupDescendants(group)) seen.set(g.id, g);
  }
  return [...seen.values()].sort((a, b) => a.id - b.id).map((g) => g.fullPath);
}

/** `User#verified_email?` */
function emailVerified(user: User, email: string): boolean {
  const lower = email.toLowerCase();
  if (user.email.toLowerCase() === lower) return user.confirmedAt !== null;
  return user.secondaryEmails.some((e) => e.email.toLowerCase() === lower && e.confirmedAt !== null);
}

/** `email` is the primary address with the `email` scope, else the public one (which may be absent). */
function emailClaims(user: User, scopes: readonly string[]): Record<string, unknown> {
  if (scopes.includes('email')) return { email: user.email, email_verified: user.confirmedAt !== null };
  if (user.publicEmail)
    return { email: user.publicEmail, email_verified: emailVerified(user, user.publicEmail) };
  return {};
}

function subLegacy(user: User): string {
  return createHash('sha256').update(`${user.id}-${SECRET_KEY_BASE}`).digest('hex');
}

/** `User#full_website_url` */
function websiteUrl(user: User): string | undefined {
  if (!user.websiteUrl) return undefined;
  return /^https?:\/\//i.test(user.websiteUrl) ? user.websiteUrl : `http://${user.websiteUrl}`;
}

/** doorkeeper-openid_connect `as_json`: nil and empty-string claims are left out. */
function compact(claims: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(claims)) if (v !== undefined && v !== null && v !== '') out[k] = v;
  return out;
}

/**
 * `UserInfo#claims`: `sub` and every claim GitLab declares for the userinfo response (all but
 * `groups_direct`, which is ID-token only).
 */
export function userinfoClaims(store: Store, user: User, scopes: readonly string[]): Record<string, unknown> {
  const direct = directGroups(store, user);
  const at = (level: number) => direct.filter((m) => m.accessLevel === level).map((m) => m.group.fullPath);
  const owner = at(50);
  const maintainer = at(40);
  const developer = at(30);
  return compact({
    sub: String(user.id),
    sub_legacy: subLegacy(user),
    name: user.name,
    nickname: user.username,
    preferred_username: user.username,
    ...emailClaims(user, scopes),
    website: websiteUrl(user),
    profile: store.userWebUrl(user),
    picture: store.userAvatarUrl(user),
    groups: membershipGroups(store, direct),
    [CLAIM_GROUP_OWNER]: owner.length > 0 ? owner : undefined,
    [CLAIM_GROUP_MAINTAINER]: maintainer.length > 0 ? maintainer : undefined,
    [CLAIM_GROUP_DEVELOPER]: developer.length > 0 ? developer : undefined,
  });
}

/**
 * `IdToken#claims`: the standard claims, then the claims GitLab declares with
 * `response: [:id_token, …]` — `sub_legacy`, `email`, `email_verified` and `groups_direct`. The
 * other claims use doorkeeper-openid_connect's default `response: [:user_info]`.
 */
export function idTokenClaims(
  sim: SimContext,
  token: OAuthAccessToken,
  app: OAuthApplication | undefined,
  user: User,
  nonce: string | null,
): Record<string, unknown> {
  const iat = sim.clock.nowSeconds();
  return compact({
    iss: sim.store.baseUrl,
    sub: String(user.id),
    aud: app?.uid,
    exp: iat + sim.settings.idTokenExpireInSeconds,
    iat,
    nonce,
    auth_time: user.currentSignInAt === null ? null : Math.floor(user.currentSignInAt / 1000),
    sub_legacy: subLegacy(user),
    ...emailClaims(user, token.scopes),
    groups_direct: directGroups(sim.store, user).map((m) => m.group.fullPath),
  });
}

/** The ID token as a compact JWS (RS256, `kid` + `typ: JWT`), with any configured faults applied. */
export async function signIdToken(sim: SimContext, claims: Record<string, unknown>): Promise<string> {
  const fault = sim.oidcFaults.idToken;
  const payload = { ...claims };
  if (fault?.expired) {
    const iat = sim.clock.nowSeconds() - sim.settings.idTokenExpireInSeconds - 600;
    payload.iat = iat;
    payload.exp = iat + sim.settings.idTokenExpireInSeconds;
  }
  for (const [k, v] of Object.entries(fault?.claims ?? {})) {
    if (v === null) delete payload[k];
    else payload[k] = v;
  }
  if (fault?.alg === 'none') {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    return `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`;
  }
  const key = sim.keys.signing;
  const jws = await new SignJWT(payload)
    .setProtectedHeader({ alg: 'RS256', kid: fault?.kid ?? key.kid, typ: 'JWT' })
    .sign(key.privateKey);
  if (!fault?.badSignature) return jws;
  const [h, p, s] = jws.split('.');
  const sig = Buffer.from(s!, 'base64url');
  sig[0] = (sig[0] ?? 0) ^ 0xff;
  return `${h}.${p}.${sig.toString('base64url')}`;
}

// ------------------------------------------------------------------ endpoints

/** `Doorkeeper::OpenidConnect::DiscoveryController#provider_response` (nil entries compacted away). */
export function discoveryDocument(sim: SimContext): Record<string, unknown> {
  const base = sim.store.baseUrl;
  return {
    issuer: sim.oidcFaults.discoveryIssuer ?? base,
    authorization_endpoint: `${base}/oauth/authorize`,
    token_endpoint: `${base}/oauth/token`,
    revocation_endpoint: `${base}/oauth/revoke`,
    introspection_endpoint: `${base}/oauth/introspect`,
    userinfo_endpoint: `${base}/oauth/userinfo`,
    jwks_uri: `${base}/oauth/discovery/keys`,
    scopes_supported: SERVER_SCOPES,
    response_types_supported: ['code'],
    response_modes_supported: ['query', 'fragment', 'form_post'],
    grant_types_supported: GRANT_TYPES,
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    claim_types_supported: ['normal'],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', ...CONFIGURED_CLAIMS],
    code_challenge_methods_supported: ['plain', 'S256'],
  };
}

/** A user that `resource_owner_from_access_token` (`User.active.find_by(id:)`) finds. */
export function activeResourceOwner(store: Store, token: OAuthAccessToken): User | undefined {
  const user = store.users.get(token.userId);
  return user && user.state === 'active' && user.userType === 'human' ? user : undefined;
}

/**
 * GitLab's `resource_owner_from_access_token` yields nil for a user who is no longer active, and the
 * `subject` block then fails on nil: Rails answers with its 500 page.
 */
export const RAILS_500 =
  '<!DOCTYPE html>\n<html><head><title>Something went wrong (500)</title></head><body><h1>500</h1><h2>Whoops, something went wrong on our end.</h2></body></html>\n';

export function registerOidcRoutes(app: FastifyInstance, sim: SimContext): void {
  // `JwksController#provider` (doorkeeper-openid_connect DiscoveryController).
  app.get('/.well-known/openid-configuration', async (_req, reply) =>
    sendJsonUtf8(reply, 200, discoveryDocument(sim)),
  );

  // `DiscoveryController#webfinger`: `params.require(:resource)`.
  app.get('/.well-known/webfinger', async (req, reply) => {
    const resource = str(requestParams(req).resource);
    if (blank(resource)) {
      return reply.code(400).type('text/html; charset=utf-8').send('<h1>400 Bad Request</h1>');
    }
    return sendJsonUtf8(reply, 200, {
      subject: resource,
      links: [{ rel: 'http://openid.net/specs/connect/1.0/issuer', href: `${sim.store.baseUrl}/` }],
    });
  });

  // `JwksController#keys` and `#index`: the OIDC signing key(s) and the CI JWT key, cacheable for a day.
  for (const path of ['/oauth/discovery/keys', '/-/jwks']) {
    app.get(path, async (_req, reply) =>
      sendJsonUtf8(reply, 200, sim.keys.jwks(), { 'cache-control': JWKS_CACHE_CONTROL }),
    );
  }

  // `Oauth::UserinfoController` (`doorkeeper_authorize! :openid`).
  const userinfo = async (req: FastifyRequest, reply: FastifyReply) => {
    const token = doorkeeperToken(sim.store, req, requestParams(req));
    if (!token || !tokenAccessible(sim.store, token)) return sendInvalidToken(reply);
    if (!token.scopes.includes('openid')) {
      return sendJsonUtf8(
        reply,
        403,
        {
          error: 'insufficient_scope',
          error_description: 'Access to this resource requires scope "openid".',
        },
        { 'cache-control': 'no-store, no-cache', pragma: 'no-cache' },
      );
    }
    const user = activeResourceOwner(sim.store, token);
    if (!user) return reply.code(500).type('text/html; charset=utf-8').send(RAILS_500);
    return reply
      .code(200)
      .type(JSON_UTF8)
      .send(JSON.stringify(userinfoClaims(sim.store, user, token.scopes)));
  };
  app.get('/oauth/userinfo', userinfo);
  app.post('/oauth/userinfo', userinfo);
}
