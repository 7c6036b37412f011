import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { assertSponsorStillAllowed, requireSponsor } from '../auth/guard.js';
import type { NewUserPasswordMode } from '../config/config.js';
import { randomToken } from '../crypto/random.js';
import { DomainError } from '../errors.js';
import type { RecentSponsorship } from '../web/pages/home.js';
import { type ExistingAccountView, SponsorshipFormPage } from '../web/pages/sponsorship-form.js';
import { SponsorshipResultPage } from '../web/pages/sponsorship-result.js';
import { sendPage } from '../web/render.js';
import { pageContext, type WebSettings } from '../web/request-context.js';
import { CREATE_FIELDS, parseCreateSponsorship } from './sponsorship.schema.js';
import type { SponsorshipCreation, SponsorshipService } from './sponsorship.service.js';

export interface SponsorshipRoutesOptions {
  service: SponsorshipService;
  web: WebSettings;
  /** GitLab's external URL (`GITLAB_URL`), for profile links. */
  gitlabUrl: string;
  passwordMode: NewUserPasswordMode;
}

/** Per signed-in sponsor: the live check runs as they type, create requests are rarer. */
const CHECK_RATE = { max: 60, timeWindow: '1 minute' };
const CREATE_RATE = { max: 20, timeWindow: '1 minute' };

const bySponsor = (req: FastifyRequest) => (req.auth ? `sponsor:${req.auth.userId}` : `ip:${req.ip}`);

const checkQuery = z.object({
  username: z.string().max(1024).optional(),
  name: z.string().max(1024).optional(),
  email: z.string().max(1024).optional(),
});

/** The form's own fields, besides what it sends for the sponsorship itself. */
const FORM_CONTROLS = ['_csrf', 'form_token', 'intent'];

function formValues(fields: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    CREATE_FIELDS.map((f) => [f, typeof fields[f] === 'string' ? (fields[f] as string) : '']),
  );
}

function statusFor(creation: SponsorshipCreation): number {
  const failure = creation.failure;
  if (!failure || failure.fieldErrors) return 422;
  return failure.code === 'rate_limited' ? 429 : 503;
}

function profileUrl(gitlabUrl: string, username: string): string {
  return `${gitlabUrl}/${encodeURIComponent(username)}`;
}

function stateLabel(creation: SponsorshipCreation): string {
  switch (creation.state) {
    case 'completed':
      return 'Created';
    case 'running':
      return 'Being set up';
    case 'unknown':
      return 'Waiting for GitLab';
    case 'failed':
      return creation.blocked ? 'Blocked' : 'Not created';
  }
}

/** The start page's "your recent sponsorships". */
export function recentSponsorships(service: SponsorshipService) {
  return async (sponsorId: number): Promise<RecentSponsorship[]> =>
    (await service.recentFor(sponsorId, 10)).map((c) => ({
      id: c.operationId,
      name: c.account?.name ?? c.request.name,
      username: c.account?.username ?? c.request.username,
      state: stateLabel(c),
      tone: c.state === 'completed' ? 'ok' : c.state === 'failed' ? 'bad' : 'neutral',
      createdAt: c.createdAt,
      path: `/sponsorships/${c.operationId}`,
    }));
}

/**
 * The web pages for sponsoring an external collaborator: the form, its submission, the result page
 * and the live username check. All need a signed-in sponsor; the POST is CSRF-checked by the global
 * hook, and the sponsor's rights are checked live against GitLab before anything is created.
 */
export function registerSponsorshipRoutes(app: FastifyInstance, opts: SponsorshipRoutesOptions): void {
  const { service, web, gitlabUrl, passwordMode } = opts;
  const { base } = web;

  function renderForm(
    req: FastifyRequest,
    reply: FastifyReply,
    status: number,
    form: {
      values?: Record<string, string>;
      formToken?: string;
      errors?: Record<string, string[]>;
      message?: string;
      suggestions?: readonly string[];
      existing?: ExistingAccountView;
    } = {},
  ) {
    return sendPage(
      reply,
      status,
      <SponsorshipFormPage
        ctx={pageContext(req, reply, web)}
        values={form.values ?? {}}
        formToken={form.formToken ?? randomToken(24)}
        errors={form.errors}
        message={form.message}
        suggestions={form.suggestions}
        existingAccount={form.existing}
        passwordMode={passwordMode}
      />,
    );
  }

  app.get(`${base}/sponsorships/new`, { preHandler: requireSponsor }, async (req, reply) =>
    renderForm(req, reply, 200),
  );

  app.post(
    `${base}/sponsorships`,
    {
      preHandler: requireSponsor,
      config: { rateLimit: { ...CREATE_RATE, hook: 'preHandler', keyGenerator: bySponsor } },
    },
    async (req, reply) => {
      const body =
        typeof req.body === 'object' && req.body !== null ? (req.body as Record<string, unknown>) : {};
      const fields = Object.fromEntries(Object.entries(body).filter(([key]) => !FORM_CONTROLS.includes(key)));
      const values = formValues(fields);
      const formToken = typeof body.form_token === 'string' ? body.form_token : '';

      if (body.intent === 'suggest') {
        const check = await service.checkUsername(values);
        const errors = check.problems.length > 0 ? { username: check.problems } : undefined;
        const message =
          check.suggestions.length === 0
            ? check.available
              ? `${check.username} is free in GitLab.`
              : 'Enter the full name or e-mail address first, then ask for suggestions again.'
            : undefined;
        return renderForm(req, reply, 200, {
          values,
          formToken,
          errors,
          message,
          suggestions: check.suggestions,
        });
      }

      let input: ReturnType<typeof parseCreateSponsorship>;
      try {
        input = parseCreateSponsorship(fields);
      } catch (err) {
        if (!(err instanceof DomainError) || err.code !== 'validation') throw err;
        const known = Object.keys(err.fieldErrors ?? {}).every((f) =>
          (CREATE_FIELDS as readonly string[]).includes(f),
        );
        return renderForm(req, reply, 422, {
          values,
          formToken,
          errors: err.fieldErrors,
          message: known ? undefined : err.message,
        });
      }

      const { gitlabUser } = await assertSponsorStillAllowed(req);
      const sponsor = { id: gitlabUser.id, username: gitlabUser.username, name: gitlabUser.name };
      let creation: SponsorshipCreation;
      try {
        creation = await service.create(sponsor, input, formToken, req.id, req.ip);
      } catch (err) {
        if (!(err instanceof DomainError) || !['validation', 'conflict'].includes(err.code)) throw err;
        // A reused or missing form token: this form cannot be sent again as it is, a fresh one can.
        return renderForm(req, reply, 422, { values, errors: err.fieldErrors, message: err.message });
      }

      const failure = creation.failure;
      if (creation.state === 'failed' && failure?.nothingCreated) {
        if (failure.retryAfterSeconds !== undefined)
          reply.header('retry-after', String(failure.retryAfterSeconds));
        const existing = failure.existingAccount;
        return renderForm(req, reply, statusFor(creation), {
          values,
          errors: failure.fieldErrors,
          message: failure.message,
          suggestions: failure.usernameSuggestions,
          existing: existing && {
            username: existing.username,
            name: existing.name,
            state: existing.state,
            sponsorUsername: existing.sponsor?.username ?? null,
            profileUrl: profileUrl(gitlabUrl, existing.username),
          },
        });
      }
      return reply.redirect(`${base}/sponsorships/${creation.operationId}`, 303);
    },
  );

  app.get(
    `${base}/sponsorships/username-check`,
    {
      preHandler: requireSponsor,
      config: { rateLimit: { ...CHECK_RATE, hook: 'preHandler', keyGenerator: bySponsor } },
    },
    async (req) => {
      const query = checkQuery.safeParse(req.query);
      if (!query.success) throw new DomainError('validation', 'The username, name or e-mail is too long.');
      return service.checkUsername(query.data);
    },
  );

  app.get<{ Params: { id: string } }>(
    `${base}/sponsorships/:id`,
    { preHandler: requireSponsor },
    async (req, reply) => {
      const creation = await service.get(req.params.id, req.auth!.userId);
      return sendPage(
        reply,
        200,
        <SponsorshipResultPage
          ctx={pageContext(req, reply, web)}
          creation={creation}
          gitlabUrl={gitlabUrl}
          passwordMode={passwordMode}
        />,
      );
    },
  );
}
