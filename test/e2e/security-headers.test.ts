import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, newContext, watchPage } from './support/browser.js';
import { type DemoProcess, startDemoProcess } from './support/demo-process.js';
import { fillForm, newCollaborator, signIn } from './support/flows.js';

let demo: DemoProcess;
let browser: Browser;
/** Another site on this machine that tries to show the portal in a frame. */
let framer: Server;
let framerUrl: string;

beforeAll(async () => {
  [demo, browser] = await Promise.all([startDemoProcess(), launchChromium()]);
  framer = createServer((req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    if (req.url === '/frameable') return res.end('<!DOCTYPE html><p id="ok">A page that may be framed</p>');
    res.end(`<!DOCTYPE html><title>Another site</title>
<iframe name="portal" src="${demo.info.portalUrl}/"></iframe>
<iframe name="control" src="/frameable"></iframe>`);
  });
  await new Promise<void>((resolve) => framer.listen(0, '127.0.0.1', resolve));
  framerUrl = `http://127.0.0.1:${(framer.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => framer?.close(resolve));
  await browser?.close();
  await demo?.stop();
});

/** The CSP directives of one response, by name. */
function cspDirectives(header: string | undefined): Map<string, string[]> {
  const directives = new Map<string, string[]>();
  for (const part of (header ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) directives.set(name.toLowerCase(), values);
  }
  return directives;
}

describe('security headers and escaping, as a browser sees them', () => {
  it('another site cannot show the portal in a frame', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    const portalAnswer = page.waitForResponse((res) => res.url() === `${demo.info.portalUrl}/`);

    await page.goto(framerUrl);
    const answer = await portalAnswer;
    expect(answer.headers()['x-frame-options']).toBe('DENY');
    expect(cspDirectives(answer.headers()['content-security-policy']).get('frame-ancestors')).toEqual([
      "'none'",
    ]);

    // The control frame from the same site shows its page; the portal's frame stays empty.
    await expect(page.frame('control')!.textContent('#ok')).resolves.toBe('A page that may be framed');
    const portalFrame = page.frame('portal')!;
    expect(portalFrame.url()).toBe('chrome-error://chromewebdata/');
    await expect(portalFrame.locator('text=Accounts for external collaborators').count()).resolves.toBe(0);
    expect(consoleErrors.some((e) => e.includes('frame-ancestors'))).toBe(true);
    await context.close();
  });

  it('the script policy has a fresh nonce on every response and no unsafe-inline', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const watched = watchPage(page);
    const nonces: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await page.goto(`${demo.info.portalUrl}/`);
      const scriptSrc = cspDirectives(res!.headers()['content-security-policy']).get('script-src') ?? [];
      expect(scriptSrc).not.toContain("'unsafe-inline'");
      expect(scriptSrc).not.toContain("'unsafe-eval'");
      const nonce = scriptSrc.find((v) => v.startsWith("'nonce-"))?.slice(7, -1);
      expect(nonce).toMatch(/^[A-Za-z0-9+/=_-]{16,}$/);
      // The page's script carries this response's nonce, and only it runs.
      expect(await res!.text()).toContain(`nonce="${nonce}"`);
      nonces.push(nonce!);
    }
    expect(nonces[0]).not.toBe(nonces[1]);
    await context.close();
    expect(watched.problems).toEqual([]);
  });

  it('markup typed into the form is shown as text on the form, the result and the start page', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const watched = watchPage(page);
    const { portalUrl } = demo.info;
    const svg = '"><svg onload=alert(1)>';
    const script = '</script><script>alert(1)</script>';
    const who = newCollaborator({
      name: `Zoë "${svg}" ${script}`,
      organisation: `Partner ${svg}`,
      reason: `Needs access ${script} & more 'quotes'`,
    });
    await signIn(page, demo, 'alice');

    // GitLab refuses < and > in names: the form says so and shows exactly what was typed.
    await page.goto(`${portalUrl}/sponsorships/new`);
    await fillForm(page, who);
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.waitForURL(`${portalUrl}/sponsorships`);
    await expect(page.locator('#f-name-error').textContent()).resolves.toContain(
      'Remove the characters < and > from the name.',
    );
    await expect(page.inputValue('#f-name')).resolves.toBe(who.name);
    await expect(page.inputValue('#f-organisation')).resolves.toBe(who.organisation);
    await expect(page.inputValue('#f-reason')).resolves.toBe(who.reason);
    await expect(page.locator('svg, main script').count()).resolves.toBe(0);

    // Quotes and ampersands in the name, markup in the organisation and reason: all shown as text.
    const name = `Zoë "Zed" O'Hara & Co`;
    await page.fill('#f-name', name);
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.waitForURL(/\/sponsorships\/[0-9a-f-]{36}$/);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('The account is ready');
    const facts = page.locator('dl.facts');
    await expect(facts.locator('dd').nth(0).textContent()).resolves.toBe(name);
    await expect(facts.locator('dd').nth(3).textContent()).resolves.toBe(who.organisation);
    await expect(facts.locator('dd').nth(4).textContent()).resolves.toBe(who.reason);
    await expect(page.locator('svg, main script').count()).resolves.toBe(0);

    await page.goto(`${portalUrl}/`);
    await expect(page.getByRole('link', { name }).count()).resolves.toBe(1);
    await expect(page.locator('svg, main script').count()).resolves.toBe(0);

    await context.close();
    expect(watched.problems).toEqual([]);
  });
});
