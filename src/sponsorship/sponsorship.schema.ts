import { z } from 'zod';
import { DomainError } from '../errors.js';
import { USERNAME_MAX, usernameProblems } from './username.js';

/**
 * The request to create an external user, as the web form, the JSON API and the CLI send it. The
 * schema is closed: every GitLab attribute that matters for security (`external`, `admin`,
 * `projects_limit`, passwords, the sponsor) is set by the server, so a request naming one is refused
 * rather than silently trimmed (security.md D5).
 */

export const NAME_MAX = 255;
export const ORGANISATION_MAX = 255;
export const EMAIL_MAX = 254;
const EMAIL_LOCAL_MAX = 64;
export const REASON_MIN = 3;
export const REASON_MAX = 1000;

/** Control characters (C0, DEL, C1); line breaks are allowed only where a field says so. */
const CONTROL = /\p{Cc}/u;
/** Bidi embeddings, overrides and isolates, direction marks, and line/paragraph separators. */
const INVISIBLE_LAYOUT = /[\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const ATEXT = "[a-z0-9!#$%&'*+/=?^_`{|}~-]+";
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
/** A dot-atom local part and a DNS host name (ASCII; IDNs in their xn-- form). No quoted parts or IP literals. */
const EMAIL = new RegExp(`^${ATEXT}(?:\\.${ATEXT})*@(?:${LABEL}\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$`);

/** Characters as people count them (code points), not UTF-16 units. */
function length(text: string): number {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

interface TextRules {
  /** Used in messages: "Enter the person's full name." */
  missing: string;
  /** Lower-case noun for messages: "the name". */
  noun: string;
  min: number;
  max: number;
  multiline?: boolean;
}

function textProblems(text: string, rules: TextRules): string[] {
  const problems: string[] = [];
  const n = length(text);
  if (n === 0) return [rules.missing];
  if (n < rules.min) problems.push(`Write at least ${rules.min} characters.`);
  if (n > rules.max) problems.push(`Shorten ${rules.noun} to at most ${rules.max} characters (it has ${n}).`);
  const control = rules.multiline ? text.replace(/[\n\t]/g, '') : text;
  if (CONTROL.test(control)) {
    problems.push(
      rules.multiline
        ? `Remove the control characters from ${rules.noun}; line breaks and tabs are fine.`
        : `Keep ${rules.noun} on one line, without tabs or control characters.`,
    );
  }
  if (INVISIBLE_LAYOUT.test(text) || LONE_SURROGATE.test(text)) {
    problems.push(`Remove the invisible text-direction or layout characters from ${rules.noun}.`);
  }
  return problems;
}

/** Surrounding white space trimmed, Unicode NFC, Windows line breaks as `\n`. */
function normaliseText(text: string): string {
  return text.replace(/\r\n?/g, '\n').normalize('NFC').trim();
}

function text(rules: TextRules, extra?: (value: string) => string[]) {
  return z
    .string({ error: (issue) => (issue.input === undefined ? rules.missing : `Send ${rules.noun} as text.`) })
    .transform(normaliseText)
    .superRefine((value, ctx) => {
      const problems = textProblems(value, rules);
      if (problems.length === 0 && extra) problems.push(...extra(value));
      for (const message of problems) ctx.addIssue({ code: 'custom', message });
    });
}

const name = text(
  { missing: "Enter the person's full name.", noun: 'the name', min: 1, max: NAME_MAX },
  (v) => (/[<>]/.test(v) ? ['Remove the characters < and > from the name.'] : []),
);

const username = z
  .string({
    error: (issue) => (issue.input === undefined ? 'Choose a username.' : 'Send the username as text.'),
  })
  .transform((v) => v.trim())
  .superRefine((value, ctx) => {
    if (value === '') {
      ctx.addIssue({ code: 'custom', message: 'Choose a username.' });
      return;
    }
    // Checked first so an absurdly long value is not run through the format rules.
    const problems =
      value.length > USERNAME_MAX * 4 ? [`Use at most ${USERNAME_MAX} characters.`] : usernameProblems(value);
    for (const message of problems) ctx.addIssue({ code: 'custom', message });
  });

function emailProblems(value: string): string[] {
  if (value === '') return ["Enter the person's e-mail address."];
  if (value.length > EMAIL_MAX) return [`Use an e-mail address of at most ${EMAIL_MAX} characters.`];
  const at = value.lastIndexOf('@');
  if (at > EMAIL_LOCAL_MAX) return [`The part before the @ can have at most ${EMAIL_LOCAL_MAX} characters.`];
  if (!EMAIL.test(value)) return ['Enter an e-mail address in the form name@example.org.'];
  return [];
}

const email = z
  .string({
    error: (issue) =>
      issue.input === undefined ? "Enter the person's e-mail address." : 'Send the e-mail address as text.',
  })
  .transform((v) => v.trim().toLowerCase())
  .superRefine((value, ctx) => {
    for (const message of emailProblems(value)) ctx.addIssue({ code: 'custom', message });
  });

const organisation = text({
  missing: 'Enter the organisation the person works for.',
  noun: 'the organisation',
  min: 1,
  max: ORGANISATION_MAX,
});

const reason = text({
  missing: 'Say why this person needs a GitLab account.',
  noun: 'the reason',
  min: REASON_MIN,
  max: REASON_MAX,
  multiline: true,
});

export const createSponsorshipSchema = z.strictObject({ name, username, email, organisation, reason });

/** A validated, normalised request: safe to send to GitLab and to store. */
export type CreateSponsorshipInput = z.output<typeof createSponsorshipSchema>;

export const CREATE_FIELDS = ['name', 'username', 'email', 'organisation', 'reason'] as const;

const MAX_LISTED_KEYS = 10;

/**
 * Validates a create request. Throws a `validation` DomainError whose `fieldErrors` hold every problem
 * per field (refused extra fields under their own names) and whose message says what to do.
 */
export function parseCreateSponsorship(raw: unknown): CreateSponsorshipInput {
  const result = createSponsorshipSchema.safeParse(raw);
  if (result.success) return result.data;
  // A Map, because request keys such as `__proto__` are data here, not object internals.
  const fieldErrors = new Map<string, string[]>();
  const refused: string[] = [];
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        refused.push(key);
        fieldErrors.set(key, ['This field is not accepted: the portal sets it itself.']);
      }
      continue;
    }
    const field = issue.path.length > 0 ? String(issue.path[0]) : 'request';
    const messages = fieldErrors.get(field) ?? [];
    if (!messages.includes(issue.message)) messages.push(issue.message);
    fieldErrors.set(field, messages);
  }
  let message = 'Some fields need attention.';
  if (refused.length > 0) {
    const listed = refused.slice(0, MAX_LISTED_KEYS).join(', ');
    const more = refused.length > MAX_LISTED_KEYS ? ` and ${refused.length - MAX_LISTED_KEYS} more` : '';
    message =
      `The request contains fields the portal does not accept: ${listed}${more}. ` +
      'Send only name, username, email, organisation and reason; the portal sets everything else.';
  }
  throw new DomainError('validation', message, { fieldErrors: Object.fromEntries(fieldErrors) });
}
