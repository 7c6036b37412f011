import { describe, expect, it } from 'vitest';
import { verifyPassword } from '../src/model/secrets.js';
import { post, useSimulator } from './helpers.js';

const valid = (extra: Record<string, unknown> = {}) => ({
  email: 'new.person@partner.test',
  username: 'new.person',
  name: 'New Person',
  password: 'Zq8!vLm2#rT5',
  skip_confirmation: true,
  ...extra,
});

describe('POST /users — Grape validation and authorization (lib/api/users.rb)', () => {
  const sim = useSimulator();

  it('no params → every Grape error in declaration order — lib/api/users.rb params', async () => {
    const res = await post(sim(), '/users', {});
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error:
        'email is missing, password, reset_password, force_random_password are missing, at least one parameter must be provided, name is missing, username is missing',
    });
  });

  it('no password option → 400 at_least_one_of — lib/api/users.rb', async () => {
    const { password: _p, ...rest } = valid();
    const res = await post(sim(), '/users', rest);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error:
        'password, reset_password, force_random_password are missing, at least one parameter must be provided',
    });
  });

  it('a non-integer projects_limit → 400 "projects_limit is invalid" — Grape coercion', async () => {
    const res = await post(sim(), '/users', valid({ projects_limit: 'lots' }));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'projects_limit is invalid' });
  });

  it('anonymous → 401 before any validation — authenticate_non_get!', async () => {
    const res = await post(sim(), '/users', {}, { token: null });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ message: '401 Unauthorized' });
  });

  it('a non-admin gets the 400 for bad params but 403 for complete ones — authenticated_as_admin! runs in the body', async () => {
    const s = sim();
    const token = s.givenToken(s.givenUser({ username: 'alice' }));
    expect((await post(s, '/users', {}, { token })).status).toBe(400);
    const res = await post(s, '/users', valid(), { token });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ message: '403 Forbidden' });
  });
});

describe('POST /users — creation (app/services/users/build_service.rb, create_service.rb)', () => {
  const sim = useSimulator();

  it('201 with UserWithAdmin; created_by is the caller — Users::BuildService', async () => {
    const s = sim();
    const res = await post(s, '/users', valid({ note: 'sponsored by root' }));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      username: 'new.person',
      name: 'New Person',
      email: 'new.person@partner.test',
      state: 'active',
      is_admin: false,
      external: false,
      note: 'sponsored by root',
      projects_limit: s.settings.defaultProjectsLimit,
      can_create_group: true,
      created_by: { id: 1, username: 'root', name: 'Administrator' },
    });
    expect(res.body.confirmed_at).toEqual(expect.any(String));
    const user = s.user('new.person')!;
    expect(user.createdById).toBe(1);
    expect(verifyPassword('Zq8!vLm2#rT5', user.passwordHash)).toBe(true);
  });

  it('the e-mail is stored lower-cased and the name stripped of tags — Devise case_insensitive_keys, User#sanitize_name', async () => {
    const s = sim();
    const res = await post(
      s,
      '/users',
      valid({ email: ' New.Person@Partner.TEST ', name: ' <b>New</b> Person ' }),
    );
    expect(res.status).toBe(201);
    expect(res.body.email).toBe('new.person@partner.test');
    expect(res.body.name).toBe('-New- Person');
  });

  it('params outside admin_create_params are ignored — Users::BuildService#admin_create_params', async () => {
    const s = sim();
    const res = await post(
      s,
      '/users',
      valid({ state: 'blocked', pronouns: 'they/them', id: 999, user_type: 'ghost' }),
    );
    expect(res.status).toBe(201);
    expect(res.body.state).toBe('active');
    expect(res.body.pronouns).toBeNull();
    expect(res.body.id).not.toBe(999);
    expect(res.body.bot).toBe(false);
  });

  it('extern_uid + provider create an identity — Users::BuildService identity_params', async () => {
    const res = await post(sim(), '/users', valid({ extern_uid: 'E-7', provider: 'saml' }));
    expect(res.body.identities).toEqual([{ provider: 'saml', extern_uid: 'E-7' }]);
  });

  it('private_profile and can_create_group default from the instance settings — ApplicationSetting', async () => {
    const s = sim();
    s.settings.userDefaultsToPrivateProfile = true;
    s.settings.canCreateGroup = false;
    const res = await post(s, '/users', valid());
    expect(res.body).toMatchObject({ private_profile: true, can_create_group: false });
  });
});

describe('POST /users — passwords and mails (app/services/users/build_service.rb, app/mailers/emails/profile.rb)', () => {
  const sim = useSimulator();

  it('reset_password=true → random password and the "Account was created for you" mail with a reset link — Notify#new_user_email', async () => {
    const s = sim();
    s.clock.freeze();
    const { password: _p, ...rest } = valid({ reset_password: true });
    const res = await post(s, '/users', rest);
    expect(res.status).toBe(201);
    const user = s.user('new.person')!;
    expect(user.resetPasswordToken).toEqual(expect.any(String));
    expect(user.resetPasswordSentAt).toBe(s.clock.nowMs());
    expect(user.passwordHash).not.toBeNull();
    expect(user.passwordExpiresAt).toBeNull();
    const [mail] = s.mails({ kind: 'new_user' });
    expect(mail).toMatchObject({ to: 'new.person@partner.test', subject: 'Account was created for you' });
    expect(mail!.resetLink).toBe(
      `${s.url}/users/password/edit?reset_password_token=${user.resetPasswordToken}`,
    );
    expect(mail!.text).toContain(mail!.resetLink!);
  });

  it('reset_password=false alone → 400 password can’t be blank — Devise validatable', async () => {
    const { password: _p, ...rest } = valid({ reset_password: false });
    const res = await post(sim(), '/users', rest);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: { password: ["can't be blank"] } });
  });

  it('force_random_password sets a password nobody knows and sends no new-user mail — User.random_password', async () => {
    const s = sim();
    const { password: _p, ...rest } = valid({ force_random_password: true });
    expect((await post(s, '/users', rest)).status).toBe(201);
    expect(s.user('new.person')!.passwordHash).not.toBeNull();
    expect(s.mails()).toEqual([]);
  });

  it('reset_password wins over an explicit password — lib/api/users.rb docs', async () => {
    const s = sim();
    await post(s, '/users', valid({ reset_password: true }));
    expect(verifyPassword('Zq8!vLm2#rT5', s.user('new.person')!.passwordHash)).toBe(false);
  });

  it('without skip_confirmation the user is unconfirmed and gets Devise confirmation instructions — Devise confirmable', async () => {
    const s = sim();
    const res = await post(s, '/users', valid({ skip_confirmation: undefined }));
    expect(res.body.confirmed_at).toBeNull();
    const user = s.user('new.person')!;
    expect(user.confirmedAt).toBeNull();
    const [mail] = s.mails({ kind: 'confirmation' });
    expect(mail).toMatchObject({ to: 'new.person@partner.test', subject: 'Confirmation instructions' });
    expect(mail!.confirmationLink).toBe(
      `${s.url}/users/confirmation?confirmation_token=${user.confirmationToken}`,
    );
  });

  it('skip_confirmation=true sends no mail at all — User#skip_confirmation=', async () => {
    const s = sim();
    await post(s, '/users', valid());
    expect(s.mails()).toEqual([]);
    expect(s.user('new.person')!.confirmationToken).toBeNull();
  });

  it('mail HTML escapes user-provided values — app/views/notify/new_user_email.html.haml', async () => {
    const s = sim();
    const { password: _p, ...rest } = valid({ reset_password: true, name: 'Eve "&" Co' });
    await post(s, '/users', rest);
    const [mail] = s.mails({ kind: 'new_user' });
    expect(mail!.html).toContain('Eve &quot;&amp;&quot; Co');
    expect(mail!.html).not.toContain('"&"');
  });

  it('the minimum password length comes from the instance setting — ApplicationSetting#minimum_password_length', async () => {
    const s = sim();
    s.settings.minimumPasswordLength = 12;
    const res = await post(s, '/users', valid({ password: 'Zq8!vLm2#rT' }));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: { password: ['is too short (minimum is 12 characters)'] } });
  });

  it('a password containing the username or "gitlab" is weak — Security::WeakPasswords', async () => {
    const s = sim();
    const res = await post(s, '/users', valid({ password: 'my-gitlab-pass-1' }));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      message: { password: ['must not contain commonly used combinations of words and letters'] },
    });
    expect((await post(s, '/users', valid({ password: 'xNEW.PERSONx9' }))).status).toBe(400);
  });
});

describe('POST /users — conflicts and model errors (lib/api/users.rb, app/models/user.rb)', () => {
  const sim = useSimulator();

  it('a taken e-mail → 409 "Email has already been taken", checked before the username — lib/api/users.rb', async () => {
    const s = sim();
    s.givenUser({ username: 'new.person', email: 'new.person@partner.test' });
    const res = await post(s, '/users', valid({ email: 'NEW.PERSON@partner.test' }));
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ message: 'Email has already been taken' });
  });

  it('a taken username (any case) → 409 "Username has already been taken" — User.by_username', async () => {
    const s = sim();
    s.givenUser({ username: 'New.Person', email: 'other@partner.test' });
    const res = await post(s, '/users', valid());
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ message: 'Username has already been taken' });
  });

  it('the 409 wins even when other attributes are invalid too — lib/api/users.rb', async () => {
    const s = sim();
    s.givenUser({ username: 'someone', email: 'new.person@partner.test' });
    const res = await post(s, '/users', valid({ password: 'short' }));
    expect(res.status).toBe(409);
  });

  it('an unconfirmed secondary e-mail of another user → 400, not 409 — User#unique_email', async () => {
    const s = sim();
    const other = s.givenUser({ username: 'other' });
    s.store.updateUser(other, { secondaryEmails: [{ email: 'new.person@partner.test', confirmedAt: null }] });
    const res = await post(s, '/users', valid());
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: { email: ['has already been taken'] } });
  });

  it('several invalid attributes → one 400 hash — render_validation_error!', async () => {
    const res = await post(
      sim(),
      '/users',
      valid({ password: 'pass', username: 'test!', bio: 'g'.repeat(256), projects_limit: -1 }),
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      message: {
        password: ['is too short (minimum is 8 characters)'],
        username: [
          "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-' or end in '.', '.git' or '.atom'.",
          "can only include non-accented letters, digits, '_', '-' and '.'. It must not start with '-', '_', or '.', nor end with '-', '_', '.', '.git', or '.atom'.",
        ],
        projects_limit: ['must be greater than or equal to 0'],
        bio: ['is too long (maximum is 255 characters)'],
      },
    });
  });

  it('a reserved name → "<name> is a reserved name" — Gitlab::PathRegex::TOP_LEVEL_ROUTES', async () => {
    const res = await post(sim(), '/users', valid({ username: 'admin' }));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: { username: ['admin is a reserved name'] } });
  });

  it('a username used by a group → base error — User#set_username_errors', async () => {
    const s = sim();
    s.givenGroup({ path: 'new.person' });
    const res = await post(s, '/users', valid());
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      message: { base: ['A user, alias, or group already exists with that username.'] },
    });
  });

  it('an invalid e-mail → 400 "is invalid" — Devise email_regexp', async () => {
    const res = await post(sim(), '/users', valid({ email: 'not an email' }));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: { email: ['is invalid'] } });
  });

  it('public_email must be a verified address of the user — User#public_email_verified', async () => {
    const s = sim();
    const bad = await post(
      s,
      '/users',
      valid({ skip_confirmation: false, public_email: 'new.person@partner.test' }),
    );
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ message: { public_email: ['must be an email you have verified'] } });
    const ok = await post(s, '/users', valid({ public_email: 'new.person@partner.test' }));
    expect(ok.body.public_email).toBe('new.person@partner.test');
  });

  it('an unknown theme_id → 400 "<id> is not a valid theme" — User theme_id inclusion', async () => {
    const res = await post(sim(), '/users', valid({ theme_id: 50 }));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: { theme_id: ['50 is not a valid theme'] } });
  });
});

describe('POST /users — external users (app/models/user.rb#ensure_user_rights_and_limits, build_service.rb)', () => {
  const sim = useSimulator();

  it('external=true forces projects_limit 0 and can_create_group false whatever was passed', async () => {
    const res = await post(
      sim(),
      '/users',
      valid({ external: true, projects_limit: 50, can_create_group: true }),
    );
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ external: true, projects_limit: 0, can_create_group: false });
  });

  it('user_default_external makes new users external — ApplicationSetting#user_default_external', async () => {
    const s = sim();
    s.settings.userDefaultExternal = true;
    const res = await post(s, '/users', valid());
    expect(res.body).toMatchObject({ external: true, projects_limit: 0, can_create_group: false });
  });

  it('with user_default_external on, e-mails matching user_default_internal_regex stay internal (case-insensitive)', async () => {
    const s = sim();
    s.settings.userDefaultExternal = true;
    s.settings.userDefaultInternalRegex = '@corp\\.test$';
    const internal = await post(s, '/users', valid({ email: 'Staff@CORP.test', username: 'staff' }));
    expect(internal.body.external).toBe(false);
    const external = await post(s, '/users', valid());
    expect(external.body.external).toBe(true);
  });

  it('an explicit external param wins over the regex — BuildService (!user_params.key?(:external))', async () => {
    const s = sim();
    s.settings.userDefaultExternal = true;
    s.settings.userDefaultInternalRegex = '@corp\\.test$';
    const res = await post(s, '/users', valid({ email: 'staff@corp.test', external: true }));
    expect(res.body.external).toBe(true);
  });

  it('the regex is ignored while user_default_external is off — user_default_internal_regex_enabled?', async () => {
    const s = sim();
    s.settings.userDefaultInternalRegex = '@partner\\.test$';
    const res = await post(s, '/users', valid());
    expect(res.body.external).toBe(false);
  });
});
