import type { NewUserPasswordMode } from '../../config/config.js';
import {
  EMAIL_MAX,
  NAME_MAX,
  ORGANISATION_MAX,
  REASON_MAX,
  REASON_MIN,
} from '../../sponsorship/sponsorship.schema.js';
import { USERNAME_HINT, USERNAME_MAX } from '../../sponsorship/username.js';
import { Alert, CsrfField, ErrorSummary, Field, type FieldErrors } from '../components.js';
import type { PageContext } from '../context.js';
import { href } from '../context.js';
import { Layout } from '../layout.js';

const SPONSORSHIP_FIELD_LABELS = {
  name: 'Full name',
  username: 'GitLab username',
  email: 'E-mail address',
  organisation: 'Organisation',
  reason: 'Why they need an account',
} as const;

type FormField = keyof typeof SPONSORSHIP_FIELD_LABELS;

/** An account that already uses the e-mail address, as the form shows it. */
export interface ExistingAccountView {
  username: string;
  name: string;
  state: string;
  sponsorUsername: string | null;
  profileUrl: string;
}

export interface SponsorshipFormProps {
  ctx: PageContext;
  /** What the sponsor typed, shown again unchanged. */
  values: Partial<Record<FormField, string>>;
  /** The one-time form token: the idempotency key of the create request. */
  formToken: string;
  errors?: FieldErrors;
  /** A problem that belongs to no single field. */
  message?: string;
  /** Free usernames to offer (from "Suggest a username", or because the chosen one is taken). */
  suggestions?: readonly string[];
  existingAccount?: ExistingAccountView;
  passwordMode: NewUserPasswordMode;
}

/**
 * The form to sponsor an external collaborator. It works without JavaScript: validation, username
 * suggestions and errors come from the server; `app.js` only adds the live username check.
 */
export function SponsorshipFormPage(props: SponsorshipFormProps) {
  const { ctx, values, errors = {} } = props;
  const fieldErrors = Object.fromEntries(
    Object.entries(errors).filter(([field]) => field in SPONSORSHIP_FIELD_LABELS),
  ) as FieldErrors;
  const suggestions = props.suggestions ?? [];
  const existing = props.existingAccount;
  return (
    <Layout ctx={ctx} title="Sponsor an external collaborator">
      <h1>Sponsor an external collaborator</h1>
      <p class="lead">
        GitLab creates an <strong>external</strong> account: it sees only the projects and groups it is added
        to, and cannot create projects or groups. You are recorded as its sponsor.
      </p>
      <ErrorSummary errors={fieldErrors} labels={SPONSORSHIP_FIELD_LABELS} message={props.message} />
      {existing ? (
        <Alert kind="info" title="This person already has a GitLab account">
          <p>
            <a href={existing.profileUrl}>@{existing.username}</a> ({existing.name}) is an external GitLab
            account ({existing.state})
            {existing.sponsorUsername ? (
              <>
                , sponsored by <strong>@{existing.sponsorUsername}</strong>
              </>
            ) : null}
            . No second account is needed: ask the sponsor or a project maintainer to add it to your projects.
          </p>
        </Alert>
      ) : null}
      <form class="form" method="post" action={href(ctx, '/sponsorships')} noValidate>
        {/* Pressing Enter in a field submits the form with its first button: make that "Create". */}
        <button type="submit" class="visually-hidden" tabIndex={-1} aria-hidden="true">
          Create the account
        </button>
        <CsrfField token={ctx.csrfToken} />
        <input type="hidden" name="form_token" value={props.formToken} />
        <Field
          name="name"
          label={SPONSORSHIP_FIELD_LABELS.name}
          value={values.name}
          hint="As the person writes it, e.g. Jane Doe. GitLab shows it on their profile."
          errors={fieldErrors.name}
          required
          autocomplete="off"
          maxLength={NAME_MAX}
        />
        <Field
          name="username"
          label={SPONSORSHIP_FIELD_LABELS.username}
          value={values.username}
          hint={USERNAME_HINT}
          errors={fieldErrors.username}
          required
          autocomplete="off"
          maxLength={USERNAME_MAX}
          status
          attrs={{ 'data-username-check': href(ctx, '/sponsorships/username-check') }}
        />
        <div class="field-actions">
          <button class="button secondary" type="submit" name="intent" value="suggest" formNoValidate>
            Suggest a username
          </button>
          {suggestions.length > 0 ? (
            <div id="username-suggestions">
              <p>These usernames are free in GitLab:</p>
              <ul class="suggestions">
                {suggestions.map((s) => (
                  <li key={s}>
                    <code>{s}</code>
                  </li>
                ))}
              </ul>
            </div>
          ) : null}
        </div>
        <Field
          name="email"
          type="email"
          label={SPONSORSHIP_FIELD_LABELS.email}
          value={values.email}
          hint={
            props.passwordMode === 'reset_link'
              ? 'GitLab sends the link to choose a password to this address.'
              : 'The account is tied to this address; the person resets the password through it.'
          }
          errors={fieldErrors.email}
          required
          autocomplete="off"
          maxLength={EMAIL_MAX}
        />
        <Field
          name="organisation"
          label={SPONSORSHIP_FIELD_LABELS.organisation}
          value={values.organisation}
          hint="The company, university or group the person belongs to."
          errors={fieldErrors.organisation}
          required
          autocomplete="off"
          maxLength={ORGANISATION_MAX}
        />
        <Field
          name="reason"
          label={SPONSORSHIP_FIELD_LABELS.reason}
          value={values.reason}
          hint={`What they will work on with you; ${REASON_MIN} to ${REASON_MAX.toLocaleString('en')} characters. It is recorded on the account in GitLab.`}
          errors={fieldErrors.reason}
          required
          multiline
          maxLength={REASON_MAX}
        />
        <button class="button" type="submit">
          Create the account
        </button>
      </form>
    </Layout>
  );
}
