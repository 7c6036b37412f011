import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { DAY_MS, SimClock } from './clock.js';
import type { RecordedRequest, SimContext, UnexpectedRequest } from './context.js';
import { buildSimApp } from './http/app.js';
import { type FaultAction, Faults, matches, type NewRateLimit, type RequestMatcher } from './http/faults.js';
import { runPeriodicJobs } from './jobs.js';
import { personalAccessTokenValue } from './model/secrets.js';
import { Store } from './model/store.js';
import type { Group, MailMessage, OAuthApplication, Project, User, UserState } from './model/types.js';
import { OidcKeys } from './oauth/keys.js';
import type { OidcFaults } from './oauth/oidc.js';
import { registerRoutes } from './routes.js';
import { applySeed, readSeedFile, type Seed, type SeedUser } from './seed.js';
import { defaultSettings, type SimSettings } from './settings.js';

export interface SimulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** The admin personal access token (owned by `root`); generated when omitted. */
  adminToken?: string;
  /** Lets `root` sign in to the web pages (root has no password otherwise). */
  rootPassword?: string;
  /** A seed object or the path of a seed JSON file. */
  seed?: Seed | string;
  /** Fail loudly (501 + record) on endpoints the simulator does not implement. */
  strict?: boolean;
  settings?: Partial<SimSettings>;
  /** External URL to advertise (issuer, links) when it differs from the listening address. */
  publicUrl?: string;
  /** How many requests to keep for `requests()` (default 10,000). */
  requestLogLimit?: number;
  /** How often background jobs (membership expiry, deletions) run, in ms of real time (default 1,000). */
  jobIntervalMs?: number;
}

/** The admin token's scopes when the simulator generates it. */
export const ADMIN_TOKEN_SCOPES = ['api', 'sudo', 'admin_mode', 'read_user'];

export interface GivenApplication {
  app: OAuthApplication;
  applicationId: string;
  secret: string;
}

/**
 * A running simulator: its URL, its state, and scenario helpers for tests (`givenUser`,
 * `failNext`, `advanceTime`, …).
 */
export class Simulator {
  readonly store: Store;
  readonly clock: SimClock;
  readonly settings: SimSettings;
  readonly faults: Faults;
  readonly context: SimContext;
  url = '';
  private app: FastifyInstance | undefined;
  private jobTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: SimulatorOptions = {}) {
    this.clock = new SimClock();
    this.settings = { ...defaultSettings(), ...options.settings };
    this.store = new Store(this.clock, this.settings);
    this.faults = new Faults(this.clock);
    const root = this.store.insertUser({
      id: 1,
      username: 'root',
      name: 'Administrator',
      email: 'admin@example.com',
      admin: true,
      password: options.rootPassword ?? null,
    });
    const adminToken = options.adminToken ?? personalAccessTokenValue();
    this.store.createPersonalAccessToken(root.id, {
      name: 'admin',
      token: adminToken,
      scopes: ADMIN_TOKEN_SCOPES,
    });
    this.context = {
      store: this.store,
      clock: this.clock,
      settings: this.settings,
      faults: this.faults,
      keys: new OidcKeys(),
      oidcFaults: {},
      adminToken,
      strict: options.strict ?? false,
      requests: [],
      requestLogLimit: options.requestLogLimit ?? 10_000,
      unexpected: [],
    };
    if (options.seed)
      applySeed(this.store, typeof options.seed === 'string' ? readSeedFile(options.seed) : options.seed);
  }

  get adminToken(): string {
    return this.context.adminToken;
  }

  /**
   * Deliberately broken ID tokens (wrong `iss`/`aud`/`nonce`, missing `sub`, expired, `alg: none`,
   * bad signature, unknown `kid`) and a wrong discovery `issuer`, for a relying party's security
   * tests. Applies until set back to `{}`.
   */
  get oidcFaults(): OidcFaults {
    return this.context.oidcFaults;
  }

  set oidcFaults(faults: OidcFaults) {
    this.context.oidcFaults = faults;
  }

  async listen(): Promise<string> {
    const app = buildSimApp(this.context, { register: registerRoutes });
    const host = this.options.host ?? '127.0.0.1';
    await app.listen({ port: this.options.port ?? 0, host });
    const { port } = app.server.address() as AddressInfo;
    const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
    this.url = (this.options.publicUrl ?? `http://${shownHost}:${port}`).replace(/\/$/, '');
    this.store.baseUrl = this.url;
    this.app = app;
    this.jobTimer = setInterval(() => this.runJobs(), this.options.jobIntervalMs ?? 1000);
    this.jobTimer.unref();
    return this.url;
  }

  /** Stops listening; open connections, hung ones included, are dropped. Safe to call twice. */
  async close(): Promise<void> {
    clearInterval(this.jobTimer);
    const app = this.app;
    this.app = undefined;
    await app?.close();
  }

  /** Runs GitLab's background workers once (membership expiry and reminders, pending deletions). */
  runJobs(): void {
    runPeriodicJobs(this.context);
  }

  // ------------------------------------------------------------ time

  advanceTime(ms: number): void {
    this.clock.advance(ms);
    this.runJobs();
  }

  advanceDays(days: number): void {
    this.advanceTime(days * DAY_MS);
  }

  // ------------------------------------------------------------ state helpers

  /** Creates a user directly (no mail, no validation), as a seed would. */
  givenUser(input: SeedUser): User {
    applySeed(this.store, { users: [input] });
    return this.store.findUserByUsername(input.username)!;
  }

  givenGroup(input: {
    path: string;
    name?: string;
    parent?: string | Group;
    visibility?: Group['visibility'];
  }): Group {
    const parent = typeof input.parent === 'string' ? this.store.findGroup(input.parent) : input.parent;
    if (input.parent && !parent) throw new Error(`givenGroup: unknown parent ${String(input.parent)}`);
    return this.store.insertGroup({
      path: input.path,
      name: input.name,
      parentId: parent?.id ?? null,
      visibility: input.visibility,
    });
  }

  givenProject(input: {
    path: string;
    namespace: string | Group;
    name?: string;
    visibility?: Project['visibility'];
  }): Project {
    const ns =
      typeof input.namespace === 'string' ? this.store.findNamespaceByPath(input.namespace) : input.namespace;
    if (!ns) throw new Error(`givenProject: unknown namespace ${String(input.namespace)}`);
    return this.store.insertProject({
      path: input.path,
      name: input.name,
      namespaceId: ns.id,
      visibility: input.visibility,
      creatorId: ns.kind === 'user' ? ns.ownerId : 1,
    });
  }

  /** Makes `user` a direct member of a group or project. */
  givenMember(
    source: Group | Project,
    user: User,
    accessLevel: number,
    expiresAt: string | null = null,
  ): void {
    const ref =
      'kind' in source
        ? { type: 'Namespace' as const, id: source.id }
        : { type: 'Project' as const, id: source.id };
    this.store.addUserMember(ref, user.id, accessLevel, { expiresAt });
  }

  /** Shares a project with a group at an access level (`POST /projects/:id/share`). */
  givenProjectShare(
    project: Project,
    group: Group,
    groupAccess: number,
    expiresAt: string | null = null,
  ): void {
    project.sharedWithGroups.push({
      groupId: group.id,
      groupAccess: groupAccess as 10,
      expiresAt,
      createdAt: this.clock.nowMs(),
    });
  }

  givenApplication(input: {
    name?: string;
    redirectUri: string | string[];
    scopes: string[];
    confidential?: boolean;
    trusted?: boolean;
  }): GivenApplication {
    const app = this.store.createApplication({
      name: input.name ?? 'Application',
      redirectUris: Array.isArray(input.redirectUri) ? input.redirectUri : [input.redirectUri],
      scopes: input.scopes,
      confidential: input.confidential,
      trusted: input.trusted,
    });
    return { app, applicationId: app.uid, secret: app.secret };
  }

  /** A personal access token for `user`; returns the token string. */
  givenToken(user: User, scopes: string[] = ['api'], expiresAt?: string | null): string {
    return this.store.createPersonalAccessToken(user.id, { scopes, expiresAt }).token;
  }

  setUserState(user: User, state: UserState): void {
    this.store.updateUser(user, { state });
  }

  user(ref: string | number): User | undefined {
    return this.store.findUserByIdOrUsername(ref);
  }

  // ------------------------------------------------------------ observation

  mails(filter: { to?: string; kind?: string } = {}): MailMessage[] {
    return this.store.mails.filter(
      (m) =>
        (!filter.to || m.to.toLowerCase() === filter.to.toLowerCase()) &&
        (!filter.kind || m.kind === filter.kind),
    );
  }

  /** Recorded requests, optionally filtered by method and path pattern (`/api/v4/users/:id`). */
  requests(match: RequestMatcher = {}): RecordedRequest[] {
    return this.context.requests.filter((r) => matches(match, r.method, r.path));
  }

  clearRequests(): void {
    this.context.requests.length = 0;
  }

  get unexpected(): readonly UnexpectedRequest[] {
    return this.context.unexpected;
  }

  /** Forgets the unexpected requests seen so far (after a test that provokes one on purpose). */
  clearUnexpected(): void {
    this.context.unexpected.length = 0;
  }

  /** Throws if any request hit an unimplemented endpoint or crashed the simulator. */
  assertNoUnexpected(): void {
    if (this.context.unexpected.length === 0) return;
    const lines = this.context.unexpected.map((u) => `${u.method} ${u.path}: ${u.reason}`);
    throw new Error(`GitLab simulator saw unexpected requests:\n${lines.join('\n')}`);
  }

  // ------------------------------------------------------------ faults

  /** The next `times` matching requests get this status and body instead of being handled. */
  failNext(
    match: RequestMatcher,
    response: { status: number; body?: unknown; contentType?: string; headers?: Record<string, string> },
    times = 1,
  ): void {
    this.faults.add(match, { type: 'respond', ...response }, times);
  }

  delayNext(match: RequestMatcher, ms: number, times = 1): void {
    this.faults.add(match, { type: 'latency', ms }, times);
  }

  hangNext(match: RequestMatcher, times = 1): void {
    this.faults.add(match, { type: 'hang' }, times);
  }

  resetNext(match: RequestMatcher, times = 1): void {
    this.faults.add(match, { type: 'reset' }, times);
  }

  /** Handles the request (the change happens), then drops the connection: the ambiguous outcome. */
  resetAfterApplyNext(match: RequestMatcher, times = 1): void {
    this.faults.add(match, { type: 'reset_after_apply' }, times);
  }

  malformedNext(match: RequestMatcher, times = 1): void {
    this.faults.add(match, { type: 'malformed_json' }, times);
  }

  addFault(match: RequestMatcher, action: FaultAction, times: number | null = 1): void {
    this.faults.add(match, action, times);
  }

  /** Latency added to every request. */
  setLatency(ms: number): void {
    this.faults.baseLatencyMs = ms;
  }

  rateLimit(rule: NewRateLimit): void {
    this.faults.addRateLimit(rule);
  }

  clearFaults(): void {
    this.faults.clear();
  }
}

/** Starts a simulator in-process and returns it once listening. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = new Simulator(options);
  await sim.listen();
  return sim;
}
