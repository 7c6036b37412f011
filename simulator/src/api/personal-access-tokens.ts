import { isoTime } from '../clock.js';
import type { ApiRoute, RouteCtx } from '../http/app.js';
import { badRequest } from '../http/errors.js';
import type { Store } from '../model/store.js';
import type { PersonalAccessToken } from '../model/types.js';
import { tokenAssociations } from './token-associations.js';

/**
 * `lib/api/entities/personal_access_token.rb` (18.x: `expired` and `granular` after `active`; the
 * simulator has no granular tokens).
 */
export function personalAccessTokenEntity(store: Store, pat: PersonalAccessToken): Record<string, unknown> {
  const expired = store.patExpired(pat);
  return {
    id: pat.id,
    name: pat.name,
    active: !pat.revoked && !expired,
    revoked: pat.revoked,
    expired,
    granular: false,
    created_at: isoTime(pat.createdAt),
    description: pat.description,
    scopes: pat.scopes,
    user_id: pat.userId,
    last_used_at: pat.lastUsedAt === null ? null : isoTime(pat.lastUsedAt),
    expires_at: pat.expiresAt,
  };
}

function currentPat(ctx: RouteCtx): PersonalAccessToken {
  const credential = ctx.user().credential;
  if (credential.kind !== 'personal_access_token') {
    throw badRequest('This endpoint requires token type to be a personal access token');
  }
  return credential.pat;
}

/** `lib/api/personal_access_tokens/self_information.rb`: any scope; PATs only. */
export const personalAccessTokenRoutes: ApiRoute[] = [
  {
    method: 'GET',
    path: '/personal_access_tokens/self',
    auth: 'required',
    anyScope: true,
    handler: (ctx) => personalAccessTokenEntity(ctx.store, currentPat(ctx)),
  },
  {
    method: 'GET',
    path: '/personal_access_tokens/self/associations',
    auth: 'required',
    anyScope: true,
    handler: (ctx) => {
      currentPat(ctx);
      return tokenAssociations(ctx);
    },
  },
  {
    method: 'DELETE',
    path: '/personal_access_tokens/self',
    auth: 'required',
    anyScope: true,
    handler: (ctx) => {
      currentPat(ctx).revoked = true;
      ctx.status = 204;
    },
  },
];
