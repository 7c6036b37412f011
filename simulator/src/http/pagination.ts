import qs from 'qs';
import { ApiError } from './errors.js';

/** `Gitlab::Pagination::OffsetPagination` limits. */
export const MAX_PER_PAGE = 100;
export const MAX_COUNT_LIMIT = 10_000;
export const OFFSET_PAGINATION_LIMIT = 50_000;

export interface PageRequest {
  /** Absolute URL of the endpoint without query, e.g. `http://host/api/v4/users`. */
  url: string;
  /** All request params (client-sent plus declared defaults), excluding route params. */
  params: Record<string, unknown>;
}

export interface Page<T> {
  items: T[];
  headers: Record<string, string>;
}

/** Rails' `Hash#to_query`: keys sorted, nested hashes as `a[b]=c`. */
export function toQuery(params: Record<string, unknown>): string {
  const clean: Record<string, unknown> = {};
  for (const key of Object.keys(params).sort()) {
    const v = params[key];
    if (v === undefined) continue;
    clean[key] = v instanceof Date ? v.toISOString() : v;
  }
  return qs.stringify(clean, { arrayFormat: 'brackets', sort: (a, b) => a.localeCompare(b) });
}

function linkHeader(links: [string, string][]): string {
  return links.map(([href, rel]) => `<${href}>; rel="${rel}"`).join(', ');
}

export function perPageOf(params: Record<string, unknown>): number {
  const raw = Number(params.per_page ?? 20);
  if (!Number.isFinite(raw) || raw < 1) return 20;
  return Math.min(raw, MAX_PER_PAGE);
}

/**
 * Offset pagination with GitLab's headers (`lib/gitlab/pagination/offset_header_builder.rb`):
 * empty `X-Next-Page`/`X-Prev-Page` at the edges, no totals or `rel="last"` above 10,000 rows,
 * and the 405 for `User`/`Group` listings past an offset of 50,000.
 */
export function paginateOffset<T>(
  all: readonly T[],
  req: PageRequest,
  opts: { enforcedType?: 'User' | 'Group' } = {},
): Page<T> {
  const perPage = perPageOf(req.params);
  const requestedPage = Number(req.params.page ?? 1);
  const page = Number.isFinite(requestedPage) && requestedPage >= 1 ? Math.floor(requestedPage) : 1;
  if (opts.enforcedType && page * perPage > OFFSET_PAGINATION_LIMIT) {
    throw new ApiError(405, {
      error: `Offset pagination has a maximum allowed offset of ${OFFSET_PAGINATION_LIMIT} for requests that return objects of type ${opts.enforcedType}. Remaining records can be retrieved using keyset pagination.`,
    });
  }
  const start = (page - 1) * perPage;
  const items = all.slice(start, start + perPage);
  const counted = all.length <= MAX_COUNT_LIMIT;
  const total = all.length;
  const totalPages = Math.max(1, Math.ceil(total / perPage));
  const hasNext = start + perPage < total;
  const hasPrev = page > 1;

  const href = (p: number) => `${req.url}?${toQuery({ ...req.params, page: p, per_page: perPage })}`;
  const links: [string, string][] = [];
  if (hasPrev) links.push([href(page - 1), 'prev']);
  if (hasNext) links.push([href(page + 1), 'next']);
  links.push([href(1), 'first']);
  if (counted) links.push([href(totalPages), 'last']);

  const headers: Record<string, string> = {
    'x-per-page': String(perPage),
    'x-page': String(page),
    'x-next-page': hasNext ? String(page + 1) : '',
    'x-prev-page': hasPrev ? String(page - 1) : '',
    link: linkHeader(links),
  };
  if (counted) {
    headers['x-total'] = String(total);
    headers['x-total-pages'] = String(totalPages);
  }
  return { items, headers };
}

/** A keyset request for an order the resource does not support (`Gitlab::Pagination::Keyset`). */
export const keysetUnavailable = () =>
  new ApiError(405, { error: 'Keyset pagination is not yet available for this type of request' });

export interface KeysetOrder<T> {
  /** Field values that make up the cursor, e.g. `{ id: 7 }` or `{ name: 'x', id: 7 }`. */
  cursorOf(item: T): Record<string, string | number>;
  /** true when `item` comes strictly after the cursor in the current order. */
  isAfter(item: T, cursor: Record<string, unknown>): boolean;
}

export function encodeCursor(values: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export function decodeCursor(cursor: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Cursor-based keyset pagination (`lib/gitlab/pagination/keyset/cursor_pager.rb`): the only header
 * is `Link: <…&cursor=…>; rel="next"` while more rows follow. `sorted` is already in request order.
 */
export function paginateKeyset<T>(sorted: readonly T[], req: PageRequest, order: KeysetOrder<T>): Page<T> {
  const perPage = perPageOf(req.params);
  let start = 0;
  const rawCursor = req.params.cursor;
  if (typeof rawCursor === 'string' && rawCursor !== '') {
    const cursor = decodeCursor(rawCursor);
    if (!cursor) throw new ApiError(400, { error: 'cursor is invalid' });
    start = sorted.findIndex((item) => order.isAfter(item, cursor));
    if (start === -1) start = sorted.length;
  }
  const items = sorted.slice(start, start + perPage);
  const headers: Record<string, string> = {};
  if (start + perPage < sorted.length && items.length > 0) {
    const next = encodeCursor(order.cursorOf(items[items.length - 1]!));
    const params = { ...req.params, cursor: next, per_page: perPage };
    headers.link = linkHeader([[`${req.url}?${toQuery(params)}`, 'next']]);
  }
  return { items, headers };
}

/** A keyset order over one or two fields with an id tie-breaker, ascending or descending. */
export function fieldOrder<T extends { id: number }>(
  field: string,
  get: (item: T) => string | number,
  direction: 'asc' | 'desc',
): KeysetOrder<T> & { compare(a: T, b: T): number } {
  const sign = direction === 'asc' ? 1 : -1;
  const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
  const compare = (a: T, b: T) => sign * (cmp(get(a), get(b)) || a.id - b.id);
  return {
    compare,
    cursorOf: (item) => (field === 'id' ? { id: item.id } : { [field]: get(item), id: item.id }),
    isAfter: (item, cursor) => {
      const id = Number(cursor.id);
      if (field === 'id') return sign * (item.id - id) > 0;
      const c = cursor[field] as string | number;
      const v = get(item);
      const primary = cmp(v, c);
      return primary !== 0 ? sign * primary > 0 : sign * (item.id - id) > 0;
    },
  };
}
