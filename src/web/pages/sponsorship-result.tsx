import type { NewUserPasswordMode } from '../../config/config.js';
import type { CreationStep, SponsorshipCreation } from '../../sponsorship/sponsorship.service.js';
import { Alert } from '../components.js';
import type { PageContext } from '../context.js';
import { href } from '../context.js';
import { Layout } from '../layout.js';

const STEP_TEXT: Record<CreationStep, string> = {
  check: 'checking the username and e-mail address in GitLab',
  create: 'creating the account in GitLab',
  attributes: 'recording you as the sponsor on the account',
  verify: 'checking that GitLab applied the restrictions',
  complete: 'saving the sponsorship',
  block: 'blocking the account',
};

export interface SponsorshipResultProps {
  ctx: PageContext;
  creation: SponsorshipCreation;
  /** GitLab's external URL, for profile links and sign-in instructions. */
  gitlabUrl: string;
  passwordMode: NewUserPasswordMode;
}

function profileUrl(gitlabUrl: string, username: string): string {
  return `${gitlabUrl}/${encodeURIComponent(username)}`;
}

/** The outcome of one create request: what exists now, what the person receives, what to do next. */
export function SponsorshipResultPage(props: SponsorshipResultProps) {
  const { ctx, creation, gitlabUrl } = props;
  const { request, account, failure } = creation;
  const username = account?.username ?? request.username;
  const title =
    creation.state === 'completed'
      ? 'The account is ready'
      : creation.state === 'failed'
        ? creation.blocked
          ? 'The account was blocked'
          : 'The account was not created'
        : creation.state === 'unknown'
          ? 'Waiting for GitLab to confirm'
          : 'The account is being set up';
  return (
    <Layout ctx={ctx} title={title}>
      <h1>{title}</h1>
      {creation.state === 'completed' ? <Completed {...props} /> : null}
      {creation.state === 'running' ? (
        <Alert kind="info" title="Still in progress">
          <p>
            The portal is {STEP_TEXT[creation.step ?? 'check']}. It finishes by itself, also if you close this
            page; nothing needs to be sent again.
          </p>
          <p>
            <a href={href(ctx, `/sponsorships/${creation.operationId}`)}>Check again</a>
          </p>
        </Alert>
      ) : null}
      {creation.state === 'unknown' ? (
        <Alert kind="info" title="GitLab did not confirm the new account">
          <p>
            GitLab did not say whether it created @{username}. The portal looks the account up and finishes
            the sponsorship by itself; it never creates the account twice. Please do not send the form again.
          </p>
          <p>
            <a href={href(ctx, `/sponsorships/${creation.operationId}`)}>Check again</a>
          </p>
        </Alert>
      ) : null}
      {creation.state === 'failed' && failure ? (
        <Alert kind="error" title={creation.blocked ? 'Blocked for safety' : 'Not created'}>
          <p>{failure.message}</p>
          {failure.nothingCreated ? (
            <p>
              Nothing was created in GitLab. <a href={href(ctx, '/sponsorships/new')}>Sponsor someone</a> to
              try again.
            </p>
          ) : (
            <p>Your GitLab administrator can see this request in the audit log under the reference below.</p>
          )}
        </Alert>
      ) : null}
      <h2>Details</h2>
      <dl class="facts">
        <dt>Name</dt>
        <dd>{account?.name ?? request.name}</dd>
        <dt>Username</dt>
        <dd>
          {account && creation.state === 'completed' ? (
            <a href={profileUrl(gitlabUrl, account.username)}>@{account.username}</a>
          ) : (
            <>@{username}</>
          )}
        </dd>
        <dt>E-mail address</dt>
        <dd>{account?.email || request.email}</dd>
        <dt>Organisation</dt>
        <dd>{request.organisation}</dd>
        <dt>Reason</dt>
        <dd class="multiline">{request.reason}</dd>
        <dt>Requested</dt>
        <dd>{creation.createdAt.slice(0, 16).replace('T', ' ')} UTC</dd>
        <dt>Reference</dt>
        <dd>
          <code>{creation.operationId}</code>
        </dd>
      </dl>
      <p>
        <a class="button secondary" href={href(ctx, '/')}>
          Back to the start page
        </a>
      </p>
    </Layout>
  );
}

function Completed(props: SponsorshipResultProps) {
  const { ctx, creation, gitlabUrl, passwordMode } = props;
  const account = creation.account!;
  const email = account.email || creation.request.email;
  return (
    <>
      <Alert kind="ok" title={`@${account.username} was created as an external GitLab account`}>
        <p>
          You are recorded as the sponsor. The account cannot create projects or groups and sees only what it
          is added to.
        </p>
        <p>
          <a href={profileUrl(gitlabUrl, account.username)}>Open the profile in GitLab</a>
        </p>
      </Alert>
      <h2>What {account.name} receives</h2>
      {passwordMode === 'reset_link' ? (
        <p>
          GitLab sends an e-mail to <strong>{email}</strong> with a link to choose a password. Until they
          choose one, they cannot sign in. GitLab may also ask them to confirm the address.
        </p>
      ) : (
        <p>
          The account has a random password that nobody knows. {account.name} sets their own with "Forgot your
          password?" on GitLab's sign-in page, using <strong>{email}</strong>.
        </p>
      )}
      <h2>What to do next</h2>
      <ol>
        <li>
          Add @{account.username} to the projects or groups they need, in GitLab (the project's or group's
          Members page). Until then the account sees nothing.
        </li>
        <li>
          Tell them their username, <code>{account.username}</code>, and that they sign in at{' '}
          <a href={gitlabUrl}>{gitlabUrl}</a> after setting a password.
        </li>
        <li>
          <a href={href(ctx, '/sponsorships/new')}>Sponsor someone else</a>
        </li>
      </ol>
    </>
  );
}
