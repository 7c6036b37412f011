import type { PageContext } from '../context.js';
import { href } from '../context.js';
import { Layout } from '../layout.js';

/** An error page that says what happened and what to do, and never shows internals. */
export function ErrorPage(props: {
  ctx: PageContext;
  status: number;
  title: string;
  message: string;
  requestId?: string;
  action?: { label: string; path: string };
}) {
  return (
    <Layout ctx={props.ctx} title={props.title}>
      <h1>{props.title}</h1>
      <p class="lead">{props.message}</p>
      <p>
        <a class="button secondary" href={href(props.ctx, props.action?.path ?? '/')}>
          {props.action?.label ?? 'Back to the start page'}
        </a>
      </p>
      {props.requestId ? (
        <p class="muted">
          Reference for your administrator: <code>{props.requestId}</code> (status {props.status})
        </p>
      ) : null}
    </Layout>
  );
}
