import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, newContext, watchPage } from './support/browser.js';
import { type DemoProcess, startDemoProcess } from './support/demo-process.js';
import { signIn } from './support/flows.js';

let demo: DemoProcess;
let browser: Browser;

beforeAll(async () => {
  [demo, browser] = await Promise.all([startDemoProcess(), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
});

describe('people who may not sponsor are told so', () => {
  it('refuses an external GitLab user on the portal with the reason', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const watched = watchPage(page);
    const callback = page.waitForResponse((res) => new URL(res.url()).pathname === '/oauth/callback');

    await signIn(page, demo, 'eve');

    expect((await callback).status()).toBe(403);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe(
      'You cannot sponsor collaborators',
    );
    const main = (await page.getByRole('main').textContent()) ?? '';
    expect(main).toContain('Your GitLab account is an external account.');
    expect(main).toContain('Only internal GitLab users can sponsor collaborators.');
    await expect(page.getByRole('button', { name: 'Sign out' }).count()).resolves.toBe(0);

    // Nothing was signed in.
    await page.goto(`${demo.info.portalUrl}/`);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe(
      'Accounts for external collaborators',
    );
    await context.close();
    expect(watched.problems).toEqual([]);
  });

  it("refuses a blocked user on GitLab's own sign-in page", async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const watched = watchPage(page);

    await signIn(page, demo, 'mallory');

    expect(page.url()).toBe(`${demo.info.simulatorUrl}/users/sign_in`);
    await expect(page.locator('body').textContent()).resolves.toContain(
      'Your account has been blocked. Please contact your GitLab administrator if you think this is an error.',
    );
    await page.goto(`${demo.info.portalUrl}/`);
    await expect(
      page.getByRole('main').getByRole('link', { name: 'Sign in with GitLab' }).count(),
    ).resolves.toBe(1);
    await expect(page.getByRole('button', { name: 'Sign out' }).count()).resolves.toBe(0);
    await context.close();
    expect(watched.problems).toEqual([]);
  });
});
