import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Debian's Chromium, headless, with the background services that would reach the network switched off. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH}: run "npm test" (it installs it as root) or apt-get install chromium`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; html: string }[];
}

/**
 * Runs axe-core in the page. It is evaluated through the DevTools protocol, so the page's strict CSP
 * stays on (an injected <script> tag would be refused by it).
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: AxeViolation[] }> };
      }
    ).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target, html: n.html })),
    }));
  });
}

/** A readable summary for assertion messages. */
export function describeViolations(violations: AxeViolation[]): string {
  return violations
    .map((v) => `${v.id} (${v.impact}): ${v.help}\n  ${v.nodes.map((n) => n.html).join('\n  ')}`)
    .join('\n');
}

/**
 * Collects what would show a broken page: script errors, console errors (CSP violations among them),
 * dialogs, and assets or requests of the page answered with an error status. A page itself answered
 * with an error status on purpose (a form with errors is a 422) is the test's to assert: the
 * browser's "Failed to load resource" line for it is left out.
 */
export function watchPage(page: Page): { readonly problems: string[] } {
  const found: string[] = [];
  const failedLoads: { url: string; text: string }[] = [];
  const errorDocuments = new Set<string>();
  page.on('pageerror', (err) => found.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    if (msg.text().startsWith('Failed to load resource:'))
      failedLoads.push({ url: msg.location().url, text: msg.text() });
    else found.push(`console error: ${msg.text()}`);
  });
  page.on('response', (res) => {
    if (res.status() < 400) return;
    if (res.request().resourceType() === 'document') errorDocuments.add(res.url());
    else found.push(`HTTP ${res.status()} for ${res.request().resourceType()} ${res.url()}`);
  });
  page.on('dialog', (dialog) => {
    found.push(`dialog opened: ${dialog.message()}`);
    void dialog.dismiss();
  });
  return {
    get problems() {
      return [
        ...found,
        ...failedLoads
          .filter((f) => !errorDocuments.has(f.url))
          .map((f) => `console error: ${f.text} (${f.url})`),
      ];
    },
  };
}

export async function newContext(
  browser: Browser,
  opts: { phone?: boolean; javaScript?: boolean } = {},
): Promise<BrowserContext> {
  return browser.newContext({
    viewport: opts.phone ? { width: 375, height: 740 } : { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    isMobile: opts.phone ?? false,
    hasTouch: opts.phone ?? false,
    javaScriptEnabled: opts.javaScript ?? true,
  });
}
