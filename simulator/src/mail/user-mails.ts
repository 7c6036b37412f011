import type { Store } from '../model/store.js';
import type { MailMessage, User } from '../model/types.js';
import { escapeHtml } from '../web/html.js';

/**
 * The mails GitLab sends around a user's account, recorded instead of delivered. Texts follow
 * `app/views/notify/*`, `app/views/devise/mailer/*` and the subjects of `app/mailers/emails/profile.rb`,
 * `app/mailers/devise_mailer.rb` and `config/locales/devise.en.yml`. Every user-provided value is
 * HTML-escaped in the HTML part.
 */

/** Devise `reset_password_within` as GitLab configures it (`config/initializers/devise.rb`). */
export const RESET_PASSWORD_WITHIN_DAYS = 2;

export function resetPasswordLink(store: Store, token: string): string {
  return `${store.baseUrl}/users/password/edit?reset_password_token=${encodeURIComponent(token)}`;
}

export function confirmationLink(store: Store, token: string): string {
  return `${store.baseUrl}/users/confirmation?confirmation_token=${encodeURIComponent(token)}`;
}

interface Paragraph {
  text: string;
  link?: { label: string; href: string };
}

function record(
  store: Store,
  user: User,
  mail: { kind: string; to: string; subject: string; paragraphs: Paragraph[] },
  links: { resetLink?: string; confirmationLink?: string } = {},
): MailMessage {
  const text = mail.paragraphs
    .map((p) => (p.link ? `${p.text}${p.text ? '\n' : ''}${p.link.label}: ${p.link.href}` : p.text))
    .join('\n\n');
  const html = [
    '<!DOCTYPE html>',
    `<html><head><meta charset="utf-8"><title>${escapeHtml(mail.subject)}</title></head><body>`,
    ...mail.paragraphs.map((p) => {
      const body = escapeHtml(p.text).replaceAll('\n', '<br>');
      const link = p.link ? `<a href="${escapeHtml(p.link.href)}">${escapeHtml(p.link.label)}</a>` : '';
      return `<p>${body}${body && link ? '<br>' : ''}${link}</p>`;
    }),
    '</body></html>',
  ].join('\n');
  return store.recordMail({
    kind: mail.kind,
    to: mail.to,
    subject: mail.subject,
    text,
    html,
    resetLink: links.resetLink ?? null,
    confirmationLink: links.confirmationLink ?? null,
    userId: user.id,
  });
}

/**
 * `Notify#new_user_email` ("Account was created for you"), sent by `Users::CreateService` when an admin
 * created the user with `reset_password`; it carries the link to set a password.
 */
export function sendNewUserMail(store: Store, user: User, resetToken: string): MailMessage {
  const link = resetPasswordLink(store, resetToken);
  return record(
    store,
    user,
    {
      kind: 'new_user',
      to: user.email,
      subject: 'Account was created for you',
      paragraphs: [
        { text: `Hi ${user.name}!` },
        // `allow_signup?` is on by default, which selects this sentence in the template.
        { text: 'Your account has been created successfully.' },
        { text: `login.................. ${user.email}` },
        {
          text: `This link is valid for ${RESET_PASSWORD_WITHIN_DAYS} days. After it expires, you can request a new one.`,
          link: { label: 'Click here to set your password', href: link },
        },
      ],
    },
    { resetLink: link },
  );
}

/** Devise `reset_password_instructions` ("Forgot your password?"). */
export function sendResetPasswordInstructions(store: Store, user: User, token: string): MailMessage {
  const link = resetPasswordLink(store, token);
  return record(
    store,
    user,
    {
      kind: 'reset_password',
      to: user.email,
      subject: 'Reset password instructions',
      paragraphs: [
        { text: `Hello, ${user.name}!` },
        {
          text: `Someone, hopefully you, has requested to reset the password for your GitLab account on ${store.baseUrl}.`,
        },
        { text: 'If you did not perform this request, you can safely ignore this email.' },
        {
          text: 'Otherwise, click the link below to complete the process.',
          link: { label: 'Reset password', href: link },
        },
      ],
    },
    { resetLink: link },
  );
}

/** Devise `confirmation_instructions`, sent on create unless `skip_confirmation`, and on e-mail change. */
export function sendConfirmationInstructions(
  store: Store,
  user: User,
  token: string,
  to: string,
): MailMessage {
  const link = confirmationLink(store, token);
  const reconfirming = to.toLowerCase() !== user.email.toLowerCase();
  return record(
    store,
    user,
    {
      kind: 'confirmation',
      to,
      subject: 'Confirmation instructions',
      paragraphs: [
        { text: `Hi ${user.name}!` },
        {
          text: reconfirming
            ? `Use the link below to confirm your email address (${to}).`
            : `Welcome, ${user.name}! You can confirm your account email through the link below.`,
          link: { label: reconfirming ? 'Confirm your email address' : 'Confirm your account', href: link },
        },
        { text: "If you didn't request this, you can ignore this email." },
      ],
    },
    { confirmationLink: link },
  );
}

/** Devise `password_change_by_admin` (`User#send_only_admin_changed_your_password_notification!`). */
export function sendPasswordChangedByAdmin(store: Store, user: User): MailMessage {
  return record(store, user, {
    kind: 'password_change_by_admin',
    to: user.email,
    subject: 'Password changed by administrator',
    paragraphs: [
      { text: `Hello, ${user.name}!` },
      { text: `An administrator changed the password for your GitLab account on ${store.baseUrl}.` },
      { text: 'If you did not initiate this change, please contact your administrator.' },
    ],
  });
}

/** Devise `password_change`: a user changed their own password. */
export function sendPasswordChanged(store: Store, user: User): MailMessage {
  return record(store, user, {
    kind: 'password_change',
    to: user.email,
    subject: 'Password Changed',
    paragraphs: [
      { text: `Hello, ${user.name}!` },
      { text: `The password for your GitLab account on ${store.baseUrl} has successfully been changed.` },
      { text: 'If you did not initiate this change, please contact your administrator immediately.' },
    ],
  });
}

/** `Notify#user_deactivated_email`, sent on deactivation (`user_deactivation_emails_enabled`). */
export function sendUserDeactivated(store: Store, user: User): MailMessage {
  return record(store, user, {
    kind: 'user_deactivated',
    to: user.email,
    subject: 'Your account has been deactivated',
    paragraphs: [
      { text: `Hello ${user.name},` },
      { text: 'Your account has been deactivated. You will not be able to:' },
      { text: '- Access Git repositories or the API.\n- Receive any notifications from GitLab.' },
      { text: `To reactivate your account, sign in to GitLab at ${store.baseUrl}.` },
    ],
  });
}

/** `DeviseMailer#user_admin_approval`, sent when an admin approves a pending user. */
export function sendAdminApproval(store: Store, user: User): MailMessage {
  return record(store, user, {
    kind: 'user_admin_approval',
    to: user.email,
    subject: 'Welcome to GitLab!',
    paragraphs: [
      { text: `Hi ${user.name}!` },
      {
        text: 'Your GitLab account request has been approved!',
        link: { label: 'Sign in', href: store.baseUrl },
      },
    ],
  });
}

/** `Notify#user_admin_rejection_email`, sent when an admin rejects a pending user. */
export function sendAdminRejection(store: Store, user: User): MailMessage {
  return record(store, user, {
    kind: 'user_admin_rejection',
    to: user.email,
    subject: 'GitLab account request rejected',
    paragraphs: [
      { text: `Hi ${user.name},` },
      { text: 'Your request to join GitLab has been rejected.' },
      { text: 'Please contact your GitLab administrator if you think this is an error.' },
    ],
  });
}

/** `Notify#disabled_two_factor_email`. */
export function sendTwoFactorDisabled(store: Store, user: User): MailMessage {
  return record(store, user, {
    kind: 'disabled_two_factor',
    to: user.email,
    subject: 'Two-factor authentication disabled',
    paragraphs: [
      { text: `Hi ${user.name}!` },
      { text: 'Two-factor authentication has been disabled for your GitLab account.' },
      { text: 'If you did not initiate this change, please contact your administrator.' },
    ],
  });
}
