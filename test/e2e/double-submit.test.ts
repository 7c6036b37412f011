import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, newContext, watchPage } from './support/browser.js';
import { type DemoProcess, startDemoProcess } from './support/demo-process.js';
import { fillForm, gitlabUsers, newCollaborator, signIn } from './support/flows.js';

let demo: DemoProcess;
let browser: Browser;

beforeAll(async () => {
  [demo, browser] = await Promise.all([startDemoProcess(), launchChromium()]);
});

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
});

/** Every GitLab user, as the simulator's admin API lists them. */
async function gitlabUserCount(): Promise<number> {
  const res = await fetch(`${demo.info.simulatorUrl}/api/v4/users?per_page=100`, {
    headers: { 'private-token': demo.info.adminToken },
  });
  return ((await res.json()) as unknown[]).length;
}

/** What the simulated GitLab received, e.g. every `POST /api/v4/users`. */
async function gitlabRequests(method: string, path: string): Promise<unknown[]> {
  const query = new URLSearchParams({ method, path });
  const res = await fetch(`${demo.info.simulatorUrl}/-/sim/requests?${query}`, {
    headers: { 'private-token': demo.info.adminToken },
  });
  return (await res.json()) as unknown[];
}

/** Records the form submissions the page sends. */
function formPosts(page: Page): Request[] {
  const posts: Request[] = [];
  page.on('request', (req) => {
    if (req.method() === 'POST' && req.url() === `${demo.info.portalUrl}/sponsorships`) posts.push(req);
  });
  return posts;
}

const RESULT_PATH = /^\/sponsorships\/[0-9a-f-]{36}$/;

/**
 * Resolves once the result page has loaded. The second submission cancels the first one's navigation
 * in the browser, so waiting on "the" navigation (as `waitForURL` does) could catch the cancelled one.
 */
async function resultPageLoaded(page: Page): Promise<void> {
  await page.waitForResponse(
    (res) => res.request().method() === 'GET' && RESULT_PATH.test(new URL(res.url()).pathname),
  );
  await page.waitForURL((url) => RESULT_PATH.test(url.pathname));
}

describe('sending the form more than once creates one account', () => {
  it('a double-click, the same form sent again and Back all end at the one account', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const watched = watchPage(page);
    const { portalUrl } = demo.info;
    const who = newCollaborator();
    await signIn(page, demo, 'alice');
    const usersBefore = await gitlabUserCount();

    await page.goto(`${portalUrl}/sponsorships/new`);
    await fillForm(page, who);
    const posts = formPosts(page);
    const result = resultPageLoaded(page);
    await page.getByRole('button', { name: 'Create the account' }).dblclick();
    await result;
    const resultUrl = page.url();
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('The account is ready');
    expect(await gitlabUsers(demo, who.username)).toHaveLength(1);

    // The very same form sent once more, as a browser does when it offers to resend it.
    const sentForm = posts.at(-1)?.postData() ?? '';
    expect(new URLSearchParams(sentForm).get('username')).toBe(who.username);
    const again = await page.request.post(`${portalUrl}/sponsorships`, {
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: portalUrl },
      data: sentForm,
      maxRedirects: 0,
    });
    expect(again.status()).toBe(303);
    expect(new URL(again.headers().location ?? '', portalUrl).href).toBe(resultUrl);

    // Back gives a fresh form; the same person entered again is recognised, not created twice.
    await page.goBack();
    expect(page.url()).toBe(`${portalUrl}/sponsorships/new`);
    await fillForm(page, who);
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.waitForURL(`${portalUrl}/sponsorships`);
    await expect(page.locator('#error-summary').textContent()).resolves.toContain(
      `The portal already has a sponsorship for ${who.email} (@${who.username}, sponsored by @alice).`,
    );

    expect(await gitlabUsers(demo, who.username)).toHaveLength(1);
    expect(await gitlabUserCount()).toBe(usersBefore + 1);
    await page.goto(`${portalUrl}/`);
    await expect(page.getByRole('row', { name: new RegExp(who.username) }).count()).resolves.toBe(1);

    await context.close();
    expect(watched.problems).toEqual([]);
  });

  it('a second click while GitLab is still creating the account waits for the first', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const watched = watchPage(page);
    const { portalUrl, simulatorUrl, adminToken } = demo.info;
    const who = newCollaborator();
    await signIn(page, demo, 'bob');
    const createsBefore = (await gitlabRequests('POST', '/api/v4/users')).length;

    // GitLab takes its time to create the user, so the first request is still running at the second click.
    const fault = await fetch(`${simulatorUrl}/-/sim/faults`, {
      method: 'POST',
      headers: { 'private-token': adminToken, 'content-type': 'application/json' },
      body: JSON.stringify({ method: 'POST', path: '/api/v4/users', action: { type: 'latency', ms: 1500 } }),
    });
    expect(fault.status).toBe(201);

    await page.goto(`${portalUrl}/sponsorships/new`);
    await fillForm(page, who);
    const posts = formPosts(page);
    // The mouse, not a locator: a locator's click would wait for the first submission's page.
    const create = page.getByRole('button', { name: 'Create the account' });
    await create.scrollIntoViewIfNeeded();
    const button = await create.boundingBox();
    const [x, y] = [button!.x + button!.width / 2, button!.y + button!.height / 2];
    const firstSent = page.waitForRequest(
      (req) => req.method() === 'POST' && req.url() === `${portalUrl}/sponsorships`,
    );
    const result = resultPageLoaded(page);
    await page.mouse.click(x, y);
    await firstSent;
    await page.mouse.click(x, y);
    await result;
    expect(posts).toHaveLength(2);
    expect(posts[1]!.postData()).toBe(posts[0]!.postData());
    expect(new URLSearchParams(posts[0]!.postData() ?? '').get('username')).toBe(who.username);

    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('The account is ready');
    expect(await gitlabUsers(demo, who.username)).toHaveLength(1);
    expect((await gitlabRequests('POST', '/api/v4/users')).length).toBe(createsBefore + 1);
    await page.goto(`${portalUrl}/`);
    await expect(page.getByRole('row', { name: new RegExp(who.username) }).count()).resolves.toBe(1);

    await context.close();
    expect(watched.problems).toEqual([]);
  });
});
