import { Alert } from '../components.js';
import type { PageContext } from '../context.js';
import { href } from '../context.js';
import { Layout, PRODUCT_NAME } from '../layout.js';

/** The start page for visitors who are not signed in. */
export function StartPage(props: { ctx: PageContext; signedOut?: boolean }) {
  const { ctx } = props;
  return (
    <Layout ctx={ctx} title="Welcome">
      {props.signedOut ? (
        <Alert kind="ok" title="You have signed out">
          <p>Your session has ended and the portal no longer holds any access to your GitLab account.</p>
        </Alert>
      ) : null}
      <h1>Accounts for external collaborators</h1>
      <p class="lead">
        {PRODUCT_NAME} lets members of your organisation give partners, students and contractors a GitLab
        account in under a minute. You sponsor the account: GitLab creates it as an external account that sees
        only the projects and groups it is added to, and you are recorded as the person accountable for it.
      </p>
      <p>
        <a class="button" href={href(ctx, '/login')}>
          Sign in with GitLab
        </a>
      </p>
      <p class="muted">
        Signing in only tells the portal who you are. It cannot act in GitLab on your behalf.
      </p>
    </Layout>
  );
}

/** One of the sponsor's recent sponsorships, as the start page lists it. */
export interface RecentSponsorship {
  id: string;
  name: string;
  username: string;
  state: string;
  /** How the state reads at a glance: done, went wrong, or still in progress. */
  tone: 'ok' | 'bad' | 'neutral';
  createdAt: string;
  /** Portal path of the sponsorship's page. */
  path: string;
}

/** The start page for a signed-in sponsor: their recent sponsorships, or how to start. */
export function HomePage(props: { ctx: PageContext; recent: readonly RecentSponsorship[] }) {
  const { ctx, recent } = props;
  const name = ctx.user?.name ?? '';
  return (
    <Layout ctx={ctx} title="Start">
      <h1>Welcome, {name}</h1>
      <h2>Your recent sponsorships</h2>
      {recent.length === 0 ? (
        <div class="card stack">
          <p>You have not sponsored anyone yet.</p>
          <p>
            <a class="button" href={href(ctx, '/sponsorships/new')}>
              Sponsor someone
            </a>
          </p>
        </div>
      ) : (
        <>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Username</th>
                  <th scope="col">State</th>
                  <th scope="col">Sponsored on</th>
                </tr>
              </thead>
              <tbody>
                {recent.map((s) => (
                  <tr key={s.id}>
                    <td>
                      <a href={href(ctx, s.path)}>{s.name}</a>
                    </td>
                    <td>{s.username}</td>
                    <td>
                      <span class={s.tone === 'neutral' ? 'badge' : `badge ${s.tone}`}>{s.state}</span>
                    </td>
                    <td>{s.createdAt.slice(0, 10)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p>
            <a class="button" href={href(ctx, '/sponsorships/new')}>
              Sponsor someone
            </a>
          </p>
        </>
      )}
    </Layout>
  );
}
