import { describe, expect, it } from 'vitest';
import type { Simulator } from '../src/index.js';
import { Browser } from './browser.js';
import { get, useSimulator } from './helpers.js';

// The mail page shows names, addresses and subjects the code under test chose, and mail bodies it
// wrote: all of it must come out as text (security.md E2, with its payloads).

const PAYLOADS = {
  name: '</script><script>alert(1)</script>',
  subject: '<img src=x onerror=alert(1)>',
  to: '"><svg onload=alert(1)>@evil.example',
  text: "<b>bold</b> & {{constructor.constructor('alert(1)')()}}",
  html: '</iframe><script>alert(1)</script><p onclick="x">hi</p>',
};

function maliciousMail(sim: Simulator) {
  const user = sim.givenUser({ username: 'mallory', name: PAYLOADS.name });
  return sim.store.recordMail({
    to: PAYLOADS.to,
    subject: PAYLOADS.subject,
    kind: 'new_user',
    text: PAYLOADS.text,
    html: PAYLOADS.html,
    resetLink: `${sim.url}/users/password/edit?reset_password_token=abc&x=1`,
    confirmationLink: 'javascript:alert(1)',
    userId: user.id,
  });
}

describe('mail viewer (/-/sim/mail)', () => {
  const sim = useSimulator();

  it('escapes the subject, recipient name and address, and the text body — security.md E2', async () => {
    const s = sim();
    maliciousMail(s);
    const page = await get(s, '/-/sim/mail');
    expect(page.status).toBe(200);
    expect(page.text).not.toMatch(/<script|<img|<svg/i);
    // Outside the sandboxed frame's escaped srcdoc, no tag carries an event handler.
    expect(page.text.replace(/<iframe[^>]*>/g, '')).not.toMatch(/<[a-z][^<>]*\son[a-z]+=/i);
    expect(page.text).toContain('<h2>&lt;img src=x onerror=alert(1)&gt;</h2>');
    expect(page.text).toContain(
      '<dd>&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; &lt;&quot;&gt;&lt;svg onload=alert(1)&gt;@evil.example&gt;</dd>',
    );
    expect(page.text).toContain(
      '<pre>&lt;b&gt;bold&lt;/b&gt; &amp; {{constructor.constructor(&#39;alert(1)&#39;)()}}</pre>',
    );
  });

  it('shows the HTML body only inside a sandboxed frame, escaped into srcdoc — security.md E2', async () => {
    const s = sim();
    maliciousMail(s);
    const page = (await get(s, '/-/sim/mail')).text;
    const frames = page.match(/<iframe[^>]*>/g) ?? [];
    expect(frames).toHaveLength(1);
    expect(frames[0]).toContain('sandbox=""');
    expect(frames[0]).toContain(
      'srcdoc="&lt;/iframe&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;p onclick=&quot;x&quot;&gt;hi&lt;/p&gt;"',
    );
  });

  it('links only web URLs, with the query escaped; a javascript: link stays text — security.md E2', async () => {
    const s = sim();
    maliciousMail(s);
    const page = (await get(s, '/-/sim/mail')).text;
    expect(page).toContain(
      `<a class="action" href="${s.url}/users/password/edit?reset_password_token=abc&amp;x=1">Set password (reset link)</a>`,
    );
    expect(page).not.toContain('href="javascript:');
    expect(page).toContain('<code>javascript:alert(1)</code>');
  });

  it('sends a script-free Content-Security-Policy — security.md G (CSP)', async () => {
    const res = await get(sim(), '/-/sim/mail');
    expect(res.headers.get('content-security-policy')).toBe(
      "default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('escapes the recipient filter echoed into the form, and lists newest first', async () => {
    const s = sim();
    s.store.recordMail({
      to: 'a@example.org',
      subject: 'older',
      kind: 'x',
      text: '',
      html: '',
      resetLink: null,
      confirmationLink: null,
      userId: null,
    });
    s.store.recordMail({
      to: 'a@example.org',
      subject: 'newer',
      kind: 'x',
      text: '',
      html: '',
      resetLink: null,
      confirmationLink: null,
      userId: null,
    });
    const all = (await get(s, '/-/sim/mail')).text;
    expect(all.indexOf('<h2>newer</h2>')).toBeLessThan(all.indexOf('<h2>older</h2>'));
    expect(all).toContain('2 messages, newest first.');
    const filtered = await get(s, '/-/sim/mail', { query: { to: '"><script>alert(1)</script>' } });
    expect(filtered.text).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(filtered.text).not.toMatch(/<script/i);
    expect(filtered.text).toContain('No mail captured yet.');
  });

  it('a signed-in non-admin sees a 403 page with their name escaped — security.md E2', async () => {
    const s = sim();
    const mallory = s.givenUser({ username: 'mallory', name: PAYLOADS.subject });
    const session = s.store.createWebSession(mallory.id);
    const res = await get(s, '/-/sim/mail', {
      token: null,
      headers: { cookie: `_gitlab_session=${session.id}` },
    });
    expect(res.status).toBe(403);
    expect(res.text).toContain('&lt;img src=x onerror=alert(1)&gt; is not an administrator');
    expect(res.text).not.toMatch(/<img/i);
  });

  it('a browser sent to sign in comes back to the mail page as an administrator — Devise user_return_to', async () => {
    const s = sim();
    s.givenUser({ username: 'demo-admin', password: 'demo-admin-pass-1', admin: true });
    s.store.recordMail({
      to: 'ext@example.org',
      subject: 'Account was created for you',
      kind: 'new_user',
      text: '',
      html: '',
      resetLink: null,
      confirmationLink: null,
      userId: null,
    });
    const browser = new Browser(s);
    const denied = await browser.get('/-/sim/mail?to=ext%40example.org');
    expect(denied.status).toBe(401);
    const signedIn = await browser.signIn('demo-admin', 'demo-admin-pass-1');
    expect(signedIn.location).toBe(`${s.url}/-/sim/mail?to=ext%40example.org`);
    const page = await browser.follow(signedIn);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<h2>Account was created for you</h2>');
  });
});

describe('public mail viewer (demo mode setting)', () => {
  const sim = useSimulator({ settings: { publicMailViewer: true } });

  it('lets anyone read captured mail when publicMailViewer is on, and still protects the rest', async () => {
    const s = sim();
    s.store.recordMail({
      to: 'new@partner.example',
      subject: 'Account was created for you',
      text: 'hello',
      html: '<p>hello</p>',
      kind: 'new_user',
      resetLink: `${s.url}/users/password/edit?reset_password_token=abc`,
      confirmationLink: null,
      userId: null,
    });
    const page = await fetch(`${s.url}/-/sim/mail`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Account was created for you');
    const json = await fetch(`${s.url}/-/sim/mail.json`);
    expect(json.status).toBe(200);
    expect((await json.json())[0]).toMatchObject({ to: 'new@partner.example', kind: 'new_user' });
    expect((await fetch(`${s.url}/-/sim/requests`)).status).toBe(401);
  });
});
