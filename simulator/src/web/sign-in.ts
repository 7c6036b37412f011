import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DAY_MS } from '../clock.js';
import type { SimContext } from '../context.js';
import { requestParams } from '../http/app.js';
import {
  RESET_PASSWORD_WITHIN_DAYS,
  sendPasswordChanged,
  sendResetPasswordInstructions,
} from '../mail/user-mails.js';
import { hashPassword, urlSafeToken, verifyPassword } from '../model/secrets.js';
import type { User } from '../model/types.js';
import { passwordLengthErrors } from '../model/user-rules.js';
import {
  errorList,
  formFields,
  hiddenField,
  html,
  page,
  redirect,
  sendCsrfRejected,
  sendHtml,
} from './html.js';
import {
  type BrowserSession,
  csrfValid,
  ensureSession,
  loadSession,
  setFlash,
  signInSession,
  signOutSession,
  takeFlash,
} from './session.js';

/**
 * GitLab's web sign-in and account pages, as Devise drives them (`app/controllers/sessions_controller.rb`,
 * `passwords_controller.rb`, `confirmations_controller.rb`, Devise's failure app and
 * `config/locales/devise.en.yml`), plus a small dashboard at `/`.
 */

const MESSAGES = {
  invalid: 'Invalid login or password.',
  blocked:
    'Your account has been blocked. Please contact your GitLab administrator if you think this is an error.',
  pendingApproval:
    'Your account is pending approval from your GitLab administrator and hence blocked. Please contact your GitLab administrator if you think this is an error.',
  alreadySignedIn: 'You are already signed in.',
  signedOut: 'Signed out successfully.',
  noResetToken:
    "You can't access this page without coming from a password reset email. If you do come from a password reset email, please make sure you used the full URL provided.",
  passwordChanged: 'Your password has been changed successfully.',
  resetInstructions:
    'If your email address exists in our database, you will receive a password recovery link at your email address in a few minutes.',
  confirmed: 'Your email address has been successfully confirmed.',
};

function userParams(params: Record<string, unknown>): Record<string, unknown> {
  const user = params.user;
  return user && typeof user === 'object' && !Array.isArray(user) ? (user as Record<string, unknown>) : {};
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** Rack::MethodOverride: a POSTed form's `_method`. */
function overriddenMethod(req: FastifyRequest, params: Record<string, unknown>): string {
  const m = params._method;
  return req.method === 'POST' && typeof m === 'string' ? m.toUpperCase() : req.method;
}

function pageUser(user: User | undefined) {
  return user ? { name: user.name, username: user.username } : null;
}

// ------------------------------------------------------------------ sign in

function signInPage(session: BrowserSession, opts: { login?: string; alert?: string } = {}): string {
  const flash = takeFlash(session) ?? {};
  if (opts.alert) flash.alert = opts.alert;
  return page({
    title: 'Sign in',
    flash,
    body: html`<div class="card">
<h1>Sign in to GitLab</h1>
<form method="post" action="/users/sign_in" id="new_user">
${formFields(session.data.csrfToken)}
<label for="user_login">Username or primary email</label>
<input type="text" name="user[login]" id="user_login" value="${opts.login ?? ''}" autocomplete="username" autofocus required>
<label for="user_password">Password</label>
<input type="password" name="user[password]" id="user_password" autocomplete="current-password" required>
<label class="check"><input type="checkbox" name="user[remember_me]" value="1"> Remember me</label>
<button class="btn btn-confirm btn-block" type="submit" data-testid="sign-in-button">Sign in</button>
</form>
<p><a href="/users/password/new">Forgot your password?</a></p>
</div>`,
  });
}

/** Devise's `require_no_authentication`: signed-in users are sent home. */
function alreadySignedIn(sim: SimContext, reply: FastifyReply, session: BrowserSession) {
  setFlash(session, { alert: MESSAGES.alreadySignedIn });
  return redirect(reply, sim.store.baseUrl, '/');
}

/** `User.find_for_database_authentication`: the login is a username or an e-mail address. */
function findByLogin(sim: SimContext, login: string): User | undefined {
  if (login === '') return undefined;
  return sim.store.findUserByUsername(login) ?? sim.store.findUserByEmail(login);
}

/**
 * Why a user who gave the right password still may not sign in (`User#active_for_authentication?`
 * and `#inactive_message`); undefined when they may.
 */
function inactiveMessage(user: User): string | undefined {
  switch (user.state) {
    case 'blocked_pending_approval':
      return MESSAGES.pendingApproval;
    case 'blocked':
    case 'ldap_blocked':
    case 'banned':
      return MESSAGES.blocked;
    default:
      return undefined;
  }
}

async function createSession(sim: SimContext, req: FastifyRequest, reply: FastifyReply) {
  const params = requestParams(req);
  const session = ensureSession(sim, req, reply);
  if (!csrfValid(session, params)) return sendCsrfRejected(reply);
  if (session.user) return alreadySignedIn(sim, reply, session);
  const input = userParams(params);
  const login = text(input.login).trim();
  const password = text(input.password);
  const user = findByLogin(sim, login);
  // Devise's failure app re-renders the form (`recall`); users whose password was generated for them
  // (created with `reset_password`) have none they could know.
  const valid =
    user !== undefined &&
    user.userType === 'human' &&
    !user.passwordAutomaticallySet &&
    !user.locked &&
    verifyPassword(password, user.passwordHash);
  if (!valid) return sendHtml(reply, 200, signInPage(session, { login, alert: MESSAGES.invalid }));
  const inactive = inactiveMessage(user);
  if (inactive) return sendHtml(reply, 200, signInPage(session, { login, alert: inactive }));
  // Signing in reactivates a deactivated account.
  if (user.state === 'deactivated') sim.store.updateUser(user, { state: 'active' });
  sim.store.recordSignIn(user, req.ip);
  const returnTo = session.data.returnTo;
  signInSession(sim, reply, user, session);
  return redirect(reply, sim.store.baseUrl, returnTo ?? '/');
}

async function destroySession(sim: SimContext, req: FastifyRequest, reply: FastifyReply) {
  const params = requestParams(req);
  const session = loadSession(sim, req);
  if (!csrfValid(session, params)) return sendCsrfRejected(reply);
  const fresh = signOutSession(sim, reply, session);
  setFlash(fresh, { notice: MESSAGES.signedOut });
  return redirect(reply, sim.store.baseUrl, '/users/sign_in');
}

// ------------------------------------------------------------------ passwords

function forgotPasswordPage(session: BrowserSession): string {
  return page({
    title: 'Forgot your password?',
    flash: takeFlash(session),
    body: html`<div class="card">
<h1>Reset your password</h1>
<p class="muted">Enter your email address and we'll send you a link to reset your password.</p>
<form method="post" action="/users/password">
${formFields(session.data.csrfToken)}
<label for="user_email">Email</label>
<input type="email" name="user[email]" id="user_email" autocomplete="email" required>
<button class="btn btn-confirm btn-block" type="submit">Reset password</button>
</form>
<p><a href="/users/sign_in">Cancel</a></p>
</div>`,
  });
}

function editPasswordPage(session: BrowserSession, token: string, errors: string[] = []): string {
  return page({
    title: 'Change your password',
    flash: takeFlash(session),
    body: html`<div class="card">
<h1>Change your password</h1>
${errorList(errors)}
<form method="post" action="/users/password">
${formFields(session.data.csrfToken, 'put')}
${hiddenField('user[reset_password_token]', token)}
<label for="user_password">New password</label>
<input type="password" name="user[password]" id="user_password" autocomplete="new-password" required>
<label for="user_password_confirmation">Confirm new password</label>
<input type="password" name="user[password_confirmation]" id="user_password_confirmation" autocomplete="new-password" required>
<button class="btn btn-confirm btn-block" type="submit">Change your password</button>
</form>
</div>`,
  });
}

/** Devise validatable on a password reset: presence, confirmation, then length (blank skips it). */
function passwordErrors(sim: SimContext, password: string, confirmation: string): string[] {
  const errors: string[] = [];
  if (password === '') errors.push("Password can't be blank");
  if (password !== confirmation) errors.push("Password confirmation doesn't match Password");
  if (password !== '') {
    for (const m of passwordLengthErrors(password, sim.settings)) errors.push(`Password ${m}`);
  }
  return errors;
}

/** `PasswordsController#edit`: needs the token from the mail link; signed-in users are sent home. */
async function editPassword(sim: SimContext, req: FastifyRequest, reply: FastifyReply) {
  const session = ensureSession(sim, req, reply);
  if (session.user) return alreadySignedIn(sim, reply, session);
  const token = text(requestParams(req).reset_password_token);
  if (token === '') {
    setFlash(session, { alert: MESSAGES.noResetToken });
    return redirect(reply, sim.store.baseUrl, '/users/sign_in');
  }
  return sendHtml(reply, 200, editPasswordPage(session, token));
}

/**
 * `PasswordsController#update` (Devise `reset_password_by_token` + GitLab's override): the token
 * is single-use and valid for two days; the new password clears `password_automatically_set` and the
 * password expiry, unlocks the account and, since the mail reached the user, confirms the address.
 */
async function updatePassword(sim: SimContext, req: FastifyRequest, reply: FastifyReply) {
  const params = requestParams(req);
  const session = ensureSession(sim, req, reply);
  if (!csrfValid(session, params)) return sendCsrfRejected(reply);
  if (session.user) return alreadySignedIn(sim, reply, session);
  const input = userParams(params);
  const token = text(input.reset_password_token);
  const password = text(input.password);
  const confirmation = text(input.password_confirmation);
  const user = token === '' ? undefined : sim.store.findUserByResetPasswordToken(token);
  let errors: string[];
  if (!user) errors = ['Reset password token is invalid'];
  else if ((user.resetPasswordSentAt ?? 0) + RESET_PASSWORD_WITHIN_DAYS * DAY_MS <= sim.clock.nowMs()) {
    errors = ['Reset password token has expired, please request a new one'];
  } else errors = passwordErrors(sim, password, confirmation);
  if (!user || errors.length > 0) return sendHtml(reply, 200, editPasswordPage(session, token, errors));
  sim.store.updateUser(user, {
    passwordHash: hashPassword(password),
    passwordAutomaticallySet: false,
    passwordExpiresAt: null,
    resetPasswordToken: null,
    resetPasswordSentAt: null,
    locked: false,
    confirmedAt: user.confirmedAt ?? sim.clock.nowMs(),
  });
  sendPasswordChanged(sim.store, user);
  setFlash(session, { notice: MESSAGES.passwordChanged });
  return redirect(reply, sim.store.baseUrl, '/users/sign_in');
}

/**
 * `PasswordsController#create` ("Forgot your password?"): a reset link is mailed to a known address;
 * the answer is the same either way (Devise paranoid mode).
 */
async function createPasswordReset(sim: SimContext, req: FastifyRequest, reply: FastifyReply) {
  const params = requestParams(req);
  const session = ensureSession(sim, req, reply);
  if (!csrfValid(session, params)) return sendCsrfRejected(reply);
  if (session.user) return alreadySignedIn(sim, reply, session);
  const email = text(userParams(params).email).trim();
  const user = email === '' ? undefined : sim.store.findUserByEmail(email);
  if (user && user.userType === 'human') {
    const token = urlSafeToken(20);
    sim.store.updateUser(user, { resetPasswordToken: token, resetPasswordSentAt: sim.clock.nowMs() });
    sendResetPasswordInstructions(sim.store, user, token);
  }
  setFlash(session, { notice: MESSAGES.resetInstructions });
  return redirect(reply, sim.store.baseUrl, '/users/sign_in');
}

// ------------------------------------------------------------------ confirmation

function confirmationErrorPage(session: BrowserSession, errors: string[]): string {
  return page({
    title: 'Resend confirmation instructions',
    flash: takeFlash(session),
    body: html`<div class="card"><h1>Resend confirmation instructions</h1>${errorList(errors)}
<p class="muted">Ask your GitLab administrator to send the confirmation email again.</p>
<p><a href="/users/sign_in">Sign in</a></p></div>`,
  });
}

/**
 * `ConfirmationsController#show` (Devise `confirm_by_token`): confirms the account, or a pending
 * new address (reconfirmation), then goes to sign-in (or home when signed in).
 */
async function confirm(sim: SimContext, req: FastifyRequest, reply: FastifyReply) {
  const session = ensureSession(sim, req, reply);
  const token = text(requestParams(req).confirmation_token);
  if (token === '')
    return sendHtml(reply, 200, confirmationErrorPage(session, ["Confirmation token can't be blank"]));
  const user = sim.store.findUserByConfirmationToken(token);
  if (!user) return sendHtml(reply, 200, confirmationErrorPage(session, ['Confirmation token is invalid']));
  const pending = user.unconfirmedEmail;
  if (user.confirmedAt !== null && !pending) {
    return sendHtml(
      reply,
      200,
      confirmationErrorPage(session, ['Email was already confirmed, please try signing in']),
    );
  }
  if (pending && sim.store.emailTaken(pending, user.id)) {
    return sendHtml(reply, 200, confirmationErrorPage(session, ['Email has already been taken']));
  }
  const now = sim.clock.nowMs();
  sim.store.updateUser(
    user,
    pending ? { email: pending, unconfirmedEmail: null, confirmedAt: now } : { confirmedAt: now },
  );
  setFlash(session, { notice: MESSAGES.confirmed });
  return redirect(reply, sim.store.baseUrl, session.user ? '/' : '/users/sign_in');
}

// ------------------------------------------------------------------ dashboard

function dashboardPage(sim: SimContext, session: BrowserSession): string {
  const user = session.user;
  const base = sim.store.baseUrl;
  const links = html`<h2>Simulator</h2><ul class="links">
<li><a href="/-/sim/mail">Sent mail</a> (set-password and confirmation links)</li>
<li><a href="/api/v4/version">REST API</a> <code>${base}/api/v4</code></li>
<li><a href="/.well-known/openid-configuration">OpenID Connect discovery</a></li>
</ul>`;
  if (!user) {
    return page({
      title: 'Welcome',
      wide: true,
      flash: takeFlash(session),
      body: html`<div class="card"><h1>Welcome to GitLab</h1><p>You are not signed in.</p>
<p><a class="btn btn-confirm" href="/users/sign_in">Sign in</a></p>${links}</div>`,
    });
  }
  return page({
    title: 'Dashboard',
    wide: true,
    user: pageUser(user),
    flash: takeFlash(session),
    body: html`<div class="card"><h1>Welcome, ${user.name}</h1>
<dl>
<dt>Username</dt><dd>@${user.username}</dd>
<dt>Email</dt><dd>${user.email}</dd>
<dt>User ID</dt><dd>${user.id}</dd>
<dt>State</dt><dd>${user.state}</dd>
<dt>External</dt><dd>${user.external ? 'yes' : 'no'}</dd>
<dt>Administrator</dt><dd>${user.admin ? 'yes' : 'no'}</dd>
</dl>
<div class="actions"><form method="post" action="/users/sign_out">${formFields(session.data.csrfToken)}<button class="btn" type="submit">Sign out</button></form></div>
${links}</div>`,
  });
}

export function registerSignInRoutes(app: FastifyInstance, sim: SimContext): void {
  app.get('/users/sign_in', async (req, reply) => {
    const session = ensureSession(sim, req, reply);
    if (session.user) return alreadySignedIn(sim, reply, session);
    return sendHtml(reply, 200, signInPage(session));
  });
  app.post('/users/sign_in', (req, reply) => createSession(sim, req, reply));

  app.post('/users/sign_out', (req, reply) => destroySession(sim, req, reply));
  app.delete('/users/sign_out', (req, reply) => destroySession(sim, req, reply));

  app.get('/users/password/new', async (req, reply) => {
    const session = ensureSession(sim, req, reply);
    if (session.user) return alreadySignedIn(sim, reply, session);
    return sendHtml(reply, 200, forgotPasswordPage(session));
  });
  app.get('/users/password/edit', (req, reply) => editPassword(sim, req, reply));
  const password = (req: FastifyRequest, reply: FastifyReply) => {
    const method = overriddenMethod(req, requestParams(req));
    return method === 'PUT' || method === 'PATCH'
      ? updatePassword(sim, req, reply)
      : createPasswordReset(sim, req, reply);
  };
  app.post('/users/password', password);
  app.put('/users/password', password);
  app.patch('/users/password', password);

  app.get('/users/confirmation', (req, reply) => confirm(sim, req, reply));

  app.get('/', async (req, reply) =>
    sendHtml(reply, 200, dashboardPage(sim, ensureSession(sim, req, reply))),
  );
}
