import { createHash } from 'node:crypto';
import type { Simulator } from '../src/index.js';

/**
 * A minimal browser for the simulator's web pages: a cookie jar, manual redirects, and form
 * scraping (the pages are plain HTML forms).
 */
export interface PageResponse {
  status: number;
  headers: Headers;
  text: string;
  /** Absolute Location of a redirect. */
  location: string | null;
  url: string;
}

export interface ScrapedForm {
  action: string;
  method: string;
  fields: Record<string, string>;
  /** The form's markup, to pick a form by its button text. */
  html: string;
}

function unescapeHtml(s: string): string {
  return s
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

function attrs(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.[\]]*)="([^"]*)"/g))
    out[m[1]!] = unescapeHtml(m[2]!);
  return out;
}

export function forms(html: string): ScrapedForm[] {
  const out: ScrapedForm[] = [];
  for (const m of html.matchAll(/<form([^>]*)>([\s\S]*?)<\/form>/g)) {
    const a = attrs(m[1]!);
    const fields: Record<string, string> = {};
    for (const input of m[2]!.matchAll(/<input([^>]*)>/g)) {
      const i = attrs(input[1]!);
      if (!i.name || i.type === 'checkbox') continue;
      fields[i.name] = i.value ?? '';
    }
    out.push({ action: a.action ?? '', method: (a.method ?? 'get').toUpperCase(), fields, html: m[0] });
  }
  return out;
}

/** The form whose markup contains `marker` (e.g. a button label), or the first form. */
export function form(html: string, marker?: string): ScrapedForm {
  const all = forms(html);
  const found = marker === undefined ? all[0] : all.find((f) => f.html.includes(marker));
  if (!found) throw new Error(`no form${marker ? ` containing ${marker}` : ''} in:\n${html}`);
  return found;
}

export class Browser {
  readonly cookies = new Map<string, string>();

  constructor(readonly sim: Simulator) {}

  private absolute(pathOrUrl: string): string {
    return /^https?:/.test(pathOrUrl) ? pathOrUrl : this.sim.url + pathOrUrl;
  }

  async request(
    method: string,
    pathOrUrl: string,
    opts: { form?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<PageResponse> {
    const url = this.absolute(pathOrUrl);
    const headers: Record<string, string> = { ...opts.headers };
    if (url.startsWith(this.sim.url) && this.cookies.size > 0) {
      headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    let body: string | undefined;
    if (opts.form) {
      body = new URLSearchParams(opts.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    for (const cookie of res.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const eq = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    const location = res.headers.get('location');
    return {
      status: res.status,
      headers: res.headers,
      text: await res.text(),
      location: location ? new URL(location, url).toString() : null,
      url,
    };
  }

  get(pathOrUrl: string): Promise<PageResponse> {
    return this.request('GET', pathOrUrl);
  }

  post(pathOrUrl: string, form: Record<string, string>): Promise<PageResponse> {
    return this.request('POST', pathOrUrl, { form });
  }

  /** Submits a scraped form, with some fields changed. */
  submit(f: ScrapedForm, changes: Record<string, string> = {}): Promise<PageResponse> {
    return this.request(f.method, f.action, { form: { ...f.fields, ...changes } });
  }

  /** Follows redirects that stay on the simulator; stops at the first answer that is not one. */
  async follow(res: PageResponse, max = 10): Promise<PageResponse> {
    let current = res;
    for (let i = 0; i < max && current.location?.startsWith(this.sim.url); i++) {
      current = await this.get(current.location);
    }
    return current;
  }

  async signIn(login: string, password: string): Promise<PageResponse> {
    const page = await this.get('/users/sign_in');
    return this.submit(form(page.text), { 'user[login]': login, 'user[password]': password });
  }

  get sessionCookie(): string | undefined {
    return this.cookies.get('_gitlab_session');
  }
}

// ------------------------------------------------------------------ OAuth helpers

/** The password the OAuth and sign-in tests give their users. */
export const PASSWORD = 'correct-horse-battery';
/** The redirect URI of the test applications. */
export const CALLBACK = 'https://portal.example.com/auth/callback';

export function pkcePair(verifier = 'a'.repeat(20) + 'verifier-0123456789-abcdefghijkl'): {
  verifier: string;
  challenge: string;
} {
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizePath(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  return `/oauth/authorize?${q.toString()}`;
}

/** A browser signed in as `username` (the user must have `password`). */
export async function signedIn(sim: Simulator, username: string, password: string): Promise<Browser> {
  const browser = new Browser(sim);
  const res = await browser.signIn(username, password);
  if (res.status !== 302) throw new Error(`sign-in as ${username} failed: ${res.status}\n${res.text}`);
  return browser;
}

/** Opens the consent page and clicks Authorize; returns the redirect back to the client. */
export async function approve(browser: Browser, params: Record<string, string | undefined>) {
  const consent = await browser.get(authorizePath(params));
  if (consent.status !== 200) throw new Error(`consent page: ${consent.status} ${consent.location}`);
  const res = await browser.submit(form(consent.text, 'Authorize'));
  const location = new URL(res.location ?? 'about:blank');
  return {
    res,
    location,
    code: location.searchParams.get('code'),
    state: location.searchParams.get('state'),
  };
}

/** `POST /oauth/token` with a form body (and HTTP Basic when `basic` is given). */
export async function tokenCall(
  sim: Simulator,
  form: Record<string, string>,
  basic?: { id: string; secret: string },
  path = '/oauth/token',
) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (basic) headers.authorization = `Basic ${Buffer.from(`${basic.id}:${basic.secret}`).toString('base64')}`;
  const res = await fetch(sim.url + path, { method: 'POST', headers, body: new URLSearchParams(form) });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text,
  };
}

/**
 * The authorization-code flow up to the code: alice (created on first use) signs in and approves
 * a "Portal" application; `exchange` then posts the code to `/oauth/token`, with any field changed
 * or left out (`undefined`).
 */
export async function authorizationCode(
  s: Simulator,
  opts: {
    confidential?: boolean;
    scopes?: string[];
    pkce?: 'S256' | 'plain' | false;
    scope?: string;
    nonce?: string;
  } = {},
) {
  const alice = s.store.findUserByUsername('alice') ?? s.givenUser({ username: 'alice', password: PASSWORD });
  const client = s.givenApplication({
    name: 'Portal',
    redirectUri: CALLBACK,
    scopes: opts.scopes ?? ['api', 'read_user', 'openid', 'profile', 'email'],
    confidential: opts.confidential,
  });
  const { verifier, challenge } = pkcePair();
  const browser = await signedIn(s, 'alice', PASSWORD);
  const pkce = opts.pkce ?? 'S256';
  const { code } = await approve(browser, {
    client_id: client.applicationId,
    redirect_uri: CALLBACK,
    response_type: 'code',
    scope: opts.scope ?? 'read_user api',
    state: 'st',
    nonce: opts.nonce,
    ...(pkce ? { code_challenge: pkce === 'S256' ? challenge : verifier, code_challenge_method: pkce } : {}),
  });
  const exchange = (extra: Record<string, string | undefined> = {}) => {
    const form: Record<string, string> = {};
    const fields: Record<string, string | undefined> = {
      grant_type: 'authorization_code',
      code: code!,
      redirect_uri: CALLBACK,
      client_id: client.applicationId,
      client_secret: client.secret,
      code_verifier: pkce ? verifier : undefined,
      ...extra,
    };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) form[k] = v;
    return tokenCall(s, form);
  };
  return { alice, client, code: code!, verifier, exchange };
}
