import { describe, expect, it } from 'vitest';
import {
  numberedCandidate,
  slugify,
  usernameCandidates,
  usernameProblems,
} from '../../src/sponsorship/username.js';

describe('usernameProblems (GitLab username rules)', () => {
  it.each(['ab', 'jane.doe', 'jane_doe', 'jane-doe', 'J4ne', 'a.b-c_d', 'x'.repeat(255)])(
    'accepts %s',
    (u) => {
      expect(usernameProblems(u)).toEqual([]);
    },
  );

  it.each([
    ['a', 'Use at least 2 characters.'],
    ['x'.repeat(256), 'Use at most 255 characters.'],
  ])('length: %s', (u, msg) => {
    expect(usernameProblems(u)).toContain(msg);
  });

  it.each([
    '-jane',
    'jane-',
    '.jane',
    'jane.',
    '_jane',
    'ja..ne',
    'ja._ne',
    'jané',
    'ja ne',
    'ja/ne',
    'ja@ne',
    'Ǆ',
  ])('refuses the format of %s', (u) => {
    expect(usernameProblems(u).join(' ')).toMatch(/Use only letters/);
  });

  it.each(['admin', 'API', 'help', 'users', 'oauth'])('refuses the reserved name %s', (u) => {
    expect(usernameProblems(u)).toContain(`"${u}" is reserved by GitLab.`);
  });

  it.each(['jane.git', 'jane.atom', 'jane.json', 'jane.HTML', 'logo.png'])(
    'refuses the reserved ending of %s',
    (u) => {
      expect(usernameProblems(u).join(' ')).toMatch(/cannot end with/);
    },
  );
});

describe('username suggestions', () => {
  it('strips accents and collapses separators', () => {
    expect(slugify('  Zoë   Ångström-Łukasz  ')).toBe('zoe.angstrom-lukasz');
    expect(slugify('Jean--Paul__Sartre')).toBe('jean-paul_sartre');
    expect(slugify('!!!')).toBe('');
  });

  it('prefers the e-mail local part, then name forms, all valid and distinct', () => {
    expect(usernameCandidates('Jane Q. Doe', 'jane.doe+gitlab@partner.example')).toEqual([
      'jane.doe',
      'jane.q.doe',
      'jdoe',
      'janeqdoe',
      'jane-doe',
    ]);
  });

  it('skips candidates GitLab would refuse', () => {
    expect(usernameCandidates('Admin', 'admin@x.example')).toEqual([]);
    expect(usernameCandidates('李小龍', 'li@x.example')).toEqual(['li']);
  });

  it('numbers a candidate without exceeding the maximum length', () => {
    expect(numberedCandidate('jdoe', 2)).toBe('jdoe2');
    expect(numberedCandidate('x'.repeat(255), 12)).toHaveLength(255);
  });
});
