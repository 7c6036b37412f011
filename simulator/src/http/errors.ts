/**
 * An error answered exactly as GitLab would: status, JSON body (any JSON value, since GitLab's
 * bodies range from `{"message":…}` to `{"error":…}` to a bare `null`) and extra headers.
 * Sources: `lib/api/helpers.rb`, `lib/api/api.rb`, `lib/grape/locale/en.yml`.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
    /** Send `body` as-is (text) instead of JSON. */
    readonly contentType = 'application/json',
  ) {
    super(typeof body === 'string' ? body : JSON.stringify(body));
  }
}

/** `unauthorized!` */
export const unauthorized = () => new ApiError(401, { message: '401 Unauthorized' });

/** `forbidden!` / `forbidden!(reason)` */
export const forbidden = (reason?: string) =>
  new ApiError(403, { message: reason ? `403 Forbidden - ${reason}` : '403 Forbidden' });

/** `not_found!` / `not_found!('User')` → `404 User Not Found` */
export const notFound = (resource?: string) =>
  new ApiError(404, { message: resource ? `404 ${resource} Not Found` : '404 Not Found' });

/** `ActiveRecord::RecordNotFound` rescued by the API: note the lower-case "found". */
export const recordNotFound = () => new ApiError(404, { message: '404 Not found' });

/** Grape's catch-all `route :any, '*path'`. */
export const routeNotFound = () => new ApiError(404, { error: '404 Not Found' });

/** `bad_request!(reason)` */
export const badRequest = (reason?: string) =>
  new ApiError(400, { message: reason ? `400 Bad request - ${reason}` : '400 Bad request' });

/** `conflict!(message)` */
export const conflict = (message: string) => new ApiError(409, { message });

/** `render_validation_error!` — ActiveModel `errors.messages`. */
export const validationFailed = (errors: Record<string, string[]>) => new ApiError(400, { message: errors });

/** A Grape parameter error: `{"error":"email is missing"}`. */
export const grapeError = (message: string, status = 400) => new ApiError(status, { error: message });

/** `render_api_error!(message, status)` */
export const apiError = (message: unknown, status: number) => new ApiError(status, { message });

export const unprocessable = () => new ApiError(422, { message: '422 Unprocessable Entity' });

export const preconditionFailed = () => new ApiError(412, { message: '412 Precondition Failed' });

/** OAuth bearer-token errors (`lib/gitlab/auth/auth_finders.rb`, rack-oauth2). */
export function invalidToken(description: string): ApiError {
  return new ApiError(
    401,
    { error: 'invalid_token', error_description: description },
    {
      'www-authenticate': `Bearer realm="The API", error="invalid_token", error_description="${description}"`,
    },
  );
}

export function insufficientScope(allowed: readonly string[]): ApiError {
  return new ApiError(403, {
    error: 'insufficient_scope',
    error_description: 'The request requires higher privileges than provided by the access token.',
    scope: allowed.join(' '),
  });
}
