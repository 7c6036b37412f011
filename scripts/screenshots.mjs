#!/usr/bin/env node
// The README's screenshots: demo mode (simulated GitLab included) driven by headless Chromium.
// Run `npm run build` first, then `node scripts/screenshots.mjs`; the PNGs go to docs/screenshots/.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = join(ROOT, 'docs/screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const WIDTH = 1200;

if (!existsSync(join(ROOT, 'dist/demo/demo.js'))) {
  console.error('dist/ is missing: run "npm run build" first.');
  process.exit(1);
}
if (!existsSync(CHROMIUM)) {
  console.error(`Chromium is not installed at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH.`);
  process.exit(1);
}

const { startDemo } = await import('../dist/demo/demo.js');
const dataDir = mkdtempSync(join(tmpdir(), 'gle-screenshots-'));
const demo = await startDemo({
  env: { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
  cwd: dataDir,
  out: () => {},
});
const { portalUrl, simulatorUrl } = demo.info;
const password = (username) => demo.info.users.find((u) => u.username === username).password;

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-sync',
  ],
});

/** Saves the whole page (at least one short screen high, so short pages do not end in empty space). */
async function shoot(page, name) {
  const path = join(OUT, name);
  await page.screenshot({ path, fullPage: true, animations: 'disabled', caret: 'hide' });
  console.log(`  ${path}`);
}

async function createAccount(page, person) {
  await page.goto(`${portalUrl}/sponsorships/new`);
  await page.fill('#f-name', person.name);
  await page.fill('#f-email', person.email);
  await page.fill('#f-username', person.username);
  await page.fill('#f-organisation', person.organisation);
  await page.fill('#f-reason', person.reason);
  await page.getByRole('button', { name: 'Create the account' }).click();
  await page.waitForURL(/\/sponsorships\/[0-9a-f-]{36}$/);
}

try {
  mkdirSync(OUT, { recursive: true });
  const context = await browser.newContext({ viewport: { width: WIDTH, height: 560 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  console.log('Screenshots:');

  // The portal's "Sign in with GitLab" leads to GitLab's own sign-in page.
  await page.goto(`${portalUrl}/`);
  await page.getByRole('main').getByRole('link', { name: 'Sign in with GitLab' }).click();
  await page.waitForURL(`${simulatorUrl}/users/sign_in`);
  await page.fill('input[name="user[login]"]', 'alice');
  await page.fill('input[name="user[password]"]', password('alice'));
  await shoot(page, 'sign-in.png');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: /^Authorize / }).click();
  await page.waitForURL(`${portalUrl}/`);

  await createAccount(page, {
    name: 'Kwame Mensah',
    email: 'kwame.mensah@partner-institute.example',
    username: 'kwame.mensah',
    organisation: 'Partner Institute',
    reason: 'Maintains the shared instrument drivers with us.',
  });

  // A username GitLab reserves: the error is shown next to the field, nothing typed is lost.
  await page.goto(`${portalUrl}/sponsorships/new`);
  await page.fill('#f-name', 'Zoë Ångström');
  await page.fill('#f-email', 'zoe.angstrom@unige.example');
  await page.fill('#f-username', 'admin');
  await page.fill('#f-organisation', 'Université de Genève');
  await page.fill(
    '#f-reason',
    'Joint analysis of the 2026 field measurements; needs the analysis repository.',
  );
  await page.getByRole('button', { name: 'Create the account' }).click();
  await page.waitForURL(`${portalUrl}/sponsorships`);
  await page.locator('#f-username').focus();
  await shoot(page, 'form-error.png');

  await page.fill('#f-username', 'zoe.angstrom');
  await page.getByRole('button', { name: 'Create the account' }).click();
  await page.waitForURL(/\/sponsorships\/[0-9a-f-]{36}$/);
  await shoot(page, 'result.png');

  await page.goto(`${portalUrl}/`);
  await shoot(page, 'home.png');
  await context.close();
} finally {
  await browser.close();
  await demo.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
