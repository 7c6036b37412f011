import { sql } from 'kysely';
import type { Clock } from '../clock.js';
import type { DatabaseHandle } from '../db/database.js';
import type { GitLabAdminApi } from '../gitlab/client.js';
import { GitLabError } from '../gitlab/errors.js';
import type { Logger } from '../logging/logger.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  status: CheckStatus;
  detail: string;
  checkedAt: string;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, CheckResult>;
}

const DAY_MS = 86_400_000;

/**
 * What `/readyz` answers: the database is reachable, the admin token passed its last self-check and
 * sign-in is configured. GitLab being briefly unreachable does not flip readiness (pages that do not
 * need GitLab still work); it is reported. The token is re-checked periodically, not per request.
 */
export class Readiness {
  private token: CheckResult = { status: 'fail', detail: 'not checked yet', checkedAt: '' };
  private gitlab: CheckResult = { status: 'warn', detail: 'not checked yet', checkedAt: '' };
  private signIn: CheckResult = { status: 'fail', detail: 'not checked yet', checkedAt: '' };
  private timer: NodeJS.Timeout | undefined;
  private closing = false;

  constructor(
    private readonly deps: {
      database: DatabaseHandle;
      gitlab: GitLabAdminApi;
      clock: Clock;
      logger: Logger;
      /** Loads OIDC discovery; resolves when sign-in can work. */
      checkSignIn: () => Promise<void>;
    },
  ) {}

  /** Runs the GitLab checks now and then every `intervalMs` (default: hourly). */
  async start(intervalMs = 3_600_000): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** From now on `/readyz` answers 503 (graceful shutdown). */
  markClosing(): void {
    this.closing = true;
  }

  async refresh(): Promise<void> {
    await Promise.all([this.checkToken(), this.checkSignInConfig()]);
  }

  private now(): string {
    return this.deps.clock.now().toISOString();
  }

  private async checkToken(): Promise<void> {
    try {
      const [token, owner] = await Promise.all([
        this.deps.gitlab.tokenSelf(),
        this.deps.gitlab.currentUser(),
      ]);
      this.gitlab = { status: 'ok', detail: 'reachable', checkedAt: this.now() };
      const problems: string[] = [];
      const warnings: string[] = [];
      if (!token.active) problems.push('the admin token is revoked or expired');
      if (!token.scopes.includes('api')) problems.push('the admin token lacks the api scope');
      if (!owner.isAdmin)
        problems.push(
          "the admin token's owner is not an administrator (or Admin Mode needs the admin_mode scope)",
        );
      if (token.scopes.includes('sudo'))
        warnings.push('the admin token has the sudo scope, which the portal does not need');
      if (token.expiresAt) {
        const days = Math.floor(
          (Date.parse(`${token.expiresAt}T00:00:00Z`) - this.deps.clock.now().getTime()) / DAY_MS,
        );
        if (days < 7)
          this.deps.logger.error(
            { daysLeft: days },
            'the GitLab admin token expires within 7 days: rotate it',
          );
        else if (days < 30)
          this.deps.logger.warn({ daysLeft: days }, 'the GitLab admin token expires within 30 days');
        if (days < 30) warnings.push(`the admin token expires in ${days} days`);
      }
      this.token = {
        status: problems.length ? 'fail' : warnings.length ? 'warn' : 'ok',
        detail: [...problems, ...warnings].join('; ') || 'active, admin, api scope',
        checkedAt: this.now(),
      };
      if (problems.length) this.deps.logger.error({ problems }, 'GitLab admin token self-check failed');
    } catch (err) {
      const unreachable = err instanceof GitLabError && err.kind !== 'http';
      this.gitlab = { status: 'warn', detail: unreachable ? 'unreachable' : 'error', checkedAt: this.now() };
      // A token GitLab refuses (401/403) is a failed self-check; an unreachable GitLab keeps the last verdict.
      if (!unreachable) {
        this.token = { status: 'fail', detail: 'GitLab refused the admin token', checkedAt: this.now() };
        this.deps.logger.error('GitLab refused the admin token');
      }
    }
  }

  private async checkSignInConfig(): Promise<void> {
    try {
      await this.deps.checkSignIn();
      this.signIn = { status: 'ok', detail: 'OpenID configuration loaded', checkedAt: this.now() };
    } catch (err) {
      this.signIn = {
        status: 'fail',
        detail: err instanceof Error ? err.message : 'OpenID configuration could not be loaded',
        checkedAt: this.now(),
      };
    }
  }

  async report(): Promise<ReadinessReport> {
    let database: CheckResult;
    try {
      await sql`select 1`.execute(this.deps.database.db);
      database = { status: 'ok', detail: 'reachable', checkedAt: this.now() };
    } catch {
      database = { status: 'fail', detail: 'unreachable', checkedAt: this.now() };
    }
    const checks = { database, adminToken: this.token, signIn: this.signIn, gitlab: this.gitlab };
    const ready =
      !this.closing &&
      database.status !== 'fail' &&
      this.token.status !== 'fail' &&
      this.signIn.status !== 'fail';
    return {
      ready,
      checks: this.closing
        ? { ...checks, shutdown: { status: 'fail', detail: 'shutting down', checkedAt: this.now() } }
        : checks,
    };
  }
}
