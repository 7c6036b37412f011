import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  axeViolations,
  describeViolations,
  launchChromium,
  newContext,
  watchPage,
} from './support/browser.js';
import { type DemoProcess, startDemoProcess } from './support/demo-process.js';
import { fillForm, newCollaborator, signIn, sponsor } from './support/flows.js';

let demo: DemoProcess;
let browser: Browser;

beforeAll(async () => {
  [demo, browser] = await Promise.all([startDemoProcess(), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
});

/** axe-core finds nothing, whatever the impact; the message lists each rule and element otherwise. */
async function expectAccessible(page: Page, what: string): Promise<void> {
  const violations = await axeViolations(page);
  expect(violations, `${what} (${page.url()}):\n${describeViolations(violations)}`).toEqual([]);
}

/**
 * Nothing is wider than the screen. A phone browser widens its layout viewport (and `innerWidth`) to
 * fit content that overflows, so the page is also held to the screen width the context was given.
 */
async function expectNoHorizontalScroll(page: Page, what: string): Promise<void> {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  const screenWidth = page.viewportSize()!.width;
  expect(scrollWidth, `${what} scrolls sideways (${scrollWidth} px wide)`).toBeLessThanOrEqual(innerWidth);
  expect(scrollWidth, `${what} is wider than the ${screenWidth} px screen`).toBeLessThanOrEqual(screenWidth);
}

/** A collaborator whose details are long enough to test wrapping on a narrow screen. */
const longCollaborator = () =>
  newCollaborator({
    name: 'Maximiliane Wilhelmina Friederike von Hohenzollern-Sigmaringen',
    email: `maximiliane.wilhelmina.friederike.${Date.now()}@institut-fuer-angewandte-forschung.example`,
    organisation: 'Institut für angewandte Forschung und Entwicklung der Technischen Universität',
    reason: `${'Works with us on the long-term measurement series and needs the shared repositories. '.repeat(4)}`,
  });

describe('every portal page passes axe-core', () => {
  it('signed-out pages: start, 404, a failed sign-in', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const watched = watchPage(page);
    const { portalUrl } = demo.info;

    await page.goto(`${portalUrl}/`);
    await expectAccessible(page, 'signed-out start page');

    const missing = await page.goto(`${portalUrl}/no/such/page`);
    expect(missing?.status()).toBe(404);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Page not found');
    await expectAccessible(page, '404 page');

    const stale = await page.goto(`${portalUrl}/oauth/callback?code=made-up&state=made-up`);
    expect(stale?.status()).toBe(400);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe(
      'This sign-in link is no longer valid',
    );
    await expectAccessible(page, 'sign-in problem page');

    await context.close();
    expect(watched.problems).toEqual([]);
  });

  it("a sponsor's pages: start, form, form with errors, result, error, sign-out, signed out", async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const watched = watchPage(page);
    const { portalUrl } = demo.info;

    await signIn(page, demo, 'bob');
    await expect(page.getByRole('main').textContent()).resolves.toContain(
      'You have not sponsored anyone yet.',
    );
    await expectAccessible(page, 'signed-in start page without sponsorships');

    await page.goto(`${portalUrl}/sponsorships/new`);
    await expectAccessible(page, 'empty form');

    const who = longCollaborator();
    await fillForm(page, { ...who, username: 'admin', email: 'not an address', reason: 'ok' });
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.waitForURL(`${portalUrl}/sponsorships`);
    await expect(page.locator('.field.has-error').count()).resolves.toBe(3);
    await expectAccessible(page, 'form with errors');

    await page.getByRole('button', { name: 'Suggest a username' }).click();
    await page.locator('#f-username-status', { hasText: 'Suggested' }).waitFor();
    await expectAccessible(page, 'form with a suggested username');

    await sponsor(page, demo, who);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('The account is ready');
    await expectAccessible(page, 'result page');

    await page.goto(`${portalUrl}/`);
    await expect(page.getByRole('table').count()).resolves.toBe(1);
    await expectAccessible(page, 'signed-in start page with a sponsorship');

    const unknown = await page.goto(`${portalUrl}/sponsorships/00000000-0000-4000-8000-000000000000`);
    expect(unknown?.status()).toBe(404);
    await expect(page.getByText('Reference for your administrator').count()).resolves.toBe(1);
    await expectAccessible(page, 'error page');

    await page.goto(`${portalUrl}/logout`);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Sign out');
    await expectAccessible(page, 'sign-out page');

    await page.getByRole('main').getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${portalUrl}/?signed_out=1`);
    await expectAccessible(page, 'signed-out start page');

    await context.close();
    expect(watched.problems).toEqual([]);
  });

  it('the refusal page', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const watched = watchPage(page);
    await signIn(page, demo, 'eve');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe(
      'You cannot sponsor collaborators',
    );
    await expectAccessible(page, 'refusal page');
    await context.close();
    expect(watched.problems).toEqual([]);
  });

  it('on a phone: the form and the result page fit the screen', async () => {
    const context = await newContext(browser, { phone: true });
    const page = await context.newPage();
    const watched = watchPage(page);
    const { portalUrl } = demo.info;

    await signIn(page, demo, 'alice');
    await expectAccessible(page, 'start page on a phone');
    await expectNoHorizontalScroll(page, 'start page');

    await page.goto(`${portalUrl}/sponsorships/new`);
    await expectAccessible(page, 'form on a phone');
    await expectNoHorizontalScroll(page, 'form');

    const who = longCollaborator();
    await fillForm(page, { ...who, username: 'users' });
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.waitForURL(`${portalUrl}/sponsorships`);
    await expect(page.locator('#f-username-error').count()).resolves.toBe(1);
    await expectAccessible(page, 'form with errors on a phone');
    await expectNoHorizontalScroll(page, 'form with errors');

    await page.fill('#f-username', who.username);
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.waitForURL(/\/sponsorships\/[0-9a-f-]{36}$/);
    await expectAccessible(page, 'result page on a phone');
    await expectNoHorizontalScroll(page, 'result page');

    await page.goto(`${portalUrl}/`);
    await expectAccessible(page, 'start page with a sponsorship on a phone');
    await expectNoHorizontalScroll(page, 'start page with a sponsorship');

    await context.close();
    expect(watched.problems).toEqual([]);
  });
});
