/** What every page needs besides its own data; built per request by `pageContext()` in `render.ts`. */
export interface PageContext {
  /** Path prefix the portal is served under ('' or e.g. '/extern'). */
  base: string;
  /** This response's CSP nonce for `<script>` elements. */
  nonce: string;
  /** Versioned asset URLs. */
  assets: { css: string; js: string };
  /** The signed-in sponsor, if any. */
  user?: { id: number; username: string; name: string };
  /** The session's CSRF token, for forms. */
  csrfToken?: string;
}

/** Joins the path prefix and an absolute portal path. */
export function href(ctx: Pick<PageContext, 'base'>, path: string): string {
  return `${ctx.base}${path}`;
}
