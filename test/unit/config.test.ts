import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type Config,
  ConfigError,
  type ConfigProblem,
  type ConfigValues,
  loadConfig,
  parseConfig,
  redactedConfig,
} from '../../src/config/config.js';
import { variableNames } from '../../src/config/env.js';

const cwd = '/srv/portal';

function secrets() {
  return {
    GITLAB_CLIENT_SECRET: `gloas-CANARY${randomBytes(8).toString('hex')}`,
    GITLAB_ADMIN_TOKEN: `glpat-CANARY${randomBytes(8).toString('hex')}`,
    SESSION_SECRET: randomBytes(32).toString('base64'),
    ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
  };
}

function valid(overrides: ConfigValues = {}): ConfigValues {
  return {
    GITLAB_URL: 'https://gitlab.example.com',
    GITLAB_CLIENT_ID: 'portal-client-id',
    PUBLIC_URL: 'https://portal.example.com',
    ...secrets(),
    ...overrides,
  };
}

function problemsOf(run: () => unknown): ConfigProblem[] {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

function parse(overrides: ConfigValues): Config {
  return parseConfig(valid(overrides), { cwd }).config;
}

function problem(overrides: ConfigValues): string[] {
  return problemsOf(() => parseConfig(valid(overrides), { cwd })).map((p) => `${p.variable} ${p.problem}`);
}

describe('configuration', () => {
  it('builds a typed configuration with the documented defaults', () => {
    const values = valid();
    const { config, warnings } = parseConfig(values, { cwd });
    expect(warnings).toEqual([]);
    expect(config).toEqual({
      gitlab: {
        url: 'https://gitlab.example.com',
        clientId: 'portal-client-id',
        clientSecret: values.GITLAB_CLIENT_SECRET,
        adminToken: values.GITLAB_ADMIN_TOKEN,
        timeoutMs: 10000,
      },
      publicUrl: 'https://portal.example.com',
      http: { host: '127.0.0.1', port: 3000, trustProxy: false },
      session: { secret: values.SESSION_SECRET, idleMinutes: 30, absoluteHours: 12 },
      encryptionKey: { current: values.ENCRYPTION_KEY, previous: undefined },
      dataDir: '/srv/portal/data',
      database: { dialect: 'sqlite', path: '/srv/portal/data/gitlab-extern.db' },
      logLevel: 'info',
      sponsorGroup: undefined,
      newUserPasswordMode: 'reset_link',
    });
  });

  it('is frozen all the way down', () => {
    const { config } = parseConfig(valid({ TRUST_PROXY: '10.0.0.1' }), { cwd });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.gitlab)).toBe(true);
    expect(Object.isFrozen(config.http.trustProxy)).toBe(true);
    expect(() => {
      (config.gitlab as { url: string }).url = 'https://evil.example';
    }).toThrow(TypeError);
  });

  it('lists every problem at once, each with a fix, in one readable message', () => {
    let error: unknown;
    try {
      parseConfig({ PORT: 'eighty', LOG_LEVEL: 'loud' }, { cwd });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems, message } = error as ConfigError;
    expect(problems.map((p) => p.variable)).toEqual([
      'GITLAB_URL',
      'GITLAB_CLIENT_ID',
      'GITLAB_CLIENT_SECRET',
      'GITLAB_ADMIN_TOKEN',
      'PUBLIC_URL',
      'SESSION_SECRET',
      'ENCRYPTION_KEY',
      'PORT',
      'LOG_LEVEL',
    ]);
    for (const p of problems) expect(p.fix.length).toBeGreaterThan(10);
    expect(message.split('\n')[0]).toBe('The configuration has 9 problems:');
    expect(message).toContain('  - GITLAB_URL is not set.\n    Fix: Set it to the address of your GitLab');
    expect(message).toContain(
      '  - SESSION_SECRET is not set.\n    Fix: Generate one with: openssl rand -base64 32',
    );
    expect(message).toContain('  - PORT must be a port number from 0 to 65535.');
  });

  it('has no default for any secret', () => {
    const withoutSecrets = valid({
      GITLAB_CLIENT_SECRET: undefined,
      GITLAB_ADMIN_TOKEN: undefined,
      SESSION_SECRET: '',
      ENCRYPTION_KEY: undefined,
    });
    expect(
      problemsOf(() => parseConfig(withoutSecrets, { cwd })).map((p) => `${p.variable} ${p.problem}`),
    ).toEqual([
      'GITLAB_CLIENT_SECRET is not set',
      'GITLAB_ADMIN_TOKEN is not set',
      'SESSION_SECRET is not set',
      'ENCRYPTION_KEY is not set',
    ]);
  });

  it('never repeats a value in a problem', () => {
    const badSecret = 'short-secret-CANARY';
    const badUrl = 'postgres://user:pw-CANARY@';
    const problems = problemsOf(() =>
      parseConfig(valid({ SESSION_SECRET: badSecret, DATABASE_URL: badUrl, ENCRYPTION_KEY: badSecret }), {
        cwd,
      }),
    );
    expect(problems).toHaveLength(3);
    expect(JSON.stringify(problems)).not.toContain('CANARY');
  });

  describe('each variable', () => {
    it.each([
      ['gitlab.example.com', 'GITLAB_URL is not a URL; write it with its scheme, e.g. https://host'],
      ['ftp://gitlab.example.com', 'GITLAB_URL must start with http:// or https://'],
      ['https://root:pw@gitlab.example.com', 'GITLAB_URL must not contain a user name or password'],
      ['https://gitlab.example.com/?x=1', 'GITLAB_URL must not contain a query (?…) or fragment (#…)'],
    ])('GITLAB_URL=%s is refused', (value, expected) => {
      expect(problem({ GITLAB_URL: value })).toEqual([expected]);
    });

    it.each([
      ['https://gitlab.example.com/', 'https://gitlab.example.com'],
      ['https://GitLab.Example.com:443/gitlab//', 'https://gitlab.example.com/gitlab'],
      ['http://gitlab.internal:8080', 'http://gitlab.internal:8080'],
    ])('GITLAB_URL=%s becomes %s', (value, expected) => {
      expect(parse({ GITLAB_URL: value }).gitlab.url).toBe(expected);
    });

    it.each([
      ['https://portal.example.com/', 'https://portal.example.com'],
      ['https://example.com/extern/', 'https://example.com/extern'],
      ['http://localhost:3000/', 'http://localhost:3000'],
      ['http://127.0.0.1:8080/extern', 'http://127.0.0.1:8080/extern'],
      ['http://[::1]:3000', 'http://[::1]:3000'],
      ['http://portal.localhost', 'http://portal.localhost'],
    ])('PUBLIC_URL=%s becomes %s', (value, expected) => {
      expect(parse({ PUBLIC_URL: value }).publicUrl).toBe(expected);
    });

    it.each([
      [
        'http://portal.example.com',
        'PUBLIC_URL must use https:// (plain http:// is only allowed for localhost)',
      ],
      ['http://10.0.0.5:3000', 'PUBLIC_URL must use https:// (plain http:// is only allowed for localhost)'],
      ['https://portal.example.com/#x', 'PUBLIC_URL must not contain a query (?…) or fragment (#…)'],
      ['portal', 'PUBLIC_URL is not a URL; write it with its scheme, e.g. https://host'],
    ])('PUBLIC_URL=%s is refused', (value, expected) => {
      expect(problem({ PUBLIC_URL: value })).toEqual([expected]);
    });

    it.each([
      ['GITLAB_CLIENT_ID', 'id with space'],
      ['GITLAB_CLIENT_SECRET', 'secret\nsecond line'],
      ['GITLAB_ADMIN_TOKEN', ' glpat-x'],
    ] as const)('%s must not contain whitespace', (variable, value) => {
      expect(problem({ [variable]: value })).toEqual([`${variable} must not contain spaces or line breaks`]);
    });

    it.each([
      ['base64 from openssl rand -base64 32', randomBytes(32).toString('base64')],
      ['base64url', randomBytes(32).toString('base64url')],
      ['64 hex digits', randomBytes(32).toString('hex')],
      ['longer base64', randomBytes(48).toString('base64')],
    ])('SESSION_SECRET accepts %s', (_, value) => {
      expect(parse({ SESSION_SECRET: value }).session.secret).toBe(value);
    });

    it.each([
      ['xyz', 'is too short: it needs at least 32 random bytes (43 base64 characters)'],
      [
        randomBytes(31).toString('base64url'),
        'is too short: it needs at least 32 random bytes (43 base64 characters)',
      ],
      [randomBytes(31).toString('hex'), 'is too short: a hex secret needs at least 64 digits (32 bytes)'],
      [
        'correct horse battery staple correct horse battery',
        'must be random bytes written as base64, base64url or hex',
      ],
      ['changeme'.repeat(8), 'looks like a placeholder, not random bytes'],
    ])('SESSION_SECRET=%s is refused', (value, expected) => {
      expect(problem({ SESSION_SECRET: value })).toEqual([`SESSION_SECRET ${expected}`]);
    });

    it('ENCRYPTION_KEY accepts 32 bytes as base64, base64url or hex, stored as base64url', () => {
      const key = randomBytes(32);
      for (const spelling of [key.toString('base64'), key.toString('base64url'), key.toString('hex')]) {
        expect(parse({ ENCRYPTION_KEY: spelling }).encryptionKey.current).toBe(key.toString('base64url'));
      }
    });

    it.each([
      [randomBytes(16).toString('base64')],
      [randomBytes(33).toString('base64')],
      [randomBytes(32).toString('hex').slice(1)],
      ['not a key at all'],
    ])('ENCRYPTION_KEY=%s is refused', (value) => {
      expect(problem({ ENCRYPTION_KEY: value })).toEqual([
        'ENCRYPTION_KEY must be exactly 32 bytes written as base64 (44 characters), base64url (43) or hex (64)',
      ]);
    });

    it('refuses a placeholder encryption key', () => {
      expect(problem({ ENCRYPTION_KEY: 'ab'.repeat(32) })).toEqual([
        'ENCRYPTION_KEY looks like a placeholder, not random bytes',
      ]);
    });

    it('refuses an encryption key equal to the session secret, however it is written', () => {
      const bytes = randomBytes(32);
      expect(
        problem({ SESSION_SECRET: bytes.toString('base64'), ENCRYPTION_KEY: bytes.toString('base64') }),
      ).toEqual(['ENCRYPTION_KEY must differ from SESSION_SECRET']);
      expect(
        problem({ SESSION_SECRET: bytes.toString('base64'), ENCRYPTION_KEY: bytes.toString('hex') }),
      ).toEqual(['ENCRYPTION_KEY must differ from SESSION_SECRET']);
      expect(
        problem({
          SESSION_SECRET: bytes.toString('hex'),
          ENCRYPTION_KEY_PREVIOUS: bytes.toString('base64url'),
        }),
      ).toEqual(['ENCRYPTION_KEY_PREVIOUS must differ from SESSION_SECRET']);
    });

    it('ENCRYPTION_KEY_PREVIOUS is optional, validated like the key, and warned about when it is the same key', () => {
      const previous = randomBytes(32);
      expect(parse({ ENCRYPTION_KEY_PREVIOUS: previous.toString('hex') }).encryptionKey.previous).toBe(
        previous.toString('base64url'),
      );
      expect(problem({ ENCRYPTION_KEY_PREVIOUS: 'old' })).toEqual([
        'ENCRYPTION_KEY_PREVIOUS must be exactly 32 bytes written as base64 (44 characters), base64url (43) or hex (64)',
      ]);
      const same = valid();
      const { warnings } = parseConfig({ ...same, ENCRYPTION_KEY_PREVIOUS: same.ENCRYPTION_KEY }, { cwd });
      expect(warnings.map((w) => `${w.variable} ${w.problem}`)).toEqual([
        'ENCRYPTION_KEY_PREVIOUS is the same key as ENCRYPTION_KEY, so it has no effect',
      ]);
    });

    it.each([
      [
        'postgres://app:pw@db.internal:5432/portal',
        { dialect: 'postgres', url: 'postgres://app:pw@db.internal:5432/portal' },
      ],
      ['postgresql://db/portal', { dialect: 'postgres', url: 'postgresql://db/portal' }],
      ['sqlite:///var/lib/portal/portal.db', { dialect: 'sqlite', path: '/var/lib/portal/portal.db' }],
      ['sqlite:state/portal.db', { dialect: 'sqlite', path: '/srv/portal/state/portal.db' }],
      ['state/portal.db', { dialect: 'sqlite', path: '/srv/portal/state/portal.db' }],
      ['/abs/portal.db', { dialect: 'sqlite', path: '/abs/portal.db' }],
    ])('DATABASE_URL=%s', (value, expected) => {
      expect(parse({ DATABASE_URL: value }).database).toEqual(expected);
    });

    it.each([
      ['sqlite://portal.db', 'must be sqlite:///absolute/path.db (three slashes) or sqlite:relative/path.db'],
      ['mysql://db/portal', 'uses an unsupported scheme: use postgres://, postgresql:// or sqlite:'],
      ['sqlite::memory:', 'cannot be an in-memory database: everything would be lost on restart'],
      ['postgres:///portal', 'must name the PostgreSQL host, e.g. postgres://user@db:5432/name'],
      ['sqlite:', 'must name a database file'],
    ])('DATABASE_URL=%s is refused', (value, expected) => {
      expect(problem({ DATABASE_URL: value })).toEqual([`DATABASE_URL ${expected}`]);
    });

    it('DATA_DIR is resolved and holds the default SQLite database', () => {
      const config = parse({ DATA_DIR: 'var/state' });
      expect(config.dataDir).toBe('/srv/portal/var/state');
      expect(config.database).toEqual({ dialect: 'sqlite', path: '/srv/portal/var/state/gitlab-extern.db' });
      expect(parse({ DATA_DIR: '/data' }).dataDir).toBe('/data');
    });

    it.each([
      ['0', 0],
      ['8080', 8080],
      ['65535', 65535],
    ])('PORT=%s', (value, expected) => {
      expect(parse({ PORT: value }).http.port).toBe(expected);
    });

    it.each(['65536', '-1', '3.5', 'http', '1e3'])('PORT=%s is refused', (value) => {
      expect(problem({ PORT: value })).toEqual(['PORT must be a port number from 0 to 65535']);
    });

    it('HOST takes names and addresses, not URLs', () => {
      expect(parse({ HOST: '0.0.0.0' }).http.host).toBe('0.0.0.0');
      expect(parse({ HOST: '::' }).http.host).toBe('::');
      expect(parse({ HOST: 'portal.internal' }).http.host).toBe('portal.internal');
      expect(problem({ HOST: 'http://0.0.0.0' })).toEqual(['HOST must be a host name or an IP address']);
    });

    it.each([
      ['false', false],
      ['FALSE', false],
      ['0', false],
      ['2', 2],
      ['10.0.0.0/8, 192.168.1.1', ['10.0.0.0/8', '192.168.1.1']],
      ['loopback,fd00::/8', ['loopback', 'fd00::/8']],
    ])('TRUST_PROXY=%s', (value, expected) => {
      expect(parse({ TRUST_PROXY: value }).http.trustProxy).toEqual(expected);
    });

    it('TRUST_PROXY=true works but is warned about', () => {
      const { config, warnings } = parseConfig(valid({ TRUST_PROXY: 'true' }), { cwd });
      expect(config.http.trustProxy).toBe(true);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.variable).toBe('TRUST_PROXY');
      expect(warnings[0]?.problem).toMatch(/every client/);
    });

    it.each(['10.0.0.0/33', 'proxy.example.com', '11', '10.0.0.1/8/1', 'yes'])(
      'TRUST_PROXY=%s is refused',
      (value) => {
        expect(problem({ TRUST_PROXY: value })).toHaveLength(1);
        expect(problem({ TRUST_PROXY: value })[0]).toMatch(/^TRUST_PROXY must be/);
      },
    );

    it('LOG_LEVEL takes pino levels in any case', () => {
      expect(parse({ LOG_LEVEL: 'DEBUG' }).logLevel).toBe('debug');
      expect(parse({ LOG_LEVEL: 'silent' }).logLevel).toBe('silent');
      expect(problem({ LOG_LEVEL: 'verbose' })).toEqual([
        'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
      ]);
    });

    it('SPONSOR_GROUP is a group path', () => {
      expect(parse({ SPONSOR_GROUP: '/staff/sponsors/' }).sponsorGroup).toBe('staff/sponsors');
      expect(parse({ SPONSOR_GROUP: 'it.dept_1' }).sponsorGroup).toBe('it.dept_1');
      for (const bad of ['https://gitlab.example.com/staff', 'staff sponsors', 'staff//sponsors', '/']) {
        expect(problem({ SPONSOR_GROUP: bad })).toEqual([
          'SPONSOR_GROUP must be the full path of a GitLab group, e.g. staff/sponsors',
        ]);
      }
    });

    it('session lifetimes are bounded and consistent', () => {
      expect(parse({ SESSION_IDLE_MINUTES: '15', SESSION_ABSOLUTE_HOURS: '8' }).session).toMatchObject({
        idleMinutes: 15,
        absoluteHours: 8,
      });
      expect(problem({ SESSION_IDLE_MINUTES: '0' })).toEqual([
        'SESSION_IDLE_MINUTES must be a whole number of minutes from 1 to 1440',
      ]);
      expect(problem({ SESSION_ABSOLUTE_HOURS: '721' })).toEqual([
        'SESSION_ABSOLUTE_HOURS must be a whole number of hours from 1 to 720',
      ]);
      expect(problem({ SESSION_IDLE_MINUTES: '120', SESSION_ABSOLUTE_HOURS: '1' })).toEqual([
        'SESSION_IDLE_MINUTES must not be longer than SESSION_ABSOLUTE_HOURS',
      ]);
    });

    it('NEW_USER_PASSWORD_MODE is one of two modes', () => {
      expect(parse({ NEW_USER_PASSWORD_MODE: 'random_skip_confirmation' }).newUserPasswordMode).toBe(
        'random_skip_confirmation',
      );
      expect(problem({ NEW_USER_PASSWORD_MODE: 'email' })).toEqual([
        'NEW_USER_PASSWORD_MODE must be one of reset_link, random_skip_confirmation',
      ]);
    });

    it('GITLAB_TIMEOUT_MS is bounded', () => {
      expect(parse({ GITLAB_TIMEOUT_MS: '5000' }).gitlab.timeoutMs).toBe(5000);
      for (const bad of ['999', '60001', '10s']) {
        expect(problem({ GITLAB_TIMEOUT_MS: bad })).toEqual([
          'GITLAB_TIMEOUT_MS must be a whole number of milliseconds from 1000 to 60000',
        ]);
      }
    });

    it('treats empty values as unset', () => {
      expect(parse({ PORT: '', DATA_DIR: '', SPONSOR_GROUP: '' })).toMatchObject({
        http: { port: 3000 },
        dataDir: '/srv/portal/data',
        sponsorGroup: undefined,
      });
    });
  });

  it('is documented variable by variable in .env.example', async () => {
    const example = await readFile(new URL('../../.env.example', import.meta.url), 'utf8');
    const documented = [...example.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((match) => match[1]);
    expect(new Set(documented)).toEqual(new Set(variableNames));
  });

  describe('redaction for display', () => {
    it('shows no secret, including passwords inside URLs', () => {
      const values = valid({
        ENCRYPTION_KEY_PREVIOUS: randomBytes(32).toString('base64url'),
        DATABASE_URL: 'postgres://app:db-CANARY@db.internal:5432/portal?sslmode=require&password=q-CANARY',
      });
      const { config } = parseConfig(values, { cwd });
      const shown = redactedConfig(config);
      const text = JSON.stringify(shown);
      for (const secret of [
        values.GITLAB_CLIENT_SECRET,
        values.GITLAB_ADMIN_TOKEN,
        values.SESSION_SECRET,
        config.encryptionKey.current,
        config.encryptionKey.previous,
        'CANARY',
      ]) {
        expect(text).not.toContain(secret);
      }
      expect(shown.gitlab).toMatchObject({
        clientSecret: '<set>',
        adminToken: '<set>',
        clientId: 'portal-client-id',
      });
      expect(shown.session.secret).toBe('<set>');
      expect(shown.encryptionKey).toEqual({ current: '<set>', previous: '<set>' });
      expect(shown.database).toEqual({
        dialect: 'postgres',
        url: 'postgres://app:<set>@db.internal:5432/portal?sslmode=require&password=<set>',
      });
    });

    it('says which optional secrets are not set', () => {
      const shown = redactedConfig(parseConfig(valid(), { cwd }).config);
      expect(shown.encryptionKey.previous).toBe('<not set>');
      expect(shown.database).toEqual({ dialect: 'sqlite', path: '/srv/portal/data/gitlab-extern.db' });
    });
  });

  describe('sources', () => {
    let dir: string;

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gitlab-extern-config-'));
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    async function secretFile(name: string, content: string, mode = 0o600): Promise<string> {
      const path = join(dir, name);
      await writeFile(path, content);
      await chmod(path, mode);
      return path;
    }

    function dotenv(content: string, mode = 0o600) {
      return secretFile('.env', content, mode);
    }

    function load(env: NodeJS.ProcessEnv) {
      return loadConfig(env, { cwd: dir });
    }

    function loadProblems(env: NodeJS.ProcessEnv): string[] {
      return problemsOf(() => load(env)).map((p) => `${p.variable} ${p.problem}`);
    }

    it('reads secrets from <NAME>_FILE, dropping one trailing newline', async () => {
      const { GITLAB_ADMIN_TOKEN, GITLAB_CLIENT_SECRET, ...env } = valid();
      const token = await secretFile('token', `${GITLAB_ADMIN_TOKEN}\n`);
      await secretFile('client-secret', `${GITLAB_CLIENT_SECRET}\r\n`);
      const { config, warnings } = load({
        ...env,
        GITLAB_ADMIN_TOKEN_FILE: token,
        GITLAB_CLIENT_SECRET_FILE: 'client-secret',
      });
      expect(config.gitlab.adminToken).toBe(GITLAB_ADMIN_TOKEN);
      expect(config.gitlab.clientSecret).toBe(GITLAB_CLIENT_SECRET);
      expect(warnings).toEqual([]);
    });

    it('keeps the content of a file apart from one final newline', async () => {
      const { GITLAB_ADMIN_TOKEN, ...env } = valid();
      const token = await secretFile('token', `${GITLAB_ADMIN_TOKEN}\n\n`);
      expect(loadProblems({ ...env, GITLAB_ADMIN_TOKEN_FILE: token })).toEqual([
        'GITLAB_ADMIN_TOKEN must not contain spaces or line breaks',
      ]);
    });

    it('warns when a secret file is readable by other users', async () => {
      const { SESSION_SECRET, ...env } = valid();
      const path = await secretFile('session', SESSION_SECRET!, 0o644);
      const { config, warnings } = load({ ...env, SESSION_SECRET_FILE: path });
      expect(config.session.secret).toBe(SESSION_SECRET);
      expect(warnings).toEqual([
        {
          variable: 'SESSION_SECRET_FILE',
          problem: `names a file other users on this machine can read: ${path}`,
          fix: `Run: chmod 600 ${path}`,
        },
      ]);
    });

    it('refuses a variable set both directly and as a file', async () => {
      const values = valid();
      const path = await secretFile('key', values.ENCRYPTION_KEY!);
      expect(loadProblems({ ...values, ENCRYPTION_KEY_FILE: path })).toEqual([
        'ENCRYPTION_KEY and ENCRYPTION_KEY_FILE are both set',
      ]);
    });

    it('reports unreadable and empty files together with every other problem', async () => {
      const { GITLAB_ADMIN_TOKEN, SESSION_SECRET, ...env } = valid();
      const empty = await secretFile('empty', '\n');
      const missing = join(dir, 'missing');
      expect(
        loadProblems({ ...env, GITLAB_ADMIN_TOKEN_FILE: missing, SESSION_SECRET_FILE: empty, PORT: 'x' }),
      ).toEqual([
        `GITLAB_ADMIN_TOKEN_FILE names a file that cannot be read: ${missing} (ENOENT)`,
        `SESSION_SECRET_FILE names an empty file: ${empty}`,
        'PORT must be a port number from 0 to 65535',
      ]);
    });

    it('reads .env for what the environment does not set; the environment wins', async () => {
      const fromFile = valid();
      await dotenv(
        `${Object.entries(fromFile)
          .map(([k, v]) => `${k}=${v}`)
          .join('\n')}\nPORT=4000\nLOG_LEVEL=debug # comment\n`,
      );
      expect(load({}).config).toMatchObject({ http: { port: 4000 }, logLevel: 'debug' });
      expect(load({ PORT: '5000' }).config.http.port).toBe(5000);
      expect(load({ PORT: '' }).config.http.port).toBe(4000);
    });

    it('lets an environment <NAME>_FILE override a .env value without a conflict', async () => {
      const values = valid();
      await dotenv(
        Object.entries(values)
          .map(([k, v]) => `${k}=${v}`)
          .join('\n'),
      );
      const other = randomBytes(32).toString('base64url');
      const path = await secretFile('key', other);
      expect(load({ ENCRYPTION_KEY_FILE: path }).config.encryptionKey.current).toBe(other);
    });

    it('refuses NAME and NAME_FILE both in .env', async () => {
      const values = valid();
      const path = await secretFile('key', values.ENCRYPTION_KEY!);
      await dotenv(`ENCRYPTION_KEY=${values.ENCRYPTION_KEY}\nENCRYPTION_KEY_FILE=${path}\n`);
      const { ENCRYPTION_KEY, ...env } = values;
      expect(loadProblems(env)).toEqual(['ENCRYPTION_KEY and ENCRYPTION_KEY_FILE are both set']);
    });

    it('warns when a .env holding secrets is readable by other users', async () => {
      const { SESSION_SECRET, ...env } = valid();
      const path = await dotenv(`SESSION_SECRET=${SESSION_SECRET}\n`, 0o644);
      expect(load(env).warnings).toEqual([
        {
          variable: '.env',
          problem: 'holds secrets but other users on this machine can read it',
          fix: `Run: chmod 600 ${path}`,
        },
      ]);
    });

    it('reports a .env that cannot be read', async () => {
      await mkdir(join(dir, '.env'));
      expect(loadProblems(valid())).toEqual(['.env cannot be read (EISDIR)']);
    });

    it('needs no .env', () => {
      expect(load(valid()).config.gitlab.url).toBe('https://gitlab.example.com');
    });
  });
});
