#!/usr/bin/env node
// Performance targets of the GitLab simulator, measured against the built code (`simulator/dist`):
// startup with 100,000 generated users (time and memory), custom-attribute lookups at that size,
// GET /user throughput and user creations per second. Prints measured values next to their
// targets and exits 1 when any target is missed.
//
// The simulator runs in a child process of its own, as `gitlab-sim --generate-users 100000` would;
// the load generator (autocannon) runs in this process, so the two never share an event loop.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SIMULATOR_DIST = join(ROOT, 'simulator/dist/index.js');
const ADMIN_TOKEN = 'glpat-bench-admin-token';
const GENERATED_USERS = 100_000;
const ATTRIBUTE_KEY = 'bench_id';
const LOAD_SECONDS = 10;
const CONNECTIONS = 50;
const LOOKUPS = 500;
const STARTUP_TIMEOUT_MS = 120_000;

const TARGETS = {
  getUserRps: 3_000,
  createUsersPerSecond: 300,
  seedSeconds: 10,
  seedRssMb: 500,
  lookupP50Ms: 20,
  lookupP99Ms: 20,
};

/**
 * The child: starts the simulator through its CLI entry point with a seed whose generated users
 * each carry `bench_id = v-<id>`, then reports how long that took since the process started and
 * the resident memory afterwards.
 */
const CHILD_PROGRAM = `
const { runSimulatorCli } = await import(${JSON.stringify(pathToFileURL(SIMULATOR_DIST).href)});
await runSimulatorCli(process.argv.slice(1));
const { rss, heapUsed } = process.memoryUsage();
process.stdout.write('bench-stats ' + JSON.stringify({ readyMs: performance.now(), rss, heapUsed }) + '\\n');
`;

function fail(message) {
  console.error(`bench-simulator: ${message}`);
  process.exit(1);
}

/** Starts the simulator child; resolves with its URL and startup figures. */
function startSimulator(seedFile) {
  const args = ['--input-type=module', '-e', CHILD_PROGRAM, '--'];
  args.push('--port', '0', '--admin-token', ADMIN_TOKEN, '--seed', seedFile);
  args.push('--generate-users', String(GENERATED_USERS));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('the simulator did not start in time')),
      STARTUP_TIMEOUT_MS,
    );
    let buffered = '';
    let url;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const listening = /^GitLab simulator listening on (\S+)$/.exec(line);
        if (listening) url = listening[1];
        else if (line.startsWith('bench-stats ')) {
          clearTimeout(timer);
          resolve({ url, ...JSON.parse(line.slice('bench-stats '.length)) });
        }
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the simulator exited during startup (code ${code}, signal ${signal})`));
    });
  });
  return { child, exited, ready };
}

const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/** Sequential `GET /users?custom_attributes[bench_id]=v-<id>` for random generated users. */
async function customAttributeLookups(url) {
  const firstId = 2; // root is user 1; generated users follow
  const lookup = async (id) => {
    const query = `custom_attributes[${ATTRIBUTE_KEY}]=v-${id}`;
    const started = performance.now();
    const res = await fetch(`${url}/api/v4/users?${query}`, { headers: { 'private-token': ADMIN_TOKEN } });
    const body = await res.json();
    const elapsed = performance.now() - started;
    if (res.status !== 200 || body.length !== 1 || body[0].id !== id) {
      throw new Error(`lookup of ${query} answered ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
    }
    return elapsed;
  };
  const randomId = () => firstId + Math.floor(Math.random() * GENERATED_USERS);
  for (let i = 0; i < 100; i++) await lookup(randomId()); // warm-up, not measured
  const times = [];
  for (let i = 0; i < LOOKUPS; i++) times.push(await lookup(randomId()));
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

async function load(title, options, expectedStatus) {
  const result = await autocannon({
    connections: CONNECTIONS,
    pipelining: 1,
    duration: LOAD_SECONDS,
    ...options,
  });
  const statuses = Object.keys(result.statusCodeStats ?? {});
  if (result.errors > 0 || result.non2xx > 0 || statuses.some((s) => s !== String(expectedStatus))) {
    throw new Error(
      `${title}: ${result.errors} connection errors, statuses ${JSON.stringify(result.statusCodeStats)}`,
    );
  }
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
  };
}

function getCurrentUser(url) {
  return load(
    'GET /api/v4/user',
    { url: `${url}/api/v4/user`, headers: { 'private-token': ADMIN_TOKEN } },
    200,
  );
}

/** Every request creates a new user: the username and e-mail carry a per-request counter. */
function createUsers(url) {
  let n = 0;
  const setupRequest = (req) => {
    n++;
    const body = {
      username: `bench-${n}`,
      email: `bench-${n}@example.com`,
      name: `Bench ${n}`,
      password: 'Vx7!pQ2#mR9z',
      skip_confirmation: true,
    };
    return { ...req, body: JSON.stringify(body) };
  };
  return load(
    'POST /api/v4/users',
    {
      url: `${url}/api/v4/users`,
      method: 'POST',
      headers: { 'private-token': ADMIN_TOKEN, 'content-type': 'application/json' },
      requests: [{ setupRequest }],
    },
    201,
  );
}

function printTable(rows) {
  const header = ['measurement', 'measured', 'target', 'result'];
  const cells = rows.map((r) => [
    r.name,
    r.measured,
    r.target,
    r.pass === undefined ? '' : r.pass ? 'ok' : 'MISSED',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
}

async function main() {
  if (!existsSync(SIMULATOR_DIST)) fail('simulator/dist is missing: run `npm run build` first.');
  const dir = mkdtempSync(join(tmpdir(), 'bench-simulator-'));
  const seedFile = join(dir, 'seed.json');
  writeFileSync(seedFile, JSON.stringify({ generate: { custom_attributes: { [ATTRIBUTE_KEY]: 'v-{i}' } } }));

  console.log(`GitLab simulator benchmark (${cpus().length} CPU cores, Node ${process.version})`);
  console.log('simulator: child process running simulator/dist with --generate-users 100000');
  console.log('load generator: autocannon in the benchmark process (separate from the simulator)\n');

  const sim = startSimulator(seedFile);
  const rows = [];
  try {
    const started = await sim.ready;
    const seedSeconds = started.readyMs / 1000;
    const rssMb = started.rss / 1024 / 1024;
    rows.push({
      name: `startup with ${GENERATED_USERS.toLocaleString('en')} generated users (process start → listening)`,
      measured: `${seedSeconds.toFixed(2)} s`,
      target: `≤ ${TARGETS.seedSeconds} s`,
      pass: seedSeconds <= TARGETS.seedSeconds,
    });
    rows.push({
      name: 'RSS after startup',
      measured: `${rssMb.toFixed(0)} MB`,
      target: `≤ ${TARGETS.seedRssMb} MB`,
      pass: rssMb <= TARGETS.seedRssMb,
    });
    rows.push({
      name: '  of which JS heap in use',
      measured: `${(started.heapUsed / 1024 / 1024).toFixed(0)} MB`,
      target: '',
    });

    console.log(`${LOOKUPS} sequential custom-attribute lookups…`);
    const lookups = await customAttributeLookups(started.url);
    rows.push({
      name: `GET /users?custom_attributes[k]=v at ${GENERATED_USERS.toLocaleString('en')} users, p50`,
      measured: `${lookups.p50.toFixed(2)} ms`,
      target: `≤ ${TARGETS.lookupP50Ms} ms`,
      pass: lookups.p50 <= TARGETS.lookupP50Ms,
    });
    rows.push({
      name: '  p99',
      measured: `${lookups.p99.toFixed(2)} ms`,
      target: `≤ ${TARGETS.lookupP99Ms} ms`,
      pass: lookups.p99 <= TARGETS.lookupP99Ms,
    });

    const loadLabel = `${LOAD_SECONDS} s, ${CONNECTIONS} connections, pipelining 1`;
    console.log(`GET /api/v4/user (${loadLabel})…`);
    const user = await getCurrentUser(started.url);
    rows.push({
      name: `GET /api/v4/user, admin token (${loadLabel}), req/s`,
      measured: user.rps.toFixed(0),
      target: `≥ ${TARGETS.getUserRps}`,
      pass: user.rps >= TARGETS.getUserRps,
    });
    rows.push({ name: '  latency p50 / p99', measured: `${user.p50} / ${user.p99} ms`, target: '' });

    console.log(`POST /api/v4/users (${loadLabel})…`);
    const created = await createUsers(started.url);
    rows.push({
      name: `POST /api/v4/users, unique users (${loadLabel}), users/s`,
      measured: created.rps.toFixed(0),
      target: `≥ ${TARGETS.createUsersPerSecond}`,
      pass: created.rps >= TARGETS.createUsersPerSecond,
    });
    rows.push({ name: '  latency p50 / p99', measured: `${created.p50} / ${created.p99} ms`, target: '' });
    rows.push({ name: '  users created', measured: String(created.total), target: '' });
  } catch (err) {
    sim.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    fail(err instanceof Error ? err.message : String(err));
  }

  sim.child.kill('SIGTERM');
  const { code } = await sim.exited;
  rmSync(dir, { recursive: true, force: true });
  if (code !== 0) fail(`the simulator exited with code ${code} on SIGTERM`);

  console.log('');
  printTable(rows);
  const missed = rows.filter((r) => r.pass === false);
  if (missed.length > 0) {
    console.error(`\n${missed.length} target(s) missed.`);
    process.exit(1);
  }
  console.log('\nAll simulator targets met.');
}

await main();
