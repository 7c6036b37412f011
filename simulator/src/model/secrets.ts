import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 64 hex characters, doorkeeper's `:hex` generator (OAuth tokens, codes, application uids). */
export function hexToken(bytes = 32): string {
  return randomBytes(bytes).toString('hex');
}

const URLSAFE = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_';

/** A URL-safe random string (Devise-style reset/confirmation tokens, PAT bodies). */
export function urlSafeToken(length = 20): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += URLSAFE[bytes[i]! & 63];
  return out;
}

/** `glpat-` + 20 characters, as GitLab's personal access tokens. */
export function personalAccessTokenValue(): string {
  return `glpat-${urlSafeToken(20)}`;
}

/** `gloas-` + 64 hex, as GitLab's OAuth application secrets since 15.x. */
export function applicationSecretValue(): string {
  return `gloas-${hexToken(32)}`;
}

/**
 * Passwords are kept as a salted SHA-256 digest: cheap enough to seed 100,000 users in seconds, and
 * it keeps the plain text out of state dumps. A simulator has no need for a slow KDF.
 */
export function hashPassword(password: string): string {
  const salt = randomBytes(8).toString('hex');
  return `${salt}$${createHash('sha256').update(salt).update(password).digest('hex')}`;
}

export function verifyPassword(password: string, stored: string | null): boolean {
  if (!stored) return false;
  const [salt, digest] = stored.split('$');
  if (!salt || !digest) return false;
  const actual = createHash('sha256').update(salt).update(password).digest();
  const expected = Buffer.from(digest, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Compares a presented secret with the real one in constant time. */
export function sameSecret(given: string, actual: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(actual);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function sha256Base64Url(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

export function md5Hex(value: string): string {
  return createHash('md5').update(value).digest('hex');
}
