import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GivenApplication, Simulator } from '@gitlab-extern/simulator';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { ManualClock } from '../../src/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { migrations } from '../../src/db/migrations/index.js';
import { type CheckResult, doctorExitCode, runDoctor, runDoctorCommand } from '../../src/doctor/doctor.js';
import { renderJson, renderText } from '../../src/doctor/render.js';
import { describeEachDialect, type TestDatabase, testDatabase } from '../support/databases.js';
import { CANARY_TOKEN, useSimulator } from '../support/gitlab.js';

const PUBLIC_URL = 'https://portal.example.com';
const CALLBACK = `${PUBLIC_URL}/oauth/callback`;
const SESSION_SECRET = randomBytes(32).toString('base64url');
const ENCRYPTION_KEY = randomBytes(32).toString('base64url');
const DB_PASSWORD = `pw-CANARY${randomBytes(8).toString('hex')}`;
const NOW = '2026-11-22T12:00:00.000Z';
const MIGRATIONS = Object.keys(migrations).sort();
const HAS_OPENSSL = spawnSync('openssl', ['version']).status === 0;

/** Every secret handed to the doctor in this file; none may appear in anything it prints. */
const secrets = new Set([CANARY_TOKEN, SESSION_SECRET, ENCRYPTION_KEY, DB_PASSWORD]);
/** Everything the doctor printed in this file. */
const printed: string[] = [];

afterAll(() => {
  for (const output of printed) {
    for (const secret of secrets) expect(output).not.toContain(secret);
    expect(output).not.toMatch(/glpat-|gloas-/);
  }
});

const sim = useSimulator();

let cwd: string;
beforeEach(async () => {
  // An empty working directory: no .env of the developer's is read.
  cwd = await mkdtemp(join(tmpdir(), 'gitlab-extern-doctor-'));
  sim().clock.freeze(new Date(NOW));
});
afterEach(async () => {
  await rm(cwd, { recursive: true, force: true });
});

function portalApplication(overrides: Partial<Parameters<Simulator['givenApplication']>[0]> = {}) {
  const app = sim().givenApplication({
    name: 'gitlab-extern',
    redirectUri: CALLBACK,
    scopes: ['openid', 'profile', 'email'],
    confidential: true,
    ...overrides,
  });
  secrets.add(app.secret);
  return app;
}

/** A personal access token of `username` (default root), remembered as a secret. */
function token(scopes: string[], options: { username?: string; expiresAt?: string } = {}): string {
  const owner = sim().user(options.username ?? 'root')!;
  const value = sim().givenToken(owner, scopes, options.expiresAt);
  secrets.add(value);
  return value;
}

function envFor(app: GivenApplication, adminToken: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    GITLAB_URL: sim().url,
    GITLAB_CLIENT_ID: app.applicationId,
    GITLAB_CLIENT_SECRET: app.secret,
    GITLAB_ADMIN_TOKEN: adminToken,
    PUBLIC_URL,
    SESSION_SECRET,
    ENCRYPTION_KEY,
    DATA_DIR: join(cwd, 'data'),
    ...extra,
  };
}

/** A correctly set-up portal: registered application, a token with api + admin_mode. */
function goodEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return envFor(portalApplication(), token(['api', 'admin_mode']), extra);
}

async function doctor(env: NodeJS.ProcessEnv) {
  const results = await runDoctor(env, { cwd, clock: new ManualClock(NOW) });
  printed.push(renderText(results), renderJson(results));
  const check = (id: string): CheckResult => {
    const found = results.find((r) => r.id === id);
    if (!found) throw new Error(`no check ${id} in ${results.map((r) => r.id).join(', ')}`);
    return found;
  };
  return { results, check, exitCode: doctorExitCode(results) };
}

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 1));
    });
  });
}

const NEW_TOKEN_FIX =
  'As a GitLab administrator, create a personal access token (User settings > Access tokens) with the api scope (and admin_mode when Admin Mode is on), put it in GITLAB_ADMIN_TOKEN (or the file GITLAB_ADMIN_TOKEN_FILE names) and restart the portal.';
const ROTATE_FIX =
  'Rotate it before then: create a new token with the same scopes (or call POST /api/v4/personal_access_tokens/self/rotate with it), put it in GITLAB_ADMIN_TOKEN and restart the portal.';
const AMBIGUOUS_ADMIN = {
  status: 'fail',
  detail:
    "GitLab does not treat this token as an administrator's: @root is not an administrator, or Admin Mode is on and the token lacks the admin_mode scope",
  fix: 'If @root is an administrator, Admin Mode is on: create a token with the api and admin_mode scopes, put it in GITLAB_ADMIN_TOKEN and restart the portal. Otherwise use a token of an administrator, or make @root one (Admin area > Users > @root > Edit > Access level: Administrator).',
};

describe('gitlab-extern doctor against the simulated GitLab', () => {
  it('passes every check for a correctly configured portal, asking GitLab nothing that grants access', async () => {
    const database = await testDatabase('sqlite');
    await database.close();
    try {
      const { results, check, exitCode } = await doctor(goodEnv({ DATABASE_URL: database.url }));

      expect(results.filter((r) => r.status !== 'ok')).toEqual([]);
      expect(exitCode).toBe(0);
      expect(results.map((r) => r.id)).toEqual([
        'config.sources',
        'config',
        'gitlab.reachable',
        'gitlab.version',
        'token.active',
        'token.scopes',
        'token.expiry',
        'token.admin',
        'oauth.discovery',
        'oauth.application',
        'oauth.client',
        'oauth.redirect_uri',
        'oauth.scopes',
        'oauth.confidential',
        'public_url',
        'database',
        'database.migrations',
      ]);
      expect(check('config.sources').detail).toBe('environment: 9 variables; no .env file');
      expect(check('gitlab.version').detail).toBe('GitLab 18.5.1 (16.0 or newer is supported)');
      expect(check('token.scopes').detail).toBe('api, admin_mode');
      expect(check('token.expiry').detail).toBe('expires on 2027-11-22 (in 364 days)');
      expect(check('token.admin').detail).toBe(
        '@root is an administrator; the token has the admin_mode scope',
      );
      expect(check('oauth.redirect_uri').detail).toBe(CALLBACK);
      expect(check('public_url').detail).toBe(
        `${PUBLIC_URL} (no path prefix; sign-in returns to ${CALLBACK})`,
      );
      expect(check('database.migrations').detail).toBe(
        `all ${MIGRATIONS.length} applied (latest ${MIGRATIONS.at(-1)})`,
      );

      // The OAuth probes never carry the admin token, and the made-up code granted nothing.
      const oauthRequests = [
        ...sim().requests({ path: '/.well-known/openid-configuration' }),
        ...sim().requests({ method: 'POST', path: '/oauth/token' }),
      ];
      expect(oauthRequests).toHaveLength(2);
      for (const request of oauthRequests) {
        expect(request.headers['private-token']).toBeUndefined();
      }
      expect(sim().store.accessTokens.size).toBe(0);
    } finally {
      await database.cleanup();
    }
  });

  it('reports an unreachable GitLab with its fix, skips what needs GitLab and still checks the database', async () => {
    const port = await closedPort();
    const { check, results, exitCode } = await doctor(goodEnv({ GITLAB_URL: `http://127.0.0.1:${port}` }));

    expect(check('gitlab.reachable')).toEqual({
      id: 'gitlab.reachable',
      title: 'GitLab',
      status: 'fail',
      detail: `cannot reach http://127.0.0.1:${port}: connection refused: nothing listens there (ECONNREFUSED)`,
      fix: 'Check GITLAB_URL, and that this machine can reach GitLab (DNS, firewall, outgoing proxy).',
    });
    for (const id of ['gitlab.version', 'token.active', 'token.admin', 'oauth.discovery', 'oauth.client']) {
      expect(check(id)).toMatchObject({ status: 'skipped', detail: 'needs a reachable GitLab (see GitLab)' });
    }
    expect(check('database').status).toBe('ok');
    expect(check('public_url').status).toBe('ok');
    expect(exitCode).toBe(1);
    expect(results.filter((r) => r.status === 'fail')).toHaveLength(1);
  });

  it('reports https:// to a plain-HTTP port as a TLS failure and never falls back to http', async () => {
    const httpsUrl = sim().url.replace('http://', 'https://');
    const { check } = await doctor(goodEnv({ GITLAB_URL: httpsUrl }));

    expect(check('gitlab.reachable')).toMatchObject({
      status: 'fail',
      detail: expect.stringMatching(
        new RegExp(
          `^${httpsUrl} does not speak TLS \\(ERR_SSL_[A-Z_]+\\): the address uses https:// but the server answers plain HTTP$`,
        ),
      ),
      fix: 'Use the port where GitLab serves HTTPS. Do not switch to http://: the admin token and the OAuth secret would cross the network unencrypted.',
    });
    expect(sim().requests()).toEqual([]);
  });

  it.skipIf(!HAS_OPENSSL)(
    'reports an untrusted GitLab certificate as a TLS problem (needs openssl)',
    async () => {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          join(cwd, 'key.pem'),
          '-out',
          join(cwd, 'cert.pem'),
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
        ],
        { stdio: 'ignore' },
      );
      const server = createHttpsServer(
        { key: await readFile(join(cwd, 'key.pem')), cert: await readFile(join(cwd, 'cert.pem')) },
        (_req, res) => res.end('{}'),
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      try {
        const { check } = await doctor(goodEnv({ GITLAB_URL: `https://127.0.0.1:${port}` }));

        expect(check('gitlab.reachable')).toEqual({
          id: 'gitlab.reachable',
          title: 'GitLab',
          status: 'fail',
          detail: `the TLS certificate of https://127.0.0.1:${port} is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT)`,
          fix: 'If GitLab uses a private certificate authority, start the portal (and the doctor) with NODE_EXTRA_CA_CERTS=/path/to/ca.pem. If the certificate expired or names another host, renew it on GitLab. Do not switch to http://.',
        });
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  );

  it('fails a revoked admin token', async () => {
    const revoked = token(['api', 'admin_mode']);
    const res = await fetch(`${sim().url}/api/v4/personal_access_tokens/self`, {
      method: 'DELETE',
      headers: { 'private-token': revoked },
    });
    expect(res.status).toBe(204);

    const { check } = await doctor(envFor(portalApplication(), revoked));

    expect(check('gitlab.reachable').status).toBe('ok');
    expect(check('gitlab.version')).toMatchObject({ status: 'skipped' });
    expect(check('token.active')).toEqual({
      id: 'token.active',
      title: 'Admin token',
      status: 'fail',
      detail: 'GitLab says the admin token was revoked',
      fix: NEW_TOKEN_FIX,
    });
    expect(check('token.expiry')).toMatchObject({
      status: 'skipped',
      detail: 'needs an admin token GitLab accepts (see Admin token)',
    });
    expect(check('oauth.redirect_uri')).toMatchObject({
      status: 'skipped',
      detail: 'needs an admin token GitLab accepts (see Admin token)',
    });
    // Discovery and the client credentials do not need the admin token.
    expect(check('oauth.discovery').status).toBe('ok');
    expect(check('oauth.client').status).toBe('ok');
  });

  it('fails an admin token that expires within 7 days and warns within 30', async () => {
    const soon = await doctor(envFor(portalApplication(), token(['api'], { expiresAt: '2026-11-27' })));
    expect(soon.check('token.expiry')).toEqual({
      id: 'token.expiry',
      title: 'Admin token expiry',
      status: 'fail',
      detail: 'expires on 2026-11-27 (in 4 days)',
      fix: ROTATE_FIX,
    });
    expect(soon.exitCode).toBe(1);

    const later = await doctor(envFor(portalApplication(), token(['api'], { expiresAt: '2026-12-12' })));
    expect(later.check('token.expiry')).toMatchObject({
      status: 'warn',
      detail: 'expires on 2026-12-12 (in 19 days)',
      fix: ROTATE_FIX,
    });
    expect(later.exitCode).toBe(0);
  });

  it("fails a non-administrator's token", async () => {
    sim().givenUser({ username: 'alice' });
    const withoutAdminMode = await doctor(envFor(portalApplication(), token(['api'], { username: 'alice' })));
    expect(withoutAdminMode.check('token.admin')).toMatchObject({
      ...AMBIGUOUS_ADMIN,
      detail: AMBIGUOUS_ADMIN.detail.replaceAll('@root', '@alice'),
      fix: AMBIGUOUS_ADMIN.fix.replaceAll('@root', '@alice'),
    });
    expect(withoutAdminMode.check('oauth.application')).toMatchObject({
      status: 'skipped',
      detail: 'needs an administrator token with the api scope (see Admin token)',
    });

    const withAdminMode = await doctor(
      envFor(portalApplication(), token(['api', 'admin_mode'], { username: 'alice' })),
    );
    expect(withAdminMode.check('token.admin')).toEqual({
      id: 'token.admin',
      title: 'Administrator rights',
      status: 'fail',
      detail: '@alice is not a GitLab administrator',
      fix: 'Use a personal access token of a GitLab administrator, or make @alice one (Admin area > Users > @alice > Edit > Access level: Administrator).',
    });
  });

  it('fails a token without the api scope', async () => {
    const { check } = await doctor(envFor(portalApplication(), token(['read_user'])));

    expect(check('token.scopes')).toEqual({
      id: 'token.scopes',
      title: 'Admin token scopes',
      status: 'fail',
      detail: 'has read_user, but not api',
      fix: `A token's scopes cannot be changed. ${NEW_TOKEN_FIX}`,
    });
    expect(check('gitlab.version')).toMatchObject({
      status: 'skipped',
      detail: 'GitLab shows its version only to a token it accepts with the api scope',
    });
    expect(check('oauth.application')).toMatchObject({ status: 'skipped' });
  });

  it('fails a token without admin_mode when Admin Mode is on, and passes one with it', async () => {
    sim().settings.adminMode = true;
    const without = await doctor(envFor(portalApplication(), token(['api'])));
    expect(without.check('token.admin')).toMatchObject(AMBIGUOUS_ADMIN);

    const withScope = await doctor(envFor(portalApplication(), token(['api', 'admin_mode'])));
    expect(withScope.check('token.admin')).toMatchObject({
      status: 'ok',
      detail: '@root is an administrator; the token has the admin_mode scope',
    });
    expect(withScope.check('oauth.redirect_uri').status).toBe('ok');
  });

  it('warns about the sudo scope', async () => {
    // The simulator's own admin token has api, sudo, admin_mode and read_user.
    const { check, exitCode } = await doctor(envFor(portalApplication(), CANARY_TOKEN));

    expect(check('token.scopes')).toEqual({
      id: 'token.scopes',
      title: 'Admin token scopes',
      status: 'warn',
      detail: 'api, sudo, admin_mode, read_user: the portal does not need sudo',
      fix: 'Replace the token with one without the sudo scope: the portal never acts as another user, so sudo only widens what a leaked token could do.',
    });
    expect(exitCode).toBe(0);
  });

  it('fails a wrong client secret, naming the application', async () => {
    const app = portalApplication();
    const wrong = `gloas-${randomBytes(32).toString('hex')}`;
    secrets.add(wrong);
    const { check } = await doctor(envFor(app, token(['api']), { GITLAB_CLIENT_SECRET: wrong }));

    expect(check('oauth.client')).toEqual({
      id: 'oauth.client',
      title: 'OAuth client credentials',
      status: 'fail',
      detail:
        'GITLAB_CLIENT_ID names the application “gitlab-extern”, but GitLab rejects GITLAB_CLIENT_SECRET',
      fix: 'Copy the Secret again from Admin area > Applications > gitlab-extern (if it is no longer shown, use Renew secret), put it in GITLAB_CLIENT_SECRET (or its file) and restart the portal.',
    });
  });

  it('fails an unknown client id and says the application is not in the admin list', async () => {
    const app = portalApplication();
    const { check } = await doctor(envFor(app, token(['api']), { GITLAB_CLIENT_ID: 'no-such-application' }));

    expect(check('oauth.client')).toMatchObject({
      status: 'fail',
      detail:
        'GitLab rejects the client credentials: no instance-wide application has GITLAB_CLIENT_ID, or GITLAB_CLIENT_SECRET is wrong',
    });
    expect(check('oauth.application')).toMatchObject({
      status: 'skipped',
      detail:
        'no instance-wide application has the Application ID no-such-application; one owned by a user or group is not in the admin list, so check its callback URL, scopes and Confidential flag where it was created',
    });
    expect(check('oauth.redirect_uri')).toMatchObject({
      status: 'skipped',
      detail: 'the application is not in the admin list',
    });
  });

  it('fails a redirect URI that differs from PUBLIC_URL + /oauth/callback, showing both', async () => {
    const app = portalApplication({
      redirectUri: [`${PUBLIC_URL}/auth/callback`, 'http://localhost:3000/cb'],
    });
    const { check } = await doctor(envFor(app, token(['api'])));

    expect(check('oauth.redirect_uri')).toEqual({
      id: 'oauth.redirect_uri',
      title: 'OAuth redirect URI',
      status: 'fail',
      detail: `GitLab has ${PUBLIC_URL}/auth/callback, http://localhost:3000/cb, but the portal sends ${CALLBACK} (PUBLIC_URL + /oauth/callback)`,
      fix: `In GitLab, Admin area > Applications > gitlab-extern > Edit: set the Callback URL to ${CALLBACK} (one URL per line). If the registered URL is the right one, change PUBLIC_URL instead.`,
    });
  });

  it('fails a non-confidential application and warns about scopes beyond sign-in', async () => {
    const app = portalApplication({ confidential: false, scopes: ['openid', 'profile', 'email', 'api'] });
    const { check } = await doctor(envFor(app, token(['api'])));

    expect(check('oauth.confidential')).toEqual({
      id: 'oauth.confidential',
      title: 'OAuth confidential',
      status: 'fail',
      detail: 'no: GitLab accepts the client id without the secret',
      fix: 'In GitLab, Admin area > Applications > gitlab-extern > Edit: tick Confidential. The portal keeps the secret on the server, so only it can redeem sign-in codes.',
    });
    expect(check('oauth.scopes')).toEqual({
      id: 'oauth.scopes',
      title: 'OAuth scopes',
      status: 'warn',
      detail: 'the application also allows api, which sign-in does not need',
      fix: 'In GitLab, Admin area > Applications > gitlab-extern > Edit: tick exactly openid profile email. Every extra scope widens what a stolen sign-in token could do in GitLab.',
    });
    expect(check('oauth.client').status).toBe('ok');
  });

  it('fails when the discovery issuer is not GITLAB_URL', async () => {
    sim().oidcFaults = { discoveryIssuer: 'https://gitlab.example.com' };
    const { check } = await doctor(goodEnv());

    expect(check('oauth.discovery')).toEqual({
      id: 'oauth.discovery',
      title: 'OpenID discovery',
      status: 'fail',
      detail: `GitLab's issuer is https://gitlab.example.com, but GITLAB_URL is ${sim().url}`,
      fix: "Set GITLAB_URL=https://gitlab.example.com exactly (sign-in refuses an issuer that differs), or, if the issuer is wrong, correct external_url in GitLab's configuration (gitlab.rb) and reconfigure GitLab.",
    });
  });

  it('warns about a GitLab older than 16.0', async () => {
    sim().settings.version = '15.11.13';
    const { check } = await doctor(goodEnv());

    expect(check('gitlab.version')).toEqual({
      id: 'gitlab.version',
      title: 'GitLab version',
      status: 'warn',
      detail: 'GitLab 15.11.13 is older than 16.0, the oldest version gitlab-extern supports',
      fix: 'Upgrade GitLab to 16.0 or newer: older versions get no security fixes and let admin tokens live without an expiry date.',
    });
  });
});

describe('gitlab-extern doctor: the database', () => {
  describeEachDialect('migrations', (dialect) => {
    let database: TestDatabase;
    beforeEach(async () => {
      database = await testDatabase(dialect, { migrate: false });
    });
    afterEach(async () => {
      await database.cleanup();
    });

    it('lists pending migrations and leaves them to serve', async () => {
      await database.close();
      const { check, exitCode } = await doctor(goodEnv({ DATABASE_URL: database.url }));

      expect(check('database.migrations')).toEqual({
        id: 'database.migrations',
        title: 'Database migrations',
        status: 'warn',
        detail: `${MIGRATIONS.length} of ${MIGRATIONS.length} pending: ${MIGRATIONS.join(', ')}`,
        fix: 'Nothing to do: serve applies pending migrations when it starts (the doctor never changes the database). Back up the database before starting a new version.',
      });
      expect(exitCode).toBe(0);
      const reopened = openDatabase(database.url);
      try {
        const tables = await reopened.db.introspection.getTables({ withInternalKyselyTables: true });
        expect(tables).toEqual([]);
      } finally {
        await reopened.close();
      }
    });

    it('fails a database migrated by a newer version', async () => {
      await sql`create table kysely_migration (name varchar(255) primary key, timestamp varchar(255) not null)`.execute(
        database.db,
      );
      await sql`insert into kysely_migration (name, timestamp) values ('0001_initial', 'x'), ('9999_future', 'y')`.execute(
        database.db,
      );
      await database.close();
      const { check } = await doctor(goodEnv({ DATABASE_URL: database.url }));

      expect(check('database.migrations')).toEqual({
        id: 'database.migrations',
        title: 'Database migrations',
        status: 'fail',
        detail:
          'the database was migrated by a newer gitlab-extern (9999_future); serve refuses to start with it',
        fix: 'Run the newer gitlab-extern version again, or restore the backup taken before the upgrade.',
      });
    });
  });

  it('fails an unreachable PostgreSQL without showing its password', async () => {
    const port = await closedPort();
    const url = `postgres://portal:${DB_PASSWORD}@127.0.0.1:${port}/portal`;
    const { check } = await doctor(goodEnv({ DATABASE_URL: url }));

    expect(check('database')).toEqual({
      id: 'database',
      title: 'Database',
      status: 'fail',
      detail: `PostgreSQL postgres://portal:<set>@127.0.0.1:${port}/portal: cannot connect (ECONNREFUSED)`,
      fix: 'Check that PostgreSQL runs and that host, port and database in DATABASE_URL are right, and that this machine may connect (firewall, pg_hba.conf).',
    });
    expect(check('database.migrations')).toMatchObject({ status: 'skipped' });
  });

  it('reports a SQLite database held by a running portal as in use, not as a failure', async () => {
    const database = await testDatabase('sqlite');
    const path = database.url.replace('sqlite://', '');
    try {
      // A plain file path: DATABASE_URL is secret only for a password it may contain, so it is shown.
      const { check, exitCode } = await doctor(goodEnv({ DATABASE_URL: path }));

      expect(check('database')).toMatchObject({
        status: 'warn',
        detail: `SQLite ${path} is in use by a running portal`,
        fix: 'Nothing to do if the portal is running. A SQLite database serves one portal process; to run several, use PostgreSQL (DATABASE_URL=postgres://…).',
      });
      expect(check('database.migrations').status).toBe('ok');
      expect(exitCode).toBe(0);
    } finally {
      await database.cleanup();
    }
  });

  it('creates no database file when there is none yet', async () => {
    const { check } = await doctor(goodEnv());

    expect(check('database')).toMatchObject({
      status: 'ok',
      detail: `SQLite ${join(cwd, 'data', 'gitlab-extern.db')} does not exist yet; serve creates it at first start`,
    });
    expect(await readdir(cwd)).toEqual([]);
  });
});

describe('gitlab-extern doctor: the configuration', () => {
  it('lists every problem at once with its fix, and still runs the checks that do not need them', async () => {
    const { results, check, exitCode } = await doctor(
      goodEnv({
        GITLAB_CLIENT_SECRET: '',
        SESSION_SECRET: 'too-short',
        PUBLIC_URL: 'http://portal.example.com',
      }),
    );

    expect(results.filter((r) => r.id.startsWith('config.') && r.status === 'fail')).toEqual([
      {
        id: 'config.GITLAB_CLIENT_SECRET',
        title: 'Configuration',
        status: 'fail',
        detail: 'GITLAB_CLIENT_SECRET is not set',
        fix: "Copy the OAuth application's Secret into it, or into a file named by GITLAB_CLIENT_SECRET_FILE.",
      },
      {
        id: 'config.PUBLIC_URL',
        title: 'Configuration',
        status: 'fail',
        detail: 'PUBLIC_URL must use https:// (plain http:// is only allowed for localhost)',
        fix: 'Set it to the address users open, including any path prefix, e.g. PUBLIC_URL=https://portal.example.com or https://example.com/extern',
      },
      {
        id: 'config.SESSION_SECRET',
        title: 'Configuration',
        status: 'fail',
        detail: 'SESSION_SECRET is too short: it needs at least 32 random bytes (43 base64 characters)',
        fix: 'Generate one with: openssl rand -base64 32',
      },
    ]);
    expect(check('token.admin').status).toBe('ok');
    expect(check('oauth.application').status).toBe('ok');
    expect(check('oauth.client')).toMatchObject({
      status: 'skipped',
      detail: 'needs GITLAB_CLIENT_SECRET, which has a problem (see Configuration)',
    });
    expect(check('oauth.redirect_uri')).toMatchObject({
      status: 'skipped',
      detail: 'needs PUBLIC_URL, which has a problem (see Configuration)',
    });
    expect(check('public_url').status).toBe('skipped');
    expect(check('database').status).toBe('ok');
    expect(exitCode).toBe(1);
  });

  it('exits 78 when the configuration leaves nothing else to check', async () => {
    const { results, exitCode } = await doctor({ DATABASE_URL: 'mysql://db/portal' });

    const failed = results.filter((r) => r.status === 'fail').map((r) => r.detail);
    expect(failed).toEqual([
      'GITLAB_URL is not set',
      'GITLAB_CLIENT_ID is not set',
      'GITLAB_CLIENT_SECRET is not set',
      'GITLAB_ADMIN_TOKEN is not set',
      'PUBLIC_URL is not set',
      'SESSION_SECRET is not set',
      'ENCRYPTION_KEY is not set',
      'DATABASE_URL uses an unsupported scheme: use postgres://, postgresql:// or sqlite:',
    ]);
    expect(results.filter((r) => !r.id.startsWith('config')).every((r) => r.status === 'skipped')).toBe(true);
    expect(exitCode).toBe(78);
  });

  it('shows warnings and where the values came from: .env and *_FILE secret files, never their values', async () => {
    const app = portalApplication();
    const adminToken = token(['api']);
    const tokenFile = join(cwd, 'admin-token');
    await writeFile(tokenFile, `${adminToken}\n`, { mode: 0o644 });
    await chmod(tokenFile, 0o644);
    await writeFile(
      join(cwd, '.env'),
      `SESSION_SECRET=${SESSION_SECRET}\nENCRYPTION_KEY=${ENCRYPTION_KEY}\n`,
      {
        mode: 0o600,
      },
    );
    await chmod(join(cwd, '.env'), 0o600);
    const env = envFor(app, '', { GITLAB_ADMIN_TOKEN_FILE: tokenFile, TRUST_PROXY: 'true' });
    delete env.SESSION_SECRET;
    delete env.ENCRYPTION_KEY;

    const { check, exitCode } = await doctor(env);

    expect(check('config.sources').detail).toBe(
      `environment: 6 variables; ${join(cwd, '.env')}: 2 variables; secret files: GITLAB_ADMIN_TOKEN_FILE=${tokenFile}`,
    );
    expect(check('config.GITLAB_ADMIN_TOKEN_FILE')).toEqual({
      id: 'config.GITLAB_ADMIN_TOKEN_FILE',
      title: 'Configuration',
      status: 'warn',
      detail: `GITLAB_ADMIN_TOKEN_FILE names a file other users on this machine can read: ${tokenFile}`,
      fix: `Run: chmod 600 ${tokenFile}`,
    });
    expect(check('config.TRUST_PROXY')).toMatchObject({ status: 'warn' });
    expect(check('token.active').status).toBe('ok');
    expect(exitCode).toBe(0);
  });
});

describe('gitlab-extern doctor: output', () => {
  function sink(isTTY: boolean) {
    const chunks: string[] = [];
    return {
      out: { isTTY, write: (text: string) => chunks.push(text) },
      text: () => chunks.join(''),
    };
  }

  it('prints one plain line per check and the fix under each failure when stdout is not a terminal', async () => {
    const app = portalApplication({ redirectUri: `${PUBLIC_URL}/wrong` });
    const { out, text } = sink(false);
    const code = await runDoctorCommand(envFor(app, token(['api'])), {
      cwd,
      clock: new ManualClock(NOW),
      out,
    });
    printed.push(text());

    expect(code).toBe(1);
    const lines = text().split('\n');
    expect(lines).toContain(`✓ GitLab: ${sim().url} answers`);
    expect(lines).toContain('✓ Admin token scopes: api');
    const failure = lines.indexOf(
      `✗ OAuth redirect URI: GitLab has ${PUBLIC_URL}/wrong, but the portal sends ${CALLBACK} (PUBLIC_URL + /oauth/callback)`,
    );
    expect(failure).toBeGreaterThan(0);
    expect(lines[failure + 1]).toBe(
      `    Fix: In GitLab, Admin area > Applications > gitlab-extern > Edit: set the Callback URL to ${CALLBACK} (one URL per line). If the registered URL is the right one, change PUBLIC_URL instead.`,
    );
    expect(lines.at(-2)).toBe(
      '1 problem, 0 warnings, 16 passed. Fix the ✗ lines, then run the doctor again.',
    );
    expect(text()).not.toContain('\u001b[');
  });

  it('colours the marks on a terminal, unless NO_COLOR is set', async () => {
    const env = goodEnv();
    const tty = sink(true);
    await runDoctorCommand(env, { cwd, clock: new ManualClock(NOW), out: tty.out });
    expect(tty.text()).toContain('\u001b[32m✓\u001b[0m GitLab: ');

    const noColor = sink(true);
    await runDoctorCommand({ ...env, NO_COLOR: '1' }, { cwd, clock: new ManualClock(NOW), out: noColor.out });
    expect(noColor.text()).not.toContain('\u001b[');
    printed.push(tty.text(), noColor.text());
  });

  it('--json prints the list of checks', async () => {
    const env = goodEnv();
    const { out, text } = sink(false);
    const code = await runDoctorCommand(env, { cwd, clock: new ManualClock(NOW), out, json: true });
    printed.push(text());

    const parsed = JSON.parse(text()) as CheckResult[];
    expect(code).toBe(0);
    expect(parsed.map((r) => r.status)).toEqual(Array(parsed.length).fill('ok'));
    expect(parsed.find((r) => r.id === 'token.admin')).toEqual({
      id: 'token.admin',
      title: 'Administrator rights',
      status: 'ok',
      detail: '@root is an administrator; the token has the admin_mode scope',
    });
  });

  it('`gitlab-extern doctor --json` is a CLI command: it prints the JSON and sets the exit status', async () => {
    const app = portalApplication({ confidential: false });
    const env = envFor(app, token(['api']), { DATABASE_URL: join(cwd, 'portal.db') });
    const saved = { env: process.env, exitCode: process.exitCode, write: process.stdout.write };
    const chunks: string[] = [];
    process.env = env;
    process.stdout.write = ((chunk: string) => chunks.push(chunk) > 0) as typeof process.stdout.write;
    let exitCode: typeof process.exitCode;
    try {
      await buildProgram().parseAsync(['doctor', '--json'], { from: 'user' });
      exitCode = process.exitCode;
    } finally {
      process.env = saved.env;
      process.exitCode = saved.exitCode;
      process.stdout.write = saved.write;
    }
    printed.push(chunks.join(''));

    expect(exitCode).toBe(1);
    const parsed = JSON.parse(chunks.join('')) as CheckResult[];
    expect(parsed.find((r) => r.id === 'oauth.confidential')?.status).toBe('fail');
  });

  it('documents the checks and the exit statuses in --help', () => {
    const doctor = buildProgram().commands.find((c) => c.name() === 'doctor')!;
    const help: string[] = [];
    doctor.configureOutput({ writeOut: (text) => help.push(text) });
    doctor.outputHelp();

    expect(help.join('')).toContain('--json');
    expect(help.join('')).toContain(
      'Exit status:\n  0   no check failed (warnings allowed)\n  1   at least one check failed\n  78  the configuration has problems and nothing else could be checked',
    );
  });
});
