import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** A CSPRNG token, base64url without padding (32 bytes → 43 characters). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function sha256Hex(input: string | Uint8Array): string {
  return createHash('sha256').update(input).digest('hex');
}

/**
 * HMAC-SHA-256 (hex) under `key`: how bearer secrets (session cookies, sign-in states) are stored.
 * A copy of the database alone cannot be used to test guessed values, and changing the key
 * invalidates every stored one at once.
 */
export function keyedHash(key: string): (value: string) => string {
  return (value) => createHmac('sha256', key).update(value, 'utf8').digest('hex');
}

/**
 * Compares two secrets without leaking where they differ. Both sides are hashed first so that inputs of
 * different lengths take the same time and `timingSafeEqual` never throws.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const digestA = createHash('sha256').update(a, 'utf8').digest();
  const digestB = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(digestA, digestB);
}
