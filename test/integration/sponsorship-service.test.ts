import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import type { Simulator } from '@gitlab-extern/simulator';
import { sql } from 'kysely';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { AuditService } from '../../src/audit/audit.service.js';
import { ManualClock } from '../../src/clock.js';
import type { NewUserPasswordMode } from '../../src/config/config.js';
import { DomainError } from '../../src/errors.js';
import { GitLabClient } from '../../src/gitlab/client.js';
import { GitLabTransport } from '../../src/gitlab/transport.js';
import { SponsorshipRepository } from '../../src/sponsorship/sponsorship.repository.js';
import {
  type CreationStep,
  type Sponsor,
  SponsorshipService,
  type SponsorshipServiceDeps,
  type StepPhase,
} from '../../src/sponsorship/sponsorship.service.js';
import { describeEachDialect, type TestDatabase, testDatabase } from '../support/databases.js';
import { CANARY_TOKEN, failure, testClient, useSimulator } from '../support/gitlab.js';

const CREATE_USER = { method: 'POST', path: '/api/v4/users' };
const SET_ATTRIBUTE = { method: 'PUT', path: '/api/v4/users/:id/custom_attributes/:key' };
const BLOCK = { method: 'POST', path: '/api/v4/users/:id/block' };
const LEASE_MS = 120_000;

const input = {
  name: 'Jane Doe',
  username: 'jane.doe',
  email: 'Jane.Doe@Partner.example',
  organisation: 'Partner Ltd',
  reason: 'Works with us on the analysis pipeline.',
};

let keyCounter = 0;
function newKey(): string {
  keyCounter += 1;
  return `form-token-${String(keyCounter).padStart(8, '0')}-${Date.now()}`;
}

/** A local port with nothing listening: connections to it are refused before anything is sent. */
function closedPort(): Promise<number> {
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

interface LogLine {
  level: 'info' | 'warn' | 'error';
  msg: string;
  obj: object;
}

describeEachDialect('sponsorship service', (dialect) => {
  const sim = useSimulator();
  let database: TestDatabase;
  let clock: ManualClock;
  let sponsor: Sponsor;
  let logs: LogLine[];
  let hook: ((step: CreationStep | 'recorded', phase: StepPhase) => void | Promise<void>) | undefined;

  beforeEach(async () => {
    database = await testDatabase(dialect);
    clock = new ManualClock(new Date());
    logs = [];
    hook = undefined;
    const alice = sim().givenUser({ username: 'alice', name: 'Alice Martin', email: 'alice@corp.example' });
    sponsor = { id: alice.id, username: 'alice', name: 'Alice Martin' };
  });
  afterEach(() => database.cleanup());

  function service(overrides: Partial<SponsorshipServiceDeps> = {}): SponsorshipService {
    const log = (level: LogLine['level']) => (obj: object, msg: string) => logs.push({ level, msg, obj });
    return new SponsorshipService({
      repository: new SponsorshipRepository(database.db),
      gitlab: testClient(sim()),
      audit: new AuditService({ db: database.db, clock }),
      clock,
      logger: { info: log('info'), warn: log('warn'), error: log('error') },
      passwordMode: 'reset_link',
      leaseMs: LEASE_MS,
      waitMs: 5_000,
      retryDelayMs: 30_000,
      onStep: (event) => hook?.(event.step, event.phase),
      ...overrides,
    });
  }

  /** Throws once, at the given point, as a process killed there would stop. */
  function crashAt(step: CreationStep | 'recorded', phase: StepPhase) {
    let crashed = false;
    hook = (s, p) => {
      if (!crashed && s === step && p === phase) {
        crashed = true;
        throw new Error(`simulated crash at ${step}/${phase}`);
      }
    };
  }

  const auditRows = () =>
    database.db
      .selectFrom('audit_events')
      .selectAll()
      .where('action', '=', 'sponsorship.create')
      .orderBy('seq')
      .execute();
  const sponsorshipRows = () => database.db.selectFrom('sponsorships').selectAll().execute();
  const operationRows = () => database.db.selectFrom('operations').selectAll().execute();

  function attributesOf(s: Simulator, username: string): Record<string, string> {
    return Object.fromEntries(s.user(username)?.customAttributes ?? []);
  }

  it('creates a restricted external user, records it and sends only server-controlled fields', async () => {
    const s = sim();
    const result = await service().create(sponsor, input, newKey(), 'req-1', '192.0.2.7');

    expect(result).toMatchObject({
      state: 'completed',
      step: null,
      adopted: false,
      blocked: false,
      failure: null,
    });
    const created = s.user('jane.doe')!;
    expect(result.account).toEqual({
      gitlabUserId: created.id,
      username: 'jane.doe',
      name: 'Jane Doe',
      email: 'jane.doe@partner.example',
    });
    const day = result.createdAt.slice(0, 10);
    expect(s.requests(CREATE_USER).map((r) => r.body)).toEqual([
      {
        name: 'Jane Doe',
        username: 'jane.doe',
        email: 'jane.doe@partner.example',
        external: true,
        projects_limit: 0,
        can_create_group: false,
        reset_password: true,
        skip_confirmation: false,
        note:
          `Sponsored by @alice (Alice Martin, GitLab id ${sponsor.id}) via gitlab-extern on ${day}. ` +
          'Organisation: Partner Ltd. Reason: Works with us on the analysis pipeline.',
        organization: 'Partner Ltd',
      },
    ]);
    expect(created).toMatchObject({ external: true, admin: false, canCreateGroup: false, projectsLimit: 0 });
    expect(attributesOf(s, 'jane.doe')).toEqual({
      extern_sponsor_id: String(sponsor.id),
      extern_sponsor_username: 'alice',
      extern_created_at: result.createdAt,
      extern_organisation: 'Partner Ltd',
      extern_operation_id: result.operationId,
    });
    expect(s.mails({ to: 'jane.doe@partner.example', kind: 'new_user' })).toHaveLength(1);

    const [row] = await sponsorshipRows();
    expect(row).toMatchObject({
      id: result.sponsorshipId,
      gitlab_user_id: created.id,
      username: 'jane.doe',
      email: 'jane.doe@partner.example',
      organisation: 'Partner Ltd',
      sponsor_id: sponsor.id,
      sponsor_username: 'alice',
      state: 'active',
    });
    const audit = await auditRows();
    expect(audit.map((a) => a.outcome)).toEqual(['intent', 'success']);
    expect(audit[0]).toMatchObject({
      actor_id: sponsor.id,
      request_id: 'req-1',
      ip: '192.0.2.7',
      target_id: null,
    });
    expect(audit[1]).toMatchObject({
      target_type: 'user',
      target_id: String(created.id),
      target_name: 'jane.doe',
    });
    expect(JSON.parse(audit[1]!.details!)).toMatchObject({
      operationId: result.operationId,
      sponsorshipId: result.sponsorshipId,
    });
    const [op] = await operationRows();
    expect(op).toMatchObject({
      state: 'completed',
      attempts: 1,
      lease_owner: null,
      gitlab_user_id: created.id,
    });
  });

  it('with random passwords, GitLab gets force_random_password and skip_confirmation and sends no mail', async () => {
    const s = sim();
    await service({ passwordMode: 'random_skip_confirmation' satisfies NewUserPasswordMode }).create(
      sponsor,
      input,
      newKey(),
      'req',
    );
    const body = s.requests(CREATE_USER)[0]?.body as Record<string, unknown>;
    expect(body).toMatchObject({ force_random_password: true, skip_confirmation: true });
    expect(body).not.toHaveProperty('reset_password');
    expect(s.mails({ to: 'jane.doe@partner.example' })).toEqual([]);
  });

  it('refuses invalid input and extra fields before storing anything or calling GitLab', async () => {
    const s = sim();
    const err = await failure(
      service().create(sponsor, { ...input, admin: true, external: false, username: '-x' }, newKey(), 'req'),
    );
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).fieldErrors).toMatchObject({
      admin: [expect.stringContaining('not accepted')],
      external: [expect.stringContaining('not accepted')],
      username: [expect.stringContaining('Use only letters')],
    });
    expect(s.requests()).toEqual([]);
    expect(await operationRows()).toEqual([]);
  });

  it('refuses an e-mail of an internal user and never converts the account', async () => {
    const s = sim();
    const internal = s.givenUser({ username: 'jdoe', email: 'jane.doe@partner.example' });
    const result = await service().create(sponsor, input, newKey(), 'req');
    expect(result.state).toBe('failed');
    expect(result.failure).toMatchObject({
      reason: 'email_internal_account',
      nothingCreated: true,
      fieldErrors: { email: [expect.stringContaining('internal accounts are never converted')] },
    });
    // GitLab refused the only POST; nothing else was sent that changes anything.
    expect(s.requests(CREATE_USER).map((r) => r.status)).toEqual([409]);
    expect(s.requests({ method: 'PUT' })).toEqual([]);
    expect(s.user(internal.id)).toMatchObject({ external: false, state: 'active' });
    expect((await auditRows()).map((a) => [a.outcome, a.reason])).toEqual([
      ['intent', null],
      ['failure', 'email_internal_account'],
    ]);
  });

  it('shows an existing external account with its sponsor from the custom attributes or the note', async () => {
    const s = sim();
    s.givenUser({
      username: 'jane.old',
      name: 'Jane Old',
      email: 'jane.doe@partner.example',
      external: true,
      custom_attributes: { extern_sponsor_username: 'bob', extern_sponsor_id: '77' },
    });
    const first = await service().create(sponsor, input, newKey(), 'req');
    expect(first.failure).toMatchObject({
      reason: 'email_external_account',
      existingAccount: { username: 'jane.old', external: true, sponsor: { id: 77, username: 'bob' } },
    });
    expect(first.failure?.message).toContain('@jane.old, sponsored by @bob');

    s.givenUser({
      username: 'max.old',
      email: 'max@partner.example',
      external: true,
      note: 'Sponsored by @carol (Carol, GitLab id 9) via gitlab-extern on 2025-01-01.',
    });
    const second = await service().create(
      sponsor,
      { ...input, username: 'max', email: 'max@partner.example' },
      newKey(),
      'req',
    );
    expect(second.failure?.existingAccount).toMatchObject({
      username: 'max.old',
      sponsor: { username: 'carol' },
    });
    expect(s.requests(CREATE_USER).map((r) => r.status)).toEqual([409, 409]);
    expect(s.requests({ method: 'PUT' })).toEqual([]);
  });

  it('a taken username is a field error with free suggestions checked against GitLab', async () => {
    const s = sim();
    s.givenUser({ username: 'jane.doe', email: 'other@elsewhere.example' });
    s.givenUser({ username: 'jdoe', email: 'jdoe@elsewhere.example' });
    const result = await service().create(sponsor, input, newKey(), 'req');
    expect(result.failure).toMatchObject({
      reason: 'username_taken',
      fieldErrors: { username: [expect.stringContaining('already taken')] },
    });
    const suggestions = result.failure?.usernameSuggestions ?? [];
    expect(suggestions.length).toBeGreaterThan(0);
    expect(suggestions).not.toContain('jane.doe');
    expect(suggestions).not.toContain('jdoe');
    for (const suggestion of suggestions) expect(s.user(suggestion)).toBeUndefined();
    expect(s.requests(CREATE_USER).map((r) => r.status)).toEqual([409]);
  });

  it.each([
    [
      '409 e-mail',
      { status: 409, body: { message: 'Email has already been taken' } },
      { reason: 'email_taken', fieldErrors: { email: [expect.stringContaining('already used')] } },
    ],
    [
      '409 username',
      { status: 409, body: { message: 'Username has already been taken' } },
      { reason: 'username_taken', fieldErrors: { username: [expect.stringContaining('already taken')] } },
    ],
    [
      '400 validation hash',
      {
        status: 400,
        body: {
          message: {
            username: ['is too short (minimum is 2 characters)'],
            email: ['is invalid'],
            name: ['is too long (maximum is 255 characters)'],
            password: ['is too weak'],
          },
        },
      },
      {
        reason: 'gitlab_rejected',
        code: 'validation',
        message: expect.stringContaining('password is too weak'),
        fieldErrors: {
          username: ['GitLab refused this username: it is too short (minimum is 2 characters).'],
          email: ['GitLab refused this e-mail address: it is invalid.'],
          name: ['GitLab refused this name: it is too long (maximum is 255 characters).'],
        },
      },
    ],
    [
      '400 missing parameter',
      { status: 400, body: { error: 'email is missing' } },
      { reason: 'gitlab_rejected', message: expect.stringContaining('email is missing') },
    ],
    ['401', { status: 401, body: { message: '401 Unauthorized' } }, { reason: 'gitlab_token_refused' }],
    ['403', { status: 403, body: { message: '403 Forbidden' } }, { reason: 'gitlab_token_refused' }],
    [
      '429',
      { status: 429, body: 'Retry later\n', headers: { 'Retry-After': '30' } },
      { reason: 'gitlab_unavailable', code: 'rate_limited', retryAfterSeconds: 30 },
    ],
  ])('maps GitLab’s %s answer to POST /users', async (_name, response, expected) => {
    const s = sim();
    s.failNext(CREATE_USER, response);
    const result = await service().create(sponsor, input, newKey(), 'req');
    expect(result.state).toBe('failed');
    expect(result.failure).toMatchObject({ nothingCreated: true, ...expected });
    expect(s.requests(CREATE_USER)).toHaveLength(1);
    expect(s.user('jane.doe')).toBeUndefined();
    expect((await auditRows()).map((a) => a.outcome)).toEqual(['intent', 'failure']);
  });

  it('a refused admin token is reported clearly and logged for the operator', async () => {
    sim().failNext(CREATE_USER, { status: 401, body: { message: '401 Unauthorized' } });
    const result = await service().create(sponsor, input, newKey(), 'req');
    expect(result.failure?.message).toContain("refused the portal's admin token");
    expect(logs.some((l) => l.level === 'error' && l.msg.includes('admin token'))).toBe(true);
  });

  it('GitLab unreachable before the POST was sent: failed, nothing created', async () => {
    const s = sim();
    const live = testClient(s);
    const unreachable = new GitLabClient(
      new GitLabTransport({ url: `http://127.0.0.1:${await closedPort()}`, token: CANARY_TOKEN }),
    );
    const gitlab: SponsorshipServiceDeps['gitlab'] = {
      findUserByUsername: (username, options) => live.findUserByUsername(username, options),
      findUsersByEmail: (email, options) => live.findUsersByEmail(email, options),
      getUser: (id) => live.getUser(id),
      getCustomAttributes: (id) => live.getCustomAttributes(id),
      setCustomAttribute: (id, key, value) => live.setCustomAttribute(id, key, value),
      blockUser: (id) => live.blockUser(id),
      createUser: (user) => unreachable.createUser(user),
    };
    const result = await service({ gitlab }).create(sponsor, input, newKey(), 'req');
    expect(result.failure).toMatchObject({
      reason: 'gitlab_unavailable',
      code: 'upstream_unavailable',
      nothingCreated: true,
      message: expect.stringContaining('Nothing was created'),
    });
    expect(s.user('jane.doe')).toBeUndefined();
    expect(await sponsorshipRows()).toEqual([]);
    expect((await auditRows()).map((a) => [a.outcome, a.reason])).toEqual([
      ['intent', null],
      ['failure', 'gitlab_unavailable'],
    ]);
  });

  it('GitLab gone after the POST was sent: outcome unknown, paused for a later lookup, nothing adopted', async () => {
    const s = sim();
    // An open keep-alive connection: the POST goes out on it, and GitLab closes it without answering.
    const gitlab = testClient(s);
    await gitlab.findUserByUsername('alice');
    hook = async (step, phase) => {
      if (step === 'create' && phase === 'started') await s.close();
    };
    const result = await service({ gitlab }).create(sponsor, input, newKey(), 'req');
    expect(result).toMatchObject({ state: 'unknown', step: 'create', account: null, failure: null });
    const [op] = await operationRows();
    expect(op).toMatchObject({ state: 'unknown', attempts: 1, lease_owner: null, gitlab_user_id: null });
    expect(await sponsorshipRows()).toEqual([]);
  });

  it('a 502 on the POST is looked up, then sent once more: one user', async () => {
    const s = sim();
    s.failNext(CREATE_USER, { status: 502, body: '<html>502 Bad Gateway</html>' });
    const result = await service().create(sponsor, input, newKey(), 'req');
    expect(result).toMatchObject({ state: 'completed', adopted: false });
    expect(s.requests(CREATE_USER)).toHaveLength(2);
    // No lookups before the first POST; after its lost answer, one by username and one by e-mail.
    expect(s.requests({ method: 'GET', path: '/api/v4/users' })).toHaveLength(2);
    expect([...s.store.users.values()].filter((u) => u.username === 'jane.doe')).toHaveLength(1);
  });

  it('GitLab failing twice: no third POST, failed with nothing created', async () => {
    const s = sim();
    s.failNext(CREATE_USER, { status: 503, body: { message: '503 Service Unavailable' } }, 2);
    const result = await service().create(sponsor, input, newKey(), 'req');
    expect(result.failure).toMatchObject({ reason: 'gitlab_unavailable', nothingCreated: true });
    expect(s.requests(CREATE_USER)).toHaveLength(2);
    expect(s.user('jane.doe')).toBeUndefined();
  });

  it('a lost answer is reconciled: the created user is adopted, exactly one user and one POST', async () => {
    const s = sim();
    s.resetAfterApplyNext(CREATE_USER);
    const result = await service().create(sponsor, input, newKey(), 'req');
    const created = s.user('jane.doe')!;
    expect(result).toMatchObject({
      state: 'completed',
      adopted: true,
      account: { gitlabUserId: created.id },
    });
    expect(s.requests(CREATE_USER)).toHaveLength(1);
    expect([...s.store.users.values()].filter((u) => u.email === 'jane.doe@partner.example')).toHaveLength(1);
    expect(attributesOf(s, 'jane.doe').extern_operation_id).toBe(result.operationId);
    const audit = await auditRows();
    expect(audit.map((a) => a.outcome)).toEqual(['intent', 'adopted_after_ambiguous_response']);
    expect(audit[1]?.target_id).toBe(String(created.id));
  });

  it('after a lost answer, an unrelated account holding the e-mail is left alone and the operation fails', async () => {
    const s = sim();
    let stranger: number | undefined;
    hook = (step, phase) => {
      if (step === 'check' && phase === 'finished') {
        stranger = s.givenUser({
          username: 'somebody.else',
          email: 'jane.doe@partner.example',
          external: true,
          created_at: '2020-01-01T00:00:00Z',
        }).id;
      }
    };
    s.failNext(CREATE_USER, { status: 500, body: { message: '500 Internal Server Error' } });
    const result = await service().create(sponsor, input, newKey(), 'req');
    expect(result.failure).toMatchObject({
      reason: 'held_by_unrelated_account',
      fieldErrors: { email: [expect.any(String)] },
    });
    expect(s.requests(CREATE_USER)).toHaveLength(1);
    expect(s.requests(SET_ATTRIBUTE)).toEqual([]);
    expect(s.requests(BLOCK)).toEqual([]);
    expect(s.user(stranger!)).toMatchObject({ state: 'active', username: 'somebody.else' });
    expect(attributesOf(s, 'somebody.else')).toEqual({});
    expect(logs.some((l) => l.level === 'error' && l.msg.includes('left untouched'))).toBe(true);
  });

  it('a user GitLab created without the restrictions is blocked and the operation fails (D6)', async () => {
    const s = sim();
    hook = (step, phase) => {
      if (step === 'create' && phase === 'answered') {
        s.store.updateUser(s.user('jane.doe')!, { external: false, canCreateGroup: true, projectsLimit: 10 });
      }
    };
    const result = await service().create(sponsor, input, newKey(), 'req');
    expect(result).toMatchObject({ state: 'failed', blocked: true });
    expect(result.failure).toMatchObject({ reason: 'verification_failed', nothingCreated: false });
    expect(result.failure?.message).toContain('not external');
    expect(s.user('jane.doe')?.state).toBe('blocked');
    expect(s.requests(BLOCK)).toHaveLength(1);
    expect(await sponsorshipRows()).toEqual([]);
    const audit = await auditRows();
    expect(audit.map((a) => [a.outcome, a.reason])).toEqual([
      ['intent', null],
      ['failure', 'verification_failed'],
    ]);
    expect(JSON.parse(audit[1]!.details!)).toMatchObject({ blocked: true });
    expect(logs.some((l) => l.level === 'error' && l.msg.includes('without the restrictions'))).toBe(true);
  });

  it.each([
    ['recorded', 'finished', false],
    ['check', 'finished', false],
    ['create', 'started', false],
    ['create', 'answered', true],
    // The new user's id is committed with the outcome; before that it is found and adopted.
    ['create', 'finished', true],
    ['attributes', 'answered', true],
    ['attributes', 'finished', true],
    ['verify', 'finished', true],
  ] as const)(
    'a crash at %s/%s is resumed to completion without a second user',
    async (step, phase, adopted) => {
      const s = sim();
      crashAt(step, phase);
      const svc = service();
      const interrupted = await svc.create(sponsor, input, newKey(), 'req');
      expect(['running', 'unknown']).toContain(interrupted.state);

      // The lease still belongs to the "crashed" runner until it expires.
      expect(await svc.resumePending()).toMatchObject({ resumed: 0 });
      clock.advance(LEASE_MS + 1);
      expect(await service().resumePending()).toEqual({ resumed: 1, completed: 1, failed: 0, unfinished: 0 });

      const done = await svc.get(interrupted.operationId, sponsor.id);
      expect(done).toMatchObject({ state: 'completed', adopted });
      expect([...s.store.users.values()].filter((u) => u.username === 'jane.doe')).toHaveLength(1);
      expect(s.requests(CREATE_USER)).toHaveLength(1);
      expect(await sponsorshipRows()).toHaveLength(1);
      const outcomes = (await auditRows()).map((a) => a.outcome);
      expect(outcomes[0]).toBe('intent');
      expect(outcomes).toHaveLength(2);
      expect(JSON.parse((await auditRows())[1]!.details!)).toMatchObject({ resumed: true });
    },
  );

  it('commits the first attempt with the intent, and the new user with the outcome', async () => {
    const s = sim();
    const seen: Record<string, unknown> = {};
    const row = async () => {
      const [op] = await operationRows();
      return op && { step: op.step, attempts: op.attempts, gitlab_user_id: op.gitlab_user_id };
    };
    hook = async (step, phase) => {
      if (phase !== 'finished' && phase !== 'started') return;
      seen[`${step}/${phase}`] = await row();
    };
    const result = await service().create(sponsor, input, newKey(), 'req');
    const id = s.user('jane.doe')!.id;
    expect(result.state).toBe('completed');
    expect(seen).toEqual({
      'recorded/finished': { step: 'create', attempts: 1, gitlab_user_id: null },
      'check/finished': { step: 'create', attempts: 1, gitlab_user_id: null },
      'create/started': { step: 'create', attempts: 1, gitlab_user_id: null },
      'create/finished': { step: 'create', attempts: 1, gitlab_user_id: null },
      'attributes/started': { step: 'create', attempts: 1, gitlab_user_id: null },
      'attributes/finished': { step: 'create', attempts: 1, gitlab_user_id: null },
      'verify/started': { step: 'create', attempts: 1, gitlab_user_id: null },
      'verify/finished': { step: 'create', attempts: 1, gitlab_user_id: null },
      'complete/started': { step: 'create', attempts: 1, gitlab_user_id: null },
    });
    expect(await row()).toEqual({ step: null, attempts: 1, gitlab_user_id: id });
    // No GitLab lookup before the POST: GitLab itself refuses a taken username or e-mail.
    expect(s.requests({ method: 'GET', path: '/api/v4/users' })).toEqual([]);
  });

  it('after a crash, the operation id on the account settles that it is ours, even with a changed e-mail', async () => {
    const s = sim();
    crashAt('attributes', 'answered');
    const svc = service();
    const interrupted = await svc.create(sponsor, input, newKey(), 'req');
    const created = s.user('jane.doe')!;
    s.store.updateUser(created, { email: 'jane@elsewhere.example' });
    clock.advance(LEASE_MS + 1);
    expect(await service().resumePending()).toMatchObject({ resumed: 1, completed: 1 });
    expect(await svc.get(interrupted.operationId, sponsor.id)).toMatchObject({
      state: 'completed',
      adopted: true,
      account: { gitlabUserId: created.id },
    });
    expect(s.requests(CREATE_USER)).toHaveLength(1);
  });

  it('after a crash, an account carrying another operation’s id is not adopted', async () => {
    const s = sim();
    crashAt('create', 'started');
    const svc = service();
    const interrupted = await svc.create(sponsor, input, newKey(), 'req');
    // Someone else's operation created the same person meanwhile.
    const other = s.givenUser({
      username: 'jane.doe',
      email: 'jane.doe@partner.example',
      external: true,
      custom_attributes: { extern_operation_id: randomUUID() },
    });
    clock.advance(LEASE_MS + 1);
    expect(await service().resumePending()).toMatchObject({ resumed: 1, failed: 1 });
    expect((await svc.get(interrupted.operationId, sponsor.id)).failure).toMatchObject({
      reason: 'held_by_unrelated_account',
    });
    expect(s.requests(CREATE_USER)).toEqual([]);
    expect(s.user(other.id)).toMatchObject({ state: 'active' });
  });

  it('two runners resuming together never run the same operation', async () => {
    const s = sim();
    crashAt('check', 'finished');
    await service().create(sponsor, input, newKey(), 'req');
    clock.advance(LEASE_MS + 1);
    const [a, b] = await Promise.all([
      service({ instanceId: 'replica-a' }).resumePending(),
      service({ instanceId: 'replica-b' }).resumePending(),
    ]);
    expect(a.resumed + b.resumed).toBe(1);
    expect(s.requests(CREATE_USER)).toHaveLength(1);
  });

  it('a passing GitLab failure after the user exists pauses the operation until the retry time', async () => {
    const s = sim();
    // Five attributes at once, each tried three times.
    s.failNext(SET_ATTRIBUTE, { status: 503, body: { message: '503 Service Unavailable' } }, 15);
    const svc = service();
    const paused = await svc.create(sponsor, input, newKey(), 'req');
    expect(paused).toMatchObject({ state: 'running', step: 'attributes' });
    expect(paused.account?.username).toBe('jane.doe');

    expect(await svc.resumePending()).toMatchObject({ resumed: 0 });
    clock.advance(30_001);
    expect(await svc.resumePending()).toMatchObject({ resumed: 1, completed: 1 });
    expect(Object.keys(attributesOf(s, 'jane.doe'))).toHaveLength(5);
    expect(s.requests(CREATE_USER)).toHaveLength(1);
  });

  it('ten concurrent requests with one key send one POST and share one result', async () => {
    const s = sim();
    const key = newKey();
    const svc = service();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => svc.create(sponsor, input, key, `req-${i}`)),
    );
    expect(new Set(results.map((r) => r.operationId)).size).toBe(1);
    expect(results.every((r) => r.state === 'completed')).toBe(true);
    expect(s.requests(CREATE_USER)).toHaveLength(1);
    expect(await operationRows()).toHaveLength(1);
    expect((await auditRows()).map((a) => a.outcome)).toEqual(['intent', 'success']);
  });

  it('the same key again returns the stored result; with other input it is a conflict', async () => {
    const s = sim();
    const key = newKey();
    const svc = service();
    const first = await svc.create(sponsor, input, key, 'req-1');
    const again = await svc.create(sponsor, { ...input, email: 'JANE.DOE@partner.example ' }, key, 'req-2');
    expect(again).toEqual(first);

    const err = await failure(svc.create(sponsor, { ...input, email: 'someone@else.example' }, key, 'req-3'));
    expect(err).toMatchObject({ code: 'conflict', status: 422 });
    expect((err as Error).message).toContain('already submitted');
    expect(s.requests(CREATE_USER)).toHaveLength(1);
  });

  it('keys are per sponsor: another sponsor may use the same key', async () => {
    const s = sim();
    const bob = s.givenUser({ username: 'bob', name: 'Bob' });
    const key = newKey();
    await service().create(sponsor, input, key, 'req');
    const other = await service().create(
      { id: bob.id, username: 'bob', name: 'Bob' },
      { ...input, username: 'max', email: 'max@partner.example' },
      key,
      'req',
    );
    expect(other.state).toBe('completed');
    expect(s.requests(CREATE_USER)).toHaveLength(2);
  });

  it('when the audit log cannot be written, nothing is stored and GitLab is not called (I3)', async () => {
    const s = sim();
    if (dialect === 'sqlite') {
      await sql`CREATE TRIGGER audit_full BEFORE INSERT ON audit_events
        BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`.execute(database.db);
    } else {
      await sql`CREATE FUNCTION audit_full() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'could not extend file' USING ERRCODE = 'disk_full'; END $$`.execute(
        database.db,
      );
      await sql`CREATE TRIGGER audit_full BEFORE INSERT ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_full()`.execute(database.db);
    }
    const err = await failure(service().create(sponsor, input, newKey(), 'req'));
    expect(err).toMatchObject({ code: 'storage_unavailable', status: 503 });
    expect(s.requests(CREATE_USER)).toEqual([]);
    expect(s.requests()).toEqual([]);
    expect(await operationRows()).toEqual([]);
  });

  it('a sponsor sees only their own operations and sponsorships', async () => {
    const s = sim();
    const bob = s.givenUser({ username: 'bob', name: 'Bob' });
    const svc = service();
    const mine = await svc.create(sponsor, input, newKey(), 'req');
    expect((await svc.get(mine.operationId, sponsor.id)).operationId).toBe(mine.operationId);
    expect((await svc.get(mine.sponsorshipId!, sponsor.id)).operationId).toBe(mine.operationId);
    for (const id of [mine.operationId, mine.sponsorshipId!, 'not-a-uuid', randomUUID()]) {
      expect(await failure(svc.get(id, bob.id))).toMatchObject({ code: 'not_found' });
    }
  });

  it('recent sponsorships list the sponsor’s own, newest first, without failures shown on the form', async () => {
    const s = sim();
    const svc = service();
    const first = await svc.create(sponsor, input, newKey(), 'req');
    clock.advance(1_000);
    s.givenUser({ username: 'taken', email: 'taken@elsewhere.example' });
    await svc.create(sponsor, { ...input, username: 'taken', email: 'max@partner.example' }, newKey(), 'req');
    clock.advance(1_000);
    const second = await svc.create(
      sponsor,
      { ...input, name: 'Max Mustermann', username: 'max', email: 'max@partner.example' },
      newKey(),
      'req',
    );
    const recent = await svc.recentFor(sponsor.id, 10);
    expect(recent.map((r) => r.operationId)).toEqual([second.operationId, first.operationId]);
    expect(await svc.recentFor(sponsor.id + 1000, 10)).toEqual([]);
  });

  it('checks a username: rules, availability and suggestions', async () => {
    const s = sim();
    s.givenUser({ username: 'jane.doe' });
    const svc = service();
    expect(await svc.checkUsername({ username: 'jane.doe2' })).toMatchObject({
      available: true,
      problems: [],
    });
    const taken = await svc.checkUsername({
      username: 'Jane.Doe',
      name: 'Jane Doe',
      email: 'jane@x.example',
    });
    expect(taken.available).toBe(false);
    expect(taken.suggestions).toContain('jane');
    expect(taken.suggestions).not.toContain('jane.doe');
    const broken = await svc.checkUsername({ username: 'jane..doe' });
    expect(broken).toMatchObject({
      available: null,
      problems: [expect.stringContaining('Use only letters')],
    });
  });
});
