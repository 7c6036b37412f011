import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, newContext, watchPage } from './support/browser.js';
import { type DemoProcess, startDemoProcess } from './support/demo-process.js';
import { fillForm, gitlabUsers, mailTo, newCollaborator, signIn } from './support/flows.js';

let demo: DemoProcess;
let browser: Browser;

beforeAll(async () => {
  [demo, browser] = await Promise.all([startDemoProcess(), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
});

describe('a sponsor creates an account and the collaborator signs in to GitLab', () => {
  it('goes from sign-in through the form, the mail and the first GitLab sign-in to sign-out', async () => {
    const { portalUrl, simulatorUrl } = demo.info;
    const who = newCollaborator({
      name: 'Zoë Ångström-Núñez',
      organisation: 'Université de Genève',
      reason: 'Shares the spectrometer data with us for the joint analysis paper.',
    });

    const sponsorContext = await newContext(browser);
    const page = await sponsorContext.newPage();
    const watched = watchPage(page);

    // Sign in through GitLab's own sign-in and consent pages.
    await signIn(page, demo, 'alice');
    expect(page.url()).toBe(`${portalUrl}/`);
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe(
      'Welcome, Alice Martin',
    );
    await expect(page.getByRole('navigation', { name: 'Main' }).textContent()).resolves.toContain(
      'Signed in as alice',
    );
    await expect(page.getByRole('main').textContent()).resolves.toContain(
      'You have not sponsored anyone yet.',
    );

    // A reserved username: the error is next to the field and nothing typed is lost.
    await page.getByRole('main').getByRole('link', { name: 'Sponsor someone' }).click();
    await page.waitForURL(`${portalUrl}/sponsorships/new`);
    await fillForm(page, { ...who, username: 'admin' });
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.waitForURL(`${portalUrl}/sponsorships`);
    const usernameError = page.locator('#f-username-error');
    await expect(usernameError.textContent()).resolves.toContain('"admin" is reserved by GitLab.');
    await expect(page.getAttribute('#f-username', 'aria-invalid')).resolves.toBe('true');
    expect((await page.getAttribute('#f-username', 'aria-describedby'))?.split(' ')).toContain(
      'f-username-error',
    );
    await expect(page.locator('#error-summary').textContent()).resolves.toContain('GitLab username');
    await expect(page.inputValue('#f-name')).resolves.toBe(who.name);
    await expect(page.inputValue('#f-username')).resolves.toBe('admin');
    await expect(page.inputValue('#f-email')).resolves.toBe(who.email);
    await expect(page.inputValue('#f-organisation')).resolves.toBe(who.organisation);
    await expect(page.inputValue('#f-reason')).resolves.toBe(who.reason);
    expect(await gitlabUsers(demo, 'admin')).toEqual([]);

    // Corrected, it goes through to the result page.
    await page.fill('#f-username', who.username);
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.waitForURL(/\/sponsorships\/[0-9a-f-]{36}$/);
    const resultPath = new URL(page.url()).pathname;
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('The account is ready');
    const result = (await page.getByRole('main').textContent()) ?? '';
    expect(result).toContain(`@${who.username} was created as an external GitLab account`);
    expect(result).toContain(who.name);
    expect(result).toContain(who.email);
    expect(result).toContain(who.organisation);
    const [created] = await gitlabUsers(demo, who.username);
    expect(created).toMatchObject({ username: who.username, name: who.name, external: true });

    // GitLab mailed the collaborator a set-password link: on the mail page and in the JSON.
    const mails = await mailTo(demo, who.email);
    const welcome = mails.find((m) => m.subject === 'Account was created for you');
    expect(welcome?.reset_link).toMatch(
      new RegExp(`^${simulatorUrl}/users/password/edit\\?reset_password_token=`),
    );
    expect(welcome?.text).toContain(welcome?.reset_link);
    const mailPage = await sponsorContext.newPage();
    await mailPage.goto(`${simulatorUrl}/-/sim/mail?to=${encodeURIComponent(who.email)}`);
    const article = mailPage.locator('article', { hasText: 'Account was created for you' });
    await expect(article.count()).resolves.toBe(1);
    await expect(
      article.getByRole('link', { name: 'Set password (reset link)' }).getAttribute('href'),
    ).resolves.toBe(welcome?.reset_link);
    await article.locator('summary').click();
    await expect(article.locator('pre').textContent()).resolves.toContain(welcome!.reset_link!);
    await mailPage.close();

    // The collaborator, in their own browser, sets a password and signs in to GitLab.
    const collaboratorContext = await newContext(browser);
    const gitlab = await collaboratorContext.newPage();
    const collaboratorWatch = watchPage(gitlab);
    await gitlab.goto(welcome!.reset_link!);
    await expect(gitlab.getByRole('heading', { level: 1 }).textContent()).resolves.toBe(
      'Change your password',
    );
    const password = 'a long and new passphrase 42';
    await gitlab.fill('input[name="user[password]"]', password);
    await gitlab.fill('input[name="user[password_confirmation]"]', password);
    await gitlab.getByRole('button', { name: 'Change your password' }).click();
    await gitlab.waitForURL(`${simulatorUrl}/users/sign_in`);
    await expect(gitlab.locator('body').textContent()).resolves.toContain(
      'Your password has been changed successfully.',
    );
    await gitlab.fill('input[name="user[login]"]', who.username);
    await gitlab.fill('input[name="user[password]"]', password);
    await gitlab.getByRole('button', { name: 'Sign in' }).click();
    await gitlab.waitForURL(`${simulatorUrl}/`);
    await expect(gitlab.locator('header').textContent()).resolves.toContain(`${who.name} · @${who.username}`);
    await collaboratorContext.close();
    expect(collaboratorWatch.problems).toEqual([]);

    // Back in the portal, the start page lists the sponsorship.
    await page.goto(`${portalUrl}/`);
    const row = page.getByRole('row', { name: new RegExp(who.username.replaceAll('.', '\\.')) });
    await expect(row.textContent()).resolves.toContain('Created');
    await expect(row.getByRole('link', { name: who.name }).getAttribute('href')).resolves.toBe(resultPath);

    // Signing out is a POST; afterwards the start page offers sign-in again.
    const [signOut] = await Promise.all([
      page.waitForRequest((req) => req.url() === `${portalUrl}/logout`),
      page.getByRole('button', { name: 'Sign out' }).click(),
    ]);
    expect(signOut.method()).toBe('POST');
    await page.waitForURL(`${portalUrl}/?signed_out=1`);
    await expect(page.getByRole('main').textContent()).resolves.toContain('You have signed out');
    await expect(
      page.getByRole('main').getByRole('link', { name: 'Sign in with GitLab' }).count(),
    ).resolves.toBe(1);
    await expect(page.getByRole('button', { name: 'Sign out' }).count()).resolves.toBe(0);

    // Back shows the signed-in page's address again, but nothing of it was kept (no-store).
    await page.goBack();
    expect(page.url()).toBe(`${portalUrl}/`);
    const afterBack = (await page.locator('body').textContent()) ?? '';
    expect(afterBack).not.toContain('Signed in as');
    expect(afterBack).not.toContain(who.name);
    expect(afterBack).toContain('Sign in with GitLab');

    await sponsorContext.close();
    expect(watched.problems).toEqual([]);
  });
});
