// Headless-Chromium checks of the Arclight web UI against a running server.
//
//   ARCLIGHT_URL=http://127.0.0.1:18080 ARCLIGHT_TEST_USER=admin ARCLIGHT_TEST_PASSWORD=... \
//     [ARCLIGHT_SCREENSHOT=/tmp/ui.png] [ARCLIGHT_SCREENSHOT_DIR=/tmp/shots] node ui.test.mjs
//
// The server must already have an admin user (ARCLIGHT_TEST_USER with
// ARCLIGHT_TEST_PASSWORD) and should run with a 1-second heartbeat
// (ARCLIGHT_SYSTEM_HEARTBEAT_SECONDS=1) so the live-update check is quick.
// ARCLIGHT_SCREENSHOT saves the dashboard; ARCLIGHT_SCREENSHOT_DIR saves
// login, dashboard, users, API keys and audit pages there.
// Uses Debian's chromium; never downloads a browser.

import { chromium } from 'playwright-core';

const BASE = (process.env.ARCLIGHT_URL || '').replace(/\/+$/, '');
const SCREENSHOT = process.env.ARCLIGHT_SCREENSHOT || '';
const SHOTS = (process.env.ARCLIGHT_SCREENSHOT_DIR || '').replace(/\/+$/, '');
const USER = process.env.ARCLIGHT_TEST_USER || '';
const PASSWORD = process.env.ARCLIGHT_TEST_PASSWORD || '';
const CHROMIUM = process.env.ARCLIGHT_CHROMIUM || '/usr/bin/chromium';
const NAV = ['Dashboard', 'Flows', 'Runs', 'Agents', 'Hub', 'Memory', 'Learning', 'Monitoring', 'Settings'];

if (!BASE) {
  console.error('ARCLIGHT_URL is not set (e.g. ARCLIGHT_URL=http://127.0.0.1:18080)');
  process.exit(2);
}
if (!USER || !PASSWORD) {
  console.error('ARCLIGHT_TEST_USER and ARCLIGHT_TEST_PASSWORD must name an admin user of the server under test');
  process.exit(2);
}

let passed = 0;
let failed = 0;

async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok - ${name}`);
  } catch (err) {
    failed++;
    console.log(`not ok - ${name}`);
    console.log(`    ${String(err?.message ?? err).split('\n').join('\n    ')}`);
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

const text = (page, selector) => page.locator(selector).first().innerText({ timeout: 5000 }).then((s) => s.trim());

async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

async function login(page, username, password) {
  const form = page.locator('[data-testid=login-form]');
  await form.locator('input[name=username]').fill(username);
  await form.locator('input[name=password]').fill(password);
  await form.locator('button[type=submit]').click();
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
    '--disable-sync',
    '--disable-quic',
  ],
  timeout: 30_000,
});

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));

  await check('/ shows the login page (title "Arclight", no nav before login)', async () => {
    const res = await page.goto(`${BASE}/`, { waitUntil: 'load' });
    assert(res && res.ok(), `GET / answered ${res?.status()}`);
    const title = await page.title();
    assert(title.includes('Arclight'), `title is ${JSON.stringify(title)}`);
    const form = page.locator('[data-testid=login-form]');
    await form.waitFor({ state: 'visible' });
    await form.locator('input[name=username]').waitFor({ state: 'visible' });
    await form.locator('input[name=password][type=password]').waitFor({ state: 'visible' });
    await form.locator('button[type=submit]').waitFor({ state: 'visible' });
    assert(new URL(page.url()).pathname === '/login', `URL is ${page.url()}`);
    assert(!(await page.locator('[data-testid=nav]').isVisible()), 'the nav is visible before login');
    await shot(page, 'login');
  });

  await check('a wrong password shows the login error', async () => {
    await login(page, USER, `${PASSWORD}-wrong`);
    const error = page.locator('[data-testid=login-error]');
    await error.waitFor({ state: 'visible' });
    const msg = (await error.innerText()).trim();
    assert(msg.length > 0, 'the login error is empty');
    assert(new URL(page.url()).pathname === '/login', `URL after a failed login is ${page.url()}`);
    await shot(page, 'login-error');
  });

  await check('the right password logs in and shows the dashboard', async () => {
    await login(page, USER, PASSWORD);
    await page.waitForURL(`${BASE}/`);
    await page.locator('[data-testid=module-health]').waitFor();
    const menu = await text(page, '[data-testid=user-menu]');
    assert(menu.includes(USER), `user menu shows ${JSON.stringify(menu)}`);
    assert(menu.includes('admin'), `user menu does not show the role: ${JSON.stringify(menu)}`);
  });

  await check('all nine nav entries are shown', async () => {
    await page.locator('[data-testid=nav] a').first().waitFor();
    const labels = (await page.locator('[data-testid=nav] a').allInnerTexts()).map((s) => s.trim());
    for (const want of NAV) assert(labels.includes(want), `nav lacks ${want}; has ${JSON.stringify(labels)}`);
    assert(labels.length === NAV.length, `nav has ${labels.length} entries: ${JSON.stringify(labels)}`);
  });

  await check('dashboard shows module health: system is ok', async () => {
    await page.locator('[data-testid=module-health]').waitFor();
    const status = page.locator('[data-testid=module-health] [data-testid=module-system] [data-testid=status]');
    await status.waitFor();
    const s = (await status.innerText()).trim();
    assert(s === 'ok', `module system status is ${JSON.stringify(s)}`);
  });

  await check('live connection indicator reaches "live"', async () => {
    await page.waitForFunction(
      () => document.querySelector('[data-testid=ws-state]')?.textContent?.trim() === 'live',
      null,
      { timeout: 10_000 },
    ).catch(async () => {
      throw new Error(`ws-state is ${JSON.stringify(await text(page, '[data-testid=ws-state]'))}`);
    });
  });

  await check('uptime changes after a heartbeat', async () => {
    const before = await text(page, '[data-testid=uptime]');
    await page.waitForFunction(
      (prev) => {
        const now = document.querySelector('[data-testid=uptime]')?.textContent?.trim();
        return !!now && now !== prev;
      },
      before,
      { timeout: 10_000 },
    ).catch(() => {
      throw new Error(`uptime stayed ${JSON.stringify(before)} for 10 s`);
    });
  });

  if (SCREENSHOT) {
    await check(`screenshot saved to ${SCREENSHOT}`, async () => {
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    });
  }
  await shot(page, 'dashboard');

  await check('deep link /runs loads directly with the nav (the session survives a reload)', async () => {
    const res = await page.goto(`${BASE}/runs`, { waitUntil: 'load' });
    assert(res && res.ok(), `GET /runs answered ${res?.status()}`);
    assert((res.headers()['content-type'] || '').includes('text/html'), `GET /runs content type is ${res.headers()['content-type']}`);
    await page.locator('[data-testid=nav] a').first().waitFor();
    const current = await text(page, '[data-testid=nav] a[aria-current=page]');
    assert(current === 'Runs', `active nav entry is ${JSON.stringify(current)}`);
    const h1 = await text(page, 'main h1');
    assert(h1 === 'Runs', `page heading is ${JSON.stringify(h1)}`);
  });

  await check('client-side navigation to Dashboard works', async () => {
    await page.locator('[data-testid=nav] a', { hasText: 'Dashboard' }).click();
    await page.waitForURL(`${BASE}/`);
    await page.locator('[data-testid=module-health]').waitFor();
  });

  await check('an API error (problem+json) is shown to the user', async () => {
    const err = await page.evaluate(() =>
      window.arclight.api.get('/api/v1/does-not-exist').then(
        () => null,
        (e) => ({ name: e.name, status: e.status, title: e.title, code: e.code, request_id: e.request_id }),
      ),
    );
    assert(err, 'the request to /api/v1/does-not-exist succeeded');
    assert(err.status === 404, `error status is ${err.status} (${JSON.stringify(err)})`);
    assert(err.name === 'ApiError', `error is ${err.name}`);
    const banner = page.locator('[data-testid=error-banner]').first();
    await banner.waitFor({ state: 'visible' });
    const title = await text(page, '[data-testid=error-banner] [data-testid=error-title]');
    assert(title === 'Not Found', `banner title is ${JSON.stringify(title)}`);
    if (err.request_id) {
      const all = await banner.innerText();
      assert(all.includes(err.request_id), `banner does not show request id ${err.request_id}`);
    }
    await banner.getByRole('button', { name: 'Dismiss' }).click();
    await banner.waitFor({ state: 'detached' });
  });

  await check('Settings → Users lists the admin', async () => {
    await page.locator('[data-testid=nav] a', { hasText: 'Settings' }).click();
    await page.waitForURL(`${BASE}/settings`);
    await page.locator('[data-testid=settings-tabs] a', { hasText: 'Users' }).click();
    await page.waitForURL(`${BASE}/settings/users`);
    const row = page.locator(`[data-testid=users-table] tr[data-username="${USER}"]`);
    await row.waitFor();
    const cells = await row.innerText();
    assert(cells.includes(USER), `row is ${JSON.stringify(cells)}`);
    const role = await row.locator('select[data-testid=user-role]').inputValue();
    assert(role === 'admin', `role of ${USER} is ${JSON.stringify(role)}`);
    await shot(page, 'users');
  });

  await check('creating an API key shows an ak_ key once', async () => {
    await page.locator('[data-testid=settings-tabs] a', { hasText: 'API keys' }).click();
    await page.waitForURL(`${BASE}/settings/api-keys`);
    const form = page.locator('[data-testid=api-key-form]');
    await form.waitFor();
    const name = `ui-test-${Date.now()}`;
    await form.locator('input[name=name]').fill(name);
    await form.locator('input[name=scopes][value="system.read"]').check();
    await form.locator('button[type=submit]').click();
    const shown = page.locator('[data-testid=new-api-key]');
    await shown.waitFor({ state: 'visible' });
    const key = await shown.locator('[data-testid=new-api-key-value]').inputValue();
    assert(/^ak_\S{8,}$/.test(key), `new key is ${JSON.stringify(key)}`);
    const row = page.locator('[data-testid=api-keys-table] tr', { hasText: name });
    await row.waitFor();
    await shot(page, 'api-keys');
    // The key works as a Bearer token.
    const status = await page.evaluate(
      (k) => fetch('/api/v1/system/info', { headers: { Authorization: `Bearer ${k}` }, credentials: 'omit' }).then((r) => r.status),
      key,
    );
    assert(status === 200, `GET /api/v1/system/info with the new key answered ${status}`);
    // Once: after leaving the page and coming back, only the prefix is listed.
    await page.locator('[data-testid=settings-tabs] a', { hasText: 'Account' }).click();
    await page.waitForURL(`${BASE}/settings/account`);
    await page.locator('[data-testid=settings-tabs] a', { hasText: 'API keys' }).click();
    await page.locator('[data-testid=api-keys-table] tr', { hasText: name }).waitFor();
    assert((await page.locator('[data-testid=new-api-key]').count()) === 0, 'the new key is still displayed');
    const body = await page.locator('body').innerText();
    assert(!body.includes(key), 'the full key is still on the page');
  });

  await check('the audit log shows a failed and a successful auth.login', async () => {
    await page.locator('[data-testid=settings-tabs] a', { hasText: 'Audit log' }).click();
    await page.waitForURL(`${BASE}/settings/audit`);
    await page.locator('[data-testid=audit-table] tr[data-testid=audit-row]').first().waitFor();
    const rows = page.locator('[data-testid=audit-table] tr[data-action="auth.login"]');
    const failure = rows.and(page.locator('[data-outcome=failure]'));
    const success = rows.and(page.locator('[data-outcome=success]'));
    for (let i = 0; i < 5 && ((await failure.count()) === 0 || (await success.count()) === 0); i++) {
      const more = page.locator('[data-testid=audit-more]');
      if (!(await more.isVisible())) break;
      await more.click();
      await page.waitForTimeout(300);
    }
    assert((await failure.count()) > 0, 'no auth.login entry with outcome failure');
    assert((await success.count()) > 0, 'no auth.login entry with outcome success');
    const row = await success.first().innerText();
    assert(row.includes(USER), `the successful login row does not name ${USER}: ${JSON.stringify(row)}`);
    await shot(page, 'audit');
  });

  await check('logout returns to the login page and /api/v1/auth/me then answers 401', async () => {
    await page.locator('[data-testid=user-menu] button[aria-haspopup]').click();
    await page.locator('[data-testid=user-menu]').getByRole('menuitem', { name: 'Log out' }).click();
    await page.locator('[data-testid=login-form]').waitFor({ state: 'visible' });
    await page.waitForURL((u) => u.pathname === '/login');
    assert(!(await page.locator('[data-testid=nav]').isVisible()), 'the nav is still visible after logout');
    const status = await page.evaluate(() => fetch('/api/v1/auth/me', { credentials: 'same-origin' }).then((r) => r.status));
    assert(status === 401, `GET /api/v1/auth/me after logout answered ${status}`);
  });

  await check('after logout a page needs login again', async () => {
    await page.goto(`${BASE}/settings/users`, { waitUntil: 'load' });
    await page.locator('[data-testid=login-form]').waitFor({ state: 'visible' });
    await login(page, USER, PASSWORD);
    await page.waitForURL(`${BASE}/settings/users`);
    await page.locator('[data-testid=users-table]').waitFor();
  });

  await check('no uncaught errors in the page', async () => {
    assert(pageErrors.length === 0, pageErrors.join('\n'));
  });

  await context.close();
} catch (err) {
  failed++;
  console.log(`not ok - test run aborted: ${err?.stack ?? err}`);
} finally {
  await browser.close();
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
