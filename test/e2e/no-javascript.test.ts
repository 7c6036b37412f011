import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, newContext, watchPage } from './support/browser.js';
import { type DemoProcess, startDemoProcess } from './support/demo-process.js';
import { gitlabUsers, newCollaborator, signIn } from './support/flows.js';

let demo: DemoProcess;
let browser: Browser;

beforeAll(async () => {
  [demo, browser] = await Promise.all([startDemoProcess(), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
});

describe('with JavaScript switched off', () => {
  it('signs in, shows errors, suggests usernames and creates the account', async () => {
    const context = await newContext(browser, { javaScript: false });
    const page = await context.newPage();
    const watched = watchPage(page);
    const { portalUrl } = demo.info;
    const who = newCollaborator({ name: 'Jörg Hübner', email: `j.huebner.${Date.now()}@partner.example` });

    await signIn(page, demo, 'alice');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe(
      'Welcome, Alice Martin',
    );

    // Errors come back from the server with everything typed kept.
    await page.goto(`${portalUrl}/sponsorships/new`);
    await page.fill('#f-name', who.name);
    await page.fill('#f-email', who.email);
    await page.fill('#f-organisation', who.organisation);
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.waitForURL(`${portalUrl}/sponsorships`);
    await expect(page.locator('#error-summary').textContent()).resolves.toContain('There is a problem');
    await expect(page.locator('#f-username-error').count()).resolves.toBe(1);
    await expect(page.locator('#f-reason-error').count()).resolves.toBe(1);
    await expect(page.inputValue('#f-name')).resolves.toBe(who.name);
    await expect(page.inputValue('#f-email')).resolves.toBe(who.email);
    await expect(page.inputValue('#f-organisation')).resolves.toBe(who.organisation);

    // "Suggest a username" is a plain submit: the page comes back with free usernames.
    const [suggested] = await Promise.all([
      page.waitForResponse(
        (res) => res.url() === `${portalUrl}/sponsorships` && res.request().method() === 'POST',
      ),
      page.getByRole('button', { name: 'Suggest a username' }).click(),
    ]);
    expect(suggested.status()).toBe(200);
    await page.waitForLoadState('load');
    const suggestions = await page.locator('#username-suggestions code').allTextContents();
    expect(suggestions.length).toBeGreaterThan(0);
    // From the name, without accents.
    expect(suggestions).toContain('jorg.hubner');
    await expect(page.inputValue('#f-name')).resolves.toBe(who.name);
    await expect(page.inputValue('#f-email')).resolves.toBe(who.email);
    await expect(page.inputValue('#f-organisation')).resolves.toBe(who.organisation);
    await expect(page.locator('#error-summary').count()).resolves.toBe(0);

    // Enter in a field sends the form with its default button, "Create the account".
    const username = suggestions[0]!;
    await page.fill('#f-username', username);
    await page.fill('#f-reason', who.reason);
    await page.press('#f-organisation', 'Enter');
    await page.waitForURL(/\/sponsorships\/[0-9a-f-]{36}$/);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('The account is ready');
    await expect(page.getByRole('main').textContent()).resolves.toContain(
      `@${username} was created as an external GitLab account`,
    );
    expect(await gitlabUsers(demo, username)).toMatchObject([{ username, name: who.name, external: true }]);

    await context.close();
    expect(watched.problems).toEqual([]);
  });
});
