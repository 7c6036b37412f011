import { afterEach, beforeEach, expect, it } from 'vitest';
import { describeEachDialect } from '../support/databases.js';
import { type Portal, type PortalClient, scrapeForms, startPortal } from '../support/portal.js';

const CREATE_USER = { method: 'POST', path: '/api/v4/users' };

const valid = {
  name: 'Jane Doe',
  username: 'jane.doe',
  email: 'jane.doe@partner.example',
  organisation: 'Partner Ltd',
  reason: 'Works with us on the analysis pipeline.',
};

/** The form's one-time token, from a freshly opened form. */
async function formToken(client: PortalClient): Promise<string> {
  const page = await client.get('/sponsorships/new');
  expect(page.status).toBe(200);
  const form = scrapeForms(page.body).find((f) => 'form_token' in f.fields);
  if (!form) throw new Error('no sponsorship form');
  return form.fields.form_token!;
}

/** The text of the element with this id (tags removed), for checking what a field's error says. */
function textOf(html: string, id: string): string | undefined {
  const match = new RegExp(`id="${id}"[^>]*>([\\s\\S]*?)</(p|div)>`).exec(html);
  return match?.[1]?.replace(/<[^>]+>/g, '');
}

describeEachDialect('sponsoring through the web pages', (dialect) => {
  let portal: Portal;
  let alice: PortalClient;

  beforeEach(async () => {
    portal = await startPortal({ dialect });
    alice = await portal.signIn('alice');
  });

  afterEach(async () => {
    expect(await portal.leaks()).toEqual([]);
    await portal.close();
  });

  it('shows the form to signed-in sponsors only', async () => {
    const page = await alice.get('/sponsorships/new');
    expect(page.status).toBe(200);
    expect(page.headers['cache-control']).toBe('no-store');
    for (const label of [
      'Full name',
      'GitLab username',
      'E-mail address',
      'Organisation',
      'Why they need an account',
    ]) {
      expect(page.body).toContain(label);
    }
    const form = scrapeForms(page.body).find((f) => 'form_token' in f.fields)!;
    expect(form).toMatchObject({ method: 'POST', action: '/extern/sponsorships' });
    expect(form.fields.form_token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(form.fields._csrf).toBe(await alice.csrfToken());
    expect(page.body).toContain('data-username-check="/extern/sponsorships/username-check"');
    expect(page.body).toContain('name="intent" value="suggest"');
    expect(page.body).toContain('aria-live="polite"');
    // A fresh token per form.
    expect(await formToken(alice)).not.toBe(form.fields.form_token);

    const visitor = await portal.client().get('/sponsorships/new');
    expect(visitor.status).toBe(303);
    expect(visitor.location).toBe('/extern/login?return_to=%2Fextern%2Fsponsorships%2Fnew');
  });

  it('creates the account and shows the result, the set-password mail and the start page entry', async () => {
    const token = await formToken(alice);
    const res = await alice.form('/sponsorships', { ...valid, form_token: token });
    expect(res.status).toBe(303);
    expect(res.location).toMatch(/^\/extern\/sponsorships\/[0-9a-f-]{36}$/);

    const created = portal.sim.user('jane.doe')!;
    expect(created).toMatchObject({ external: true, canCreateGroup: false, projectsLimit: 0 });
    const page = await alice.follow(res);
    expect(page.status).toBe(200);
    expect(page.body).toContain('The account is ready');
    expect(page.body).toContain(`href="${portal.sim.url}/jane.doe"`);
    expect(page.body).toContain('GitLab sends an e-mail to <strong>jane.doe@partner.example</strong>');
    expect(page.body).toContain('Add @jane.doe to the projects or groups they need');

    const [mail] = portal.sim.mails({ to: 'jane.doe@partner.example', kind: 'new_user' });
    expect(mail?.resetLink).toMatch(/reset_password_token=/);

    const home = await alice.get('/');
    expect(home.body).toContain(`href="${res.location}"`);
    expect(home.body).toContain('jane.doe');
    expect(home.body).toContain('Created');

    const [success] = await portal.audit('sponsorship.create');
    expect(success).toMatchObject({
      outcome: 'success',
      actor: { username: 'alice' },
      target: { id: String(created.id) },
    });
  });

  it('shows validation errors next to their fields, keeps the input and the token, calls no GitLab', async () => {
    const token = await formToken(alice);
    portal.sim.clearRequests();
    const res = await alice.form('/sponsorships', {
      ...valid,
      username: 'jane..doe',
      organisation: '',
      reason: 'Works\u202Ewith us',
      form_token: token,
    });
    expect(res.status).toBe(422);
    expect(textOf(res.body, 'f-username-error')).toContain('Use only letters');
    expect(textOf(res.body, 'f-organisation-error')).toContain('Enter the organisation');
    expect(textOf(res.body, 'f-reason-error')).toContain('invisible text-direction');
    expect(textOf(res.body, 'f-name-error')).toBeUndefined();
    expect(res.body).toMatch(/<input[^>]*id="f-username"[^>]*aria-invalid="true"/);
    expect(res.body).toContain('href="#f-username"');
    expect(res.body).toContain('There is a problem');
    const form = scrapeForms(res.body).find((f) => 'form_token' in f.fields)!;
    expect(form.fields).toMatchObject({ form_token: token, name: 'Jane Doe', username: 'jane..doe' });
    expect(portal.sim.requests()).toEqual([]);

    const fixed = await alice.form('/sponsorships', { ...valid, form_token: token });
    expect(fixed.status).toBe(303);
  });

  it('refuses fields the portal sets itself (mass assignment)', async () => {
    const token = await formToken(alice);
    const res = await alice.form('/sponsorships', {
      ...valid,
      form_token: token,
      admin: 'true',
      external: 'false',
      projects_limit: '100',
      skip_confirmation: 'true',
    });
    expect(res.status).toBe(422);
    expect(res.body).toContain(
      'fields the portal does not accept: admin, external, projects_limit, skip_confirmation',
    );
    expect(portal.sim.requests(CREATE_USER)).toEqual([]);
    expect(portal.sim.user('jane.doe')).toBeUndefined();
  });

  // Preact escapes `<`, `&` and `"` (and `>` needs no escaping): no tag or attribute can start.
  it('renders hostile names, organisations and GitLab data escaped', async () => {
    const script = '</script><script>alert(1)</script>';
    const svg = '"><svg onload=alert(1)>';
    const refused = await alice.form('/sponsorships', {
      ...valid,
      name: svg,
      form_token: await formToken(alice),
    });
    expect(refused.status).toBe(422);
    expect(refused.body).toContain('Remove the characters &lt; and > from the name.');
    expect(refused.body).not.toContain('<svg');
    expect(refused.body).toContain('value="&quot;>&lt;svg onload=alert(1)>"');

    const res = await alice.form('/sponsorships', {
      ...valid,
      name: `{{constructor.constructor('alert(1)')()}} "' javascript:alert(1)`,
      organisation: svg,
      reason: script,
      form_token: await formToken(alice),
    });
    expect(res.status).toBe(303);
    for (const page of [await alice.follow(res), await alice.get('/')]) {
      expect(page.status).toBe(200);
      expect(page.body).not.toContain('<svg');
      expect(page.body).not.toContain('<script>alert');
      expect(page.body.match(/<script/g)).toHaveLength(1);
    }
    expect((await alice.follow(res)).body).toContain('&lt;/script>&lt;script>alert(1)&lt;/script>');

    portal.sim.givenUser({
      username: 'img.user',
      name: '<img src=x onerror=alert(1)>',
      email: 'img@partner.example',
      external: true,
      custom_attributes: { extern_sponsor_username: '<b>bob</b>' },
    });
    const existing = await alice.form('/sponsorships', {
      ...valid,
      username: 'img.two',
      email: 'img@partner.example',
      form_token: await formToken(alice),
    });
    expect(existing.status).toBe(422);
    expect(existing.body).toContain('&lt;img src=x onerror=alert(1)>');
    expect(existing.body).toContain('@&lt;b>bob&lt;/b>');
    expect(existing.body).not.toContain('<img');
  });

  it('a double submit and a resubmit after going back create one user and lead to one result', async () => {
    const token = await formToken(alice);
    const body = { ...valid, form_token: token };
    const [first, second] = await Promise.all([
      alice.form('/sponsorships', body),
      alice.form('/sponsorships', body),
    ]);
    expect(first.status).toBe(303);
    expect(second.status).toBe(303);
    expect(second.location).toBe(first.location);
    const again = await alice.form('/sponsorships', body);
    expect(again.location).toBe(first.location);
    expect(portal.sim.requests(CREATE_USER)).toHaveLength(1);

    const changed = await alice.form('/sponsorships', { ...body, email: 'other@partner.example' });
    expect(changed.status).toBe(422);
    expect(changed.body).toContain('already submitted');
    const fresh = scrapeForms(changed.body).find((f) => 'form_token' in f.fields)!;
    expect(fresh.fields.form_token).not.toBe(token);
    expect(fresh.fields.email).toBe('other@partner.example');
  });

  it('refuses an internal user’s e-mail and shows an existing external account with its sponsor', async () => {
    const internal = await alice.form('/sponsorships', {
      ...valid,
      email: 'bob@research.example',
      form_token: await formToken(alice),
    });
    expect(internal.status).toBe(422);
    expect(textOf(internal.body, 'f-email-error')).toContain('internal accounts are never converted');
    expect(portal.sim.user('bob')).toMatchObject({ external: false, state: 'active' });

    const external = await alice.form('/sponsorships', {
      ...valid,
      email: 'eve@partner.example',
      form_token: await formToken(alice),
    });
    expect(external.status).toBe(422);
    expect(external.body).toContain('This person already has a GitLab account');
    expect(external.body).toContain(`href="${portal.sim.url}/eve"`);
    expect(external.body).toContain('sponsored by <strong>@alice</strong>');
    // GitLab refused both POSTs as conflicts; the lookups after each explain them.
    expect(portal.sim.requests(CREATE_USER).map((r) => r.status)).toEqual([409, 409]);
    expect(portal.sim.user('eve')).toMatchObject({ state: 'active' });
  });

  it('a taken username comes back with free suggestions, and "Suggest" works without JavaScript', async () => {
    const taken = await alice.form('/sponsorships', {
      ...valid,
      username: 'bob',
      form_token: await formToken(alice),
    });
    expect(taken.status).toBe(422);
    expect(textOf(taken.body, 'f-username-error')).toContain('already taken');
    expect(taken.body).toContain('<code>jane.doe</code>');

    const suggested = await alice.form('/sponsorships', {
      name: 'Jane Doe',
      email: 'jane.doe@partner.example',
      username: '',
      intent: 'suggest',
      form_token: await formToken(alice),
    });
    expect(suggested.status).toBe(200);
    expect(suggested.body).toContain('These usernames are free in GitLab');
    expect(suggested.body).toContain('<code>jane.doe</code>');
    expect(scrapeForms(suggested.body).find((f) => 'form_token' in f.fields)?.fields.name).toBe('Jane Doe');
    expect(portal.sim.requests(CREATE_USER).map((r) => r.status)).toEqual([409]);
  });

  it('checks usernames live as JSON for signed-in sponsors only', async () => {
    const res = await alice.get(
      '/sponsorships/username-check?username=bob&name=Jane%20Doe&email=jane@x.example',
      {
        headers: { accept: 'application/json' },
      },
    );
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    const body = JSON.parse(res.body);
    expect(body).toMatchObject({ username: 'bob', available: false, problems: [] });
    expect(body.suggestions).toContain('jane');

    const visitor = await portal.client().get('/sponsorships/username-check?username=bob', {
      headers: { accept: 'application/json' },
    });
    expect(visitor.status).toBe(401);
    expect(visitor.headers['content-type']).toContain('application/problem+json');
  });

  it('GitLab unavailable: the form comes back with the input and a clear message, nothing created', async () => {
    portal.sim.failNext(CREATE_USER, { status: 503, body: { message: '503 Service Unavailable' } }, 2);
    const token = await formToken(alice);
    const res = await alice.form('/sponsorships', { ...valid, form_token: token });
    expect(res.status).toBe(503);
    expect(res.body).toContain('Nothing was created');
    const form = scrapeForms(res.body).find((f) => 'form_token' in f.fields)!;
    expect(form.fields).toMatchObject({ username: 'jane.doe', email: 'jane.doe@partner.example' });
    expect(form.fields.form_token).not.toBe(token);
    expect(portal.sim.user('jane.doe')).toBeUndefined();
  });

  it('a lost answer from GitLab still ends on a ready account, created once', async () => {
    portal.sim.resetAfterApplyNext(CREATE_USER);
    const res = await alice.form('/sponsorships', { ...valid, form_token: await formToken(alice) });
    expect(res.status).toBe(303);
    const page = await alice.follow(res);
    expect(page.body).toContain('The account is ready');
    expect(portal.sim.requests(CREATE_USER)).toHaveLength(1);
    const [adopted] = await portal.audit('sponsorship.create');
    expect(adopted?.outcome).toBe('adopted_after_ambiguous_response');
  });

  it('a form without the CSRF token is refused and creates nothing', async () => {
    const res = await alice.form(
      '/sponsorships',
      { ...valid, form_token: await formToken(alice) },
      { csrf: null },
    );
    expect(res.status).toBe(403);
    expect(portal.sim.requests(CREATE_USER)).toEqual([]);
  });

  it('another sponsor cannot see alice’s result page', async () => {
    const res = await alice.form('/sponsorships', { ...valid, form_token: await formToken(alice) });
    const bob = await portal.signIn('bob');
    const page = await bob.get(res.location!);
    expect(page.status).toBe(404);
    expect(page.body).not.toContain('jane.doe');
    expect((await bob.get('/')).body).not.toContain('jane.doe');
    expect((await alice.get(res.location!)).status).toBe(200);
  });
});
