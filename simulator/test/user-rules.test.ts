import { describe, expect, it } from 'vitest';
import { defaultSettings } from '../src/index.js';
import {
  isWeakPassword,
  NAMESPACE_FORMAT_MESSAGE,
  nameErrors,
  normalizeEmail,
  OCI_PATH_MESSAGE,
  passwordLengthErrors,
  RESERVED_EXTENSION_MESSAGE,
  sanitizeName,
  usernameFormatErrors,
} from '../src/model/user-rules.js';

describe('username rules (app/models/user.rb, app/models/namespace.rb, lib/gitlab/path_regex.rb)', () => {
  it.each(['alice', 'a.b-c_d', 'Bob2', 'x1', 'a'.repeat(255)])('accepts %s', (name) => {
    expect(usernameFormatErrors(name)).toEqual([]);
  });

  it('rejects consecutive specials with the newest format message only — Gitlab::Regex.oci_repository_path_regex', () => {
    expect(usernameFormatErrors('a..b')).toEqual([OCI_PATH_MESSAGE]);
  });

  it('rejects a leading special with both format messages — Gitlab::PathRegex.namespace_format_regex', () => {
    expect(usernameFormatErrors('-alice')).toEqual([NAMESPACE_FORMAT_MESSAGE, OCI_PATH_MESSAGE]);
  });

  it('rejects non-ASCII letters — oci_repository_path_regex', () => {
    expect(usernameFormatErrors('jürgen')).toEqual([NAMESPACE_FORMAT_MESSAGE, OCI_PATH_MESSAGE]);
  });

  it('rejects reserved top-level names in any case — TOP_LEVEL_ROUTES, NamespacePathValidator', () => {
    expect(usernameFormatErrors('Users')).toEqual(['Users is a reserved name']);
  });

  it('rejects a MIME-type extension — User#check_username_format', () => {
    expect(usernameFormatErrors('alice.json')).toEqual([RESERVED_EXTENSION_MESSAGE]);
  });

  it('rejects .git endings through the path regex — NO_SUFFIX_REGEX', () => {
    expect(usernameFormatErrors('alice.git')).toEqual([NAMESPACE_FORMAT_MESSAGE]);
  });

  it('enforces 2..255 characters — Namespace path length', () => {
    expect(usernameFormatErrors('a')).toEqual(['is too short (minimum is 2 characters)']);
    expect(usernameFormatErrors('a'.repeat(256))).toEqual(['is too long (maximum is 255 characters)']);
  });
});

describe('name, e-mail and password rules (app/models/user.rb, Devise, lib/security/weak_passwords.rb)', () => {
  it('name: strips whitespace and turns tags and angle brackets into "-" — User#sanitize_name', () => {
    expect(sanitizeName('  <script>x</script> a>b ')).toBe('-x- a-b');
  });

  it('name: blank and over 255 characters are errors', () => {
    expect(nameErrors('')).toEqual(["can't be blank"]);
    expect(nameErrors('n'.repeat(256))).toEqual(['is too long (maximum is 255 characters)']);
    expect(nameErrors('n'.repeat(255))).toEqual([]);
  });

  it('e-mail: stripped and lower-cased — Devise case_insensitive_keys', () => {
    expect(normalizeEmail(' Alice@Example.COM ')).toBe('alice@example.com');
  });

  it('password: minimum from settings, maximum 128 — Devise password_length', () => {
    const settings = { ...defaultSettings(), minimumPasswordLength: 10 };
    expect(passwordLengthErrors('a'.repeat(9), settings)).toEqual([
      'is too short (minimum is 10 characters)',
    ]);
    expect(passwordLengthErrors('a'.repeat(129), settings)).toEqual([
      'is too long (maximum is 128 characters)',
    ]);
    expect(passwordLengthErrors('a'.repeat(10), settings)).toEqual([]);
  });

  it('password: weak when it contains a 4+ character part of the name, username or e-mail', () => {
    const user = { name: 'Jane Roe', username: 'jr', email: 'jane.roe@acme.test' };
    expect(isWeakPassword('xx-acme-2024!', user)).toBe(true);
    expect(isWeakPassword('xxJANExx99!', user)).toBe(true);
    expect(isWeakPassword('xx-jr-Roe-42!', user)).toBe(false);
  });

  it('password: weak when on the common-password list, case-insensitively', () => {
    expect(isWeakPassword('Password123', { name: 'Al', username: 'al', email: 'al@x.io' })).toBe(true);
  });
});
