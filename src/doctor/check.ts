/** `ok` ✓, `warn` ! (works, but deserves attention), `fail` ✗ (must be fixed), `skipped` - (could not run). */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skipped';

/** One line of the doctor's report. `detail` and `fix` never contain a secret value. */
export interface CheckResult {
  /** Stable, for scripts: `gitlab.version`, `token.expiry`, `config.GITLAB_URL`… */
  id: string;
  title: string;
  status: CheckStatus;
  /** What was found; for a skipped check, why it did not run. */
  detail: string;
  /** What to do, for warnings and failures. */
  fix?: string;
}

/** Every check after the configuration ones, in report order. */
export const TITLES = {
  'gitlab.reachable': 'GitLab',
  'gitlab.version': 'GitLab version',
  'token.active': 'Admin token',
  'token.scopes': 'Admin token scopes',
  'token.expiry': 'Admin token expiry',
  'token.admin': 'Administrator rights',
  'oauth.discovery': 'OpenID discovery',
  'oauth.application': 'OAuth application',
  'oauth.client': 'OAuth client credentials',
  'oauth.redirect_uri': 'OAuth redirect URI',
  'oauth.scopes': 'OAuth scopes',
  'oauth.confidential': 'OAuth confidential',
  public_url: 'Public URL',
  database: 'Database',
  'database.migrations': 'Database migrations',
} as const;

export type CheckId = keyof typeof TITLES;

export const ok = (id: CheckId, detail: string): CheckResult => ({
  id,
  title: TITLES[id],
  status: 'ok',
  detail,
});

export const warn = (id: CheckId, detail: string, fix: string): CheckResult => ({
  id,
  title: TITLES[id],
  status: 'warn',
  detail,
  fix,
});

export const fail = (id: CheckId, detail: string, fix: string): CheckResult => ({
  id,
  title: TITLES[id],
  status: 'fail',
  detail,
  fix,
});

export const skipped = (id: CheckId, reason: string): CheckResult => ({
  id,
  title: TITLES[id],
  status: 'skipped',
  detail: reason,
});

export function skipAll(ids: readonly CheckId[], reason: string): CheckResult[] {
  return ids.map((id) => skipped(id, reason));
}

/** The `code` of an error or of one of its causes (`ECONNREFUSED`, `DEPTH_ZERO_SELF_SIGNED_CERT`…). */
export function errorCodeOf(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z0-9][A-Z0-9_]{1,40}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

const NETWORK_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused: nothing listens there',
  ECONNRESET: 'the connection was reset',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed (DNS)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'the connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  UND_ERR_SOCKET: 'the connection was closed unexpectedly',
};

export const isTlsCode = (code: string) =>
  /^(?:CERT_|ERR_TLS|ERR_SSL|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_|HOSTNAME_)/.test(code);

/** A network failure in words, with its code, and the fix; TLS failures get their own advice. */
export function networkProblem(what: string, code: string | undefined): { detail: string; fix: string } {
  if (code !== undefined && isTlsCode(code)) {
    const plainHttp = /WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG/.test(code);
    return {
      detail: plainHttp
        ? `${what} does not speak TLS (${code}): the address uses https:// but the server answers plain HTTP`
        : `the TLS certificate of ${what} is not trusted (${code})`,
      fix: plainHttp
        ? 'Use the port where GitLab serves HTTPS. Do not switch to http://: the admin token and the OAuth secret would cross the network unencrypted.'
        : 'If GitLab uses a private certificate authority, start the portal (and the doctor) with NODE_EXTRA_CA_CERTS=/path/to/ca.pem. If the certificate expired or names another host, renew it on GitLab. Do not switch to http://.',
    };
  }
  const reason = code === undefined ? 'no connection' : `${NETWORK_CODES[code] ?? 'network error'} (${code})`;
  return {
    detail: `cannot reach ${what}: ${reason}`,
    fix: 'Check GITLAB_URL, and that this machine can reach GitLab (DNS, firewall, outgoing proxy).',
  };
}
