import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeKey, keyIdOf, TokenCipher, TokenDecryptionError } from '../../src/crypto/aead.js';
import { constantTimeEqual, randomToken, sha256Hex } from '../../src/crypto/random.js';

const key = () => randomBytes(32).toString('base64url');
const token = 'glpat-CANARY-access-token-0123456789';
const aad = 'a'.repeat(64);

function failure(run: () => unknown): TokenDecryptionError['reason'] | 'none' {
  try {
    run();
  } catch (err) {
    if (err instanceof TokenDecryptionError) return err.reason;
    throw err;
  }
  return 'none';
}

/** Flips one bit in the decoded bytes of a base64url part and re-encodes it. */
function flip(part: string): string {
  const bytes = Buffer.from(part, 'base64url');
  bytes[0]! ^= 1;
  return bytes.toString('base64url');
}

describe('TokenCipher', () => {
  it('round-trips a token, in the documented compact format', () => {
    const cipher = new TokenCipher({ current: key() });
    const sealed = cipher.encrypt(token, aad);
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(sealed.split('.')[1]).toBe(cipher.currentKeyId);
    expect(sealed).not.toContain(token);
    expect(Buffer.from(sealed.split('.')[3]!, 'base64url').toString('latin1')).not.toContain('CANARY');
    expect(cipher.decrypt(sealed, aad)).toBe(token);
  });

  it('round-trips empty and non-ASCII text', () => {
    const cipher = new TokenCipher({ current: key() });
    for (const text of ['', 'päss wörd ✓ 👩‍💻'])
      expect(cipher.decrypt(cipher.encrypt(text, aad), aad)).toBe(text);
  });

  it('gives a different ciphertext every time for the same token', () => {
    const cipher = new TokenCipher({ current: key() });
    const sealed = new Set(Array.from({ length: 100 }, () => cipher.encrypt(token, aad)));
    expect(sealed.size).toBe(100);
    const nonces = new Set([...sealed].map((s) => s.split('.')[2]));
    expect(nonces.size).toBe(100);
  });

  it.each([
    ['version', 0, () => 'v2', 'malformed'],
    ['key id', 1, (p: string) => `${p.slice(0, -1)}${p.endsWith('A') ? 'B' : 'A'}`, 'unknown_key'],
    ['nonce', 2, flip, 'authentication_failed'],
    ['ciphertext', 3, flip, 'authentication_failed'],
    ['tag', 4, flip, 'authentication_failed'],
    ['nonce length', 2, (p: string) => p.slice(0, -2), 'malformed'],
    ['tag length', 4, (p: string) => `${p}AA`, 'malformed'],
    ['nonce spelling', 2, (p: string) => `${p.slice(0, -1)}+`, 'malformed'],
  ] as const)('refuses a changed %s', (_, index, change, reason) => {
    const cipher = new TokenCipher({ current: key() });
    const parts = cipher.encrypt(token, aad).split('.');
    parts[index] = change(parts[index]!);
    expect(failure(() => cipher.decrypt(parts.join('.'), aad))).toBe(reason);
  });

  it('refuses every single-character change anywhere in the value', () => {
    const cipher = new TokenCipher({ current: key() });
    const sealed = cipher.encrypt(token, aad);
    for (let i = 0; i < sealed.length; i++) {
      if (sealed[i] === '.') continue;
      const changed = `${sealed.slice(0, i)}${sealed[i] === 'A' ? 'B' : 'A'}${sealed.slice(i + 1)}`;
      expect(
        failure(() => cipher.decrypt(changed, aad)),
        `position ${i}`,
      ).not.toBe('none');
    }
  });

  it.each([
    ['empty', () => ''],
    ['too few parts', () => 'v1.abc.def'],
    ['too many parts', (kid: string) => `v1.${kid}.a.b.c.d`],
    ['not base64url', (kid: string) => `v1.${kid}.$$$$.%%%%.&&&&`],
  ])('refuses a value that is %s', (_, value) => {
    const cipher = new TokenCipher({ current: key() });
    expect(failure(() => cipher.decrypt(value(cipher.currentKeyId), aad))).toBe('malformed');
  });

  it('binds the value to its associated data (a value copied to another row does not open)', () => {
    const cipher = new TokenCipher({ current: key() });
    const sealed = cipher.encrypt(token, 'session-a');
    expect(failure(() => cipher.decrypt(sealed, 'session-b'))).toBe('authentication_failed');
    expect(failure(() => cipher.decrypt(sealed, ''))).toBe('authentication_failed');
  });

  it('refuses values sealed with a different key', () => {
    const sealed = new TokenCipher({ current: key() }).encrypt(token, aad);
    expect(failure(() => new TokenCipher({ current: key() }).decrypt(sealed, aad))).toBe('unknown_key');
  });

  it('keeps values sealed with the previous key readable after a rotation, and says they need re-encryption', () => {
    const oldKey = key();
    const newKey = key();
    const before = new TokenCipher({ current: oldKey });
    const sealedBefore = before.encrypt(token, aad);

    const after = new TokenCipher({ current: newKey, previous: oldKey });
    expect(after.decrypt(sealedBefore, aad)).toBe(token);
    expect(after.needsReEncryption(sealedBefore)).toBe(true);

    const sealedAfter = after.encrypt(token, aad);
    expect(sealedAfter.split('.')[1]).toBe(after.currentKeyId);
    expect(after.currentKeyId).not.toBe(before.currentKeyId);
    expect(after.needsReEncryption(sealedAfter)).toBe(false);
    expect(failure(() => before.decrypt(sealedAfter, aad))).toBe('unknown_key');

    const retired = new TokenCipher({ current: newKey });
    expect(failure(() => retired.decrypt(sealedBefore, aad))).toBe('unknown_key');
  });

  it('accepts the key in any configured spelling, with the same key id', () => {
    const bytes = randomBytes(32);
    const ids = [bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex')].map(
      (spelling) => new TokenCipher({ current: spelling }).currentKeyId,
    );
    expect(new Set(ids)).toEqual(new Set([keyIdOf(bytes)]));
    expect(decodeKey(bytes.toString('base64'))).toEqual(bytes);
    expect(decodeKey(randomBytes(31).toString('base64'))).toBeUndefined();
    expect(() => new TokenCipher({ current: 'short' })).toThrow(TypeError);
  });

  it('never puts the value or the key in its error messages', () => {
    const current = key();
    const cipher = new TokenCipher({ current });
    const sealed = cipher.encrypt(token, aad);
    try {
      cipher.decrypt(sealed, 'other');
      expect.unreachable();
    } catch (err) {
      expect(String(err)).not.toContain(sealed);
      expect(String(err)).not.toContain(current);
    }
  });
});

describe('random helpers', () => {
  it('makes base64url tokens of the requested entropy', () => {
    expect(randomToken()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomToken(16)).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(new Set(Array.from({ length: 1000 }, () => randomToken())).size).toBe(1000);
  });

  it('hashes with SHA-256', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('compares secrets of any length', () => {
    expect(constantTimeEqual('secret', 'secret')).toBe(true);
    expect(constantTimeEqual('secret', 'secreT')).toBe(false);
    expect(constantTimeEqual('secret', 'secret-longer')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
  });
});
