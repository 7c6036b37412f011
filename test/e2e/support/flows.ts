import type { Page } from 'playwright-core';
import type { DemoProcess } from './demo-process.js';

/** What the sponsorship form asks for. */
export interface Collaborator {
  name: string;
  username: string;
  email: string;
  organisation: string;
  reason: string;
}

let serial = 0;

/** A collaborator whose username and e-mail address are new to this demo process. */
export function newCollaborator(overrides: Partial<Collaborator> = {}): Collaborator {
  serial += 1;
  const tag = `${process.pid.toString(36)}${serial}`;
  return {
    name: `Zoë Partner ${serial}`,
    username: `zoe.partner${tag}`,
    email: `zoe.${tag}@partner.example`,
    organisation: 'Partner Institute',
    reason: 'Joint analysis of the 2026 field measurements with the research group.',
    ...overrides,
  };
}

/**
 * Signs in to the portal the way a person does: "Sign in with GitLab", the simulated GitLab's own
 * sign-in page and, on the first sign-in, its consent page. Resolves once the browser is back on the
 * portal (or on whatever page GitLab left it on when the sign-in is refused there).
 */
export async function signIn(page: Page, demo: DemoProcess, username: string): Promise<void> {
  const { portalUrl, simulatorUrl } = demo.info;
  await page.goto(`${portalUrl}/`);
  await page.getByRole('main').getByRole('link', { name: 'Sign in with GitLab' }).click();
  await page.waitForURL(`${simulatorUrl}/users/sign_in`);
  await page.fill('input[name="user[login]"]', username);
  await page.fill('input[name="user[password]"]', demo.password(username));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(
    (url) =>
      url.href.startsWith(portalUrl) ||
      url.pathname === '/oauth/authorize' ||
      url.pathname === '/users/sign_in',
  );
  if (new URL(page.url()).pathname === '/oauth/authorize') {
    await page.getByRole('button', { name: /^Authorize / }).click();
    await page.waitForURL((url) => url.href.startsWith(portalUrl));
  }
  await page.waitForLoadState('load');
}

/** Fills the sponsorship form (already open) with the collaborator's details. */
export async function fillForm(page: Page, who: Collaborator): Promise<void> {
  await page.fill('#f-name', who.name);
  await page.fill('#f-email', who.email);
  await page.fill('#f-username', who.username);
  await page.fill('#f-organisation', who.organisation);
  await page.fill('#f-reason', who.reason);
}

/** Opens the form, sends it and waits for the result page; resolves to the result page's path. */
export async function sponsor(page: Page, demo: DemoProcess, who: Collaborator): Promise<string> {
  await page.goto(`${demo.info.portalUrl}/sponsorships/new`);
  await fillForm(page, who);
  await page.getByRole('button', { name: 'Create the account' }).click();
  await page.waitForURL(/\/sponsorships\/[0-9a-f-]{36}$/);
  return new URL(page.url()).pathname;
}

/** GitLab users with exactly this username, as the simulator's admin API reports them. */
export async function gitlabUsers(
  demo: DemoProcess,
  username: string,
): Promise<{ id: number; username: string; external: boolean; name: string }[]> {
  const res = await fetch(`${demo.info.simulatorUrl}/api/v4/users?username=${encodeURIComponent(username)}`, {
    headers: { 'private-token': demo.info.adminToken },
  });
  if (!res.ok) throw new Error(`GET /api/v4/users answered ${res.status}`);
  return (await res.json()) as { id: number; username: string; external: boolean; name: string }[];
}

/** The mail the simulated GitLab captured for one address, newest first. */
export async function mailTo(
  demo: DemoProcess,
  to: string,
): Promise<{ subject: string; kind: string; reset_link: string | null; text: string; html: string }[]> {
  const res = await fetch(`${demo.info.simulatorUrl}/-/sim/mail.json?to=${encodeURIComponent(to)}`);
  if (!res.ok) throw new Error(`GET /-/sim/mail.json answered ${res.status}`);
  return (await res.json()) as {
    subject: string;
    kind: string;
    reset_link: string | null;
    text: string;
    html: string;
  }[];
}
