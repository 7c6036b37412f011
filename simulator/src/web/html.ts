import type { FastifyReply } from 'fastify';

/**
 * HTML for the simulator's web pages (sign-in, consent, password, dashboard). Pages are built with
 * the `html` tag, which escapes every interpolated value unless it is already `SafeHtml`, so
 * user-provided text (names, application names, scopes, redirect URIs) can never inject markup.
 */
export class SafeHtml {
  constructor(readonly value: string) {}

  toString(): string {
    return this.value;
  }
}

export function escapeHtml(value: unknown): string {
  return String(value)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function render(value: unknown): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(value);
}

/** Template tag: literal parts are markup, interpolations are escaped (arrays are concatenated). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new SafeHtml(out);
}

export interface Flash {
  notice?: string;
  alert?: string;
}

export interface PageOptions {
  title: string;
  body: SafeHtml;
  /** The signed-in user shown in the header. */
  user?: { name: string; username: string } | null;
  flash?: Flash | null;
  /** Extra elements for `<head>` (e.g. a meta refresh). */
  head?: SafeHtml;
  /** A wider content column (dashboard). */
  wide?: boolean;
}

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Noto Sans",Ubuntu,sans-serif;
  font-size:14px;line-height:1.5;color:#333238;background:#fbfafd}
header{background:#1f1e24;color:#fff;padding:0 24px;height:48px;display:flex;align-items:center;gap:16px}
header a{color:#fff;text-decoration:none}
header .brand{font-weight:600;font-size:16px;display:flex;align-items:center;gap:8px}
header .brand svg{width:24px;height:24px}
header .who{margin-left:auto;opacity:.85}
main{max-width:560px;margin:40px auto;padding:0 16px}
main.wide{max-width:820px}
h1{font-size:24px;font-weight:600;margin:0 0 16px}
h2{font-size:18px;font-weight:600;margin:24px 0 8px}
.card{background:#fff;border:1px solid #dcdcde;border-radius:4px;padding:24px}
label{display:block;font-weight:600;margin:12px 0 4px}
label.check{font-weight:400}
input[type=text],input[type=password],input[type=email]{width:100%;padding:8px 10px;border:1px solid #89888d;
  border-radius:4px;font-size:14px}
input:focus{outline:2px solid #1f75cb;outline-offset:1px}
.btn{display:inline-block;padding:8px 16px;border-radius:4px;border:1px solid #bfbfc3;background:#fff;color:#333238;
  font-size:14px;font-weight:600;cursor:pointer;text-decoration:none}
.btn-confirm{background:#1f75cb;border-color:#1068bf;color:#fff}
.btn-danger{background:#dd2b0e;border-color:#c91c00;color:#fff}
.btn-block{width:100%;margin-top:20px}
.actions{display:flex;gap:8px;margin-top:20px;flex-wrap:wrap}
.actions form{margin:0}
.flash{padding:12px 16px;border-radius:4px;margin-bottom:16px}
.flash-notice{background:#e9f3fc;border:1px solid #9dc7f1;color:#0b5cad}
.flash-alert{background:#fdd4cd;border:1px solid #f57f6c;color:#8d1300}
.errors{background:#fdd4cd;border:1px solid #f57f6c;color:#8d1300;padding:12px 16px;border-radius:4px;margin-bottom:16px}
.errors ul{margin:4px 0 0;padding-left:20px}
.muted{color:#626168}
.scopes{list-style:none;padding:0;margin:12px 0}
.scopes li{border:1px solid #dcdcde;border-radius:4px;padding:10px 12px;margin-bottom:8px}
.scopes li strong{display:block}
.warning{background:#fdf1dd;border:1px solid #e9be74;color:#8f4700;padding:12px 16px;border-radius:4px;margin:16px 0}
code,pre{font-family:"GitLab Mono","JetBrains Mono",Menlo,Consolas,monospace;font-size:13px}
pre{background:#f0f0f2;padding:12px;border-radius:4px;white-space:pre-wrap;word-break:break-all}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
dt{font-weight:600}
dd{margin:0;word-break:break-all}
ul.links{padding-left:20px}
a{color:#1068bf}
`;

const LOGO = html`<svg viewBox="0 0 25 24" aria-hidden="true"><path fill="#E24329" d="m24.507 9.5-.034-.09L21.082.562a.896.896 0 0 0-1.694.091l-2.29 7.01H7.825L5.535.653a.898.898 0 0 0-1.694-.09L.451 9.411.416 9.5a6.297 6.297 0 0 0 2.09 7.278l.012.01.03.022 5.16 3.867 2.56 1.935 1.554 1.176a1.051 1.051 0 0 0 1.268 0l1.555-1.176 2.56-1.935 5.197-3.89.014-.01A6.297 6.297 0 0 0 24.507 9.5Z"/><path fill="#FC6D26" d="m24.507 9.5-.034-.09a11.44 11.44 0 0 0-4.56 2.051l-7.447 5.632 4.742 3.584 5.197-3.89.014-.01A6.297 6.297 0 0 0 24.507 9.5Z"/><path fill="#FCA326" d="m7.707 20.677 2.56 1.935 1.555 1.176a1.051 1.051 0 0 0 1.268 0l1.555-1.176 2.56-1.935-4.743-3.584-4.755 3.584Z"/><path fill="#FC6D26" d="M5.01 11.461a11.43 11.43 0 0 0-4.56-2.05L.416 9.5a6.297 6.297 0 0 0 2.09 7.278l.012.01.03.022 5.16 3.867 4.745-3.584-7.444-5.632Z"/></svg>`;

/** A complete page in GitLab's look: dark top bar, centred content. */
export function page(opts: PageOptions): string {
  const flash = opts.flash;
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${opts.title} · GitLab</title>
<style>${new SafeHtml(STYLE)}</style>
${opts.head}
</head>
<body>
<header>
<a class="brand" href="/">${LOGO}<span>GitLab</span></a>
${opts.user ? html`<span class="who">${opts.user.name} · @${opts.user.username}</span>` : html`<a class="who" href="/users/sign_in">Sign in</a>`}
</header>
<main${opts.wide ? new SafeHtml(' class="wide"') : ''}>
${flash?.notice ? html`<div class="flash flash-notice" role="status">${flash.notice}</div>` : ''}
${flash?.alert ? html`<div class="flash flash-alert" role="alert">${flash.alert}</div>` : ''}
${opts.body}
</main>
</body>
</html>
`.value;
}

export function hiddenField(name: string, value: string | null | undefined): SafeHtml {
  return html`<input type="hidden" name="${name}" value="${value ?? ''}">`;
}

/** Rails' `form_tag`: the CSRF token and, for PUT/DELETE, the `_method` override. */
export function formFields(csrfToken: string, method?: 'put' | 'delete'): SafeHtml {
  return html`${method ? hiddenField('_method', method) : ''}${hiddenField('authenticity_token', csrfToken)}`;
}

/** ActiveModel's error list, as Devise's `error_messages` partial shows it. */
export function errorList(errors: readonly string[], resource = 'user'): SafeHtml {
  if (errors.length === 0) return html``;
  const heading =
    errors.length === 1
      ? `1 error prohibited this ${resource} from being saved:`
      : `${errors.length} errors prohibited this ${resource} from being saved:`;
  return html`<div class="errors" id="error_explanation"><strong>${heading}</strong><ul>${errors.map(
    (e) => html`<li>${e}</li>`,
  )}</ul></div>`;
}

export function sendHtml(reply: FastifyReply, status: number, body: string) {
  return reply.code(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(body);
}

/** A 302 to a path on this GitLab (Rails makes it absolute with the external URL). */
export function redirect(reply: FastifyReply, baseUrl: string, pathOrUrl: string) {
  const location = /^[a-z][a-z0-9+.-]*:/i.test(pathOrUrl) ? pathOrUrl : baseUrl + pathOrUrl;
  return reply
    .code(302)
    .header('location', location)
    .type('text/html; charset=utf-8')
    .send(html`<html><body>You are being <a href="${location}">redirected</a>.</body></html>`.value);
}

/** Rails' `public/422.html`, answered when the CSRF token is missing or wrong. */
export function sendCsrfRejected(reply: FastifyReply) {
  return sendHtml(
    reply,
    422,
    page({
      title: 'The change you requested was rejected (422)',
      body: html`<div class="card"><h1>422: The change you requested was rejected</h1>
<p>Make sure you have access to the thing you tried to change.</p>
<p class="muted">Please contact your GitLab administrator if you think this is a mistake.</p>
<p><a href="/">Go back</a></p></div>`,
    }),
  );
}
