import {
  GroupMembers,
  PersonalAccessTokens,
  ProjectMembers,
  UserCustomAttributes,
  Users,
} from '@gitbeaker/core';
import {
  createRequesterFn,
  type FormattedResponse,
  type RequestOptions,
  type ResponseBodyTypes,
} from '@gitbeaker/requester-utils';
import { checkedPath } from './path.js';
import type { GitLabTransport, HttpMethod } from './transport.js';

const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * gitbeaker's resource classes driven by our transport. gitbeaker is given no token and no host: it
 * only builds paths (encoding each id with `encodeURIComponent`), queries and JSON bodies; the
 * transport adds the token header, the deadline, the retry policy and the error mapping. gitbeaker's
 * own fetch requester is not used because it retries POSTs and keeps the request, headers included,
 * in its errors.
 */
export function gitbeakerResources(transport: GitLabTransport) {
  const options = (idempotent: boolean) => ({
    host: '',
    requesterFn: createRequesterFn(
      (_resource, request) => Promise.resolve(request),
      handler(transport, idempotent),
    ),
    queryTimeout: null,
    rateLimits: {},
    camelize: false as const,
  });
  return {
    users: new Users(options(false)),
    /**
     * For block/unblock/deactivate/activate: these POSTs only move a user into a state, and repeating
     * one is a no-op in GitLab (`201 null`/`false`), so they may be retried like a PUT.
     */
    userStates: new Users(options(true)),
    customAttributes: new UserCustomAttributes(options(false)),
    projectMembers: new ProjectMembers(options(false)),
    groupMembers: new GroupMembers(options(false)),
    personalAccessTokens: new PersonalAccessTokens(options(false)),
  };
}

export type GitbeakerResources = ReturnType<typeof gitbeakerResources>;

function handler(transport: GitLabTransport, idempotent: boolean) {
  return async (
    endpoint: string,
    raw?: Record<string, unknown>,
  ): Promise<FormattedResponse<ResponseBodyTypes>> => {
    const options = (raw ?? {}) as RequestOptions;
    const method = (options.method ?? 'GET').toUpperCase();
    if (!METHODS.has(method)) throw new Error(`Unsupported HTTP method ${method}`);
    if (options.body !== undefined && typeof options.body !== 'string') {
      throw new Error('Only JSON request bodies are sent to GitLab');
    }
    // gitbeaker's prefix is `/api/v4/<resource>` because it was given an empty host.
    const prefix = String(options.prefixUrl ?? '').replace(/^\/api\/v4\/?/, '');
    const relative = prefix ? `${prefix.replace(/\/$/, '')}/${endpoint}` : endpoint;
    const sudo = options.headers?.sudo;
    const res = await transport.request(method as HttpMethod, checkedPath(relative), {
      query: new URLSearchParams(options.searchParams ?? ''),
      body: options.body === undefined ? undefined : JSON.parse(options.body),
      sudo,
      signal: options.signal,
      idempotent: idempotent || undefined,
    });
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      headers[name] = value;
    });
    return { status: res.status, headers, body: res.body as ResponseBodyTypes };
  };
}
