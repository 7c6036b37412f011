import { describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index.js';
import { ADMIN_TOKEN, type CallOptions, call, del, get, post, put, useSimulator } from './helpers.js';

// The simulator's own control API (`/-/sim/*`). It has no GitLab counterpart; titles name the
// simulator feature, and the GitLab behaviour where one is involved.

const patch = (sim: Simulator, path: string, body?: unknown, opts?: CallOptions) =>
  call(sim, 'PATCH', path, { ...opts, body });

function mail(sim: Simulator, to: string, subject: string, kind = 'new_user') {
  return sim.store.recordMail({
    to,
    subject,
    kind,
    text: `Hello ${to}`,
    html: `<p>Hello ${to}</p>`,
    resetLink: kind === 'new_user' ? `${sim.url}/users/password/edit?reset_password_token=abc` : null,
    confirmationLink: null,
    userId: null,
  });
}

describe('access to /-/sim', () => {
  const sim = useSimulator();

  it('accepts the admin token as PRIVATE-TOKEN, Bearer, private_token query and body param', async () => {
    const s = sim();
    for (const opts of [
      {},
      { bearer: ADMIN_TOKEN },
      { token: null, query: { private_token: ADMIN_TOKEN } },
    ] satisfies CallOptions[]) {
      expect((await get(s, '/-/sim/clock', opts)).status).toBe(200);
    }
    const viaBody = await post(
      s,
      '/-/sim/clock/advance',
      { seconds: 1, private_token: ADMIN_TOKEN },
      { token: null },
    );
    expect(viaBody.status).toBe(200);
  });

  it('no credentials or an unknown token → 401 {"message":"401 Unauthorized"}', async () => {
    const s = sim();
    for (const token of [null, 'glpat-unknown']) {
      const res = await get(s, '/-/sim/requests', { token });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ message: '401 Unauthorized' });
    }
  });

  it('another user’s token, even another admin token of root, → 403', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    for (const token of [s.givenToken(alice, ['api']), s.givenToken(s.user('root')!, ['api', 'sudo'])]) {
      const res = await get(s, '/-/sim/settings', { token });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({
        message:
          '403 Forbidden - the simulator control API needs the admin token or an administrator session',
      });
    }
  });

  it('an administrator’s web session (_gitlab_session) is enough; a non-admin’s is 403, an unknown one 401', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice' });
    const cookie = (id: string) => ({ token: null, headers: { cookie: `other=1; _gitlab_session=${id}` } });
    const admin = s.store.createWebSession(1);
    const user = s.store.createWebSession(alice.id);
    expect((await get(s, '/-/sim/clock', cookie(admin.id))).status).toBe(200);
    expect((await get(s, '/-/sim/clock', cookie(user.id))).status).toBe(403);
    expect((await get(s, '/-/sim/clock', cookie('nope'))).status).toBe(401);
    s.setUserState(s.user('root')!, 'blocked');
    expect((await get(s, '/-/sim/clock', cookie(admin.id))).status).toBe(403);
  });

  it('an unknown control path → 404, a wrong method → 405 with Allow', async () => {
    const s = sim();
    const unknown = await get(s, '/-/sim/nope');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: 'unknown simulator control endpoint GET /-/sim/nope' });
    const wrong = await put(s, '/-/sim/faults', {});
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST, GET, DELETE, HEAD');
    expect(s.unexpected).toEqual([]);
  });

  it('a body that is not a JSON object → 400 naming the problem', async () => {
    const s = sim();
    const text = await fetch(`${s.url}/-/sim/latency`, {
      method: 'PUT',
      headers: { 'private-token': ADMIN_TOKEN, 'content-type': 'text/plain' },
      body: 'ms=5',
    });
    expect(text.status).toBe(400);
    expect(await text.json()).toEqual({
      error: 'body: must be JSON (Content-Type: application/json)',
      problems: ['body: must be JSON (Content-Type: application/json)'],
    });
    const array = await put(s, '/-/sim/latency', [1]);
    expect(array.body.problems).toEqual(['body: must be a JSON object']);
    const broken = await fetch(`${s.url}/-/sim/latency`, {
      method: 'PUT',
      headers: { 'private-token': ADMIN_TOKEN, 'content-type': 'application/json' },
      body: '{"ms":',
    });
    expect(broken.status).toBe(400);
  });
});

describe('mail', () => {
  const sim = useSimulator();

  it('GET /-/sim/mail.json lists captured mail newest first with links', async () => {
    const s = sim();
    const first = mail(s, 'ext@example.org', 'Account was created for you');
    const second = mail(s, 'other@example.org', 'Confirmation instructions', 'confirmation');
    const res = await get(s, '/-/sim/mail.json');
    expect(res.status).toBe(200);
    expect(res.body.map((m: { id: number }) => m.id)).toEqual([second.id, first.id]);
    expect(res.body[1]).toEqual({
      id: first.id,
      to: 'ext@example.org',
      subject: 'Account was created for you',
      kind: 'new_user',
      sent_at: new Date(first.sentAt).toISOString(),
      reset_link: `${s.url}/users/password/edit?reset_password_token=abc`,
      confirmation_link: null,
      text: 'Hello ext@example.org',
      html: '<p>Hello ext@example.org</p>',
    });
  });

  it('filters by recipient (case-insensitive) and kind', async () => {
    const s = sim();
    mail(s, 'ext@example.org', 'one');
    mail(s, 'other@example.org', 'two');
    mail(s, 'Ext@Example.org', 'three', 'reset_password');
    const byTo = await get(s, '/-/sim/mail.json', { query: { to: 'EXT@example.org' } });
    expect(byTo.body.map((m: { subject: string }) => m.subject)).toEqual(['three', 'one']);
    const byKind = await get(s, '/-/sim/mail.json', { query: { kind: 'reset_password' } });
    expect(byKind.body.map((m: { subject: string }) => m.subject)).toEqual(['three']);
    const twice = await get(s, '/-/sim/mail.json?to=a&to=b');
    expect(twice.status).toBe(400);
    expect(twice.body.problems).toEqual(['to: must be given once, as text']);
  });

  it('DELETE /-/sim/mail forgets all mail', async () => {
    const s = sim();
    mail(s, 'ext@example.org', 'one');
    expect((await del(s, '/-/sim/mail')).status).toBe(204);
    expect((await get(s, '/-/sim/mail.json')).body).toEqual([]);
    expect(s.mails()).toEqual([]);
  });

  it('GET /-/sim/mail is an HTML page; without credentials it explains how to sign in (401 HTML)', async () => {
    const s = sim();
    mail(s, 'ext@example.org', 'Account was created for you');
    const page = await get(s, '/-/sim/mail');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.text).toContain('Account was created for you');
    const denied = await get(s, '/-/sim/mail', { token: null });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(denied.text).toContain('<a href="/users/sign_in">Sign in</a>');
    expect(denied.text).not.toContain('Account was created for you');
  });
});

describe('faults over HTTP', () => {
  const sim = useSimulator();

  it('POST /-/sim/faults scripts a response for `times` requests; GET lists it with what is left', async () => {
    const s = sim();
    const created = await post(s, '/-/sim/faults', {
      method: 'get',
      path: '/api/v4/version',
      times: 2,
      action: { type: 'respond', status: 503, body: '<h1>down</h1>', headers: { 'Retry-After': '2' } },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(Number),
      method: 'GET',
      path: '/api/v4/version',
      times: 2,
      action: { type: 'respond', status: 503, body: '<h1>down</h1>', headers: { 'Retry-After': '2' } },
    });
    const hit = await get(s, '/version');
    expect(hit.status).toBe(503);
    expect(hit.headers.get('retry-after')).toBe('2');
    expect(hit.text).toBe('<h1>down</h1>');
    const listed = await get(s, '/-/sim/faults');
    expect(listed.body).toEqual({
      faults: [{ ...created.body, times: 1 }],
      rate_limits: [],
      latency_ms: 0,
    });
  });

  it('times defaults to 1; null keeps the fault until it is deleted by id', async () => {
    const s = sim();
    const once = await post(s, '/-/sim/faults', {
      path: '/api/v4/user',
      action: { type: 'respond', status: 500 },
    });
    expect(once.body.times).toBe(1);
    const always = await post(s, '/-/sim/faults', {
      path: '/api/v4/version',
      times: null,
      action: { type: 'malformed_json' },
    });
    expect(always.body).toMatchObject({ times: null, method: null, action: { type: 'malformed_json' } });
    expect((await get(s, '/user')).status).toBe(500);
    expect((await get(s, '/user')).status).toBe(200);
    for (let i = 0; i < 2; i++)
      expect(
        (await fetch(`${s.url}/api/v4/version`, { headers: { 'private-token': ADMIN_TOKEN } })).status,
      ).toBe(200);
    expect((await del(s, `/-/sim/faults/${always.body.id}`)).status).toBe(204);
    expect((await get(s, '/version')).body).toMatchObject({ version: expect.any(String) });
    const gone = await del(s, `/-/sim/faults/${always.body.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body).toEqual({ error: `no fault or rate limit with id ${always.body.id}` });
  });

  it('DELETE /-/sim/faults clears faults, rate limits and latency', async () => {
    const s = sim();
    await post(s, '/-/sim/faults', { action: { type: 'latency', ms: 10 } });
    await post(s, '/-/sim/rate-limits', { kind: 'rack_attack', limit: 100, period_seconds: 60 });
    await put(s, '/-/sim/latency', { ms: 5 });
    expect((await get(s, '/-/sim/faults')).body).toMatchObject({
      faults: [{ action: { type: 'latency', ms: 10 } }],
      rate_limits: [
        { kind: 'rack_attack', name: 'throttle_authenticated_api', limit: 100, period_seconds: 60 },
      ],
      latency_ms: 5,
    });
    expect((await del(s, '/-/sim/faults')).status).toBe(204);
    expect((await get(s, '/-/sim/faults')).body).toEqual({ faults: [], rate_limits: [], latency_ms: 0 });
  });

  it('rejects a bad fault with every problem listed, and adds nothing', async () => {
    const s = sim();
    const res = await post(s, '/-/sim/faults', {
      method: 'FETCH',
      path: 'api/v4/user',
      times: 0,
      extra: true,
      action: {
        type: 'respond',
        status: 99,
        content_type: 'text/html\r\nx: y',
        headers: { 'Bad Name': 'x', ok: 'a\nb' },
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.problems).toEqual([
      'extra: unknown key (known: method, path, times, action)',
      'method: must be one of: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
      "path: must start with '/', e.g. /api/v4/users or /api/v4/users/:id",
      'times: must be at least 1',
      'action.status: must be at least 100',
      'action.content_type: the content type must not contain line breaks or control characters',
      "action.headers: 'Bad Name' is not a valid header name",
      'action.headers: the value of ok must not contain line breaks or control characters',
    ]);
    expect(res.body.error).toBe(res.body.problems.join('; '));
    expect(s.faults.rules).toEqual([]);
  });

  it('names the missing or unknown action, and the fields each action takes', async () => {
    const s = sim();
    const problems = async (body: unknown) => (await post(s, '/-/sim/faults', body)).body.problems;
    expect(await problems({})).toEqual(['action: missing']);
    expect(await problems({ action: { type: 'explode' } })).toEqual([
      'action.type: must be one of: respond, latency, hang, reset, reset_after_apply, malformed_json',
    ]);
    expect(await problems({ action: { type: 'latency' } })).toEqual(['action.ms: missing']);
    expect(await problems({ action: { type: 'latency', ms: 700_000 } })).toEqual([
      'action.ms: must be at most 600000',
    ]);
    expect(await problems({ action: { type: 'hang', ms: 5 } })).toEqual([
      'action.ms: unknown key (known: type)',
    ]);
    expect(await problems({ action: { type: 'respond' } })).toEqual(['action.status: missing']);
  });

  it('PUT /-/sim/latency sets the latency of every request', async () => {
    const s = sim();
    const res = await put(s, '/-/sim/latency', { ms: 40 });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ms: 40 });
    expect(s.faults.baseLatencyMs).toBe(40);
    expect((await put(s, '/-/sim/latency', { ms: -1 })).body.problems).toEqual(['ms: must be at least 0']);
    expect((await put(s, '/-/sim/latency', {})).body.problems).toEqual(['ms: missing']);
  });

  it('POST /-/sim/rate-limits validates kind, numbers and name', async () => {
    const s = sim();
    const bad = await post(s, '/-/sim/rate-limits', {
      kind: 'application',
      limit: -1,
      period_seconds: 0,
      name: 'x',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.problems).toEqual([
      'limit: must be at least 0',
      'period_seconds: must be at least 1',
      'name: only a rack_attack throttle has a name (sent as RateLimit-Name)',
    ]);
    expect((await post(s, '/-/sim/rate-limits', {})).body.problems).toEqual([
      'kind: missing',
      'limit: missing',
      'period_seconds: missing',
    ]);
    const ok = await post(s, '/-/sim/rate-limits', {
      kind: 'rack_attack',
      method: 'post',
      path: '/api/v4/users',
      limit: 10,
      period_seconds: 60,
      name: 'throttle_authenticated_api',
    });
    expect(ok.status).toBe(201);
    expect(ok.body).toEqual({
      id: expect.any(Number),
      kind: 'rack_attack',
      name: 'throttle_authenticated_api',
      method: 'POST',
      path: '/api/v4/users',
      limit: 10,
      period_seconds: 60,
    });
    expect((await get(s, '/-/sim/rate-limits')).body).toEqual([ok.body]);
  });
});

describe('clock', () => {
  const sim = useSimulator();

  it('GET /-/sim/clock shows simulated now; freeze pins it, unfreeze lets it run again', async () => {
    const s = sim();
    const frozen = await post(s, '/-/sim/clock/freeze', { at: '2030-05-01T12:00:00Z' });
    expect(frozen.body).toEqual({
      now: '2030-05-01T12:00:00.000Z',
      now_ms: Date.UTC(2030, 4, 1, 12),
      frozen: true,
    });
    expect((await get(s, '/-/sim/clock')).body.now).toBe('2030-05-01T12:00:00.000Z');
    const advanced = await post(s, '/-/sim/clock/advance', { seconds: 90 });
    expect(advanced.body.now).toBe('2030-05-01T12:01:30.000Z');
    const running = await post(s, '/-/sim/clock/unfreeze');
    expect(running.body.frozen).toBe(false);
    expect(Math.abs(running.body.now_ms - Date.UTC(2030, 4, 1, 12, 1, 30))).toBeLessThan(1000);
    expect((await post(s, '/-/sim/clock/freeze')).body.frozen).toBe(true);
  });

  it('advance runs the periodic jobs, like sim.advanceTime (DeleteUserWorker)', async () => {
    const s = sim();
    await patch(s, '/-/sim/settings', { userDeletionDelayMs: 3_600_000 });
    const bob = s.givenUser({ username: 'bob' });
    s.store.scheduleDeletion(bob);
    await post(s, '/-/sim/clock/advance', { seconds: 1800 });
    expect(s.user('bob')).toBeDefined();
    await post(s, '/-/sim/clock/advance', { seconds: 1800 });
    expect(s.user('bob')).toBeUndefined();
  });

  it('rejects a bad time or number of seconds', async () => {
    const s = sim();
    expect((await post(s, '/-/sim/clock/advance', { seconds: '5' })).body.problems).toEqual([
      'seconds: must be a number',
    ]);
    expect((await post(s, '/-/sim/clock/advance', {})).body.problems).toEqual(['seconds: missing']);
    expect((await post(s, '/-/sim/clock/advance', { seconds: 1e300 })).body.problems).toEqual([
      'seconds: must be at most 3153600000 (100 years) either way',
    ]);
    expect((await post(s, '/-/sim/clock/freeze', { at: 'tomorrow' })).body.problems).toEqual([
      'at: must be an ISO 8601 date-time',
    ]);
  });
});

describe('settings', () => {
  const sim = useSimulator();

  it('GET /-/sim/settings returns the instance settings; PATCH changes what the API reports — lib/api/version.rb', async () => {
    const s = sim();
    const before = await get(s, '/-/sim/settings');
    expect(before.body).toMatchObject({ userDefaultExternal: false, minimumPasswordLength: 8 });
    const res = await patch(s, '/-/sim/settings', {
      version: '17.11.0',
      userDefaultInternalRegex: '@corp\\.example$',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ version: '17.11.0', userDefaultInternalRegex: '@corp\\.example$' });
    expect((await get(s, '/version')).body.version).toBe('17.11.0');
    expect(
      (await patch(s, '/-/sim/settings', { userDefaultInternalRegex: null })).body.userDefaultInternalRegex,
    ).toBe(null);
  });

  it('PATCH rejects unknown keys and wrong types, changing nothing', async () => {
    const s = sim();
    const res = await patch(s, '/-/sim/settings', {
      adminMode: 'yes',
      minimumPasswordLength: 7.5,
      version: '',
      userDefaultInternalRegex: '(',
      colour: 'blue',
      userDefaultExternal: true,
    });
    expect(res.status).toBe(400);
    expect(res.body.problems).toEqual([
      'adminMode: must be true or false',
      'minimumPasswordLength: must be a whole number >= 0',
      'version: must be a non-empty string',
      'userDefaultInternalRegex: must be a valid regular expression',
      expect.stringMatching(/^colour: unknown setting \(known: userDefaultExternal, .*revision\)$/),
    ]);
    expect(s.settings.userDefaultExternal).toBe(false);
  });
});

describe('recorded requests', () => {
  const sim = useSimulator();

  it('GET /-/sim/requests lists API requests with headers and body, filtered by method and path', async () => {
    const s = sim();
    await get(s, '/user', { headers: { 'x-trace': 'one' } });
    await get(s, '/version');
    await call(s, 'DELETE', '/personal_access_tokens/self', {
      token: s.givenToken(s.user('root')!, ['api']),
    });
    const all = await get(s, '/-/sim/requests');
    expect(all.body.map((r: { method: string; path: string }) => `${r.method} ${r.path}`)).toEqual([
      'GET /api/v4/user',
      'GET /api/v4/version',
      'DELETE /api/v4/personal_access_tokens/self',
    ]);
    expect(all.body[0]).toMatchObject({
      id: expect.any(Number),
      at: expect.any(String),
      query: {},
      status: 200,
      fault: null,
      body: null,
      headers: expect.objectContaining({ 'private-token': ADMIN_TOKEN, 'x-trace': 'one' }),
    });
    const filtered = await get(s, '/-/sim/requests', {
      query: { method: 'delete', path: '/api/v4/personal_access_tokens/:id' },
    });
    expect(filtered.body).toMatchObject([{ method: 'DELETE', status: 204 }]);
  });

  it('control requests are not recorded; DELETE /-/sim/requests forgets the rest', async () => {
    const s = sim();
    await get(s, '/version');
    await get(s, '/-/sim/clock');
    expect(s.requests().map((r) => r.path)).toEqual(['/api/v4/version']);
    expect((await del(s, '/-/sim/requests')).status).toBe(204);
    expect(s.requests()).toEqual([]);
    await get(s, '/version');
    expect(s.requests()[0]!.id).toBeGreaterThan(1);
  });
});

describe('scenario helpers', () => {
  const sim = useSimulator();

  it('POST /-/sim/users creates a user with password and tokens; the token works — lib/api/users.rb GET /user', async () => {
    const s = sim();
    const res = await post(s, '/-/sim/users', {
      username: 'alice',
      name: 'Alice',
      password: 'secret-pass-1',
      external: true,
      tokens: [
        { scopes: ['read_user'] },
        { token: 'glpat-alice-fixed-token', scopes: ['api'], expires_at: null },
      ],
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: 2,
      username: 'alice',
      name: 'Alice',
      email: 'alice@example.com',
      state: 'active',
      admin: false,
      external: true,
      tokens: [
        {
          id: expect.any(Number),
          name: 'token',
          token: expect.stringMatching(/^glpat-/),
          scopes: ['read_user'],
          expires_at: expect.any(String),
          revoked: false,
        },
        {
          id: expect.any(Number),
          name: 'token',
          token: 'glpat-alice-fixed-token',
          scopes: ['api'],
          expires_at: null,
          revoked: false,
        },
      ],
    });
    const me = await get(s, '/user', { token: res.body.tokens[0].token });
    expect(me.body).toMatchObject({ id: 2, username: 'alice' });
  });

  it('POST /-/sim/users reports every problem with the field it is about', async () => {
    const s = sim();
    s.givenUser({ username: 'alice' });
    const res = await post(s, '/-/sim/users', {
      username: 'Alice',
      email: 'nope',
      state: 'sleeping',
      admin: 'yes',
      tokens: [{ scopes: [] }],
      nickname: 'al',
    });
    expect(res.status).toBe(400);
    expect(res.body.problems).toEqual([
      expect.stringMatching(/^nickname: unknown key \(known: id, username, /),
      "username: 'Alice' is already taken",
      "email: 'nope' is not an e-mail address",
      'admin: must be true or false',
      'state: must be one of: active, blocked, ldap_blocked, blocked_pending_approval, banned, deactivated',
      'tokens[0].scopes: must list at least one scope',
    ]);
    expect((await post(s, '/-/sim/users', {})).body.problems).toEqual(['username: missing']);
  });

  it('POST /-/sim/groups, /projects and /members build a hierarchy — Store.projectAccess (lib/api/members.rb semantics)', async () => {
    const s = sim();
    const bob = s.givenUser({ username: 'bob' });
    const parent = await post(s, '/-/sim/groups', { path: 'acme', name: 'ACME' });
    expect(parent.status).toBe(201);
    const child = await post(s, '/-/sim/groups', { path: 'web', parent: 'acme', visibility: 'internal' });
    expect(child.body).toEqual({
      id: expect.any(Number),
      name: 'web',
      path: 'web',
      full_path: 'acme/web',
      parent_id: parent.body.id,
      visibility: 'internal',
    });
    const project = await post(s, '/-/sim/projects', { path: 'site', namespace: 'acme/web' });
    expect(project.body).toMatchObject({ path_with_namespace: 'acme/web/site', namespace_id: child.body.id });
    const member = await post(s, '/-/sim/members', {
      group: 'acme',
      user: 'bob',
      access_level: 30,
      expires_at: '2099-01-01',
    });
    expect(member.status).toBe(201);
    expect(member.body).toEqual({
      source_type: 'Namespace',
      source_id: parent.body.id,
      user_id: bob.id,
      username: 'bob',
      access_level: 30,
      expires_at: '2099-01-01',
    });
    const direct = await post(s, '/-/sim/members', {
      project: project.body.id,
      user: bob.id,
      access_level: 40,
    });
    expect(direct.body).toMatchObject({ source_type: 'Project', source_id: project.body.id });
    expect(s.store.projectAccess(s.store.findProject('acme/web/site')!, bob.id)).toBe(40);
  });

  it('scenario helpers reject unknown references and bad values', async () => {
    const s = sim();
    expect((await post(s, '/-/sim/groups', { path: 'web', parent: 'nope' })).body.problems).toEqual([
      "parent: unknown group 'nope'",
    ]);
    expect((await post(s, '/-/sim/groups', { path: '-bad-' })).body.problems).toEqual([
      "path: can only include non-accented letters, digits, '_', '-' and '.'. It must not start with '-', '_', or '.', nor end with '-', '_', '.', '.git', or '.atom'.",
    ]);
    expect((await post(s, '/-/sim/projects', { path: 'site', namespace: 'ghost' })).body.problems).toEqual([
      "namespace: unknown group or user namespace 'ghost'",
    ]);
    expect(
      (await post(s, '/-/sim/members', { group: 'nope', project: 1, access_level: 35 })).body.problems,
    ).toEqual([
      'body: give exactly one of group and project',
      "group: unknown group 'nope'",
      "project: unknown project '1'",
      'user: missing',
      'access_level: must be one of: 10, 15, 20, 30, 40, 50',
    ]);
  });

  it('POST /-/sim/applications registers an OAuth application and returns its secret', async () => {
    const s = sim();
    const res = await post(s, '/-/sim/applications', {
      name: 'Portal',
      redirect_uri: 'http://localhost:3000/auth/callback',
      scopes: 'openid profile email',
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(Number),
      name: 'Portal',
      application_id: expect.stringMatching(/^[0-9a-f]{64}$/),
      secret: expect.stringMatching(/^gloas-/),
      redirect_uri: 'http://localhost:3000/auth/callback',
      scopes: 'openid profile email',
      confidential: true,
      trusted: false,
    });
    expect(s.store.applicationsByUid.get(res.body.application_id)?.secret).toBe(res.body.secret);
    const bad = await post(s, '/-/sim/applications', { name: 'x', redirect_uri: 'callback', scopes: '' });
    expect(bad.body.problems).toEqual([
      "redirect_uri: 'callback' is not an absolute URI",
      'scopes: must not be empty',
    ]);
  });

  it('POST /-/sim/seed applies a seed and answers what it created; a bad seed changes nothing', async () => {
    const s = sim();
    const ok = await post(s, '/-/sim/seed', {
      users: [{ username: 'carol' }],
      groups: [{ path: 'team', members: [{ user: 'carol', access_level: 50 }] }],
      generate: { users: 3, prefix: 'load' },
    });
    expect(ok.status).toBe(201);
    expect(ok.body).toEqual({ users: 1, groups: 1, projects: 0, applications: 0, generated_users: 3 });
    expect(s.user('load5')).toBeDefined();
    const bad = await post(s, '/-/sim/seed', {
      users: [{ username: 'dave' }, { username: 'carol' }],
      projects: [{ path: 'x', namespace: 'team', members: [{ user: 'erin', access_level: 30 }] }],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.problems).toEqual([
      "users[1].username: 'carol' is already taken",
      "projects[0].members[0].user: unknown user 'erin'",
    ]);
    expect(s.user('dave')).toBeUndefined();
  });
});
