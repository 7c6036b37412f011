import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { DomainError } from '../../src/errors.js';
import type { SponsorshipRepository } from '../../src/sponsorship/sponsorship.repository.js';
import {
  CREATE_FIELDS,
  type CreateSponsorshipInput,
  createSponsorshipSchema,
  parseCreateSponsorship,
} from '../../src/sponsorship/sponsorship.schema.js';
import {
  SponsorshipService,
  type SponsorshipServiceDeps,
} from '../../src/sponsorship/sponsorship.service.js';

const valid: CreateSponsorshipInput = {
  name: 'Jane Doe',
  username: 'jane.doe',
  email: 'jane.doe@partner.example',
  organisation: 'Partner Ltd',
  reason: 'Works with us on the analysis pipeline.',
};

type Field = keyof CreateSponsorshipInput;

function parse(overrides: Record<string, unknown>) {
  return parseCreateSponsorship({ ...valid, ...overrides });
}

function errorsOf(raw: unknown): Record<string, string[]> {
  try {
    parseCreateSponsorship(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe('validation');
    return (err as DomainError).fieldErrors ?? {};
  }
  throw new Error(`accepted: ${JSON.stringify(raw)}`);
}

const accepted: [Field, unknown, string][] = [
  ['name', 'Jane Doe', 'Jane Doe'],
  ['name', '  Jane Doe  ', 'Jane Doe'],
  ['name', 'Ze\u0301ro', 'Z\u00e9ro'],
  ['name', 'Zoë Ångström', 'Zoë Ångström'],
  ['name', '李小龍', '李小龍'],
  ['name', 'محمد عبد الله', 'محمد عبد الله'],
  ['name', "Siobhán O'Brien-Ní Dhuibhir", "Siobhán O'Brien-Ní Dhuibhir"],
  ['name', 'Ana 🌻 & Co', 'Ana 🌻 & Co'],
  ['name', 'क्‍षत्रिय', 'क्‍षत्रिय'],
  ['name', 'x'.repeat(255), 'x'.repeat(255)],
  ['name', '🌻'.repeat(255), '🌻'.repeat(255)],
  ['name', 'javascript:alert(1)', 'javascript:alert(1)'],
  ['name', `{{constructor.constructor('alert(1)')()}}`, `{{constructor.constructor('alert(1)')()}}`],
  ['name', "Robert'); DROP TABLE audit;--", "Robert'); DROP TABLE audit;--"],
  ['username', 'ab', 'ab'],
  ['username', 'Jane.Doe', 'Jane.Doe'],
  ['username', 'jane_doe', 'jane_doe'],
  ['username', 'jane-doe', 'jane-doe'],
  ['username', 'j4n3', 'j4n3'],
  ['username', '  jane  ', 'jane'],
  ['username', 'a.b-c_d', 'a.b-c_d'],
  ['username', 'x'.repeat(255), 'x'.repeat(255)],
  ['email', 'Jane@Example.ORG', 'jane@example.org'],
  ['email', '  jane@x.example ', 'jane@x.example'],
  ['email', 'jane+tag@sub.example.co.uk', 'jane+tag@sub.example.co.uk'],
  ['email', "o'brien@x.example", "o'brien@x.example"],
  ['email', 'a@xn--bcher-kva.example', 'a@xn--bcher-kva.example'],
  ['email', `${'a'.repeat(64)}@x.example`, `${'a'.repeat(64)}@x.example`],
  ['email', 'first.last@x-y.example', 'first.last@x-y.example'],
  ['organisation', 'A', 'A'],
  ['organisation', '<Acme> & Co', '<Acme> & Co'],
  ['organisation', '  Partner Ltd ', 'Partner Ltd'],
  ['organisation', 'x'.repeat(255), 'x'.repeat(255)],
  ['reason', 'abc', 'abc'],
  ['reason', 'Line 1\r\nLine 2\rLine 3', 'Line 1\nLine 2\nLine 3'],
  ['reason', 'Column\tvalue', 'Column\tvalue'],
  ['reason', 'r'.repeat(1000), 'r'.repeat(1000)],
  ['reason', '🌻'.repeat(1000), '🌻'.repeat(1000)],
  ['reason', '</script><script>alert(1)</script>', '</script><script>alert(1)</script>'],
];

const refused: [Field, unknown, RegExp][] = [
  ['name', undefined, /Enter the person's full name/],
  ['name', '', /Enter the person's full name/],
  ['name', '   ', /Enter the person's full name/],
  ['name', 'x'.repeat(256), /at most 255 characters \(it has 256\)/],
  ['name', '🌻'.repeat(256), /at most 255/],
  ['name', 'Jane\nDoe', /on one line/],
  ['name', 'Jane\tDoe', /on one line/],
  ['name', 'Jane\u0000Doe', /control characters/],
  ['name', 'Jane\u007fDoe', /control characters/],
  ['name', 'Jane\u0085Doe', /control characters/],
  ['name', 'Jane\u202eeoD', /invisible text-direction/],
  ['name', '\u2066Jane\u2069', /invisible text-direction/],
  ['name', 'Jane\u200fDoe', /invisible text-direction/],
  ['name', 'Jane\u2028Doe', /invisible text-direction/],
  ['name', 'Jane\ud800Doe', /invisible text-direction/],
  ['name', '"><svg onload=alert(1)>', /< and >/],
  ['name', '</script><script>alert(1)</script>', /< and >/],
  ['name', '<img src=x onerror=alert(1)>', /< and >/],
  ['name', 'a > b', /< and >/],
  ['name', 42, /as text/],
  ['name', null, /as text/],
  ['name', ['Jane', 'Doe'], /as text/],
  ['username', undefined, /Choose a username/],
  ['username', '', /Choose a username/],
  ['username', '  ', /Choose a username/],
  ['username', 'a', /at least 2/],
  ['username', '-jane', /Use only letters/],
  ['username', 'jane.', /Use only letters/],
  ['username', '_jane', /Use only letters/],
  ['username', 'ja..ne', /Use only letters/],
  ['username', 'ja.-ne', /Use only letters/],
  ['username', 'jané', /Use only letters/],
  ['username', 'ja ne', /Use only letters/],
  ['username', 'ja/ne', /Use only letters/],
  ['username', 'jane\u200b', /Use only letters/],
  ['username', 'ｊａｎｅ', /Use only letters/],
  ['username', 'admin', /reserved/],
  ['username', 'Users', /reserved/],
  ['username', 'jane.git', /cannot end with/],
  ['username', 'jane.json', /cannot end with/],
  ['username', 'x'.repeat(256), /at most 255/],
  ['username', 'x'.repeat(5000), /at most 255/],
  ['username', 123, /as text/],
  ['email', undefined, /Enter the person's e-mail address/],
  ['email', '', /Enter the person's e-mail address/],
  ['email', 'jane', /name@example.org/],
  ['email', 'jane@', /name@example.org/],
  ['email', '@x.example', /name@example.org/],
  ['email', 'jane@x', /name@example.org/],
  ['email', 'jane@@x.example', /name@example.org/],
  ['email', 'jane@x..example', /name@example.org/],
  ['email', 'ja ne@x.example', /name@example.org/],
  ['email', '"jane"@x.example', /name@example.org/],
  ['email', 'jane@[127.0.0.1]', /name@example.org/],
  ['email', 'jané@x.example', /name@example.org/],
  ['email', 'jane@bücher.example', /name@example.org/],
  ['email', 'jane@-x.example', /name@example.org/],
  ['email', 'jane@x.example.', /name@example.org/],
  ['email', '.jane@x.example', /name@example.org/],
  ['email', 'jane.@x.example', /name@example.org/],
  ['email', 'ja..ne@x.example', /name@example.org/],
  ['email', 'jane@x.example\nbcc@evil.example', /name@example.org/],
  ['email', 'jane@x.123', /name@example.org/],
  ['email', `${'a'.repeat(65)}@x.example`, /at most 64/],
  [
    'email',
    `jane@${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.example`,
    /at most 254/,
  ],
  ['email', ['a@x.example'], /as text/],
  ['organisation', undefined, /Enter the organisation/],
  ['organisation', '', /Enter the organisation/],
  ['organisation', ' ', /Enter the organisation/],
  ['organisation', 'x'.repeat(256), /at most 255/],
  ['organisation', 'Acme\nLtd', /on one line/],
  ['organisation', 'Acme\u202eLtd', /invisible/],
  ['organisation', true, /as text/],
  ['reason', undefined, /Say why/],
  ['reason', '', /Say why/],
  ['reason', 'ab', /at least 3/],
  ['reason', '  ab  ', /at least 3/],
  ['reason', 'r'.repeat(1001), /at most 1000 characters \(it has 1001\)/],
  ['reason', 'abc\u0000', /control characters/],
  ['reason', 'abc\u0007def', /control characters/],
  ['reason', 'abc\u202edef', /invisible/],
  ['reason', { text: 'abc' }, /as text/],
];

describe('create request schema: accepted and normalised values', () => {
  it.each(accepted)('%s %j → %j', (field, value, expected) => {
    expect(parse({ [field]: value })[field]).toBe(expected);
  });
});

describe('create request schema: refused values, with a message on the field', () => {
  it.each(refused)('%s %j', (field, value, message) => {
    const errors = errorsOf({ ...valid, [field]: value });
    expect(Object.keys(errors)).toEqual([field]);
    expect(errors[field]!.join(' ')).toMatch(message);
  });

  it('lists every problem of every field at once', () => {
    const errors = errorsOf({ name: '', username: 'a', email: 'x', reason: 'ab' });
    expect(Object.keys(errors).sort()).toEqual(['email', 'name', 'organisation', 'reason', 'username']);
  });

  it.each([null, [], 'jane', 42])('refuses a request that is not an object: %j', (raw) => {
    expect(errorsOf(raw)).toHaveProperty('request');
  });
});

describe('create request schema is closed (mass assignment, D5)', () => {
  it('has exactly the five fields a sponsor chooses', () => {
    expect(Object.keys(createSponsorshipSchema.shape).sort()).toEqual([...CREATE_FIELDS].sort());
  });

  it.each([
    'admin',
    'external',
    'password',
    'projects_limit',
    'can_create_group',
    'sponsor_id',
    'skip_confirmation',
    'reset_password',
    'note',
    'identities',
  ])('refuses %s', (key) => {
    const errors = errorsOf({ ...valid, [key]: true });
    expect(errors[key]).toEqual(['This field is not accepted: the portal sets it itself.']);
  });

  it('names the refused fields in its message', () => {
    try {
      parse({ admin: true, external: false, sponsor_id: 1 });
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toBe(
        'The request contains fields the portal does not accept: admin, external, sponsor_id. ' +
          'Send only name, username, email, organisation and reason; the portal sets everything else.',
      );
    }
  });

  it('refuses an own __proto__ key instead of letting it through', () => {
    const raw = JSON.parse(`{"name":"Jane Doe","username":"jane","email":"j@x.example","organisation":"P",
      "reason":"abc","__proto__":{"admin":true}}`);
    expect(errorsOf(raw)).toHaveProperty('__proto__');
  });
});

const FORMAT = /^[a-zA-Z0-9]+(?:[._-][a-zA-Z0-9]+)*$/;
const FORBIDDEN_TEXT = /[\p{Cc}\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/u;
const codePoints = (s: string) => [...s].length;

function tryParse(raw: unknown): CreateSponsorshipInput | DomainError {
  try {
    return parseCreateSponsorship(raw);
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
}

const anyText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({
    unit: fc.constantFrom('a', ' ', '\n', '<', '>', '\u202e', '\u0000', 'é', 'e\u0301', '.'),
    maxLength: 40,
  }),
);

describe('fuzzing (fast-check)', () => {
  it('whatever the name, the result is refused or a clean NFC name of 1–255 characters', () => {
    fc.assert(
      fc.property(anyText, (name) => {
        const result = tryParse({ ...valid, name });
        if (result instanceof DomainError) {
          expect(Object.keys(result.fieldErrors ?? {})).toEqual(['name']);
          return;
        }
        expect(result.name).toBe(result.name.normalize('NFC').trim());
        expect(codePoints(result.name)).toBeGreaterThanOrEqual(1);
        expect(codePoints(result.name)).toBeLessThanOrEqual(255);
        expect(result.name).not.toMatch(FORBIDDEN_TEXT);
        expect(result.name).not.toMatch(/[<>]/);
      }),
      { numRuns: 2000 },
    );
  });

  it('whatever the username, only GitLab-valid ones pass, with their case kept', () => {
    const username = fc.oneof(
      anyText,
      fc.string({ unit: fc.constantFrom('a', 'B', '1', '.', '_', '-', ' '), minLength: 1, maxLength: 12 }),
    );
    fc.assert(
      fc.property(username, (raw) => {
        const result = tryParse({ ...valid, username: raw });
        if (result instanceof DomainError) return;
        expect(result.username).toBe(raw.trim());
        expect(result.username).toMatch(FORMAT);
        expect(result.username.length).toBeGreaterThanOrEqual(2);
        expect(result.username.length).toBeLessThanOrEqual(255);
      }),
      { numRuns: 2000 },
    );
  });

  it('whatever the e-mail, an accepted one is lower-case ASCII with one @ and at most 254 characters', () => {
    const email = fc.oneof(
      fc.emailAddress(),
      anyText,
      fc.emailAddress().map((e) => e.toUpperCase()),
    );
    fc.assert(
      fc.property(email, (raw) => {
        const result = tryParse({ ...valid, email: raw });
        if (result instanceof DomainError) return;
        expect(result.email).toBe(raw.trim().toLowerCase());
        expect(result.email).toMatch(/^[\x21-\x7e]+$/);
        expect(result.email.split('@')).toHaveLength(2);
        expect(result.email.length).toBeLessThanOrEqual(254);
      }),
      { numRuns: 2000 },
    );
  });

  it('parsing an accepted request again changes nothing', () => {
    const request = fc.record({
      name: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
      username: fc.stringMatching(/^[a-z][a-z0-9]{1,10}(?:[._-][a-z0-9]{1,5})?$/),
      email: fc.emailAddress(),
      organisation: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
      reason: fc.string({ unit: 'grapheme', minLength: 3, maxLength: 100 }),
    });
    fc.assert(
      fc.property(request, (raw) => {
        const first = tryParse(raw);
        if (first instanceof DomainError) return;
        expect(parseCreateSponsorship(first)).toEqual(first);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('invalid input never reaches GitLab or the database', () => {
  /** Adapters that record every use; the service must not touch any of them for invalid input. */
  function recordingService(touched: string[]): SponsorshipService {
    const recorder = (name: string) =>
      new Proxy(
        {},
        {
          get: (_target, property) => () => {
            touched.push(`${name}.${String(property)}`);
            throw new Error('must not be called');
          },
        },
      );
    return new SponsorshipService({
      repository: recorder('db') as SponsorshipRepository,
      gitlab: recorder('gitlab') as SponsorshipServiceDeps['gitlab'],
      audit: recorder('audit') as SponsorshipServiceDeps['audit'],
      clock: new ManualClock('2026-11-22T10:00:00Z'),
      logger: recorder('logger') as SponsorshipServiceDeps['logger'],
      passwordMode: 'reset_link',
    });
  }

  const breakers: Record<Field, fc.Arbitrary<unknown>> = {
    name: fc.oneof(
      fc.constant(''),
      fc.string({ minLength: 256, maxLength: 300 }).filter((s) => s.trim().length > 255),
      fc
        .tuple(fc.string({ maxLength: 10 }), fc.constantFrom('<', '>', '\u0000', '\n', '\u202e', '\u2066'))
        .map(([s, bad]) => `Jane ${s}${bad}Doe`),
    ),
    username: fc.oneof(
      fc.constantFrom('', 'a', 'admin', 'x.git'),
      fc
        .tuple(fc.stringMatching(/^[a-z]{2,8}$/), fc.constantFrom(' x', '..', 'é', '/', '@', '-', '\u200b'))
        .map(([s, bad]) => `${s}${bad}`),
    ),
    email: fc.oneof(
      fc.string({ maxLength: 30 }).filter((s) => !s.includes('@')),
      fc.emailAddress().map((e) => e.replace('@', '@@')),
      fc.emailAddress().map((e) => `${e}\nBcc: x@evil.example`),
    ),
    organisation: fc.oneof(fc.constant(''), fc.constant('x'.repeat(256)), fc.constant('A\u0000B')),
    reason: fc.oneof(
      fc.constant(''),
      fc.constant('ab'),
      fc.constant('r'.repeat(1001)),
      fc.constant('ab\u0007c'),
    ),
  };
  const invalidRequest = fc
    .constantFrom(...(Object.keys(breakers) as Field[]))
    .chain((field) => breakers[field].map((value) => ({ field, raw: { ...valid, [field]: value } })));

  it('is refused as `validation` before any adapter is used', async () => {
    await fc.assert(
      fc.asyncProperty(invalidRequest, async ({ field, raw }) => {
        const touched: string[] = [];
        const service = recordingService(touched);
        const sponsor = { id: 2, username: 'alice', name: 'Alice Martin' };
        await expect(service.create(sponsor, raw, 'form-token-0123456789', 'req')).rejects.toMatchObject({
          code: 'validation',
          fieldErrors: { [field]: expect.any(Array) },
        });
        expect(touched).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('a malformed form token is refused before any adapter is used', async () => {
    const touched: string[] = [];
    const sponsor = { id: 2, username: 'alice', name: 'Alice Martin' };
    for (const key of ['', 'short', 'x'.repeat(129), 'has spaces in it!!', '../../../../etc/passwd']) {
      await expect(recordingService(touched).create(sponsor, valid, key, 'req')).rejects.toMatchObject({
        code: 'validation',
      });
    }
    expect(touched).toEqual([]);
  });
});
