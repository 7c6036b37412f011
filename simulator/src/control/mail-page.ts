import { isoTime } from '../clock.js';
import type { Store } from '../model/store.js';
import type { MailMessage } from '../model/types.js';
import { escapeHtml } from '../web/html.js';

/** The most mails one page shows; load tests can capture far more. */
const MAIL_PAGE_LIMIT = 200;

/**
 * The mail page runs no script and loads nothing; each message's HTML part is shown in a sandboxed
 * frame, which inherits this policy.
 */
export const MAIL_PAGE_CSP =
  "default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const STYLE = `
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#1f1e24}
h1{font-size:1.5rem;margin:.5rem 0}
form{display:flex;gap:.5rem;align-items:center;flex-wrap:wrap;margin:1rem 0}
input{font:inherit;padding:.25rem .5rem;min-width:18rem}
button,.action{font:inherit;padding:.3rem .8rem;border-radius:4px;border:1px solid #1f75cb;background:#1f75cb;color:#fff;text-decoration:none;display:inline-block}
article{border:1px solid #dcdcde;border-radius:6px;padding:.75rem 1rem;margin:.75rem 0}
article h2{font-size:1.1rem;margin:0 0 .25rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:0 1rem;margin:.25rem 0 .5rem}
dt{color:#626168}dd{margin:0;overflow-wrap:anywhere}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f8;padding:.75rem;border-radius:4px}
iframe{width:100%;height:24rem;border:1px solid #dcdcde;border-radius:4px;background:#fff}
.links{display:flex;gap:.5rem;flex-wrap:wrap}
.muted{color:#626168}`;

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

/** A link only for web URLs; anything else is shown as text. */
function link(url: string, label: string): string {
  if (!/^https?:\/\//i.test(url)) return `<code>${escapeHtml(url)}</code>`;
  return `<a class="action" href="${escapeHtml(url)}">${escapeHtml(label)}</a>`;
}

function renderMail(store: Store, mail: MailMessage): string {
  const name = mail.userId === null ? undefined : store.users.get(mail.userId)?.name;
  const recipient = name ? `${name} <${mail.to}>` : mail.to;
  const sent = isoTime(mail.sentAt);
  const links = [
    mail.resetLink ? link(mail.resetLink, 'Set password (reset link)') : '',
    mail.confirmationLink ? link(mail.confirmationLink, 'Confirm e-mail address') : '',
  ].filter(Boolean);
  return `<article id="mail-${mail.id}">
<h2>${escapeHtml(mail.subject)}</h2>
<dl>
<dt>To</dt><dd>${escapeHtml(recipient)}</dd>
<dt>Sent</dt><dd><time datetime="${sent}">${sent.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}</time></dd>
<dt>Kind</dt><dd>${escapeHtml(mail.kind)}</dd>
</dl>
${links.length > 0 ? `<p class="links">${links.join(' ')}</p>` : ''}
<details>
<summary>Show message</summary>
<pre>${escapeHtml(mail.text)}</pre>
${mail.html ? `<iframe sandbox="" title="HTML version of ${escapeHtml(mail.subject)}" srcdoc="${escapeHtml(mail.html)}"></iframe>` : ''}
</details>
</article>`;
}

/** The mail captured by the simulator, newest first: what GitLab would have delivered. */
export function renderMailPage(store: Store, mails: readonly MailMessage[], filter: { to?: string }): string {
  const shown = mails.slice(0, MAIL_PAGE_LIMIT);
  const count =
    mails.length === 0
      ? 'No mail captured yet.'
      : mails.length > shown.length
        ? `Showing the ${shown.length} newest of ${mails.length} messages.`
        : `${mails.length} message${mails.length === 1 ? '' : 's'}, newest first.`;
  return page(
    'Mail · GitLab simulator',
    `<header>
<h1>Mail sent by the GitLab simulator</h1>
<form method="get" action="/-/sim/mail">
<label for="to">Recipient</label>
<input id="to" name="to" type="text" value="${escapeHtml(filter.to ?? '')}" placeholder="someone@example.com">
<button type="submit">Filter</button>
<a href="/-/sim/mail">Show all</a>
</form>
<p class="muted">${count}</p>
</header>
<main>
${shown.map((m) => renderMail(store, m)).join('\n')}
</main>`,
  );
}

/** What a browser sees without the right to read the mail. */
export function renderMailDenied(status: 401 | 403, userName?: string): string {
  const reason =
    status === 401
      ? 'Sign in to the simulated GitLab as an administrator, or add the admin token as <code>?private_token=…</code>.'
      : `${userName ? `${escapeHtml(userName)} is` : 'You are'} not an administrator of the simulated GitLab.`;
  return page(
    'Mail · GitLab simulator',
    `<h1>Mail sent by the GitLab simulator</h1>
<p>${reason}</p>
<p><a href="/users/sign_in">Sign in</a></p>`,
  );
}
