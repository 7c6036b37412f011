import type { ComponentChildren } from 'preact';
import { href, type PageContext } from './context.js';

export const PRODUCT_NAME = 'gitlab-extern';

/** The page shell: skip link, header with navigation and sign-out, main landmark, footer. */
export function Layout(props: { ctx: PageContext; title: string; children: ComponentChildren }) {
  const { ctx } = props;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="strict-origin-when-cross-origin" />
        <title>{`${props.title} · ${PRODUCT_NAME}`}</title>
        <link rel="icon" type="image/svg+xml" href={`${ctx.base}/assets/favicon.svg`} />
        <link rel="stylesheet" href={ctx.assets.css} />
        <script nonce={ctx.nonce} src={ctx.assets.js} defer />
      </head>
      <body>
        <a class="skip-link" href="#main">
          Skip to content
        </a>
        <header class="site-header">
          <div class="inner">
            <a class="brand" href={href(ctx, '/')}>
              {PRODUCT_NAME}
            </a>
            <nav aria-label="Main">
              <ul>
                {ctx.user ? (
                  <>
                    <li>
                      <a href={href(ctx, '/sponsorships/new')}>Sponsor someone</a>
                    </li>
                    <li class="who">
                      Signed in as <strong>{ctx.user.username}</strong>
                    </li>
                    <li>
                      <form method="post" action={href(ctx, '/logout')}>
                        <input type="hidden" name="_csrf" value={ctx.csrfToken} />
                        <button class="link-button" type="submit">
                          Sign out
                        </button>
                      </form>
                    </li>
                  </>
                ) : (
                  <li>
                    <a href={href(ctx, '/login')}>Sign in with GitLab</a>
                  </li>
                )}
              </ul>
            </nav>
          </div>
        </header>
        <main id="main" tabIndex={-1}>
          {props.children}
        </main>
        <footer class="site-footer">
          {PRODUCT_NAME} — accounts for external collaborators, sponsored by the people who work with them.
        </footer>
      </body>
    </html>
  );
}
