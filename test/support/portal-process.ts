import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type Simulator, startSimulator } from '@gitlab-extern/simulator';
import { type Dialect, openDatabase } from '../../src/db/database.js';
import { DEMO_ACCOUNTS, demoSeed } from '../../src/demo/organisation.js';
import { type TestDatabase, testDatabase } from './databases.js';
import { scrapeForms } from './portal.js';

/**
 * The portal as an operator runs it: the built `gitlab-extern` binary in a process of its own, against
 * the GitLab simulator in this process, with a database of either dialect. For tests where the
 * process is the point (kill -9, SIGTERM, a second process beside it). Needs `npm run build`.
 *
 *     const stack = await startProcessStack('sqlite');
 *     const server = await stack.serve();
 *     const alice = await stack.browser().signIn('alice');
 *     server.kill('SIGKILL');
 *     await stack.close();
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/gitlab-extern.js');
const BUILT = ['dist/cli/main.js', 'simulator/dist/index.js'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Polls `check` until it returns something truthy; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface ServerProcess {
  child: ChildProcess;
  /** e.g. http://127.0.0.1:41234 (also the portal's PUBLIC_URL). */
  url: string;
  stdout(): string;
  stderr(): string;
  /** The JSON log records written so far. */
  logs(): Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(args: string[], env: Record<string, string>, cwd: string): Running {
  for (const file of BUILT) {
    if (!existsSync(join(ROOT, file))) throw new Error(`${file} is missing: run \`npm run build\` first`);
  }
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: string;
  location: string | undefined;
}

function store(jar: Map<string, string>, headers: Headers): void {
  for (const header of headers.getSetCookie()) {
    const [pair = '', ...attrs] = header.split(';').map((p) => p.trim());
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (value === '' || attrs.some((a) => /^max-age=0$/i.test(a))) jar.delete(name);
    else jar.set(name, value);
  }
}

/**
 * A browser over real HTTP: cookie jars for the portal and for GitLab, manual redirects, the real
 * sign-in through GitLab's pages. (Node's fetch keeps `__Host-` cookies from http://127.0.0.1, as
 * browsers do for loopback.)
 */
export class HttpBrowser {
  readonly portalCookies = new Map<string, string>();
  readonly gitlabCookies = new Map<string, string>();

  constructor(
    private readonly portalUrl: string,
    private readonly sim: Simulator,
  ) {}

  async request(
    method: string,
    url: string,
    options: { form?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<HttpAnswer> {
    const absolute = new URL(url, this.portalUrl);
    const jar = absolute.origin === new URL(this.portalUrl).origin ? this.portalCookies : this.gitlabCookies;
    const headers: Record<string, string> = { ...options.headers };
    if (jar.size > 0) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (options.form) {
      body = new URLSearchParams(options.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const res = await fetch(absolute, { method, headers, body, redirect: 'manual' });
    store(jar, res.headers);
    const location = res.headers.get('location');
    return {
      status: res.status,
      headers: res.headers,
      body: await res.text(),
      location: location ? new URL(location, absolute).toString() : undefined,
    };
  }

  /** A form post to the portal with the session's CSRF token and the portal's origin. */
  async post(path: string, fields: Record<string, string>, csrf: string): Promise<HttpAnswer> {
    return this.request('POST', path, {
      form: { ...fields, _csrf: csrf },
      headers: { origin: new URL(this.portalUrl).origin },
    });
  }

  async signIn(username: string): Promise<this> {
    const password = DEMO_ACCOUNTS.find((a) => a.username === username)?.password ?? '';
    const login = await this.request('GET', '/login');
    if (login.status !== 303 || !login.location) throw new Error(`/login answered ${login.status}`);
    let page = await this.#followInGitLab(await this.request('GET', login.location));
    if (page.body.includes('Sign in to GitLab')) {
      const form = scrapeForms(page.body).find((f) => f.html.includes('sign-in-button'))!;
      const signedIn = await this.request('POST', new URL(form.action, this.sim.url).toString(), {
        form: { ...form.fields, 'user[login]': username, 'user[password]': password },
      });
      page = await this.#followInGitLab(signedIn);
    }
    // GitLab's consent page, or (for an application already approved) its redirect page.
    let back =
      page.location ??
      /<a href="([^"]+)">Click here to redirect/.exec(page.body)?.[1]?.replaceAll('&amp;', '&');
    if (page.body.includes('data-testid="authorization-button"')) {
      const form = scrapeForms(page.body).find((f) => f.html.includes('authorization-button'))!;
      back = (
        await this.request('POST', new URL(form.action, this.sim.url).toString(), { form: form.fields })
      ).location;
    }
    if (!back?.startsWith(this.portalUrl))
      throw new Error(`GitLab did not send ${username} back to the portal`);
    const done = await this.request('GET', back);
    if (done.status !== 303 || !this.portalCookies.has('__Host-gle_session')) {
      throw new Error(`sign-in of ${username} failed: ${done.status} ${done.body.slice(0, 300)}`);
    }
    return this;
  }

  async #followInGitLab(first: HttpAnswer): Promise<HttpAnswer> {
    let res = first;
    for (let i = 0; i < 10 && res.location?.startsWith(this.sim.url); i++) {
      res = await this.request('GET', res.location);
    }
    return res;
  }

  /** A fresh sponsorship form: its one-time token and the session's CSRF token. */
  async openForm(): Promise<{ formToken: string; csrf: string }> {
    const page = await this.request('GET', '/sponsorships/new');
    const form = scrapeForms(page.body).find((f) => 'form_token' in f.fields);
    if (!form) throw new Error(`no sponsorship form (status ${page.status})`);
    return { formToken: form.fields.form_token!, csrf: form.fields._csrf! };
  }
}

export interface ProcessStack {
  sim: Simulator;
  db: TestDatabase;
  dialect: Dialect;
  /** The configuration every process of this stack gets. */
  env: Record<string, string>;
  /** Secrets that must never appear in any output. */
  canaries: string[];
  port: number;
  /** The working directory of every process (no `.env` there). */
  cwd: string;
  /** Starts `gitlab-extern serve` and waits until it listens. */
  serve(extraEnv?: Record<string, string>): Promise<ServerProcess>;
  /** Runs another `gitlab-extern` command with the same configuration, to its end. */
  command(args: string[], extraEnv?: Record<string, string>): Promise<CommandResult>;
  /** A new browser for the portal's address (the same for every server of this stack). */
  browser(): HttpBrowser;
  close(): Promise<void>;
}

/**
 * The simulator (seeded like demo mode, the portal registered as an OAuth application) and a fresh
 * database; the server processes come from `serve()`. A SQLite database is closed here again so
 * that only server processes hold it; `db` then reopens it without the instance lock for reading.
 */
export async function startProcessStack(dialect: Dialect): Promise<ProcessStack> {
  const hex = (n: number) => randomBytes(n).toString('hex');
  const adminToken = `glpat-CANARY${hex(10)}`;
  const clientSecret = `gloas-CANARY${hex(16)}`;
  const clientId = `portal-${hex(8)}`;
  const sessionSecret = `CANARYsession${randomBytes(32).toString('base64url')}`;
  const encryptionKey = randomBytes(32).toString('base64url');
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const sim = await startSimulator({
    adminToken,
    strict: true,
    rootPassword: DEMO_ACCOUNTS.find((a) => a.username === 'root')!.password,
    seed: {
      ...demoSeed(),
      applications: [
        {
          name: 'gitlab-extern',
          redirect_uri: `${publicUrl}/oauth/callback`,
          scopes: 'openid profile email',
          confidential: true,
          application_id: clientId,
          secret: clientSecret,
        },
      ],
    },
  });
  const cwd = await mkdtemp(join(tmpdir(), 'gitlab-extern-proc-'));
  let db: TestDatabase;
  try {
    db = await testDatabase(dialect);
    if (dialect === 'sqlite') {
      const original = db;
      await original.close();
      const reopened = openDatabase(original.url, { instanceLock: false });
      db = {
        ...original,
        db: reopened.db,
        close: reopened.close,
        cleanup: async () => {
          await reopened.close();
          await original.cleanup();
        },
      };
    }
  } catch (err) {
    await sim.close();
    await rm(cwd, { recursive: true, force: true });
    throw err;
  }
  const env: Record<string, string> = {
    GITLAB_URL: sim.url,
    GITLAB_CLIENT_ID: clientId,
    GITLAB_CLIENT_SECRET: clientSecret,
    GITLAB_ADMIN_TOKEN: adminToken,
    PUBLIC_URL: publicUrl,
    SESSION_SECRET: sessionSecret,
    ENCRYPTION_KEY: encryptionKey,
    DATABASE_URL: db.url,
    DATA_DIR: cwd,
    HOST: '127.0.0.1',
    PORT: String(port),
    GITLAB_TIMEOUT_MS: '30000',
    LOG_LEVEL: 'info',
  };
  const started: Running[] = [];

  return {
    sim,
    db,
    dialect,
    env,
    canaries: [adminToken, clientSecret, sessionSecret, encryptionKey],
    port,
    cwd,
    async serve(extraEnv = {}) {
      const proc = run(['serve'], { ...env, ...extraEnv }, cwd);
      started.push(proc);
      const listening = /gitlab-extern listening on (\S+)/;
      const url = await waitFor(
        'the portal to listen',
        () => {
          if (proc.child.exitCode !== null) {
            throw new Error(`serve exited with ${proc.child.exitCode}:\n${proc.stdout()}\n${proc.stderr()}`);
          }
          return listening.exec(proc.stdout())?.[1];
        },
        30_000,
      );
      return {
        child: proc.child,
        url,
        stdout: proc.stdout,
        stderr: proc.stderr,
        logs: () =>
          proc
            .stdout()
            .split('\n')
            .filter((line) => line.startsWith('{'))
            .map((line) => JSON.parse(line) as Record<string, unknown>),
        exited: proc.exited,
        kill: (signal) => {
          proc.child.kill(signal);
        },
      };
    },
    async command(args, extraEnv = {}) {
      const proc = run(args, { ...env, ...extraEnv }, cwd);
      started.push(proc);
      const { code } = await proc.exited;
      return { code, stdout: proc.stdout(), stderr: proc.stderr() };
    },
    browser: () => new HttpBrowser(publicUrl, sim),
    async close() {
      for (const proc of started) {
        if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
      }
      await Promise.all(started.map((proc) => proc.exited));
      await sim.close();
      await db.cleanup();
      await rm(cwd, { recursive: true, force: true });
    },
  };
}
