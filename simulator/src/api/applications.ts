import type { ApiRoute, RouteCtx } from '../http/app.js';
import { requireAdmin } from '../http/auth.js';
import { notFound, validationFailed } from '../http/errors.js';
import { optional, type Rule, requires, validateParams } from '../http/grape.js';
import { applicationSecretValue } from '../model/secrets.js';
import type { OAuthApplication } from '../model/types.js';
import { OOB_URI, parseScopes, SERVER_SCOPES } from '../oauth/doorkeeper.js';

/**
 * `lib/api/applications.rb`: instance-wide OAuth applications. `before { authenticated_as_admin! }`
 * runs before Grape validates the parameters.
 */

/** `lib/api/entities/application.rb` */
function applicationEntity(app: OAuthApplication): Record<string, unknown> {
  return {
    id: app.id,
    application_id: app.uid,
    application_name: app.name,
    callback_url: app.redirectUris.join('\n'),
    confidential: app.confidential,
    scopes: [...app.scopes],
  };
}

/** `lib/api/entities/application_with_secret.rb` */
function applicationWithSecret(app: OAuthApplication): Record<string, unknown> {
  return { ...applicationEntity(app), secret: app.secret };
}

const createParams: Rule[] = [
  requires('name', 'String'),
  requires('redirect_uri', 'String'),
  requires('scopes', 'String', { allowBlank: false }),
  optional('confidential', 'Boolean', { default: true }),
];

const idParams: Rule[] = [requires('id', 'Integer')];

const FORBIDDEN_SCHEMES = ['data', 'vbscript', 'javascript'];

/**
 * Doorkeeper's `RedirectUriValidator` (one error per kind, in its order) with GitLab's
 * `forbid_redirect_uri` (`data`, `vbscript`, `javascript`).
 */
function redirectUriErrors(value: string): string[] {
  if (value.trim() === '') return ["can't be blank"];
  const errors = new Set<string>();
  for (const uri of value.split(/\s+/).filter(Boolean)) {
    if (uri === OOB_URI) continue;
    const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase();
    if (/[<>"{}|\\^`]/.test(uri) || (scheme !== undefined && !canParse(uri))) {
      errors.add('must be a valid URI.');
      continue;
    }
    if (scheme && FORBIDDEN_SCHEMES.includes(scheme)) errors.add('is forbidden by the server.');
    if (uri.includes('#')) errors.add('cannot contain a fragment.');
    if (!scheme) errors.add('must be an absolute URI.');
    else if ((scheme === 'http' || scheme === 'https') && !/^https?:\/\/[^/?#]/i.test(uri)) {
      errors.add('must be a valid URI.');
    }
  }
  return [...errors];
}

function canParse(uri: string): boolean {
  try {
    new URL(uri);
    return true;
  } catch {
    return false;
  }
}

/** `Doorkeeper::Application` validations: name, redirect URI, and scopes the server knows (`enforce_configured_scopes`). */
function applicationErrors(name: string, redirectUri: string, scopes: string[]): Record<string, string[]> {
  const errors: Record<string, string[]> = {};
  if (name.trim() === '') errors.name = ["can't be blank"];
  const uriErrors = redirectUriErrors(redirectUri);
  if (uriErrors.length > 0) errors.redirect_uri = uriErrors;
  if (scopes.some((s) => !SERVER_SCOPES.includes(s)))
    errors.scopes = ["doesn't match configured on the server."];
  return errors;
}

/** `ApplicationsFinder`: only instance-wide applications (no owner) are managed by this API. */
function findApplication(ctx: RouteCtx): OAuthApplication {
  const { id } = validateParams(ctx.raw, idParams) as { id: number };
  const app = ctx.store.applications.get(id);
  if (!app || app.ownerId !== null) throw notFound('Application');
  return app;
}

export const applicationRoutes: ApiRoute[] = [
  {
    method: 'POST',
    path: '/applications',
    handler: (ctx) => {
      requireAdmin(ctx.store, ctx.caller);
      const p = validateParams(ctx.raw, createParams) as {
        name: string;
        redirect_uri: string;
        scopes: string;
        confidential: boolean | null;
      };
      const scopes = parseScopes(p.scopes);
      const errors = applicationErrors(p.name, p.redirect_uri, scopes);
      if (Object.keys(errors).length > 0) throw validationFailed(errors);
      const app = ctx.store.createApplication({
        name: p.name,
        redirectUris: p.redirect_uri.split(/\s+/).filter(Boolean),
        scopes,
        confidential: p.confidential ?? true,
      });
      return applicationWithSecret(app);
    },
  },
  {
    method: 'GET',
    path: '/applications',
    handler: (ctx) => {
      requireAdmin(ctx.store, ctx.caller);
      return [...ctx.store.applications.values()].filter((a) => a.ownerId === null).map(applicationEntity);
    },
  },
  {
    method: 'DELETE',
    path: '/applications/:id',
    handler: (ctx) => {
      requireAdmin(ctx.store, ctx.caller);
      ctx.store.deleteApplication(findApplication(ctx));
      ctx.status = 204;
    },
  },
  {
    method: 'POST',
    path: '/applications/:id/renew-secret',
    handler: (ctx) => {
      requireAdmin(ctx.store, ctx.caller);
      const app = findApplication(ctx);
      app.secret = applicationSecretValue();
      return applicationWithSecret(app);
    },
  },
];
