import { parseArgs } from 'node:util';
import { defaultSettings, type SimSettings } from './settings.js';
import { type Simulator, type SimulatorOptions, startSimulator } from './simulator.js';

export interface SimProcessOptions extends SimulatorOptions {
  /** Generate this many extra users after seeding (load tests). */
  generateUsers?: number;
}

/**
 * Runs the simulator as a process: prints exactly one line with its URL and stops cleanly on
 * SIGINT/SIGTERM. Used by `gitlab-extern sim` and the package's own `gitlab-sim` binary.
 */
export async function runSimulatorProcess(
  options: SimProcessOptions,
  out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<Simulator> {
  const seed =
    typeof options.seed === 'string' ? (await import('./seed.js')).readSeedFile(options.seed) : options.seed;
  const withGenerated = options.generateUsers
    ? { ...(seed ?? {}), generate: { ...(seed?.generate ?? {}), users: options.generateUsers } }
    : seed;
  const sim = await startSimulator({ ...options, seed: withGenerated });
  out(`GitLab simulator listening on ${sim.url}`);
  const stop = () => {
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return sim;
}

/** Parses `KEY=VALUE` overrides of simulator settings, coercing to the default's type. */
export function parseSettingOverrides(pairs: readonly string[]): Partial<SimSettings> {
  const defaults = defaultSettings() as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new Error(`--setting expects KEY=VALUE, got '${pair}'`);
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (!(key in defaults))
      throw new Error(`unknown setting '${key}'; known: ${Object.keys(defaults).join(', ')}`);
    const kind = typeof defaults[key];
    if (kind === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new Error(`setting '${key}' needs a number, got '${value}'`);
      out[key] = n;
    } else if (kind === 'boolean') {
      if (value !== 'true' && value !== 'false')
        throw new Error(`setting '${key}' needs true or false, got '${value}'`);
      out[key] = value === 'true';
    } else out[key] = value === '' ? null : value;
  }
  return out as Partial<SimSettings>;
}

export const SIM_USAGE = `Usage: gitlab-sim [options]

Runs an in-memory GitLab (REST API v4 + OAuth 2.0/OIDC provider) for demos and tests.

Options:
  --port <n>             port to listen on (0 = a free port; default 0)
  --host <addr>          address to bind (default 127.0.0.1)
  --admin-token <token>  root's admin token (default: generated; also GITLAB_SIM_ADMIN_TOKEN)
  --seed <file.json>     users, groups, projects, memberships and OAuth applications to load
  --generate-users <n>   add n generated users (user2, user3, …) after seeding
  --public-url <url>     URL to advertise when behind a proxy
  --strict               answer 501 and log any request to an endpoint the simulator lacks
  --setting <k=v>        override an instance setting, e.g. userDefaultExternal=true (repeatable)
  -h, --help             show this help`;

export async function runSimulatorCli(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'admin-token': { type: 'string' },
      seed: { type: 'string' },
      'generate-users': { type: 'string' },
      'public-url': { type: 'string' },
      strict: { type: 'boolean' },
      setting: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${SIM_USAGE}\n`);
    return;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port must be 0-65535, got '${values.port}'`);
  const generateUsers = values['generate-users'] === undefined ? undefined : Number(values['generate-users']);
  if (generateUsers !== undefined && (!Number.isInteger(generateUsers) || generateUsers < 0)) {
    throw new Error(`--generate-users must be a whole number, got '${values['generate-users']}'`);
  }
  await runSimulatorProcess({
    port,
    host: values.host,
    adminToken: values['admin-token'] ?? process.env.GITLAB_SIM_ADMIN_TOKEN,
    seed: values.seed,
    generateUsers,
    publicUrl: values['public-url'],
    strict: values.strict,
    settings: parseSettingOverrides(values.setting ?? []),
  });
}
