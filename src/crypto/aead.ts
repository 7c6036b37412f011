import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

export type TokenDecryptionFailure = 'malformed' | 'unknown_key' | 'authentication_failed';

const failureMessages: Record<TokenDecryptionFailure, string> = {
  malformed: 'The encrypted value is not in the expected format.',
  unknown_key: 'The encrypted value was sealed with a key that is no longer configured.',
  authentication_failed: 'The encrypted value failed its integrity check.',
};

/**
 * Raised for every value that cannot be opened. Callers treat it as "this stored token is gone" (for a
 * session: signed out), never as a crash. The message never contains the value or the key.
 */
export class TokenDecryptionError extends Error {
  override readonly name = 'TokenDecryptionError';

  constructor(readonly reason: TokenDecryptionFailure) {
    super(failureMessages[reason]);
  }
}

/**
 * Decodes a 32-byte key written as 64 hex digits, base64 or base64url (padding optional). Returns
 * undefined for anything else, so configuration can report the problem without echoing the value.
 */
export function decodeKey(text: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  const unpadded = text.replace(/=+$/, '').replaceAll('+', '-').replaceAll('/', '_');
  if (!BASE64URL.test(unpadded) || unpadded.length !== 43) return undefined;
  const key = Buffer.from(unpadded, 'base64url');
  return key.length === KEY_BYTES ? key : undefined;
}

/** A short public name for a key, derived from it, so sealed values say which key opens them. */
export function keyIdOf(key: Uint8Array): string {
  return createHmac('sha256', key).update('gitlab-extern token key id').digest('base64url').slice(0, 8);
}

function requireKey(text: string, label: string): Buffer {
  const key = decodeKey(text);
  if (!key) throw new TypeError(`${label} must be 32 bytes written as base64, base64url or hex`);
  return key;
}

function decodePart(part: string, expectedBytes?: number): Buffer {
  if (!BASE64URL.test(part)) throw new TokenDecryptionError('malformed');
  const bytes = Buffer.from(part, 'base64url');
  // Rejecting non-canonical spellings keeps every change to the string a change to the bytes.
  if (bytes.toString('base64url') !== part) throw new TokenDecryptionError('malformed');
  if (expectedBytes !== undefined && bytes.length !== expectedBytes)
    throw new TokenDecryptionError('malformed');
  return bytes;
}

export interface TokenCipherKeys {
  /** Encrypts and decrypts. */
  current: string;
  /** Decrypts only: values sealed before a key rotation stay readable until they are re-encrypted. */
  previous?: string | undefined;
}

/**
 * AES-256-GCM for OAuth tokens at rest. Output: `v1.<kid>.<nonce>.<ciphertext>.<tag>` (base64url parts).
 * The caller's associated data (e.g. the session id hash) binds a value to its row, so a value copied to
 * another row does not open; version and key id are bound as well.
 */
export class TokenCipher {
  readonly currentKeyId: string;
  readonly #keys = new Map<string, Buffer>();

  constructor(keys: TokenCipherKeys) {
    const current = requireKey(keys.current, 'The current encryption key');
    this.currentKeyId = keyIdOf(current);
    if (keys.previous !== undefined) {
      const previous = requireKey(keys.previous, 'The previous encryption key');
      this.#keys.set(keyIdOf(previous), previous);
    }
    this.#keys.set(this.currentKeyId, current);
  }

  encrypt(plaintext: string, associatedData: string): string {
    const key = this.#keys.get(this.currentKeyId)!;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(boundData(this.currentKeyId, associatedData));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      VERSION,
      this.currentKeyId,
      nonce.toString('base64url'),
      ciphertext.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
    ].join('.');
  }

  /** @throws TokenDecryptionError for any value that is malformed, unknown or altered. */
  decrypt(sealed: string, associatedData: string): string {
    const parts = sealed.split('.');
    if (parts.length !== 5 || parts[0] !== VERSION) throw new TokenDecryptionError('malformed');
    const [, keyId, nonceText, ciphertextText, tagText] = parts as [string, string, string, string, string];
    const key = this.#keys.get(keyId);
    if (!key) throw new TokenDecryptionError('unknown_key');
    const nonce = decodePart(nonceText, NONCE_BYTES);
    const ciphertext = decodePart(ciphertextText);
    const tag = decodePart(tagText, TAG_BYTES);
    const decipher = createDecipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(boundData(keyId, associatedData));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      throw new TokenDecryptionError('authentication_failed');
    }
  }

  /** True when a value was sealed with an older key and should be re-encrypted on its next write. */
  needsReEncryption(sealed: string): boolean {
    return sealed.split('.', 2)[1] !== this.currentKeyId;
  }
}

function boundData(keyId: string, associatedData: string): Buffer {
  return Buffer.from(`${VERSION}.${keyId}.${associatedData}`, 'utf8');
}
