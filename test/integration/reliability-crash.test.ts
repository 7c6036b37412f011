import { setTimeout as sleep } from 'node:timers/promises';
import type { RequestMatcher } from '@gitlab-extern/simulator';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AuditService } from '../../src/audit/audit.service.js';
import { describeEachDialect } from '../support/databases.js';
import {
  type HttpBrowser,
  type ProcessStack,
  type ServerProcess,
  startProcessStack,
  waitFor,
} from '../support/portal-process.js';

/**
 * K4 and J4 with real processes: the built `gitlab-extern serve` is killed (SIGKILL) while a create
 * waits on GitLab at a chosen call, then started again; the operation must finish from where it
 * stopped, with exactly one GitLab user and a complete audit trail. Then SIGTERM during ten creates.
 */

const CREATE_USER = { method: 'POST', path: '/api/v4/users' };
const UNFINISHED = ['running', 'unknown'];

let serial = 0;
function person(prefix: string) {
  serial += 1;
  return {
    name: `${prefix} Crash ${serial}`,
    username: `${prefix}.crash${serial}`,
    email: `${prefix}.crash${serial}@partner.example`,
    organisation: 'Partner Ltd',
    reason: 'Works with us on the analysis pipeline.',
  };
}

describeEachDialect('K4/J4: the portal process crashing and stopping', (dialect) => {
  let stack: ProcessStack;
  let server: ServerProcess;
  let alice: HttpBrowser;

  beforeAll(async () => {
    stack = await startProcessStack(dialect);
    server = await stack.serve();
    alice = await stack.browser().signIn('alice');
  });

  afterAll(async () => {
    if (!stack) return;
    if (server.child.exitCode === null && server.child.signalCode === null) {
      server.kill('SIGTERM');
      expect(await server.exited).toEqual({ code: 0, signal: null });
    }
    await checkInvariants();
    await stack.close();
  });

  async function operation(idempotencyKey: string) {
    return stack.db.db
      .selectFrom('operations')
      .selectAll()
      .where('idempotency_key', '=', idempotencyKey)
      .executeTakeFirst();
  }

  /**
   * After a crash on PostgreSQL the dead process's lease (2 minutes) still holds its operations, as
   * replicas may share the database; this moves the lease's end into the past as if those minutes
   * had passed. On SQLite the restarted server frees them itself (one server per file).
   */
  async function letLeasesExpire(): Promise<void> {
    if (dialect !== 'postgres') return;
    await stack.db.db
      .updateTable('operations')
      .set({ lease_until: new Date(Date.now() - 1000).toISOString() })
      .where('state', 'in', UNFINISHED)
      .execute();
  }

  /**
   * Sends a create for `fields`, holds it at GitLab's `match` call, kills the server there with
   * SIGKILL, runs `meanwhile`, starts the server again and waits for the operation to finish.
   */
  async function crashAt(
    match: RequestMatcher,
    fields: ReturnType<typeof person>,
    options: { holdMs: number; meanwhile?: () => Promise<unknown> },
  ) {
    const { formToken, csrf } = await alice.openForm();
    const seen = stack.sim.requests(match).length;
    stack.sim.delayNext(match, options.holdMs);
    const sent = alice.post('/sponsorships', { ...fields, form_token: formToken }, csrf).then(
      (res) => res.status,
      () => 'connection lost',
    );
    await waitFor(
      `GitLab to receive ${match.method} ${match.path}`,
      () => stack.sim.requests(match).length > seen,
    );
    server.kill('SIGKILL');
    expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(await sent).toBe('connection lost');
    const interrupted = await operation(formToken);
    expect(UNFINISHED).toContain(interrupted?.state);

    await options.meanwhile?.();
    await letLeasesExpire();
    server = await stack.serve();
    const finished = await waitFor('the operation to finish after the restart', async () => {
      const op = await operation(formToken);
      return op && !UNFINISHED.includes(op.state) ? op : undefined;
    });
    return { interrupted: interrupted!, finished };
  }

  /** The POSTs that reached GitLab whole (a request cut off with its process has no body). */
  const postsFor = (username: string) =>
    stack.sim
      .requests(CREATE_USER)
      .filter((r) => (r.body as { username?: string } | undefined)?.username === username);

  async function auditOf(operationId: string) {
    const events = await new AuditService({ db: stack.db.db }).list({
      action: 'sponsorship.create',
      limit: 500,
    });
    return events
      .filter((e) => e.details?.operationId === operationId)
      .reverse()
      .map((e) => [e.outcome, e.reason]);
  }

  /**
   * Exactly one GitLab user per operation; every user the portal created is recorded by exactly one
   * sponsorship, or blocked with its operation failed (compensated); nothing left unfinished; at most
   * two POSTs per operation; the audit chain verifies with intent and outcome for every operation.
   */
  async function checkInvariants(): Promise<void> {
    const { db } = stack.db;
    const ops = await db.selectFrom('operations').selectAll().execute();
    const sponsorships = await db.selectFrom('sponsorships').selectAll().execute();
    const users = [...stack.sim.store.users.values()];
    for (const op of ops) {
      expect(UNFINISHED, op.id).not.toContain(op.state);
      const { input } = JSON.parse(op.payload) as { input: { username: string; email: string } };
      const theirs = users.filter((u) => u.username === input.username || u.email === input.email);
      expect(theirs.length, input.username).toBeLessThanOrEqual(1);
      const posts = stack.sim
        .requests(CREATE_USER)
        .filter((r) => (r.body as { username?: string } | undefined)?.username === input.username);
      expect(posts.length, input.username).toBeLessThanOrEqual(2);
      const recorded = sponsorships.filter(
        (s) => s.gitlab_user_id !== null && s.gitlab_user_id === op.gitlab_user_id,
      );
      if (op.state === 'completed') {
        expect(theirs.map((u) => u.id)).toEqual([op.gitlab_user_id]);
        expect(recorded).toHaveLength(1);
      } else if (theirs.length === 1) {
        expect(theirs[0]!.state, `${input.username} compensated`).toBe('blocked');
        expect(recorded).toEqual([]);
      }
      const trail = (await auditOf(op.id)).map(([outcome]) => outcome);
      expect(trail[0], op.id).toBe('intent');
      expect(trail.slice(1), op.id).toEqual([
        expect.stringMatching(/^(success|adopted_after_ambiguous_response|failure|recovered)$/),
      ]);
    }
    for (const user of users.filter((u) => u.note?.includes('via gitlab-extern'))) {
      const byOp = ops.filter((op) => op.gitlab_user_id === user.id);
      expect(byOp, user.username).toHaveLength(1);
      const recorded = sponsorships.filter((s) => s.gitlab_user_id === user.id);
      if (byOp[0]!.state === 'completed') expect(recorded, user.username).toHaveLength(1);
      else expect([recorded.length, user.state], user.username).toEqual([0, 'blocked']);
    }
    expect(await new AuditService({ db }).verify()).toMatchObject({ ok: true });
  }

  it('K4: killed while GitLab creates the user: after the restart it is looked up, never created twice', async () => {
    const fields = person('post');
    let createdByLostRequest = false;
    const { interrupted, finished } = await crashAt(CREATE_USER, fields, {
      holdMs: 300,
      // Whether GitLab still carries out a request whose client died is GitLab's business; either
      // way the portal must end with exactly one user.
      meanwhile: async () => {
        await sleep(600);
        createdByLostRequest = stack.sim.user(fields.username) !== undefined;
      },
    });
    expect(interrupted).toMatchObject({ step: 'create', attempts: 1, gitlab_user_id: null });
    expect(finished).toMatchObject({
      state: 'completed',
      gitlab_user_id: stack.sim.user(fields.username)!.id,
    });
    if (createdByLostRequest) {
      // The answer was lost: the user is found and adopted, no second POST.
      expect(postsFor(fields.username)).toHaveLength(1);
      expect(await auditOf(finished.id)).toEqual([
        ['intent', null],
        ['adopted_after_ambiguous_response', null],
      ]);
    } else {
      // The request died with the process before GitLab read it: nothing is found, so the POST is
      // sent once more.
      expect(finished.attempts).toBe(2);
      expect(postsFor(fields.username)).toHaveLength(1);
      expect(await auditOf(finished.id)).toEqual([
        ['intent', null],
        ['success', null],
      ]);
    }
    await checkInvariants();
  });

  it('K4: killed while setting the custom attributes: the user is found again and adopted, no second user', async () => {
    const fields = person('attributes');
    const id = stack.sim.store.nextUserId();
    const { interrupted, finished } = await crashAt(
      { method: 'PUT', path: `/api/v4/users/${id}/custom_attributes/:key` },
      fields,
      { holdMs: 3_000 },
    );
    // The user's id is committed with the outcome, so the row still says "POST sent, answer not
    // recorded": the restart looks the user up and adopts it.
    expect(interrupted).toMatchObject({ step: 'create', attempts: 1, gitlab_user_id: null });
    expect(finished).toMatchObject({ state: 'completed', gitlab_user_id: id, attempts: 1 });
    expect(Object.fromEntries(stack.sim.user(id)!.customAttributes)).toMatchObject({
      extern_operation_id: finished.id,
    });
    expect(postsFor(fields.username)).toHaveLength(1);
    expect(await auditOf(finished.id)).toEqual([
      ['intent', null],
      ['adopted_after_ambiguous_response', null],
    ]);
    await checkInvariants();
  });

  it('K4: killed while reading the new user back: found again by its operation id, adopted, completed', async () => {
    const fields = person('verify');
    const id = stack.sim.store.nextUserId();
    const { interrupted, finished } = await crashAt({ method: 'GET', path: `/api/v4/users/${id}` }, fields, {
      holdMs: 3_000,
    });
    expect(interrupted).toMatchObject({ step: 'create', attempts: 1, gitlab_user_id: null });
    expect(finished).toMatchObject({ state: 'completed', gitlab_user_id: id, attempts: 1 });
    expect(postsFor(fields.username)).toHaveLength(1);
    expect(await auditOf(finished.id)).toEqual([
      ['intent', null],
      ['adopted_after_ambiguous_response', null],
    ]);
    await checkInvariants();
  });

  it('K4: killed at the verification of a user GitLab did not restrict: blocked after the restart', async () => {
    const fields = person('loose');
    const id = stack.sim.store.nextUserId();
    const { finished } = await crashAt({ method: 'GET', path: `/api/v4/users/${id}` }, fields, {
      holdMs: 3_000,
      meanwhile: async () => stack.sim.store.updateUser(stack.sim.user(id)!, { external: false }),
    });
    expect(finished).toMatchObject({
      state: 'failed',
      error_code: 'verification_failed',
      gitlab_user_id: id,
    });
    expect(stack.sim.user(id)!.state).toBe('blocked');
    expect(await auditOf(finished.id)).toEqual([
      ['intent', null],
      ['failure', 'verification_failed'],
    ]);
    await checkInvariants();
  });

  it('J4: SIGTERM during ten creates: never ready again, the creates finish, exit 0 within 30 s', async () => {
    const forms = [];
    for (let i = 0; i < 10; i++) forms.push(await alice.openForm());
    const seen = stack.sim.requests(CREATE_USER).length;
    stack.sim.delayNext(CREATE_USER, 1_500, 10);
    const people = forms.map(() => person('j4'));
    const sent = forms.map((form, i) =>
      alice.post('/sponsorships', { ...people[i]!, form_token: form.formToken }, form.csrf).then(
        (res) => res.status,
        () => 'connection lost',
      ),
    );
    await waitFor('ten POSTs at GitLab', () => stack.sim.requests(CREATE_USER).length - seen >= 10);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);

    server.kill('SIGTERM');
    await waitFor('the server to begin shutting down', () =>
      server.logs().some((l) => l.msg === 'shutting down'),
    );
    const probes: (number | string)[] = [];
    while (server.child.exitCode === null) {
      probes.push(
        await fetch(`${server.url}/readyz`).then(
          (r) => r.status,
          () => 'refused',
        ),
      );
      await sleep(50);
    }
    expect(probes.length).toBeGreaterThan(0);
    for (const probe of probes) expect([503, 'refused']).toContain(probe);
    const exit = await Promise.race([
      server.exited,
      new Promise((resolve) => setTimeout(() => resolve('still running after 30 s'), 30_000)),
    ]);
    expect(exit).toEqual({ code: 0, signal: null });

    // In-flight requests were allowed to finish: every create completed and got its answer.
    expect(await Promise.all(sent)).toEqual(Array(10).fill(303));
    for (const form of forms) expect((await operation(form.formToken))?.state).toBe('completed');
    for (const p of people) expect(stack.sim.user(p.username)).toBeDefined();
    await checkInvariants();
  });
});
