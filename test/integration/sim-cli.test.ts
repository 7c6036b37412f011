import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

/**
 * The simulator as an operator runs it: the built `gitlab-extern sim` and `gitlab-sim` binaries in a
 * process of their own, talked to over HTTP and stopped with signals.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILT = ['dist/cli/main.js', 'simulator/dist/cli.js'];
const ADMIN_TOKEN = 'glpat-xyz';
const LISTENING = /^GitLab simulator listening on http:\/\/127\.0\.0\.1:(\d+)$/;
/** How long a stopped simulator may take to exit. */
const STOP_MS = 5_000;

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();

/** Runs a built binary from the repository root; fails when the build output is missing. */
function run(bin: string, args: string[]): Run {
  for (const file of BUILT) {
    if (!existsSync(join(ROOT, file))) throw new Error(`${file} is missing: run \`npm run build\` first`);
  }
  const env = { ...process.env };
  delete env.GITLAB_SIM_ADMIN_TOKEN;
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Resolves with the first line on stdout; rejects if the process ends before printing one. */
async function firstLine(r: Run): Promise<string> {
  const line = new Promise<string>((resolve) => {
    const check = () => {
      const nl = r.stdout().indexOf('\n');
      if (nl < 0) return;
      r.child.stdout!.off('data', check);
      resolve(r.stdout().slice(0, nl));
    };
    r.child.stdout!.on('data', check);
    check();
  });
  const ended = r.exited.then(({ code, signal }) => {
    throw new Error(`exited (code ${code}, signal ${signal}) before printing a line; stderr:\n${r.stderr()}`);
  });
  return Promise.race([line, ended]);
}

/** Sends `signal` and resolves with how the process ended, or rejects after `STOP_MS`. */
async function stop(r: Run, signal: NodeJS.Signals) {
  r.child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running ${STOP_MS} ms after ${signal}`)), STOP_MS);
  });
  try {
    return await Promise.race([r.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

const api = (url: string, path: string, token = ADMIN_TOKEN) =>
  fetch(`${url}/api/v4${path}`, { headers: { 'private-token': token } });

describe('gitlab-extern sim (the built CLI)', () => {
  let dir: string;
  let seedFile: string;
  let badSeedFile: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
    seedFile = join(dir, 'seed.json');
    writeFileSync(
      seedFile,
      JSON.stringify({
        users: [
          { username: 'alice', name: 'Alice Sponsor', tokens: [{ token: 'glpat-alice', scopes: ['api'] }] },
          { username: 'erin', email: 'erin@partner.example', external: true },
        ],
        groups: [{ path: 'partners', members: [{ user: 'alice', access_level: 50 }] }],
      }),
    );
    badSeedFile = join(dir, 'bad-seed.json');
    writeFileSync(
      badSeedFile,
      JSON.stringify({
        users: [{ name: 'No Username' }, { username: 'bob', email: 'not-an-address' }],
        groups: [{ path: 't', parent: 'nowhere' }],
      }),
    );
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  afterEach(() => {
    for (const child of running) child.kill('SIGKILL');
  });

  const startSim = () =>
    run('bin/gitlab-extern.js', ['sim', '--port', '0', '--admin-token', ADMIN_TOKEN, '--seed', seedFile]);

  it('prints exactly one line with its URL, and nothing else on stdout', async () => {
    const r = startSim();
    const line = await firstLine(r);
    expect(line).toMatch(LISTENING);
    expect(Number(LISTENING.exec(line)![1])).toBeGreaterThan(0);
    const url = line.slice('GitLab simulator listening on '.length);
    expect((await api(url, '/version')).status).toBe(200);
    expect(await stop(r, 'SIGTERM')).toEqual({ code: 0, signal: null });
    expect(r.stdout()).toBe(`${line}\n`);
  });

  it('answers the API with the admin token and knows the seeded users — lib/api/users.rb', async () => {
    const r = startSim();
    const url = (await firstLine(r)).slice('GitLab simulator listening on '.length);

    const me = await api(url, '/user');
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ id: 1, username: 'root', is_admin: true });

    const erin = await api(url, '/users?username=erin');
    expect(await erin.json()).toMatchObject([
      { username: 'erin', email: 'erin@partner.example', external: true },
    ]);

    const alice = await api(url, '/user', 'glpat-alice');
    expect(await alice.json()).toMatchObject({ username: 'alice', name: 'Alice Sponsor' });
    expect(await (await api(url, '/groups/partners/members/all')).json()).toMatchObject([
      { username: 'alice', access_level: 50 },
    ]);

    expect((await api(url, '/user', 'glpat-unknown')).status).toBe(401);
    await stop(r, 'SIGTERM');
  });

  it('refuses an invalid --seed file: non-zero exit, every problem on stderr, nothing listening', async () => {
    const r = run('bin/gitlab-extern.js', ['sim', '--port', '0', '--seed', badSeedFile]);
    const { code } = await r.exited;
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(r.stdout()).toBe('');
    const stderr = r.stderr();
    expect(stderr).toContain(`seed file ${badSeedFile} is invalid (4 problems)`);
    expect(stderr).toContain('users[0].username: missing');
    expect(stderr).toContain("users[1].email: 'not-an-address' is not an e-mail address");
    expect(stderr).toContain('groups[0].path: is too short (minimum is 2 characters)');
    expect(stderr).toContain("groups[0].parent: unknown group 'nowhere'");
  });

  it('refuses --port abc with a message naming the option and the value', async () => {
    const r = run('bin/gitlab-extern.js', ['sim', '--port', 'abc']);
    const { code } = await r.exited;
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(r.stdout()).toBe('');
    expect(r.stderr()).toContain("option '--port <n>' argument 'abc' is invalid");
    expect(r.stderr()).toContain('port number 0-65535');
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('%s stops the simulator with exit code 0', async (signal) => {
    const r = startSim();
    const url = (await firstLine(r)).slice('GitLab simulator listening on '.length);
    expect((await api(url, '/user')).status).toBe(200);
    const started = Date.now();
    expect(await stop(r, signal)).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(STOP_MS);
    await expect(fetch(`${url}/api/v4/version`)).rejects.toThrow();
  });

  it('gitlab-sim --help prints the usage and exits 0', async () => {
    const r = run('simulator/bin/gitlab-sim.js', ['--help']);
    expect(await r.exited).toEqual({ code: 0, signal: null });
    expect(r.stderr()).toBe('');
    const usage = r.stdout();
    expect(usage.split('\n')[0]).toBe('Usage: gitlab-sim [options]');
    for (const option of [
      '--port <n>',
      '--admin-token <token>',
      '--seed <file.json>',
      '--generate-users <n>',
    ]) {
      expect(usage).toContain(option);
    }
  });
});
