import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { type Simulator, startSimulator } from '@gitlab-extern/simulator';
import { type Config, parseConfig } from '../config/config.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { type RunningServer, startServer } from '../server.js';
import { DEMO_ACCOUNTS, demoSeed } from './organisation.js';

export interface DemoOptions {
  env: NodeJS.ProcessEnv;
  /** Where demo.json, the secrets and the database go (default `DATA_DIR` or `./data`). */
  cwd?: string;
  out?: (line: string) => void;
  logger?: Logger;
}

export interface DemoInfo {
  portalUrl: string;
  simulatorUrl: string;
  mailUrl: string;
  adminToken: string;
  users: { username: string; password: string; role: string }[];
  oauthApplication: { name: string; applicationId: string };
  database: string;
  startedAt: string;
}

export interface RunningDemo {
  info: DemoInfo;
  server: RunningServer;
  simulator: Simulator;
  config: Config;
  stop(): Promise<void>;
}

interface DemoSecrets {
  sessionSecret: string;
  encryptionKey: string;
  adminToken: string;
}

/** Secrets are generated on the first run and kept (mode 0600) so restarts do not invalidate them. */
function loadOrCreateSecrets(dir: string): DemoSecrets {
  const file = join(dir, 'demo-secrets.json');
  if (existsSync(file)) {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<DemoSecrets>;
    if (parsed.sessionSecret && parsed.encryptionKey && parsed.adminToken) return parsed as DemoSecrets;
  }
  const secrets: DemoSecrets = {
    sessionSecret: randomBytes(32).toString('base64url'),
    encryptionKey: randomBytes(32).toString('base64url'),
    adminToken: `glpat-${randomBytes(15).toString('base64url')}`,
  };
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return secrets;
}

/** A port that is free right now, for when `PORT=0` asks for any port (the public URL needs it up front). */
async function freePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function portFrom(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`${name} must be a port number 0-65535`);
  return port;
}

/** Registers the portal with the simulated GitLab the way an administrator would: through the API. */
async function registerApplication(sim: Simulator, redirectUri: string) {
  const res = await fetch(`${sim.url}/api/v4/applications`, {
    method: 'POST',
    headers: { 'private-token': sim.adminToken, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'gitlab-extern (demo)',
      redirect_uri: redirectUri,
      scopes: 'openid profile email',
      confidential: true,
    }),
  });
  if (res.status !== 201) throw new Error(`registering the OAuth application failed: HTTP ${res.status}`);
  return (await res.json()) as { application_id: string; secret: string; application_name: string };
}

/**
 * Demo mode: the built-in GitLab simulator seeded with a small organisation, the portal registered
 * on it as an OAuth application, generated secrets and a fresh SQLite database under the data
 * directory. The simulated GitLab lives in memory, so the database starts empty on every run.
 */
export async function startDemo(opts: DemoOptions): Promise<RunningDemo> {
  const { env } = opts;
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const cwd = opts.cwd ?? process.cwd();
  const dataDir = resolve(cwd, env.DATA_DIR || 'data');
  mkdirSync(dataDir, { recursive: true });
  const host = env.HOST || '127.0.0.1';
  const requestedPort = portFrom(env.PORT, 'PORT', 3000);
  const port = requestedPort === 0 ? await freePort(host) : requestedPort;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const publicUrl = env.PUBLIC_URL || `http://${urlHost}:${port}`;

  const secrets = loadOrCreateSecrets(dataDir);
  const rootPassword = DEMO_ACCOUNTS.find((a) => a.username === 'root')!.password;
  const simulator = await startSimulator({
    host,
    port: portFrom(env.GITLAB_SIM_PORT, 'GITLAB_SIM_PORT', 0),
    adminToken: secrets.adminToken,
    rootPassword,
    seed: demoSeed(),
    // On a workstation demo, anyone may read the captured mail (e.g. the collaborator's set-password link).
    settings: { publicMailViewer: true },
  });

  try {
    const app = await registerApplication(simulator, `${publicUrl}/oauth/callback`);
    const databaseFile = join(dataDir, 'demo.db');
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${databaseFile}${suffix}`, { force: true });
    const { config } = parseConfig(
      {
        GITLAB_URL: simulator.url,
        GITLAB_CLIENT_ID: app.application_id,
        GITLAB_CLIENT_SECRET: app.secret,
        GITLAB_ADMIN_TOKEN: secrets.adminToken,
        PUBLIC_URL: publicUrl,
        SESSION_SECRET: secrets.sessionSecret,
        ENCRYPTION_KEY: secrets.encryptionKey,
        DATABASE_URL: databaseFile,
        DATA_DIR: dataDir,
        HOST: host,
        PORT: String(port),
        LOG_LEVEL: env.LOG_LEVEL || 'warn',
        SPONSOR_GROUP: env.SPONSOR_GROUP,
      },
      { cwd },
    );
    const logger = opts.logger ?? createLogger({ level: config.logLevel });
    const server = await startServer(config, { logger });

    const info: DemoInfo = {
      portalUrl: publicUrl,
      simulatorUrl: simulator.url,
      mailUrl: `${simulator.url}/-/sim/mail`,
      adminToken: secrets.adminToken,
      users: DEMO_ACCOUNTS.map((a) => ({ ...a })),
      oauthApplication: { name: app.application_name, applicationId: app.application_id },
      database: databaseFile,
      startedAt: new Date().toISOString(),
    };
    const infoFile = join(dataDir, 'demo.json');
    writeFileSync(infoFile, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
    chmodSync(infoFile, 0o600);

    const width = Math.max(...DEMO_ACCOUNTS.map((a) => a.username.length));
    out('gitlab-extern is running in demo mode (no GitLab configured).');
    out('');
    out(`  Portal:            ${publicUrl}`);
    out(`  Simulated GitLab:  ${simulator.url}`);
    out(`  Captured mail:     ${info.mailUrl}`);
    out('');
    out('  Demo sign-ins (username / password):');
    for (const a of DEMO_ACCOUNTS) out(`    ${a.username.padEnd(width)}  ${a.password.padEnd(18)} ${a.role}`);
    out('');
    out(`  Details for scripts (incl. the simulator's admin token): ${infoFile}`);
    out('  The simulated GitLab keeps its state in memory: each start begins afresh. Stop with Ctrl+C.');

    return {
      info,
      server,
      simulator,
      config,
      stop: async () => {
        await server.stop();
        await simulator.close();
      },
    };
  } catch (err) {
    await simulator.close();
    throw err;
  }
}
