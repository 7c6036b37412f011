import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin/gitlab-extern.js');

export interface DemoInfo {
  portalUrl: string;
  simulatorUrl: string;
  mailUrl: string;
  adminToken: string;
  users: { username: string; password: string; role: string }[];
}

export interface DemoProcess {
  info: DemoInfo;
  stdout: () => string;
  stderr: () => string;
  password(username: string): string;
  stop(): Promise<number | null>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Runs the built `gitlab-extern start` in demo mode as a child process (exactly what `npm start`
 * does on a fresh machine) and reads `demo.json` once it is up.
 */
export async function startDemoProcess(env: Record<string, string> = {}): Promise<DemoProcess> {
  if (!existsSync(join(ROOT, 'dist/cli/main.js')))
    throw new Error('dist/ is missing: run "npm run build" first');
  const dataDir = mkdtempSync(join(tmpdir(), 'gle-e2e-'));
  const port = await freePort();
  let out = '';
  let err = '';
  const child: ChildProcess = spawn(process.execPath, [BIN, 'start'], {
    cwd: dataDir,
    env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (!out.includes('Stop with Ctrl+C')) {
    if (child.exitCode !== null) throw new Error(`demo mode exited with ${child.exitCode}:\n${out}\n${err}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`demo mode did not start within 20 s:\n${out}\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const info = JSON.parse(readFileSync(join(dataDir, 'demo.json'), 'utf8')) as DemoInfo;
  return {
    info,
    stdout: () => out,
    stderr: () => err,
    password: (username) => {
      const user = info.users.find((u) => u.username === username);
      if (!user) throw new Error(`no demo user ${username}`);
      return user.password;
    },
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const code = await exited;
      rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}
