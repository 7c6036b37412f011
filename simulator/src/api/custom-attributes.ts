import type { ApiRoute, RouteCtx } from '../http/app.js';
import { apiError, forbidden, notFound, recordNotFound, routeNotFound } from '../http/errors.js';
import { requires } from '../http/grape.js';
import type { User } from '../model/types.js';
import { USER_ID } from './users.js';

/**
 * `lib/api/custom_attributes_endpoints.rb` mounted on users (newest behaviour): the user is looked up
 * first (`404 Not Found`), then the admin-only ability is checked (`403 Forbidden`, also for anonymous
 * reads); a missing key is `ActiveRecord::RecordNotFound` on read but `404 Custom attribute Not Found`
 * on delete. Writes go through the store so the custom-attribute index stays right.
 */

/** Grape reads a trailing `.json` as the response format; any other extension matches no route. */
function attributeKey(ctx: RouteCtx): string {
  const raw = String(ctx.params.key);
  const key = raw.endsWith('.json') ? raw.slice(0, -'.json'.length) : raw;
  if (key === '' || key.includes('.')) throw routeNotFound();
  return key;
}

function findResource(ctx: RouteCtx): User {
  const user = ctx.store.users.get(Number(ctx.params.id));
  if (!user) throw notFound();
  return user;
}

function authorize(ctx: RouteCtx): void {
  if (!ctx.isAdmin) throw forbidden();
}

const entity = (key: string, value: string) => ({ key, value });

export const customAttributeRoutes: ApiRoute[] = [
  {
    method: 'GET',
    path: '/users/:id/custom_attributes',
    requirements: { id: USER_ID },
    readUser: true,
    params: [requires('id', 'Any')],
    handler: (ctx) => {
      const user = findResource(ctx);
      authorize(ctx);
      return [...user.customAttributes].map(([key, value]) => entity(key, value));
    },
  },
  {
    method: 'GET',
    path: '/users/:id/custom_attributes/:key',
    requirements: { id: USER_ID },
    readUser: true,
    params: [requires('id', 'Any'), requires('key', 'String')],
    handler: (ctx) => {
      const key = attributeKey(ctx);
      const user = findResource(ctx);
      authorize(ctx);
      const value = user.customAttributes.get(key);
      if (value === undefined) throw recordNotFound();
      return entity(key, value);
    },
  },
  {
    method: 'PUT',
    path: '/users/:id/custom_attributes/:key',
    requirements: { id: USER_ID },
    auth: 'non_get',
    params: [requires('id', 'Any'), requires('key', 'String'), requires('value', 'String')],
    handler: (ctx) => {
      const key = attributeKey(ctx);
      const user = findResource(ctx);
      authorize(ctx);
      const value = ctx.params.value as string | null;
      // `CustomAttributes::UpsertService` renders the model's full messages as the message.
      if (value === null || value.trim() === '') throw apiError(["Value can't be blank"], 400);
      ctx.store.setCustomAttribute(user, key, value);
      return entity(key, value);
    },
  },
  {
    method: 'DELETE',
    path: '/users/:id/custom_attributes/:key',
    requirements: { id: USER_ID },
    auth: 'non_get',
    params: [requires('id', 'Any'), requires('key', 'String')],
    handler: (ctx) => {
      const key = attributeKey(ctx);
      const user = findResource(ctx);
      authorize(ctx);
      if (!ctx.store.deleteCustomAttribute(user, key)) throw notFound('Custom attribute');
      ctx.status = 204;
      return undefined;
    },
  },
];
