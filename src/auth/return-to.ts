/** Longest `return_to` kept; longer values fall back to the start page. */
const MAX_LENGTH = 1024;

/** Printable ASCII without space, backslash, quotes and angle brackets. */
const SAFE_CHARACTERS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/;

/** Percent-encoded slash, backslash, or control character: ways to smuggle a host or a header. */
const ENCODED_TROUBLE = /%(2f|5c|[01][0-9a-f]|7f)/i;

/** Where a sign-in may not land, as it would start over or sign out. */
const NO_LANDING = ['/login', '/oauth/callback', '/logout'];

const PROBE_ORIGIN = 'https://return-to.invalid';

/**
 * A post-sign-in redirect target, or undefined when `value` is not a plain path on this portal under
 * `base` (the path prefix, '' or e.g. `/extern`). Absolute and protocol-relative URLs, backslashes,
 * encoded slashes, control characters, `..` that leaves the prefix, and the sign-in pages themselves
 * are all refused. The result is the normalised path and query, safe to put in `Location`.
 */
export function safeReturnTo(value: unknown, base: string): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_LENGTH) return undefined;
  if (!value.startsWith('/') || value.startsWith('//') || value.includes('//')) return undefined;
  if (!SAFE_CHARACTERS.test(value) || ENCODED_TROUBLE.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value, PROBE_ORIGIN);
  } catch {
    return undefined;
  }
  if (url.origin !== PROBE_ORIGIN) return undefined;
  const path = url.pathname;
  if (!path.startsWith(`${base}/`) && path !== base) return undefined;
  const portalPath = path.slice(base.length) || '/';
  if (NO_LANDING.some((p) => portalPath === p || portalPath.startsWith(`${p}/`))) return undefined;
  return `${path}${url.search}`;
}
