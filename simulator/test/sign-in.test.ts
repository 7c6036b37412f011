import { describe, expect, it } from 'vitest';
import { Browser, form, PASSWORD, signedIn } from './browser.js';
import { useSimulator } from './helpers.js';

describe('web sign-in (app/controllers/sessions_controller.rb, Devise)', () => {
  const sim = useSimulator();

  it('GET /users/sign_in renders the login form and sets _gitlab_session (HttpOnly, SameSite=Lax) — sessions_controller.rb#new', async () => {
    const browser = new Browser(sim());
    const res = await browser.get('/users/sign_in');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const f = form(res.text);
    expect(f.action).toBe('/users/sign_in');
    expect(f.method).toBe('POST');
    expect(Object.keys(f.fields)).toEqual(['authenticity_token', 'user[login]', 'user[password]']);
    expect(f.fields.authenticity_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const cookie = res.headers.getSetCookie()[0]!;
    expect(cookie).toMatch(/^_gitlab_session=[A-Za-z0-9_-]+; path=\/; HttpOnly; SameSite=Lax$/);
  });

  it('a right username and password sign in and redirect to / — Devise sessions#create', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', name: 'Alice Liddell', password: PASSWORD });
    const browser = new Browser(s);
    const res = await browser.signIn('alice', PASSWORD);
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${s.url}/`);
    const session = s.store.webSessions.get(browser.sessionCookie!);
    expect(session?.userId).toBe(alice.id);
    const home = await browser.get('/');
    expect(home.text).toContain('Welcome, Alice Liddell');
  });

  it('the login may be the e-mail address, in any case — User.find_for_database_authentication', async () => {
    const s = sim();
    s.givenUser({ username: 'alice', email: 'alice@example.org', password: PASSWORD });
    const res = await new Browser(s).signIn('ALICE@example.org', PASSWORD);
    expect(res.status).toBe(302);
  });

  it.each([
    ['a wrong password', 'alice', 'wrong-password'],
    ['an unknown login', 'nobody', PASSWORD],
  ])(
    '%s re-renders the form with "Invalid login or password." — Devise failure app (recall)',
    async (_, login, password) => {
      const s = sim();
      s.givenUser({ username: 'alice', password: PASSWORD });
      const browser = new Browser(s);
      const res = await browser.signIn(login, password);
      expect(res.status).toBe(200);
      expect(res.text).toContain('Invalid login or password.');
      expect(form(res.text).fields['user[login]']).toBe(login);
      expect(s.store.webSessions.size).toBe(0);
    },
  );

  it.each([
    [
      'blocked',
      'Your account has been blocked. Please contact your GitLab administrator if you think this is an error.',
    ],
    [
      'banned',
      'Your account has been blocked. Please contact your GitLab administrator if you think this is an error.',
    ],
    [
      'blocked_pending_approval',
      'Your account is pending approval from your GitLab administrator and hence blocked. Please contact your GitLab administrator if you think this is an error.',
    ],
  ] as const)(
    "a %s user is refused with GitLab's message — User#inactive_message",
    async (state, message) => {
      const s = sim();
      s.givenUser({ username: 'mallory', password: PASSWORD, state });
      const res = await new Browser(s).signIn('mallory', PASSWORD);
      expect(res.status).toBe(200);
      expect(res.text).toContain(message);
      expect(s.store.webSessions.size).toBe(0);
    },
  );

  it('a deactivated user is reactivated by signing in — app/models/user.rb (deactivated users may log in)', async () => {
    const s = sim();
    const dormant = s.givenUser({ username: 'dormant', password: PASSWORD, state: 'deactivated' });
    const res = await new Browser(s).signIn('dormant', PASSWORD);
    expect(res.status).toBe(302);
    expect(dormant.state).toBe('active');
  });

  it('a user whose password was set automatically cannot sign in — password_automatically_set', async () => {
    const s = sim();
    const u = s.givenUser({ username: 'newbie', password: PASSWORD });
    u.passwordAutomaticallySet = true;
    const res = await new Browser(s).signIn('newbie', PASSWORD);
    expect(res.status).toBe(200);
    expect(res.text).toContain('Invalid login or password.');
  });

  it('signing in records the sign-in (current/last sign-in time and IP) — Devise trackable', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', password: PASSWORD });
    const before = s.clock.nowMs();
    await new Browser(s).signIn('alice', PASSWORD);
    const first = alice.currentSignInAt;
    expect(first).toBeGreaterThanOrEqual(before);
    expect(alice.currentSignInIp).toBe('127.0.0.1');
    s.advanceTime(60_000);
    await new Browser(s).signIn('alice', PASSWORD);
    expect(alice.lastSignInAt).toBe(first);
    expect(alice.currentSignInAt).toBeGreaterThanOrEqual(first! + 60_000);
    expect(alice.lastActivityOn).toBe(s.clock.today());
  });

  it("a POST without the session's authenticity_token is rejected with 422 — ActionController::RequestForgeryProtection", async () => {
    const s = sim();
    s.givenUser({ username: 'alice', password: PASSWORD });
    const browser = new Browser(s);
    const page = await browser.get('/users/sign_in');
    const res = await browser.submit(form(page.text), {
      authenticity_token: 'forged',
      'user[login]': 'alice',
      'user[password]': PASSWORD,
    });
    expect(res.status).toBe(422);
    expect(res.text).toContain('The change you requested was rejected');
    expect(s.store.webSessions.size).toBe(0);
  });

  it('signing in issues a new session id (no session fixation) — Devise sign_in', async () => {
    const s = sim();
    s.givenUser({ username: 'alice', password: PASSWORD });
    const browser = new Browser(s);
    await browser.get('/users/sign_in');
    const anonymous = browser.sessionCookie;
    await browser.signIn('alice', PASSWORD);
    expect(browser.sessionCookie).not.toBe(anonymous);
    expect(s.store.webSessions.has(anonymous!)).toBe(false);
  });

  it('after signing in the browser returns to the page that required it — Devise stored_location (user_return_to)', async () => {
    const s = sim();
    s.givenUser({ username: 'alice', password: PASSWORD });
    const browser = new Browser(s);
    const path = '/oauth/authorize?client_id=abc&response_type=code';
    const bounce = await browser.get(path);
    expect(bounce.status).toBe(302);
    expect(bounce.location).toBe(`${s.url}/users/sign_in`);
    const res = await browser.signIn('alice', PASSWORD);
    expect(res.location).toBe(s.url + path);
  });

  it('a signed-in user visiting the sign-in page goes home — Devise require_no_authentication', async () => {
    const s = sim();
    s.givenUser({ username: 'alice', password: PASSWORD });
    const browser = await signedIn(s, 'alice', PASSWORD);
    const res = await browser.get('/users/sign_in');
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${s.url}/`);
    expect((await browser.get('/')).text).toContain('You are already signed in.');
  });

  it('POST /users/sign_out ends the session and redirects to sign-in — Devise sessions#destroy', async () => {
    const s = sim();
    s.givenUser({ username: 'alice', password: PASSWORD });
    const browser = await signedIn(s, 'alice', PASSWORD);
    const session = browser.sessionCookie!;
    const home = await browser.get('/');
    const res = await browser.submit(form(home.text, 'Sign out'));
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${s.url}/users/sign_in`);
    expect(s.store.webSessions.has(session)).toBe(false);
    const next = await browser.follow(res);
    expect(next.text).toContain('Signed out successfully.');
  });

  it('a user blocked while signed in loses the session on the next request — Devise active_for_authentication?', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', name: 'Alice', password: PASSWORD });
    const browser = await signedIn(s, 'alice', PASSWORD);
    s.setUserState(alice, 'blocked');
    const home = await browser.get('/');
    expect(home.text).toContain('You are not signed in.');
    expect(s.store.webSessions.size).toBe(0);
  });

  it('the dashboard escapes user-provided text — app/views (HAML escapes by default)', async () => {
    const s = sim();
    s.givenUser({ username: 'alice', name: '<script>alert(1)</script>', password: PASSWORD });
    const browser = await signedIn(s, 'alice', PASSWORD);
    const home = await browser.get('/');
    expect(home.text).not.toContain('<script>alert(1)</script>');
    expect(home.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });
});

describe('set a password from the mail link (app/controllers/passwords_controller.rb, Devise recoverable)', () => {
  const sim = useSimulator();

  function userWithResetToken(token = 'reset-token-123') {
    const s = sim();
    const user = s.givenUser({ username: 'newbie', email: 'newbie@example.com', confirmed: false });
    s.store.updateUser(user, {
      passwordAutomaticallySet: true,
      resetPasswordToken: token,
      resetPasswordSentAt: s.clock.nowMs(),
    });
    return { s, user, token };
  }

  it("GET /users/password/edit without a token redirects to sign-in with Devise's no_token alert — passwords#edit", async () => {
    const browser = new Browser(sim());
    const res = await browser.get('/users/password/edit');
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${sim().url}/users/sign_in`);
    const next = await browser.follow(res);
    expect(next.text).toContain(
      'You can&#39;t access this page without coming from a password reset email. If you do come from a password reset email, please make sure you used the full URL provided.',
    );
  });

  it('the form carries the token and posts PUT /users/password via _method — passwords#edit', async () => {
    const { s, token } = userWithResetToken();
    const res = await new Browser(s).get(`/users/password/edit?reset_password_token=${token}`);
    expect(res.status).toBe(200);
    const f = form(res.text);
    expect(f.action).toBe('/users/password');
    expect(f.fields).toMatchObject({ _method: 'put', 'user[reset_password_token]': token });
    expect(f.fields).toHaveProperty('user[password]');
    expect(f.fields).toHaveProperty('user[password_confirmation]');
  });

  it('setting the password clears the token and password_automatically_set, confirms the e-mail, mails the user — passwords#update', async () => {
    const { s, user, token } = userWithResetToken();
    const browser = new Browser(s);
    const page = await browser.get(`/users/password/edit?reset_password_token=${token}`);
    const res = await browser.submit(form(page.text), {
      'user[password]': PASSWORD,
      'user[password_confirmation]': PASSWORD,
    });
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${s.url}/users/sign_in`);
    expect(user.passwordAutomaticallySet).toBe(false);
    expect(user.resetPasswordToken).toBeNull();
    expect(user.passwordExpiresAt).toBeNull();
    expect(user.confirmedAt).not.toBeNull();
    expect(s.mails({ to: 'newbie@example.com', kind: 'password_change' })).toHaveLength(1);
    expect((await browser.follow(res)).text).toContain('Your password has been changed successfully.');
    expect((await new Browser(s).signIn('newbie', PASSWORD)).status).toBe(302);
  });

  it('the token works once — Devise clears reset_password_token', async () => {
    const { s, token } = userWithResetToken();
    const browser = new Browser(s);
    const page = await browser.get(`/users/password/edit?reset_password_token=${token}`);
    const f = form(page.text);
    const fields = { 'user[password]': PASSWORD, 'user[password_confirmation]': PASSWORD };
    expect((await browser.submit(f, fields)).status).toBe(302);
    const again = await browser.get(`/users/password/edit?reset_password_token=${token}`);
    const res = await browser.submit(form(again.text), fields);
    expect(res.status).toBe(200);
    expect(res.text).toContain('Reset password token is invalid');
  });

  it('a password shorter than minimum_password_length or unconfirmed is refused with the model errors — User validations', async () => {
    const { s, user, token } = userWithResetToken();
    s.settings.minimumPasswordLength = 12;
    const browser = new Browser(s);
    const page = await browser.get(`/users/password/edit?reset_password_token=${token}`);
    const res = await browser.submit(form(page.text), {
      'user[password]': 'short1',
      'user[password_confirmation]': 'short2',
    });
    expect(res.status).toBe(200);
    expect(res.text).toContain('2 errors prohibited this user from being saved:');
    expect(res.text).toContain('Password confirmation doesn&#39;t match Password');
    expect(res.text).toContain('Password is too short (minimum is 12 characters)');
    expect(user.resetPasswordToken).toBe(token);
  });

  it('a reset token older than two days has expired — Devise reset_password_within', async () => {
    const { s, token } = userWithResetToken();
    s.advanceDays(2);
    const browser = new Browser(s);
    const page = await browser.get(`/users/password/edit?reset_password_token=${token}`);
    const res = await browser.submit(form(page.text), {
      'user[password]': PASSWORD,
      'user[password_confirmation]': PASSWORD,
    });
    expect(res.text).toContain('Reset password token has expired, please request a new one');
  });

  it('"Forgot your password?" mails a reset link, and says the same for unknown addresses — passwords#create (paranoid)', async () => {
    const s = sim();
    const alice = s.givenUser({ username: 'alice', email: 'alice@example.com', password: PASSWORD });
    for (const email of ['alice@example.com', 'nobody@example.com']) {
      const browser = new Browser(s);
      const page = await browser.get('/users/password/new');
      const res = await browser.submit(form(page.text), { 'user[email]': email });
      expect(res.location).toBe(`${s.url}/users/sign_in`);
      expect((await browser.follow(res)).text).toContain(
        'If your email address exists in our database, you will receive a password recovery link at your email address in a few minutes.',
      );
    }
    const mails = s.mails({ kind: 'reset_password' });
    expect(mails).toHaveLength(1);
    expect(mails[0]!.to).toBe('alice@example.com');
    expect(mails[0]!.resetLink).toBe(
      `${s.url}/users/password/edit?reset_password_token=${alice.resetPasswordToken}`,
    );
  });
});

describe('e-mail confirmation (app/controllers/confirmations_controller.rb, Devise confirmable)', () => {
  const sim = useSimulator();

  it('the confirmation link confirms the account and sends the browser to sign-in — confirmations#show', async () => {
    const s = sim();
    const u = s.givenUser({ username: 'newbie', confirmed: false });
    s.store.updateUser(u, { confirmationToken: 'confirm-me' });
    const browser = new Browser(s);
    const before = s.clock.nowMs();
    const res = await browser.get('/users/confirmation?confirmation_token=confirm-me');
    expect(res.status).toBe(302);
    expect(res.location).toBe(`${s.url}/users/sign_in`);
    expect(u.confirmedAt).toBeGreaterThanOrEqual(before);
    expect((await browser.follow(res)).text).toContain('Your email address has been successfully confirmed.');
  });

  it("an unknown token, and a second use, are refused with Devise's errors — Devise confirm_by_token", async () => {
    const s = sim();
    const u = s.givenUser({ username: 'newbie', confirmed: false });
    s.store.updateUser(u, { confirmationToken: 'confirm-me' });
    const unknown = await new Browser(s).get('/users/confirmation?confirmation_token=nope');
    expect(unknown.status).toBe(200);
    expect(unknown.text).toContain('Confirmation token is invalid');
    await new Browser(s).get('/users/confirmation?confirmation_token=confirm-me');
    const again = await new Browser(s).get('/users/confirmation?confirmation_token=confirm-me');
    expect(again.text).toContain('Email was already confirmed, please try signing in');
  });

  it('confirming a changed address makes it the primary e-mail — Devise reconfirmable', async () => {
    const s = sim();
    const u = s.givenUser({ username: 'alice', email: 'old@example.com' });
    s.store.updateUser(u, { unconfirmedEmail: 'new@example.com', confirmationToken: 'reconfirm' });
    await new Browser(s).get('/users/confirmation?confirmation_token=reconfirm');
    expect(u.email).toBe('new@example.com');
    expect(u.unconfirmedEmail).toBeNull();
    expect(s.store.findUserByEmail('new@example.com')).toBe(u);
  });
});
