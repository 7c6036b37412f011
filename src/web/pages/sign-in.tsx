import { CsrfField } from '../components.js';
import type { PageContext } from '../context.js';
import { href } from '../context.js';
import { Layout } from '../layout.js';

/** A sign-in that did not work: what happened, and a way to start again. */
export function SignInProblemPage(props: {
  ctx: PageContext;
  title: string;
  message: string;
  retry: boolean;
}) {
  const { ctx } = props;
  return (
    <Layout ctx={ctx} title={props.title}>
      <h1>{props.title}</h1>
      <p class="lead">{props.message}</p>
      <p>
        {props.retry ? (
          <a class="button" href={href(ctx, '/login')}>
            Sign in with GitLab again
          </a>
        ) : (
          <a class="button secondary" href={href(ctx, '/')}>
            Back to the start page
          </a>
        )}
      </p>
    </Layout>
  );
}

/** GitLab said who the visitor is, and they may not sponsor: why, and whom to ask. */
export function SignInRefusedPage(props: { ctx: PageContext; message: string }) {
  const { ctx } = props;
  return (
    <Layout ctx={ctx} title="You cannot sponsor collaborators">
      <h1>You cannot sponsor collaborators</h1>
      <p class="lead">{props.message}</p>
      <p>
        Only active, internal GitLab users can sign in to this portal. If you think this is wrong, ask your
        GitLab administrator.
      </p>
      <p>
        <a class="button secondary" href={href(ctx, '/')}>
          Back to the start page
        </a>
      </p>
    </Layout>
  );
}

/** `GET /logout`: signing out changes state, so it needs this form (a link alone never signs out). */
export function SignOutPage(props: { ctx: PageContext }) {
  const { ctx } = props;
  return (
    <Layout ctx={ctx} title="Sign out">
      <h1>Sign out</h1>
      <p class="lead">Sign out of the portal? Your GitLab session is not affected.</p>
      <form method="post" action={href(ctx, '/logout')}>
        <CsrfField token={ctx.csrfToken} />
        <button class="button" type="submit">
          Sign out
        </button>
      </form>
    </Layout>
  );
}
