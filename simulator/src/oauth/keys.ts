import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';

/**
 * The RSA keys GitLab publishes at `/oauth/discovery/keys`: the OIDC signing key and the CI JWT key.
 */
export interface OidcKey {
  kid: string;
  privateKey: KeyObject;
  publicJwk: JWK;
}

function makeKey(): OidcKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' }) as JWK;
  // RFC 7638 thumbprint as kid, as GitLab (doorkeeper-openid_connect) does.
  const kid = createHash('sha256')
    .update(JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n }))
    .digest('base64url');
  return { kid, privateKey, publicJwk: { kty: 'RSA', kid, e: jwk.e, n: jwk.n, use: 'sig', alg: 'RS256' } };
}

// RSA key generation takes a noticeable fraction of a second, so keys are made on first use (a
// simulator that never serves OIDC never pays for them) and shared by the simulators of a process
// (tests start many).
let sharedKeys: { signing: OidcKey; ci: OidcKey } | undefined;

export class OidcKeys {
  private get keys(): { signing: OidcKey; ci: OidcKey } {
    sharedKeys ??= { signing: makeKey(), ci: makeKey() };
    return sharedKeys;
  }

  /** The key ID tokens are signed with. */
  get signing(): OidcKey {
    return this.keys.signing;
  }

  jwks(): { keys: JWK[] } {
    return { keys: [this.keys.signing.publicJwk, this.keys.ci.publicJwk] };
  }
}
