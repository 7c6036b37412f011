/**
 * GitLab's username rules (a username is also the personal namespace path), checked before asking
 * GitLab so the sponsor gets a precise message at once. GitLab remains the authority: its answer
 * to the create call is mapped back onto the same field.
 * Sources: `app/models/user.rb`, `app/models/namespace.rb`, `lib/gitlab/path_regex.rb`.
 */
export const USERNAME_MIN = 2;
export const USERNAME_MAX = 255;

/** Starts and ends with a letter or digit; single `.`, `_` or `-` between them. ASCII only. */
const FORMAT = /^[a-zA-Z0-9]+(?:[._-][a-zA-Z0-9]+)*$/;

/** Top-level routes GitLab reserves (`Gitlab::PathRegex::TOP_LEVEL_ROUTES`). */
export const RESERVED_USERNAMES: ReadonlySet<string> = new Set([
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

/** Endings GitLab refuses because they look like file types (`.json`, `.html`, …) or Git paths. */
const RESERVED_ENDINGS = [
  '.git',
  '.atom',
  '.json',
  '.html',
  '.htm',
  '.xml',
  '.txt',
  '.png',
  '.jpg',
  '.jpeg',
  '.gif',
  '.svg',
  '.ico',
  '.css',
  '.js',
  '.pdf',
  '.zip',
  '.csv',
];

export const USERNAME_HINT =
  "2 to 255 characters: letters, digits and '.', '_' or '-' between them. It is the account's GitLab address and cannot be reused.";

/** Every rule the username breaks, as messages for the form field (empty when valid). */
export function usernameProblems(username: string): string[] {
  const problems: string[] = [];
  if (username.length < USERNAME_MIN) problems.push(`Use at least ${USERNAME_MIN} characters.`);
  if (username.length > USERNAME_MAX) problems.push(`Use at most ${USERNAME_MAX} characters.`);
  if (username.length > 0 && !FORMAT.test(username)) {
    problems.push(
      "Use only letters (a-z, without accents), digits, and '.', '_' or '-' between them; start and end with a letter or digit.",
    );
  }
  const lower = username.toLowerCase();
  if (RESERVED_USERNAMES.has(lower)) problems.push(`"${username}" is reserved by GitLab.`);
  const ending = RESERVED_ENDINGS.find((e) => lower.endsWith(e));
  if (ending) problems.push(`A username cannot end with "${ending}".`);
  return problems;
}

/** Turns free text into a username candidate: accents removed, invalid characters collapsed. */
export function slugify(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/ß/g, 'ss')
    .replace(/[æÆ]/g, 'ae')
    .replace(/[øØ]/g, 'o')
    .replace(/[łŁ]/g, 'l')
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '.')
    .replace(/[._-]{2,}/g, (m) => m[0]!)
    .replace(/^[._-]+|[._-]+$/g, '')
    .slice(0, 60)
    .replace(/[._-]+$/g, '');
}

/**
 * Candidate usernames for a person, best first: the e-mail's local part, then forms of the name.
 * Only candidates that pass `usernameProblems` are returned; availability is checked by the caller.
 */
export function usernameCandidates(name: string, email: string): string[] {
  const local = email.includes('@') ? email.slice(0, email.lastIndexOf('@')).replace(/\+.*$/, '') : '';
  const parts = slugify(name).split(/[._-]/).filter(Boolean);
  const first = parts[0] ?? '';
  const last = parts.length > 1 ? parts[parts.length - 1]! : '';
  const raw = [
    slugify(local),
    parts.join('.'),
    first && last ? `${first[0]}${last}` : '',
    parts.join(''),
    first && last ? `${first}-${last}` : '',
  ];
  const out: string[] = [];
  for (const c of raw) if (c && !out.includes(c) && usernameProblems(c).length === 0) out.push(c);
  return out;
}

/** `base`, then `base2`, `base3`, … for when every plain candidate is taken. */
export function numberedCandidate(base: string, n: number): string {
  const suffix = String(n);
  return `${base.slice(0, USERNAME_MAX - suffix.length)}${suffix}`;
}
