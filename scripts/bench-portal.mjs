#!/usr/bin/env node
// Performance targets of the portal, measured against the built code (`dist/`, `simulator/dist/`):
// the portal's own time in "create an external user" with 50 sponsors at once, next to a direct
// `POST /api/v4/users` to the simulator at the same concurrency; the signed-in start page; the
// portal's peak memory under that load; and start-up times of `serve` and of demo mode. Prints
// measured values next to their targets and exits 1 when any target is missed.
//
// Three kinds of process, so that none shares an event loop with another: the simulator
// (`gitlab-extern sim`), the portal (`gitlab-extern serve`, configured by environment variables) and
// this script, which signs the sponsors in over real HTTP and generates the load.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'bin/gitlab-extern.js');
const HOST = '127.0.0.1';
const ADMIN_TOKEN = `glpat-bench-${randomBytes(12).toString('hex')}`;
const SPONSORS = 50;
/** Measured creates per sponsor, after one warm-up create each (the portal allows 20 a minute). */
const ROUNDS = 8;
/**
 * Durable commits per create (sponsorship.service.ts): the intent with its audit event and the first
 * attempt, and the completion with the new user's id, the sponsorship and the audit outcome.
 */
const COMMITS_PER_CREATE = 2;
const HOME_SECONDS = 10;
/**
 * Start-page views a second, at random times: each of the 50 sponsors opens it once a second on
 * average (5 to 10 times security.md's expected load of 5–10 requests a second in all); then four
 * times as many, for information.
 */
const HOME_RATE = SPONSORS;
const HOME_STRESS_RATE = 4 * SPONSORS;
const STARTS = 3;
const READY_TIMEOUT_MS = 30_000;
const POLL_MS = 5;
/**
 * Node.js options for the portal: by default the heap limits that `npm start` and the README's
 * deployment section use; BENCH_PORTAL_NODE_ARGS replaces them, e.g.
 * "--max-old-space-size=128 --cpu-prof --cpu-prof-dir=/tmp/prof".
 */
const PORTAL_NODE_ARGS = (
  process.env.BENCH_PORTAL_NODE_ARGS ?? '--max-old-space-size=128 --max-semi-space-size=8'
)
  .split(' ')
  .filter(Boolean);

const TARGETS = {
  overheadP50Ms: 2,
  overheadP99Ms: 10,
  homeP99Ms: 20,
  rssMb: 150,
  serveReadyS: 1.5,
  demoReadyS: 3,
};

function fail(message) {
  console.error(`bench-portal: ${message}`);
  process.exit(1);
}

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
};
const median = (values) => percentile(values, 50);
const ms = (value) => `${value.toFixed(2)} ms`;
const seconds = (valueMs) => `${(valueMs / 1000).toFixed(2)} s`;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------- child processes

/** A child process of the CLI; its output is kept for the error message when it fails. */
function startChild(args, { env, cwd, nodeArgs = [] }) {
  const child = spawn(process.execPath, [...nodeArgs, CLI, ...args], {
    env,
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk).slice(-4000);
  };
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    exited,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Resolves when `probe` returns a value, polling every few milliseconds. */
async function waitFor(what, proc, probe) {
  const until = performance.now() + READY_TIMEOUT_MS;
  while (performance.now() < until) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new Error(`${what}: the process exited early\n${proc.output()}`);
    }
    const value = await probe();
    if (value) return value;
    await sleep(POLL_MS);
  }
  throw new Error(`${what}: not ready after ${READY_TIMEOUT_MS} ms\n${proc.output()}`);
}

async function answers(url) {
  try {
    const res = await fetch(url);
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

async function startSimulator(dir) {
  const seedFile = join(dir, 'seed.json');
  const users = Array.from({ length: SPONSORS }, (_, i) => ({
    username: `sponsor${i + 1}`,
    name: `Sponsor ${i + 1}`,
    email: `sponsor${i + 1}@staff.example`,
    password: `bench-sponsor-${i + 1}-pass`,
  }));
  writeFileSync(seedFile, JSON.stringify({ users }));
  const sim = startChild(
    ['sim', '--port', '0', '--host', HOST, '--admin-token', ADMIN_TOKEN, '--seed', seedFile],
    {
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      cwd: dir,
    },
  );
  sim.url = await waitFor(
    'simulator',
    sim,
    () => /GitLab simulator listening on (\S+)/.exec(sim.output())?.[1],
  );
  return sim;
}

async function registerApplication(simUrl, portalUrl) {
  const res = await fetch(`${simUrl}/api/v4/applications`, {
    method: 'POST',
    headers: { 'private-token': ADMIN_TOKEN, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'gitlab-extern (benchmark)',
      redirect_uri: `${portalUrl}/oauth/callback`,
      scopes: 'openid profile email',
      confidential: true,
    }),
  });
  if (res.status !== 201) throw new Error(`registering the OAuth application: HTTP ${res.status}`);
  return res.json();
}

/** `serve` against the simulator; resolves once `/readyz` answers 200, with the time since spawn. */
async function startPortal(env, dir) {
  const started = performance.now();
  const portal = startChild(['serve'], { env, cwd: dir, nodeArgs: PORTAL_NODE_ARGS });
  await waitFor('portal', portal, () => answers(`${env.PUBLIC_URL}/readyz`));
  portal.readyMs = performance.now() - started;
  return portal;
}

/** `start` with no GitLab configured: until `demo.json` is written and the portal it names is ready. */
async function startDemo(dir) {
  const dataDir = join(dir, 'data');
  const infoFile = join(dataDir, 'demo.json');
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', HOST, DATA_DIR: dataDir };
  const started = performance.now();
  const demo = startChild(['start'], { env, cwd: dir });
  try {
    const info = await waitFor('demo mode', demo, () =>
      existsSync(infoFile) ? JSON.parse(readFileSync(infoFile, 'utf8')) : undefined,
    );
    await waitFor('demo mode', demo, () => answers(`${info.portalUrl}/readyz`));
    return performance.now() - started;
  } finally {
    await demo.stop();
    rmSync(infoFile, { force: true });
  }
}

// ---------------------------------------------------------------- a minimal browser

/**
 * A browser of one sponsor: a cookie jar per origin, manual redirects, form scraping. It sends its
 * own client address in `X-Forwarded-For` (the portal trusts the loopback proxy), as 50 people
 * behind a reverse proxy would, so the per-address sign-in limits apply to each sponsor alone.
 */
class Browser {
  jars = new Map();

  constructor(ip) {
    this.ip = ip;
  }

  cookieHeader(origin) {
    const jar = this.jars.get(origin);
    return jar && jar.size > 0 ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : undefined;
  }

  async request(method, url, { form, headers = {} } = {}) {
    const { origin } = new URL(url);
    const all = { 'user-agent': 'bench-portal', 'x-forwarded-for': this.ip, ...headers };
    const cookie = this.cookieHeader(origin);
    if (cookie) all.cookie = cookie;
    let body;
    if (form) {
      body = new URLSearchParams(form).toString();
      all['content-type'] = 'application/x-www-form-urlencoded';
    }
    const started = performance.now();
    const res = await fetch(url, { method, headers: all, body, redirect: 'manual' });
    const text = await res.text();
    const elapsedMs = performance.now() - started;
    const jar = this.jars.get(origin) ?? new Map();
    this.jars.set(origin, jar);
    for (const header of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = header.split(';').map((p) => p.trim());
      const eq = pair.indexOf('=');
      const expired = attrs.some((a) => /^max-age=0$/i.test(a)) || eq === pair.length - 1;
      if (expired) jar.delete(pair.slice(0, eq));
      else jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    const location = res.headers.get('location');
    return {
      status: res.status,
      text,
      headers: res.headers,
      elapsedMs,
      location: location ? new URL(location, url).toString() : undefined,
    };
  }
}

function unescapeHtml(s) {
  return s
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&#x27;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

function attributes(tag) {
  const out = {};
  for (const m of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.[\]]*)="([^"]*)"/g)) out[m[1]] = unescapeHtml(m[2]);
  return out;
}

/** The first form whose markup contains `marker`, with its action and input values. */
function scrapeForm(html, marker) {
  for (const m of html.matchAll(/<form([^>]*)>([\s\S]*?)<\/form>/g)) {
    if (!m[0].includes(marker)) continue;
    const fields = {};
    for (const input of m[2].matchAll(/<input([^>]*)>/g)) {
      const a = attributes(input[1]);
      if (a.name && a.type !== 'checkbox') fields[a.name] = a.value ?? '';
    }
    return { action: unescapeHtml(attributes(m[1]).action ?? ''), fields };
  }
  throw new Error(`no form with ${marker} in:\n${html.slice(0, 1500)}`);
}

/** Signs a sponsor in: `/login` → GitLab's sign-in form → consent → the portal's callback. */
async function signIn(browser, portalUrl, username, password) {
  const login = await browser.request('GET', `${portalUrl}/login`);
  if (login.status !== 303) throw new Error(`/login answered ${login.status}`);
  let page = await browser.request('GET', login.location);
  while (page.location?.startsWith(new URL(login.location).origin))
    page = await browser.request('GET', page.location);
  const signInForm = scrapeForm(page.text, 'user[login]');
  page = await browser.request('POST', new URL(signInForm.action, login.location).toString(), {
    form: { ...signInForm.fields, 'user[login]': username, 'user[password]': password },
  });
  while (page.location?.startsWith(new URL(login.location).origin))
    page = await browser.request('GET', page.location);
  const consent = scrapeForm(page.text, 'Authorize');
  const decision = await browser.request('POST', new URL(consent.action, login.location).toString(), {
    form: consent.fields,
  });
  if (!decision.location?.startsWith(`${portalUrl}/oauth/callback`)) {
    throw new Error(`GitLab did not send ${username} back to the portal (HTTP ${decision.status})`);
  }
  const callback = await browser.request('GET', decision.location);
  if (callback.status !== 303) throw new Error(`the callback for ${username} answered ${callback.status}`);
  await viewStartPage(browser, portalUrl);
}

/** `Server-Timing: gitlab;dur=…;desc="n calls", app;dur=…` as numbers. */
function serverTiming(headers) {
  const value = headers.get('server-timing') ?? '';
  const gitlab = /gitlab;dur=([\d.]+);desc="(\d+) calls"/.exec(value);
  const app = /app;dur=([\d.]+)/.exec(value);
  if (!gitlab || !app) throw new Error(`no Server-Timing in the answer: ${value}`);
  return { gitlabMs: Number(gitlab[1]), calls: Number(gitlab[2]), appMs: Number(app[1]) };
}

/** One create through the form, as a browser sends it: the form first (fresh token), then the POST. */
async function createThroughPortal(browser, portalUrl, tag) {
  const form = await browser.request('GET', `${portalUrl}/sponsorships/new`);
  if (form.status !== 200) throw new Error(`/sponsorships/new answered ${form.status}`);
  const { fields } = scrapeForm(form.text, 'form_token');
  const username = `ext-${tag}`;
  const res = await browser.request('POST', `${portalUrl}/sponsorships`, {
    headers: { origin: new URL(portalUrl).origin },
    form: {
      _csrf: fields._csrf,
      form_token: fields.form_token,
      name: `Extern ${tag}`,
      username,
      email: `${username}@partner.example`,
      organisation: 'Partner Institute',
      reason: 'Works with us on the benchmark project.',
    },
  });
  if (res.status !== 303 || !/\/sponsorships\/[0-9a-f-]{36}$/.test(res.location ?? '')) {
    throw new Error(`create ${username} answered ${res.status}: ${res.text.slice(0, 800)}`);
  }
  return { latencyMs: res.elapsedMs, ...serverTiming(res.headers) };
}

/** `POST /api/v4/users` straight to the simulator, with what the portal sends for a new external user. */
async function createDirectly(simUrl, tag) {
  const username = `direct-${tag}`;
  const started = performance.now();
  const res = await fetch(`${simUrl}/api/v4/users`, {
    method: 'POST',
    headers: { 'private-token': ADMIN_TOKEN, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: `Direct ${tag}`,
      username,
      email: `${username}@partner.example`,
      external: true,
      projects_limit: 0,
      can_create_group: false,
      reset_password: true,
      note: 'Sponsored by @sponsor1 via the benchmark. Organisation: Partner Institute.',
      organization: 'Partner Institute',
    }),
  });
  await res.arrayBuffer();
  const latencyMs = performance.now() - started;
  if (res.status !== 201) throw new Error(`direct POST /api/v4/users answered ${res.status}`);
  return latencyMs;
}

/** One view of the signed-in start page; resolves with its latency. */
async function viewStartPage(browser, portalUrl) {
  const res = await browser.request('GET', `${portalUrl}/`);
  if (res.status !== 200 || !res.text.includes('Your recent sponsorships')) {
    throw new Error(`the start page answered ${res.status} without the sponsor's list`);
  }
  return res.elapsedMs;
}

/**
 * An open load: `send` is called at random (Poisson) times, `rate` times a second on average for
 * `seconds`, whether or not earlier calls have been answered, as independent users would. Resolves
 * with every latency.
 */
async function openLoad(rate, seconds, send) {
  const latencies = [];
  const pending = [];
  const end = performance.now() + seconds * 1000;
  for (let at = performance.now(); ; ) {
    at += (-Math.log(1 - Math.random()) * 1000) / rate;
    if (at >= end) break;
    const wait = at - performance.now();
    if (wait > 0) await sleep(wait);
    pending.push(send().then((latency) => latencies.push(latency)));
  }
  await Promise.all(pending);
  return latencies;
}

/** Runs `work(worker, round)` in `workers` loops at once, `rounds` times each. */
async function concurrently(workers, rounds, work) {
  const results = [];
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let round = 0; round < rounds; round++) results.push(await work(worker, round));
    }),
  );
  return results;
}

// ---------------------------------------------------------------- memory

/** Samples the portal's resident memory; `peakMb()` also reads the kernel's high-water mark. */
function memorySampler(pid) {
  const read = (field) => {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) / 1024;
  };
  let sampled = 0;
  const timer = setInterval(() => {
    try {
      sampled = Math.max(sampled, read('VmRSS'));
    } catch {
      // The process is gone; the last samples stand.
    }
  }, 50);
  return {
    current: () => read('VmRSS'),
    peakMb() {
      clearInterval(timer);
      return Math.max(sampled, read('VmHWM'));
    },
  };
}

/** CPU time (user + system) a process has used so far, in milliseconds. */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** CPU time the whole machine has spent busy so far (every core), in milliseconds. */
function machineBusyMs() {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal …: all but idle and iowait is work.
  const total = ticks.slice(0, 8).reduce((sum, t) => sum + t, 0);
  return (total - ticks[3] - ticks[4]) * 10;
}

/**
 * Latencies of durable SQLite commits of one small row in `dir`, opened as the portal opens its
 * database (WAL, synchronous=FULL): a lower bound for each of the portal's commits, which write the
 * row, its indexes and audit records.
 */
function durableCommits(dir, count = 200) {
  const db = new Database(join(dir, 'commit-probe.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE probe (id INTEGER PRIMARY KEY, value TEXT)');
  const insert = db.prepare('INSERT INTO probe (value) VALUES (?)');
  const times = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    insert.run('x'.repeat(200));
    times.push(performance.now() - started);
  }
  db.close();
  return times;
}

/** Runs `work` and reports each process's CPU use during it, as a share of one core. */
async function withCpu(pids, work) {
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuMs(pid)]));
  const started = performance.now();
  const result = await work();
  const wallMs = performance.now() - started;
  const cpu = Object.fromEntries(
    Object.entries(pids).map(([name, pid]) => [name, (cpuMs(pid) - before[name]) / wallMs]),
  );
  return { result, cpu, wallMs };
}

// ---------------------------------------------------------------- output

function printTable(rows) {
  const header = ['measurement', 'measured', 'target', 'result'];
  const cells = rows.map((r) => [
    r.name,
    r.measured,
    r.target ?? '',
    r.pass === undefined ? '' : r.pass ? 'ok' : 'MISSED',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
}

function targetRow(name, measuredMs, targetMs, format = ms) {
  return {
    name,
    measured: format(measuredMs),
    target: `≤ ${format(targetMs)}`,
    pass: measuredMs <= targetMs,
  };
}

// ---------------------------------------------------------------- the run

async function main() {
  for (const built of ['dist/cli/main.js', 'simulator/dist/index.js']) {
    if (!existsSync(join(ROOT, built))) fail(`${built} is missing: run \`npm run build\` first.`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-portal-'));
  console.log(
    `Portal benchmark (${cpus().length} CPU cores, Node ${process.version}, load average ${loadavg()[0].toFixed(1)})`,
  );
  console.log(
    'processes: simulator (gitlab-extern sim), portal (gitlab-extern serve, SQLite), load generator (this script)',
  );
  console.log(`portal Node.js options: ${PORTAL_NODE_ARGS.join(' ') || '(none)'}\n`);

  const rows = [];
  /** CPU that processes other than the benchmark's used during the load, as a share of one core. */
  let othersShare = 0;
  const children = [];
  try {
    // Demo mode first, while nothing else runs (it starts its own simulator in-process).
    console.log(`demo mode start-up (${STARTS} runs)…`);
    const demoTimes = [];
    for (let i = 0; i < STARTS; i++) {
      const demoDir = join(dir, `demo-${i}`);
      mkdirSync(demoDir);
      demoTimes.push(await startDemo(demoDir));
    }

    const commits = durableCommits(dir);
    const sim = await startSimulator(dir);
    children.push(sim);
    const port = await freePort();
    const portalUrl = `http://${HOST}:${port}`;
    const app = await registerApplication(sim.url, portalUrl);
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      GITLAB_URL: sim.url,
      GITLAB_CLIENT_ID: app.application_id,
      GITLAB_CLIENT_SECRET: app.secret,
      GITLAB_ADMIN_TOKEN: ADMIN_TOKEN,
      PUBLIC_URL: portalUrl,
      SESSION_SECRET: randomBytes(32).toString('base64url'),
      ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
      DATABASE_URL: join(dir, 'portal.db'),
      DATA_DIR: dir,
      HOST,
      PORT: String(port),
      TRUST_PROXY: 'loopback',
      LOG_LEVEL: 'warn',
    };

    // Start-up: the first run creates and migrates the database, the others open it.
    console.log(`serve start-up (${STARTS} runs)…`);
    const serveTimes = [];
    let portal;
    for (let i = 0; i < STARTS; i++) {
      portal = await startPortal(env, dir);
      serveTimes.push(portal.readyMs);
      if (i < STARTS - 1) await portal.stop();
    }
    children.push(portal);
    const memory = memorySampler(portal.child.pid);
    const ours = () => cpuMs(portal.child.pid) + cpuMs(sim.child.pid) + cpuMs(process.pid);
    const loadStarted = { at: performance.now(), machine: machineBusyMs(), ours: ours() };
    const idleMb = memory.current();

    console.log(`signing in ${SPONSORS} sponsors over HTTP…`);
    const browsers = Array.from(
      { length: SPONSORS },
      (_, i) => new Browser(`10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`),
    );
    await concurrently(10, SPONSORS / 10, (worker, round) => {
      const i = round * 10 + worker;
      return signIn(browsers[i], portalUrl, `sponsor${i + 1}`, `bench-sponsor-${i + 1}-pass`);
    });

    const run = randomBytes(3).toString('hex');
    console.log('warm-up: one create per sponsor…');
    await concurrently(SPONSORS, 1, (s) => createThroughPortal(browsers[s], portalUrl, `${run}-w${s}`));

    // The floor: one create at a time, so nothing waits for another request's work.
    console.log(`create-user through the portal: one at a time, ${SPONSORS} creates…`);
    const alone = await concurrently(1, SPONSORS, (_, s) =>
      createThroughPortal(browsers[s], portalUrl, `${run}-a${s}`),
    );

    console.log(`create-user through the portal: ${SPONSORS} sponsors at once, ${ROUNDS} each…`);
    const pids = { portal: portal.child.pid, simulator: sim.child.pid, 'load generator': process.pid };
    const createPhase = await withCpu(pids, () =>
      concurrently(SPONSORS, ROUNDS, (s, r) =>
        createThroughPortal(browsers[s], portalUrl, `${run}-${s}-${r}`),
      ),
    );
    const creates = createPhase.result;
    console.log(`POST /api/v4/users straight to the simulator: ${SPONSORS} at once, ${ROUNDS} each…`);
    const directPhase = await withCpu(pids, () =>
      concurrently(SPONSORS, ROUNDS, (s, r) => createDirectly(sim.url, `${run}-${s}-${r}`)),
    );
    const direct = directPhase.result;

    const viewHome = () => viewStartPage(browsers[Math.floor(Math.random() * SPONSORS)], portalUrl);
    console.log(`signed-in start page: ${HOME_RATE} views a second at random times, ${HOME_SECONDS} s…`);
    const home = await openLoad(HOME_RATE, HOME_SECONDS, viewHome);
    console.log(`signed-in start page: ${HOME_STRESS_RATE} views a second (for information)…`);
    const homeStress = await openLoad(HOME_STRESS_RATE, HOME_SECONDS, viewHome);
    const peakMb = memory.peakMb();
    othersShare =
      (machineBusyMs() - loadStarted.machine - (ours() - loadStarted.ours)) /
      (performance.now() - loadStarted.at);

    console.log(`signed-in start page, ${SPONSORS} connections as fast as they go (for information)…`);
    const homeMax = await autocannon({
      url: `${portalUrl}/`,
      connections: SPONSORS,
      duration: 5,
      headers: {
        cookie: browsers[0].cookieHeader(new URL(portalUrl).origin),
        'x-forwarded-for': browsers[0].ip,
      },
    });
    if (homeMax.errors > 0 || homeMax.non2xx > 0) {
      throw new Error(
        `start page: ${homeMax.errors} errors, statuses ${JSON.stringify(homeMax.statusCodeStats)}`,
      );
    }

    const pick = (key) => creates.map((c) => c[key]);
    const e2e = pick('latencyMs');
    const appMs = pick('appMs');
    const gitlabMs = pick('gitlabMs');
    const calls = pick('calls');

    rows.push({
      name: `create-user via the portal, ${SPONSORS} sponsors at once (${creates.length} creates)`,
      measured: '',
    });
    rows.push({
      name: '  end-to-end latency p50 / p99',
      measured: `${ms(median(e2e))} / ${ms(percentile(e2e, 99))}`,
    });
    rows.push({
      name: '  waiting on GitLab p50 / p99',
      measured: `${ms(median(gitlabMs))} / ${ms(percentile(gitlabMs, 99))}`,
    });
    rows.push({
      name: '  GitLab calls per create (min–max)',
      measured: `${Math.min(...calls)}–${Math.max(...calls)}`,
    });
    rows.push(targetRow('  portal overhead (Server-Timing app) p50', median(appMs), TARGETS.overheadP50Ms));
    rows.push(
      targetRow('  portal overhead (Server-Timing app) p99', percentile(appMs, 99), TARGETS.overheadP99Ms),
    );
    const cpuShares = (phase) =>
      Object.entries(phase.cpu)
        .map(([name, share]) => `${name} ${(share * 100).toFixed(0)}%`)
        .join(', ');
    rows.push({
      name: '  creates per second',
      measured: (creates.length / (createPhase.wallMs / 1000)).toFixed(1),
    });
    rows.push({
      name: '  portal CPU per create (form + POST)',
      measured: ms((createPhase.cpu.portal * createPhase.wallMs) / creates.length),
    });
    rows.push({ name: '  CPU (share of one core)', measured: cpuShares(createPhase) });
    const aloneApp = alone.map((c) => c.appMs);
    rows.push({
      name: '  one create at a time: portal overhead p50 / p99',
      measured: `${ms(median(aloneApp))} / ${ms(percentile(aloneApp, 99))}`,
    });
    rows.push({
      name: '  durable SQLite commit of one small row on this disk, p50 / p99',
      measured: `${ms(median(commits))} / ${ms(percentile(commits, 99))}`,
    });
    rows.push({
      name: `  floor from the ${COMMITS_PER_CREATE} commits of a create, p50`,
      measured: `≥ ${ms(COMMITS_PER_CREATE * median(commits))}`,
    });
    rows.push({
      name: `POST /api/v4/users direct to the simulator, ${SPONSORS} at once (${direct.length})`,
      measured: '',
    });
    rows.push({
      name: '  latency p50 / p99',
      measured: `${ms(median(direct))} / ${ms(percentile(direct, 99))}`,
    });
    rows.push({ name: '  CPU (share of one core)', measured: cpuShares(directPhase) });
    rows.push({
      name: '  portal end-to-end minus direct, p50 / p99',
      measured: `${ms(median(e2e) - median(direct))} / ${ms(percentile(e2e, 99) - percentile(direct, 99))}`,
    });
    rows.push({
      name: `signed-in start page, ${HOME_RATE} views/s at random times (${home.length} views)`,
      measured: '',
    });
    rows.push({ name: '  latency p50', measured: ms(median(home)) });
    rows.push(targetRow('  latency p99', percentile(home, 99), TARGETS.homeP99Ms));
    rows.push({
      name: `  at ${HOME_STRESS_RATE} views/s: p50 / p99`,
      measured: `${ms(median(homeStress))} / ${ms(percentile(homeStress, 99))}`,
    });
    rows.push({
      name: `  unthrottled, ${SPONSORS} connections: req/s, p50 / p99`,
      measured: `${homeMax.requests.average.toFixed(0)}, ${homeMax.latency.p50} / ${homeMax.latency.p99} ms`,
    });
    rows.push({ name: 'portal RSS idle after start-up', measured: `${idleMb.toFixed(0)} MB` });
    rows.push(
      targetRow('portal peak RSS under the load above', peakMb, TARGETS.rssMb, (v) => `${v.toFixed(0)} MB`),
    );
    rows.push(
      targetRow(
        `serve start-up, spawn → /readyz 200, median of ${STARTS}`,
        median(serveTimes),
        TARGETS.serveReadyS * 1000,
        seconds,
      ),
    );
    rows.push({
      name: '  each run (first one creates the database)',
      measured: serveTimes.map(seconds).join(', '),
    });
    rows.push(
      targetRow(
        `demo mode start-up, spawn → demo.json + /readyz 200, median of ${STARTS}`,
        median(demoTimes),
        TARGETS.demoReadyS * 1000,
        seconds,
      ),
    );
    rows.push({ name: '  each run', measured: demoTimes.map(seconds).join(', ') });
  } catch (err) {
    for (const child of children) child.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    fail(err instanceof Error ? (err.stack ?? err.message) : String(err));
  }

  for (const child of children.reverse()) {
    const { code } = await child.stop();
    if (code !== 0)
      console.error(`bench-portal: a child process exited with code ${code}\n${child.output()}`);
  }
  rmSync(dir, { recursive: true, force: true });

  console.log('');
  printTable(rows);
  console.log(`
How the create-user numbers are computed:
  portal overhead = the "app" part of the portal's Server-Timing header: from the request reaching
    the portal's first hook to the response being sent, minus the wall-clock time during which at
    least one GitLab call of that request was in flight. It is the portal's own time (validation,
    session, CSRF, database commits, rendering, and waiting for its event loop), measured in the
    portal process.
  portal end-to-end minus direct = the client-side latency of the whole create through the portal,
    minus that of one POST /api/v4/users sent straight to the simulator at the same concurrency in
    this run. A create makes several GitLab calls, so this includes GitLab's time for all but one.`);
  if (othersShare > 0.2) {
    console.log(
      `\nOther processes on this machine used ${(othersShare * 100).toFixed(0)}% of a core during the load` +
        ` (${cpus().length} cores in all): CPU and disk were shared, so these numbers are pessimistic.`,
    );
  }
  const missed = rows.filter((r) => r.pass === false);
  if (missed.length > 0) {
    console.error(`\n${missed.length} target(s) missed.`);
    process.exit(1);
  }
  console.log('\nAll portal targets met.');
}

await main();
