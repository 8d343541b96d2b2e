// Headless-Chromium checks of the Arclight web UI against a running server.
//
//   ARCLIGHT_URL=http://127.0.0.1:18080 [ARCLIGHT_SCREENSHOT=/tmp/ui.png] node ui.test.mjs
//
// The server should run with a 1-second heartbeat
// (ARCLIGHT_SYSTEM_HEARTBEAT_SECONDS=1) so the live-update check is quick.
// Uses Debian's chromium; never downloads a browser.

import { chromium } from 'playwright-core';

const BASE = (process.env.ARCLIGHT_URL || '').replace(/\/+$/, '');
const SCREENSHOT = process.env.ARCLIGHT_SCREENSHOT || '';
const CHROMIUM = process.env.ARCLIGHT_CHROMIUM || '/usr/bin/chromium';
const NAV = ['Dashboard', 'Flows', 'Runs', 'Agents', 'Hub', 'Memory', 'Learning', 'Monitoring', 'Settings'];

if (!BASE) {
  console.error('ARCLIGHT_URL is not set (e.g. ARCLIGHT_URL=http://127.0.0.1:18080)');
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

  await check('/ loads with title "Arclight" and all nine nav entries', async () => {
    const res = await page.goto(`${BASE}/`, { waitUntil: 'load' });
    assert(res && res.ok(), `GET / answered ${res?.status()}`);
    const title = await page.title();
    assert(title.includes('Arclight'), `title is ${JSON.stringify(title)}`);
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

  await check('deep link /runs loads directly with the nav', async () => {
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
