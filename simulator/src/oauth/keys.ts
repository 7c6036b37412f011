import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';

/**
 * The RSA keys GitLab publishes at `/oauth/discovery/keys`: the OIDC signing key and the CI JWT key.
 * `rotate()` swaps in a new signing key while keeping the old one published, as a key rotation does.
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

// RSA key generation takes a noticeable fraction of a second; simulators in one process share the
// initial keys (tests start many), and `rotate()` gives an instance a fresh one.
let sharedKeys: { signing: OidcKey; ci: OidcKey } | undefined;

export class OidcKeys {
  signing: OidcKey;
  private readonly ciKey: OidcKey;
  private retired: OidcKey[] = [];

  constructor() {
    sharedKeys ??= { signing: makeKey(), ci: makeKey() };
    this.signing = sharedKeys.signing;
    this.ciKey = sharedKeys.ci;
  }

  jwks(): { keys: JWK[] } {
    return { keys: [this.signing.publicJwk, ...this.retired.map((k) => k.publicJwk), this.ciKey.publicJwk] };
  }

  rotate(): void {
    this.retired = [this.signing];
    this.signing = makeKey();
  }
}
