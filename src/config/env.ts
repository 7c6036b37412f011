import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import { decodeKey } from '../crypto/aead.js';
import { type DatabaseTarget, DatabaseUrlError, parseDatabaseUrl } from '../db/database-url.js';
import { isLoopbackHost } from '../net.js';

interface VariableInfo {
  /** Never shown, never defaulted; may also come from `<NAME>_FILE`. */
  secret: boolean;
  fix: string;
}

/** Every environment variable the portal reads, with the advice shown when it is wrong. */
export const variables = {
  GITLAB_URL: {
    secret: false,
    fix: 'Set it to the address of your GitLab, e.g. GITLAB_URL=https://gitlab.example.com',
  },
  GITLAB_CLIENT_ID: {
    secret: false,
    fix: 'Register the portal as an OAuth application in GitLab (Admin area > Applications: redirect URI <PUBLIC_URL>/oauth/callback, confidential, scopes openid profile email) and copy its Application ID.',
  },
  GITLAB_CLIENT_SECRET: {
    secret: true,
    fix: "Copy the OAuth application's Secret into it, or into a file named by GITLAB_CLIENT_SECRET_FILE.",
  },
  GITLAB_ADMIN_TOKEN: {
    secret: true,
    fix: 'Create a personal access token of a GitLab administrator with the api scope (and admin_mode when Admin Mode is on).',
  },
  PUBLIC_URL: {
    secret: false,
    fix: 'Set it to the address users open, including any path prefix, e.g. PUBLIC_URL=https://portal.example.com or https://example.com/extern',
  },
  SESSION_SECRET: {
    secret: true,
    fix: 'Generate one with: openssl rand -base64 32',
  },
  ENCRYPTION_KEY: {
    secret: true,
    fix: 'Generate one with: openssl rand -base64 32 (a different value from SESSION_SECRET).',
  },
  ENCRYPTION_KEY_PREVIOUS: {
    secret: true,
    fix: 'While rotating keys, set it to the former ENCRYPTION_KEY; otherwise leave it unset.',
  },
  DATABASE_URL: {
    // A PostgreSQL URL may carry a password.
    secret: true,
    fix: 'Use postgres://user:password@host:5432/database, sqlite:///absolute/path.db, sqlite:relative/path.db or a file path; leave it unset for DATA_DIR/gitlab-extern.db.',
  },
  DATA_DIR: {
    secret: false,
    fix: 'Set it to a directory the portal may write to, e.g. DATA_DIR=/var/lib/gitlab-extern',
  },
  PORT: { secret: false, fix: 'Use a port number from 0 to 65535, e.g. PORT=3000' },
  HOST: {
    secret: false,
    fix: 'Use a host name or IP address to listen on, e.g. HOST=127.0.0.1 (this machine only) or HOST=0.0.0.0 (all interfaces).',
  },
  TRUST_PROXY: {
    secret: false,
    fix: "Use false (no proxy), the number of proxies in front of the portal, or a comma-separated list of the proxies' addresses/CIDRs, e.g. TRUST_PROXY=10.0.0.0/8",
  },
  LOG_LEVEL: { secret: false, fix: 'Use one of fatal, error, warn, info, debug, trace, silent.' },
  SPONSOR_GROUP: {
    secret: false,
    fix: 'Use the full path of a GitLab group as shown in its URL, e.g. SPONSOR_GROUP=staff/sponsors, or leave it unset.',
  },
  SESSION_IDLE_MINUTES: {
    secret: false,
    fix: 'Use a whole number of minutes from 1 to 1440, not longer than SESSION_ABSOLUTE_HOURS; the default is 30.',
  },
  SESSION_ABSOLUTE_HOURS: {
    secret: false,
    fix: 'Use a whole number of hours from 1 to 720; the default is 12.',
  },
  NEW_USER_PASSWORD_MODE: { secret: false, fix: 'Use reset_link (the default) or random_skip_confirmation.' },
  GITLAB_TIMEOUT_MS: {
    secret: false,
    fix: 'Use a whole number of milliseconds from 1000 to 60000; the default is 10000.',
  },
} satisfies Record<string, VariableInfo>;

export type VariableName = keyof typeof variables;

export const variableNames = Object.keys(variables) as VariableName[];

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const PASSWORD_MODES = ['reset_link', 'random_skip_confirmation'] as const;
export type NewUserPasswordMode = (typeof PASSWORD_MODES)[number];

/**
 * Off, everything, a hop count, or the proxies' addresses/CIDRs (frozen at runtime). Fastify accepts
 * each of these, though its type declaration lacks the hop count.
 */
export type TrustProxy = boolean | number | string[];

class Invalid {
  constructor(readonly message: string) {}
}

function invalid(message: string): Invalid {
  return new Invalid(message);
}

type Warn = (message: string) => void;
type Check<T> = (value: string, warn: Warn) => T | Invalid;

/**
 * Context for the checks that cannot look at one variable alone: relative paths resolve against the
 * working directory, and warnings are collected next to the errors.
 */
interface CheckContext {
  cwd: string;
  warn(variable: VariableName, message: string): void;
}

function field<T>(name: VariableName, context: CheckContext, check: Check<T>) {
  return z.string({ error: 'is not set' }).transform((value, ctx) => {
    const result = check(value, (message) => context.warn(name, message));
    if (!(result instanceof Invalid)) return result;
    ctx.addIssue({ code: 'custom', message: result.message });
    return z.NEVER;
  });
}

function optionalField<T>(name: VariableName, context: CheckContext, check: Check<T>) {
  return field(name, context, check).optional();
}

function withDefault<T>(name: VariableName, context: CheckContext, check: Check<T>, fallback: NoInfer<T>) {
  return optionalField(name, context, check).transform((value) => (value === undefined ? fallback : value));
}

function httpUrl(value: string): URL | Invalid {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return invalid('is not a URL; write it with its scheme, e.g. https://host');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return invalid('must start with http:// or https://');
  if (url.username || url.password) return invalid('must not contain a user name or password');
  if (url.search || url.hash) return invalid('must not contain a query (?…) or fragment (#…)');
  return url;
}

function withoutTrailingSlash(url: URL): string {
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}

function wholeNumber(min: number, max: number, what: string): Check<number> {
  return (value) => {
    const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      return invalid(`must be ${what} from ${min} to ${max}`);
    }
    return n;
  };
}

function oneOf<const T extends readonly string[]>(allowed: T): Check<T[number]> {
  return (value) => {
    const lower = value.toLowerCase();
    return (allowed as readonly string[]).includes(lower)
      ? (lower as T[number])
      : invalid(`must be one of ${allowed.join(', ')}`);
  };
}

const checkNoSpaces: Check<string> = (value) => {
  if (/\s/.test(value)) return invalid('must not contain spaces or line breaks');
  return value;
};

/** A secret of at least 32 random bytes, written as base64/base64url (≥ 43 characters) or hex (≥ 64). */
const checkSessionSecret: Check<string> = (value) => {
  if (/^[0-9a-fA-F]+$/.test(value)) {
    if (value.length < 64) return invalid('is too short: a hex secret needs at least 64 digits (32 bytes)');
  } else if (!/^[A-Za-z0-9+/_-]+=*$/.test(value)) {
    return invalid('must be random bytes written as base64, base64url or hex');
  } else if (value.replace(/=+$/, '').length < 43) {
    return invalid('is too short: it needs at least 32 random bytes (43 base64 characters)');
  }
  if (new Set(value).size < 8) return invalid('looks like a placeholder, not random bytes');
  return value;
};

/** The key in one canonical spelling (base64url), whatever spelling was configured. */
const checkEncryptionKey: Check<string> = (value) => {
  const key = decodeKey(value);
  if (!key)
    return invalid('must be exactly 32 bytes written as base64 (44 characters), base64url (43) or hex (64)');
  if (new Set(key).size < 8) return invalid('looks like a placeholder, not random bytes');
  return key.toString('base64url');
};

function checkTrustProxy(value: string, warn: Warn): TrustProxy | Invalid {
  const lower = value.toLowerCase();
  if (lower === 'false') return false;
  if (lower === 'true') {
    warn(
      'trusts X-Forwarded-For from every client, so anyone can choose the address the audit log records; name the proxies instead',
    );
    return true;
  }
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > 10) return invalid('must be at most 10 proxies');
    return hops === 0 ? false : hops;
  }
  const entries = value.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) continue;
    const [address = '', prefix, extra] = entry.split('/');
    const family = isIP(address);
    const maxPrefix = family === 6 ? 128 : 32;
    const prefixOk = prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= maxPrefix);
    if (family === 0 || !prefixOk || extra !== undefined) {
      return invalid(
        'must be false, true, a number of proxies, or a comma-separated list of IP addresses/CIDRs',
      );
    }
  }
  return entries;
}

const checkHost: Check<string> = (value) =>
  /^[A-Za-z0-9.:_%[\]-]+$/.test(value) ? value : invalid('must be a host name or an IP address');

const checkSponsorGroup: Check<string> = (value) => {
  const path = value.replace(/^\/+|\/+$/g, '');
  const segment = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
  if (path === '' || !path.split('/').every((part) => segment.test(part))) {
    return invalid('must be the full path of a GitLab group, e.g. staff/sponsors');
  }
  return path;
};

/**
 * The schema of every variable. Each field turns the raw text into its typed value; checks that look at
 * two variables at once live in `crossChecks`, so one bad variable never hides another's problem.
 */
export function environmentSchema(context: CheckContext) {
  const { cwd } = context;
  return z.object({
    GITLAB_URL: field('GITLAB_URL', context, (value) => {
      const url = httpUrl(value);
      return url instanceof Invalid ? url : withoutTrailingSlash(url);
    }),
    GITLAB_CLIENT_ID: field('GITLAB_CLIENT_ID', context, checkNoSpaces),
    GITLAB_CLIENT_SECRET: field('GITLAB_CLIENT_SECRET', context, checkNoSpaces),
    GITLAB_ADMIN_TOKEN: field('GITLAB_ADMIN_TOKEN', context, checkNoSpaces),
    PUBLIC_URL: field('PUBLIC_URL', context, (value) => {
      const url = httpUrl(value);
      if (url instanceof Invalid) return url;
      if (url.protocol !== 'https:' && !isLoopbackHost(url.hostname)) {
        return invalid('must use https:// (plain http:// is only allowed for localhost)');
      }
      return withoutTrailingSlash(url);
    }),
    SESSION_SECRET: field('SESSION_SECRET', context, checkSessionSecret),
    ENCRYPTION_KEY: field('ENCRYPTION_KEY', context, checkEncryptionKey),
    ENCRYPTION_KEY_PREVIOUS: optionalField('ENCRYPTION_KEY_PREVIOUS', context, checkEncryptionKey),
    DATA_DIR: withDefault('DATA_DIR', context, (value) => resolve(cwd, value), resolve(cwd, 'data')),
    DATABASE_URL: optionalField('DATABASE_URL', context, (value): DatabaseTarget | Invalid => {
      try {
        return parseDatabaseUrl(value, cwd);
      } catch (err) {
        if (err instanceof DatabaseUrlError) return invalid(err.message);
        throw err;
      }
    }),
    PORT: withDefault('PORT', context, wholeNumber(0, 65535, 'a port number'), 3000),
    HOST: withDefault('HOST', context, checkHost, '127.0.0.1'),
    TRUST_PROXY: withDefault('TRUST_PROXY', context, checkTrustProxy, false),
    LOG_LEVEL: withDefault('LOG_LEVEL', context, oneOf(LOG_LEVELS), 'info'),
    SPONSOR_GROUP: optionalField('SPONSOR_GROUP', context, checkSponsorGroup),
    SESSION_IDLE_MINUTES: withDefault(
      'SESSION_IDLE_MINUTES',
      context,
      wholeNumber(1, 1440, 'a whole number of minutes'),
      30,
    ),
    SESSION_ABSOLUTE_HOURS: withDefault(
      'SESSION_ABSOLUTE_HOURS',
      context,
      wholeNumber(1, 720, 'a whole number of hours'),
      12,
    ),
    NEW_USER_PASSWORD_MODE: withDefault(
      'NEW_USER_PASSWORD_MODE',
      context,
      oneOf(PASSWORD_MODES),
      'reset_link',
    ),
    GITLAB_TIMEOUT_MS: withDefault(
      'GITLAB_TIMEOUT_MS',
      context,
      wholeNumber(1000, 60000, 'a whole number of milliseconds'),
      10000,
    ),
  });
}

export type Environment = z.output<ReturnType<typeof environmentSchema>>;

interface Problem {
  variable: VariableName;
  problem: string;
}

/**
 * Checks across variables, on whichever of them parsed. Keys are compared as bytes, so the same key
 * written once as hex and once as base64 is still caught.
 */
export function crossChecks(parsed: Partial<Environment>, warn: CheckContext['warn']): Problem[] {
  const problems: Problem[] = [];
  const { SESSION_SECRET, ENCRYPTION_KEY, ENCRYPTION_KEY_PREVIOUS } = parsed;
  const sessionKey =
    SESSION_SECRET === undefined
      ? undefined
      : (decodeKey(SESSION_SECRET)?.toString('base64url') ?? SESSION_SECRET);
  if (sessionKey !== undefined && ENCRYPTION_KEY === sessionKey) {
    problems.push({ variable: 'ENCRYPTION_KEY', problem: 'must differ from SESSION_SECRET' });
  }
  if (sessionKey !== undefined && ENCRYPTION_KEY_PREVIOUS === sessionKey) {
    problems.push({ variable: 'ENCRYPTION_KEY_PREVIOUS', problem: 'must differ from SESSION_SECRET' });
  }
  if (ENCRYPTION_KEY_PREVIOUS !== undefined && ENCRYPTION_KEY_PREVIOUS === ENCRYPTION_KEY) {
    warn('ENCRYPTION_KEY_PREVIOUS', 'is the same key as ENCRYPTION_KEY, so it has no effect');
  }
  const { SESSION_IDLE_MINUTES, SESSION_ABSOLUTE_HOURS } = parsed;
  if (
    SESSION_IDLE_MINUTES !== undefined &&
    SESSION_ABSOLUTE_HOURS !== undefined &&
    SESSION_IDLE_MINUTES > SESSION_ABSOLUTE_HOURS * 60
  ) {
    problems.push({
      variable: 'SESSION_IDLE_MINUTES',
      problem: 'must not be longer than SESSION_ABSOLUTE_HOURS',
    });
  }
  return problems;
}
