import { afterEach, beforeEach } from 'vitest';
import { type Simulator, type SimulatorOptions, startSimulator } from '../src/index.js';

export const ADMIN_TOKEN = 'glpat-admin-token-for-tests';

/** A fresh simulator for every test in the calling file; `sim()` returns the current one. */
export function useSimulator(options: SimulatorOptions = {}): () => Simulator {
  let current: Simulator | undefined;
  beforeEach(async () => {
    current = await startSimulator({ adminToken: ADMIN_TOKEN, strict: true, ...options });
  });
  afterEach(async () => {
    const sim = current;
    current = undefined;
    await sim?.close();
    // strict mode: a request to an endpoint the simulator lacks, or a crash, fails the test
    sim?.assertNoUnexpected();
  });
  return () => {
    if (!current) throw new Error('simulator not started');
    return current;
  };
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  /** Parsed JSON when the response is JSON, else the text. */
  body: T;
  text: string;
}

export interface CallOptions {
  /** Sent as PRIVATE-TOKEN (default: the admin token; null for none). */
  token?: string | null;
  /** Sent as `Authorization: Bearer` instead of PRIVATE-TOKEN. */
  bearer?: string;
  query?: Record<string, string | number | boolean>;
  /** JSON body (or a URLSearchParams for a form body). */
  body?: unknown;
  headers?: Record<string, string>;
  /**
   * `true` sends `path` to the web root, `false` below `/api/v4`; by default the web root is used
   * only for paths GitLab's web app serves (see `WEB_PATH`).
   */
  web?: boolean;
}

/**
 * Paths of GitLab's web app (not the API): the simulator's control endpoints (`/-/…`), the OAuth
 * provider, OIDC discovery and Devise's sign-in, sign-out, password and confirmation pages. Every other
 * path, `/users/:id/…` included, is an API path below `/api/v4`.
 */
const WEB_PATH = /^\/(-\/|oauth(\/|$)|\.well-known\/|users\/(sign_in|sign_out|password|confirmation)(\/|$))/;

/** Calls the simulator like an API client would; `path` is below `/api/v4` unless it is a web path. */
export async function call<T = any>(
  sim: Simulator,
  method: string,
  path: string,
  opts: CallOptions = {},
): Promise<ApiResponse<T>> {
  const web = opts.web ?? WEB_PATH.test(path.split('?')[0]!);
  const base = web ? sim.url : `${sim.url}/api/v4`;
  const url = new URL(base + path);
  for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.append(k, String(v));
  const headers: Record<string, string> = { ...opts.headers };
  const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
  if (opts.bearer) headers.authorization = `Bearer ${opts.bearer}`;
  else if (token !== null) headers['private-token'] = token;
  let body: string | undefined;
  if (opts.body instanceof URLSearchParams) {
    body = opts.body.toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(url, { method, headers, body, redirect: 'manual' });
  const text = await res.text();
  const isJson = (res.headers.get('content-type') ?? '').includes('json');
  return {
    status: res.status,
    headers: res.headers,
    body: isJson && text !== '' ? JSON.parse(text) : text,
    text,
  };
}

export const get = <T = any>(sim: Simulator, path: string, opts?: CallOptions) =>
  call<T>(sim, 'GET', path, opts);
export const post = <T = any>(sim: Simulator, path: string, body?: unknown, opts?: CallOptions) =>
  call<T>(sim, 'POST', path, { ...opts, body });
export const put = <T = any>(sim: Simulator, path: string, body?: unknown, opts?: CallOptions) =>
  call<T>(sim, 'PUT', path, { ...opts, body });
export const del = <T = any>(sim: Simulator, path: string, opts?: CallOptions) =>
  call<T>(sim, 'DELETE', path, opts);
