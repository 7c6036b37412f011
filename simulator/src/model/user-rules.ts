import type { SimSettings } from '../settings.js';
import type { Store } from './store.js';
import type { UserState, UserType } from './types.js';

/**
 * GitLab's validation rules for users (`app/models/user.rb`, `app/models/namespace.rb`,
 * `app/validators/namespace_path_validator.rb`, `lib/gitlab/path_regex.rb`, `lib/gitlab/regex.rb`,
 * `lib/security/weak_passwords.rb`, Devise `validatable`). Errors come back as ActiveModel's
 * `errors.messages`: attribute → messages, attributes in the order GitLab first reports them.
 */
export type ValidationErrors = Record<string, string[]>;

/**
 * Names reserved at the top level (`Gitlab::PathRegex::TOP_LEVEL_ROUTES`, a representative list: it
 * changes between releases): a username is also the user's namespace path, and a top-level group's
 * path is one too, so neither can shadow one of GitLab's own routes.
 */
export const TOP_LEVEL_ROUTES: ReadonlySet<string> = new Set([
  '-',
  '.well-known',
  '404.html',
  '422.html',
  '500.html',
  '502.html',
  '503.html',
  'admin',
  'api',
  'apple-touch-icon.png',
  'assets',
  'dashboard',
  'deploy.html',
  'explore',
  'favicon.ico',
  'favicon.png',
  'files',
  'groups',
  'health_check',
  'help',
  'import',
  'jwt',
  'login',
  'oauth',
  'profile',
  'projects',
  'public',
  'robots.txt',
  's',
  'search',
  'sitemap',
  'sitemap.xml',
  'sitemap.xml.gz',
  'slash-command-logo.png',
  'snippets',
  'unsubscribes',
  'uploads',
  'users',
  'v2',
]);

/** Extensions of the MIME types Rails registers (`Mime::EXTENSION_LOOKUP`): `User#check_username_format`. */
export const RESERVED_FILE_EXTENSIONS: readonly string[] = [
  'html',
  'xhtml',
  'text',
  'txt',
  'js',
  'css',
  'ics',
  'csv',
  'vcf',
  'vtt',
  'png',
  'jpeg',
  'jpg',
  'jpe',
  'gif',
  'bmp',
  'tiff',
  'tif',
  'svg',
  'webp',
  'mpeg',
  'mpg',
  'mp3',
  'ogg',
  'oga',
  'm4a',
  'webm',
  'mp4',
  'otf',
  'ttf',
  'woff',
  'woff2',
  'xml',
  'rss',
  'atom',
  'yaml',
  'yml',
  'json',
  'pdf',
  'zip',
  'gz',
];

/**
 * `Gitlab::Regex.oci_repository_path_regex`, checked on every new username, group or project path:
 * alphanumeric runs joined by single `.`, `_` or `-`.
 */
export const OCI_PATH_REGEX = /^[a-zA-Z0-9]+(?:[._-][a-zA-Z0-9]+)*$/;
export const OCI_PATH_MESSAGE =
  "can only include non-accented letters, digits, '_', '-' and '.'. It must not start with '-', '_', or '.', nor end with '-', '_', '.', '.git', or '.atom'.";

/** `Gitlab::PathRegex.namespace_format_regex`, the older path check that still runs on namespaces. */
export const NAMESPACE_FORMAT_REGEX =
  /^(?:[a-zA-Z0-9_.][a-zA-Z0-9_\-.]*[a-zA-Z0-9_-]|[a-zA-Z0-9_])(?<!\.git|\.atom)$/;
export const NAMESPACE_FORMAT_MESSAGE =
  "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-' or end in '.', '.git' or '.atom'.";

export const RESERVED_EXTENSION_MESSAGE = 'ending with a reserved file extension is not allowed.';
export const USERNAME_TAKEN_BY_NAMESPACE_MESSAGE =
  'A user, alias, or group already exists with that username.';
export const WEAK_PASSWORD_MESSAGE = 'must not contain commonly used combinations of words and letters';
export const UNVERIFIED_EMAIL_MESSAGE = 'must be an email you have verified';

export const USERNAME_MIN_LENGTH = 2;
/** `Namespace::URL_MAX_LENGTH` / `User::MAX_USERNAME_LENGTH` */
export const USERNAME_MAX_LENGTH = 255;
export const NAME_MAX_LENGTH = 255;
export const BIO_MAX_LENGTH = 255;
export const PASSWORD_MAX_LENGTH = 128;
/** `Gitlab::Database::MAX_INT_VALUE` */
export const MAX_INT_VALUE = 2_147_483_647;
/** `Gitlab::Themes` ids and `Gitlab::ColorSchemes` ids. */
export const THEME_IDS: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
export const COLOR_SCHEME_IDS: readonly number[] = [1, 2, 3, 4, 5, 6];

/** Devise's `email_regexp`, which the API's e-mail validators and `Member.valid_email?` use too. */
export const EMAIL_REGEX = /^[^@\s]+@[^@\s]+$/;

/** `Security::WeakPasswords::FORBIDDEN_WORDS` and `MINIMUM_SUBSTRING_SIZE`. */
const FORBIDDEN_PASSWORD_WORDS = ['gitlab', 'devops'];
const MINIMUM_SUBSTRING_SIZE = 4;
/** The most common entries of GitLab's weak-password list (`config/weak_password_digests.yml`). */
const WEAK_PASSWORDS = new Set([
  '12345678',
  '123456789',
  '1234567890',
  '11111111',
  '00000000',
  '87654321',
  'password',
  'password1',
  'password12',
  'password123',
  'password!',
  'passw0rd',
  'p@ssw0rd',
  'p@ssword',
  'qwertyui',
  'qwertyuiop',
  'qwerty123',
  'asdfghjkl',
  'iloveyou',
  'sunshine',
  'princess',
  'football',
  'baseball',
  'welcome1',
  'welcome123',
  'letmein1',
  'abcd1234',
  'admin123',
  'administrator',
  'changeme',
  'trustno1',
  'superman',
  'starwars',
  'whatever',
  'computer',
  'internet',
  'michelle',
  'jennifer',
  '1qaz2wsx',
  'zaq12wsx',
]);

/** `User#sanitize_name` after `strip_attributes! :name`: tags and angle brackets become `-`. */
export function sanitizeName(name: string): string {
  return name.trim().replace(/<\/?[^>]*>|<|>/g, '-');
}

/** Devise `case_insensitive_keys` / `strip_whitespace_keys`: e-mails are stored stripped and lower-cased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

function push(errors: ValidationErrors, attr: string, message: string): void {
  const list = errors[attr] ?? [];
  if (!list.includes(message)) list.push(message);
  errors[attr] = list;
}

/** Format rules of a username, independent of who else uses it. */
export function usernameFormatErrors(username: string): string[] {
  const errors: ValidationErrors = {};
  if (username.trim() === '') push(errors, 'username', "can't be blank");
  if (TOP_LEVEL_ROUTES.has(username.toLowerCase()))
    push(errors, 'username', `${username} is a reserved name`);
  if (RESERVED_FILE_EXTENSIONS.some((ext) => username.endsWith(`.${ext}`)))
    push(errors, 'username', RESERVED_EXTENSION_MESSAGE);
  if (username.length < USERNAME_MIN_LENGTH)
    push(errors, 'username', `is too short (minimum is ${USERNAME_MIN_LENGTH} characters)`);
  if (username.length > USERNAME_MAX_LENGTH)
    push(errors, 'username', `is too long (maximum is ${USERNAME_MAX_LENGTH} characters)`);
  if (!NAMESPACE_FORMAT_REGEX.test(username)) push(errors, 'username', NAMESPACE_FORMAT_MESSAGE);
  if (!OCI_PATH_REGEX.test(username)) push(errors, 'username', OCI_PATH_MESSAGE);
  return errors.username ?? [];
}

export function nameErrors(name: string): string[] {
  if (name === '') return ["can't be blank"];
  if (name.length > NAME_MAX_LENGTH) return [`is too long (maximum is ${NAME_MAX_LENGTH} characters)`];
  return [];
}

/** `Security::WeakPasswords.weak_for_user?` */
export function isWeakPassword(
  password: string,
  user: { name: string; username: string; email: string },
): boolean {
  const lower = password.toLowerCase();
  const words = [...FORBIDDEN_PASSWORD_WORDS];
  for (const value of [user.name, user.username, user.email]) {
    if (!value) continue;
    words.push(value, ...value.split(/[^\p{L}\p{N}]/u));
    if (value === user.email) words.push(...value.split('@'));
  }
  if (words.some((w) => w.length >= MINIMUM_SUBSTRING_SIZE && lower.includes(w.toLowerCase()))) return true;
  return WEAK_PASSWORDS.has(lower);
}

export function passwordLengthErrors(password: string, settings: SimSettings): string[] {
  if (password.length < settings.minimumPasswordLength)
    return [`is too short (minimum is ${settings.minimumPasswordLength} characters)`];
  if (password.length > PASSWORD_MAX_LENGTH)
    return [`is too long (maximum is ${PASSWORD_MAX_LENGTH} characters)`];
  return [];
}

/** The state of a user record about to be saved, plus what changed (GitLab validates some rules on change only). */
export interface UserCandidate {
  /** Set when an existing user is being updated. */
  id?: number;
  username: string;
  name: string;
  email: string;
  /** The new password, when one is being set (`undefined` = unchanged). */
  password?: string;
  /** Devise `password_required?`: new records, or a password was assigned. */
  passwordRequired: boolean;
  /** The password is a generated one (`force_random_password`); never weak. */
  randomPassword?: boolean;
  projectsLimit: number;
  /** Only validated when assigned. */
  themeId?: number;
  colorSchemeId?: number;
  bio: string;
  publicEmail: string | null;
  commitEmail: string | null;
  /** Primary (if confirmed) and confirmed secondary e-mails: what `public_email`/`commit_email` may use. */
  verifiedEmails: readonly string[];
  changed: {
    username: boolean;
    email: boolean;
    publicEmail: boolean;
    commitEmail: boolean;
  };
}

/** The private commit e-mail placeholder (`Gitlab::PrivateCommitEmail::TOKEN`). */
export const PRIVATE_COMMIT_EMAIL = '_private';

/**
 * Runs the model validations GitLab runs on save, in GitLab's order: Devise (`email`, `password`),
 * then `User`'s own validations, the `user_detail` association (`bio`), and finally the personal
 * namespace's path errors, which `set_username_errors` copies onto `username`.
 */
export function validateUser(store: Store, c: UserCandidate): ValidationErrors {
  const errors: ValidationErrors = {};
  const { settings } = store;

  // Devise validatable
  if (c.email === '') push(errors, 'email', "can't be blank");
  else if (c.changed.email) {
    // Devise checks primary e-mails, `User#unique_email` every secondary one: same message.
    if (store.emailTaken(c.email, c.id)) push(errors, 'email', 'has already been taken');
    if (!EMAIL_REGEX.test(c.email)) push(errors, 'email', 'is invalid');
  }
  if (c.passwordRequired) {
    if (c.password === undefined || c.password === '') push(errors, 'password', "can't be blank");
    else for (const m of passwordLengthErrors(c.password, settings)) push(errors, 'password', m);
  }

  // User
  if (c.changed.username) for (const m of usernameFormatErrors(c.username)) push(errors, 'username', m);
  for (const m of nameErrors(c.name)) push(errors, 'name', m);
  if (c.publicEmail) {
    if (c.changed.publicEmail) {
      const holder = publicEmailHolder(store, c.publicEmail);
      if (holder !== undefined && holder !== c.id) push(errors, 'public_email', 'has already been taken');
    }
    if (!EMAIL_REGEX.test(c.publicEmail)) push(errors, 'public_email', 'is invalid');
  }
  if (c.commitEmail && c.commitEmail !== PRIVATE_COMMIT_EMAIL && !EMAIL_REGEX.test(c.commitEmail))
    push(errors, 'commit_email', 'is invalid');
  if (c.projectsLimit < 0) push(errors, 'projects_limit', 'must be greater than or equal to 0');
  else if (c.projectsLimit > MAX_INT_VALUE)
    push(errors, 'projects_limit', `must be less than or equal to ${MAX_INT_VALUE}`);
  if (c.password && !c.randomPassword && isWeakPassword(c.password, c))
    push(errors, 'password', WEAK_PASSWORD_MESSAGE);
  const verified = new Set(c.verifiedEmails.map((e) => e.toLowerCase()));
  if (c.changed.publicEmail && c.publicEmail && !verified.has(c.publicEmail.toLowerCase()))
    push(errors, 'public_email', UNVERIFIED_EMAIL_MESSAGE);
  if (
    c.changed.commitEmail &&
    c.commitEmail &&
    c.commitEmail !== PRIVATE_COMMIT_EMAIL &&
    !verified.has(c.commitEmail.toLowerCase())
  )
    push(errors, 'commit_email', UNVERIFIED_EMAIL_MESSAGE);
  if (c.themeId !== undefined && !THEME_IDS.includes(c.themeId))
    push(errors, 'theme_id', `${c.themeId} is not a valid theme`);
  if (c.colorSchemeId !== undefined && !COLOR_SCHEME_IDS.includes(c.colorSchemeId))
    push(errors, 'color_scheme_id', `${c.colorSchemeId} is not a valid color scheme`);

  // user_detail (errors are reported under `bio` by lib/api/helpers/users_helpers.rb)
  if (c.bio.length > BIO_MAX_LENGTH)
    push(errors, 'bio', `is too long (maximum is ${BIO_MAX_LENGTH} characters)`);

  // The personal namespace: a path held by a group (or another namespace) is reported on `base`.
  if (c.changed.username && c.username !== '') {
    const ns = store.findNamespaceByPath(c.username);
    const ownNamespace = ns?.kind === 'user' && ns.ownerId === c.id;
    if (ns && !ownNamespace) {
      const user = store.findUserByUsername(c.username);
      if (user && user.id !== c.id) push(errors, 'username', 'has already been taken');
      else push(errors, 'base', USERNAME_TAKEN_BY_NAMESPACE_MESSAGE);
    }
  }
  return errors;
}

function publicEmailHolder(store: Store, email: string): number | undefined {
  const owner = store.findUserByEmail(email);
  if (owner?.publicEmail?.toLowerCase() === email.toLowerCase()) return owner.id;
  return undefined;
}

const BLOCKED_STATES = new Set<UserState>(['blocked', 'ldap_blocked', 'blocked_pending_approval', 'banned']);
const INTERNAL_USER_TYPES = new Set<UserType>(['ghost', 'support_bot', 'alert_bot']);

/** `User#blocked?`: every state the state machine groups as blocked. */
export function isBlocked(user: { state: UserState }): boolean {
  return BLOCKED_STATES.has(user.state);
}

/** `User#internal?`: GitLab's own system users (ghost, support bot, alert bot, …). */
export function isInternal(user: { userType: UserType }): boolean {
  return INTERNAL_USER_TYPES.has(user.userType);
}

export function hasErrors(errors: ValidationErrors): boolean {
  return Object.keys(errors).length > 0;
}
