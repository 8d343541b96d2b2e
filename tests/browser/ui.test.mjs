// Headless-Chromium checks of the Arclight web UI against a running server.
//
//   ARCLIGHT_URL=http://127.0.0.1:18080 ARCLIGHT_TEST_USER=admin ARCLIGHT_TEST_PASSWORD=... \
//     [ARCLIGHT_SCREENSHOT=/tmp/ui.png] [ARCLIGHT_SCREENSHOT_DIR=/tmp/shots] node ui.test.mjs
//
// The server must already have an admin user (ARCLIGHT_TEST_USER with
// ARCLIGHT_TEST_PASSWORD) and should run with a 1-second heartbeat
// (ARCLIGHT_SYSTEM_HEARTBEAT_SECONDS=1) so the live-update check is quick.
// ARCLIGHT_SCREENSHOT saves the dashboard; ARCLIGHT_SCREENSHOT_DIR saves
// login, dashboard, users, API keys, audit, workflows, workflow editor,
// runs and run pages there. The workflow checks need the server's
// workflow module (they create workflows and runs of the built-in `set` task).
// Uses Debian's chromium; never downloads a browser.

import { readdir } from 'node:fs/promises';
import { chromium } from 'playwright-core';

const BASE = (process.env.ARCLIGHT_URL || '').replace(/\/+$/, '');
const SCREENSHOT = process.env.ARCLIGHT_SCREENSHOT || '';
const SHOTS = (process.env.ARCLIGHT_SCREENSHOT_DIR || '').replace(/\/+$/, '');
const USER = process.env.ARCLIGHT_TEST_USER || '';
const PASSWORD = process.env.ARCLIGHT_TEST_PASSWORD || '';
const CHROMIUM = process.env.ARCLIGHT_CHROMIUM || '/usr/bin/chromium';
// The nav: the pages of the server's modules, then those of modules still to come under "Coming".
const NAV = ['Home', 'Workflows', 'Runs', 'Settings'];
const NAV_COMING = ['Flows', 'Agents', 'Hub', 'Memory', 'Learning', 'Monitoring'];

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

// Replaces the whole text of a CodeMirror editor (`content`: its .cm-content) as a user's paste
// does: select all, a paste event (no auto-closed brackets, no auto-indentation). Playwright's
// fill types into the contenteditable, and replacing several lines that way can leave a line
// break behind.
async function pasteText(page, content, value) {
  await content.focus();
  await page.keyboard.press('Control+a');
  await content.evaluate((el, text) => {
    const data = new DataTransfer();
    data.setData('text/plain', text);
    el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  }, value);
}

// The types of the browser dialogs (confirm, alert, ...) the page opened while `action` ran; each
// is dismissed (a confirm answered "Cancel").
async function dismissedDialogs(page, action) {
  const asked = [];
  const onDialog = (d) => {
    asked.push(d.type());
    void d.dismiss();
  };
  page.on('dialog', onDialog);
  try {
    await action();
    await page.waitForFunction(() => true);  // let the action's handlers run
  } finally {
    page.off('dialog', onDialog);
  }
  return asked;
}

// A new browser context (1280x800) with a page logged in as the test admin, at `/`; `errors`
// collects the page's uncaught errors. The caller closes `context`.
async function loggedInPage(username = USER, password = PASSWORD) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${BASE}/login`, { waitUntil: 'load' });
  await login(page, username, password);
  await page.waitForURL(`${BASE}/`);
  return { context, page, errors };
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
  // Every Content-Security-Policy violation, as the page reports it (the server's CSP applies to
  // every page the tests visit).
  await context.addInitScript(() => {
    window.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations = window.__cspViolations || [];
      window.__cspViolations.push(`${e.violatedDirective}: ${e.blockedURI}`);
    });
  });
  const cspViolations = [];
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text());
  });

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

  await check('the right password logs in and shows the home page', async () => {
    await login(page, USER, PASSWORD);
    await page.waitForURL(`${BASE}/`);
    await page.locator('[data-testid=module-health]').waitFor();
    const menu = await text(page, '[data-testid=user-menu]');
    assert(menu.includes(USER), `user menu shows ${JSON.stringify(menu)}`);
    assert(menu.includes('admin'), `user menu does not show the role: ${JSON.stringify(menu)}`);
  });

  await check('all ten nav entries are shown: the built ones, then the coming ones grouped apart and marked', async () => {
    await page.locator('[data-testid=nav-coming] a').first().waitFor();
    const labels = async (sel) => (await page.locator(sel).allInnerTexts()).map((s) => s.trim());
    const all = await labels('[data-testid=nav] a .nav-label');
    const built = await labels('[data-testid=nav] .nav-section:not([data-testid=nav-coming]) a .nav-label');
    const coming = await labels('[data-testid=nav-coming] a .nav-label');
    assert(JSON.stringify(built) === JSON.stringify(NAV), `the built entries are ${JSON.stringify(built)}`);
    assert(JSON.stringify(coming) === JSON.stringify(NAV_COMING), `the coming entries are ${JSON.stringify(coming)}`);
    assert(all.length === NAV.length + NAV_COMING.length, `nav has ${all.length} entries: ${JSON.stringify(all)}`);
    const marks = (await page.locator('[data-testid=nav] a [data-testid=nav-coming-mark]').allTextContents()).map((m) => m.trim());
    assert(marks.length === NAV_COMING.length && marks.every((m) => m === 'coming'), `coming marks: ${JSON.stringify(marks)}`);
  });

  await check('the home page shows component health: the server is ok', async () => {
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

  await check('the UI\'s script and style arrive compressed (brotli) and cached for a year', async () => {
    const assets = [];
    const onResponse = (r) => {
      if (/\/assets\/[^/]+\.(js|css)$/.test(new URL(r.url()).pathname)) assets.push(r);
    };
    page.on('response', onResponse);
    try {
      await page.goto(`${BASE}/runs`, { waitUntil: 'load' });
    } finally {
      page.off('response', onResponse);
    }
    assert(assets.length >= 2, `the page loaded ${assets.length} script/style assets`);
    for (const r of assets) {
      const hdr = await r.allHeaders();
      assert(hdr['content-encoding'] === 'br', `${r.url()} came with content-encoding ${hdr['content-encoding']}`);
      assert(hdr['vary'] === 'Accept-Encoding', `${r.url()} came with vary ${hdr['vary']}`);
      assert((hdr['cache-control'] || '').includes('immutable'), `${r.url()} came with cache-control ${hdr['cache-control']}`);
      const wire = Number(hdr['content-length']);
      const body = await r.body();  // decoded
      assert(wire > 0 && wire < body.length / 2, `${r.url()}: ${wire} bytes on the wire for ${body.length}`);
    }
  });

  await check('client-side navigation to Home works', async () => {
    await page.locator('[data-testid=nav] a', { hasText: 'Home' }).click();
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

  // ---- workflows and runs ----------------------------------------------------

  const wfName = `ui-test-${Date.now()}`;
  const setTask = (id, depends_on) => ({ id, type: 'set', config: { values: { x: 1 } }, depends_on });
  const definition = (name) => ({
    name,
    description: 'Made by the browser test',
    execution_data: 'full',
    triggers: [{ type: 'manual' }],
    tasks: [setTask('a', []), setTask('b', []), setTask('c', ['a', 'b'])],
  });
  let wfId = '';
  let runId = '';
  // The definition's code editor (CodeMirror). Its text is read through the editor, not the page:
  // CodeMirror draws only the lines in view. `fillEditor` replaces the whole text by pasting (select
  // all, a paste event: no auto-closed brackets, no auto-indentation) and checks that it arrived
  // unchanged.
  const editor = () => page.locator('[data-testid=wf-editor]');
  const editorText = () => editor().locator('.cm-content').evaluate((el) => el.closest('[data-testid=wf-editor]').jsonEditor.text());
  const fillEditor = async (value) => {
    await pasteText(page, editor().locator('.cm-content'), value);
    const now = await editorText();
    assert(now === value, `the editor holds ${JSON.stringify(now.slice(0, 200))} after typing ${JSON.stringify(value.slice(0, 200))}`);
  };
  const runRow = (id) => page.locator(`[data-testid=runs-table] tr[data-run-id="${id}"]`);

  await check('the Workflows page lists workflows (the workflow module is present)', async () => {
    const mods = await page.evaluate(() => window.arclight.api.get('/api/v1/system/info').then((i) => i.modules.map((m) => m.name)));
    assert(mods.includes('workflow'), `the server has no workflow module (modules: ${mods.join(', ')})`);
    await page.locator('[data-testid=nav] a', { hasText: 'Workflows' }).click();
    await page.waitForURL(`${BASE}/workflows`);
    await page.locator('[data-testid=workflows-table]').waitFor();
    const h1 = await text(page, 'main h1');
    assert(h1 === 'Workflows', `page heading is ${JSON.stringify(h1)}`);
    await page.locator('[data-testid=new-workflow]').waitFor();
  });

  await check('the editor shows a JSON syntax error without asking the server', async () => {
    await page.locator('[data-testid=new-workflow]').click();
    await page.waitForURL(`${BASE}/workflows/new`);
    await fillEditor('{"name": "broken",\n  "tasks": [}');
    await page.locator('[data-testid=validate-workflow]').click();
    const errs = page.locator('[data-testid=validation-errors]');
    await errs.waitFor();
    const msg = await errs.innerText();
    assert(/not valid json/i.test(msg), `validation shows ${JSON.stringify(msg)}`);
    assert(/line 2, column 13/i.test(msg), `the syntax error is not located: ${JSON.stringify(msg)}`);
  });

  await check('Validate shows every error of a bad definition, placed in its own words', async () => {
    const bad = definition(wfName);
    bad.tasks[0].type = 'no-such-type';
    bad.tasks[2].depends_on = ['a', 'bb'];
    await fillEditor(JSON.stringify(bad, null, 2));
    await page.locator('[data-testid=validate-workflow]').click();
    const errors = page.locator('[data-testid=validation-errors] [data-testid=validation-error]');
    // Wait for this validation's answer: the previous step's error list (pointer "") is still on
    // the page until it arrives, and reading it then fails at random.
    await errors.and(page.locator('[data-pointer="/tasks/0/type"]')).waitFor();
    const pointers = await errors.evaluateAll((els) => els.map((e) => e.getAttribute('data-pointer')));
    assert(pointers.includes('/tasks/0/type'), `error pointers are ${JSON.stringify(pointers)}`);
    assert(pointers.some((p) => p.startsWith('/tasks/2/depends_on')), `no error for the unknown dependency: ${JSON.stringify(pointers)}`);
    const line = await errors.and(page.locator('[data-pointer="/tasks/0/type"]')).innerText();
    assert(line.includes('no-such-type'), `the /tasks/0/type error says ${JSON.stringify(line)}`);
    // Said as the definition says it, not by index, with a suggestion (issue 21, item 8).
    const dep = (await errors.and(page.locator('[data-pointer="/tasks/2/depends_on/1"]')).innerText()).replace(/\s+/g, ' ');
    assert(dep.includes('task `c` → depends_on') && dep.includes('no task `bb` (did you mean `b`?)'), `the dependency error says ${JSON.stringify(dep)}`);
    assert(!dep.includes('/tasks/2'), `the dependency error shows its pointer: ${JSON.stringify(dep)}`);
    // The pointer selects the offending part of the text.
    await errors.and(page.locator('[data-pointer="/tasks/0/type"]')).locator('button').click();
    const selectedText = await editor().evaluate((el) => {
      const { from, to } = el.jsonEditor.selection();
      return el.jsonEditor.text().slice(from, to);
    });
    assert(selectedText.includes('no-such-type'), `clicking the pointer selected ${JSON.stringify(selectedText)}`);
    await shot(page, 'workflow-editor-errors');
  });

  await check('a valid definition validates and saves (POST), then opens under its id', async () => {
    await fillEditor(JSON.stringify(definition(wfName), null, 2));
    await page.locator('[data-testid=validate-workflow]').click();
    await page.locator('[data-testid=validation-ok]').waitFor();
    await page.locator('[data-testid=save-workflow]').click();
    await page.waitForURL((u) => /^\/workflows\/[^/]+$/.test(u.pathname) && !u.pathname.endsWith('/new'));
    wfId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
    await page.locator('[data-testid=flash]').waitFor();
    await page.locator('[data-testid=editor-state]', { hasText: 'Version 1 saved' }).waitFor();
    const h1 = await text(page, 'main h1');
    assert(h1 === wfName, `editor heading is ${JSON.stringify(h1)}`);
    const saved = JSON.parse(await editorText());
    assert(saved.tasks?.length === 3, `the editor shows ${JSON.stringify(saved)}`);
    await shot(page, 'workflow-editor');
  });

  await check('editing the definition and saving again (PUT) makes version 2', async () => {
    const def = JSON.parse(await editorText());
    def.description = 'Edited by the browser test';
    await fillEditor(JSON.stringify(def, null, 2));
    assert((await text(page, '[data-testid=editor-state]')) === 'Unsaved changes', 'the editor does not say the text changed');
    await page.locator('[data-testid=save-workflow]').click();
    await page.locator('[data-testid=flash]', { hasText: 'version 2' }).waitFor();
    const w = await page.evaluate((id) => window.arclight.api.get(`/api/v1/workflows/${encodeURIComponent(id)}`), wfId);
    assert(w.version === 2 && w.description === 'Edited by the browser test', `after saving, the workflow is ${JSON.stringify(w)}`);
  });

  await check('leaving the editor with unsaved changes asks first; staying keeps them (link, back, reload)', async () => {
    const before = await editorText();
    const def = JSON.parse(before);
    def.description = 'Not saved yet';
    await fillEditor(JSON.stringify(def, null, 2));
    const asked = await dismissedDialogs(page, () => page.locator('[data-testid=nav] a', { hasText: 'Workflows' }).click());
    assert(asked.length === 1 && asked[0] === 'confirm', `leaving by a link asked ${JSON.stringify(asked)}`);
    assert(new URL(page.url()).pathname === `/workflows/${wfId}`, `the page left for ${page.url()}`);
    assert((await editorText()).includes('Not saved yet'), 'the unsaved text is gone');
    // A reload or closing the tab: the page asks the browser to ask.
    const prevented = await page.evaluate(() => {
      const ev = new Event('beforeunload', { cancelable: true });
      window.dispatchEvent(ev);
      return ev.defaultPrevented;
    });
    assert(prevented, 'beforeunload is not held back while there are unsaved changes');
    await shot(page, 'workflow-unsaved');
  });

  await check('History lists every version; Compare shows the difference side by side; Restore saves version 1 again as version 3', async () => {
    const history = page.locator('[data-testid=workflow-history]');
    await history.locator('[data-testid=history-version]').nth(1).waitFor();
    const versions = await history.locator('[data-testid=history-version]').evaluateAll((els) => els.map((e) => e.dataset.version));
    assert(JSON.stringify(versions) === '["2","1"]', `history lists ${JSON.stringify(versions)}`);
    const v1 = history.locator('[data-testid=history-version][data-version="1"]');
    await v1.locator('[data-testid=history-compare]').click();
    const diff = page.locator('[data-testid=dialog] [data-testid=version-diff]');
    await diff.waitFor();
    const changed = await diff.locator('tr[data-kind=chg], tr[data-kind=add], tr[data-kind=del]').allInnerTexts();
    assert(changed.some((t) => t.includes('Edited by the browser test')) && changed.some((t) => t.includes('Made by the browser test')),
      `the diff's changed rows are ${JSON.stringify(changed)}`);
    await shot(page, 'workflow-history-diff');
    await page.locator('[data-testid=dialog] [data-testid=dialog-confirm]').click();
    await page.locator('[data-testid=dialog]').waitFor({ state: 'detached' });
    // The editor still holds unsaved text: the restore dialog says it is discarded.
    await v1.locator('[data-testid=history-restore]').click();
    await page.locator('[data-testid=dialog] [data-testid=restore-discards]').waitFor();
    await page.locator('[data-testid=dialog] [data-testid=dialog-confirm]').click();
    await page.locator('[data-testid=flash]', { hasText: 'version 3' }).waitFor();
    await page.locator('[data-testid=editor-state]', { hasText: 'Version 3 saved' }).waitFor();
    const now = JSON.parse(await editorText());
    assert(now.description === 'Made by the browser test', `after the restore the editor shows ${JSON.stringify(now)}`);
    const w = await page.evaluate((id) => window.arclight.api.get(`/api/v1/workflows/${encodeURIComponent(id)}`), wfId);
    assert(w.version === 3 && w.description === 'Made by the browser test', `after the restore the workflow is ${JSON.stringify(w)}`);
    await history.locator('[data-testid=history-version][data-version="3"]').waitFor();
    await shot(page, 'workflow-history');
  });

  await check('the new workflow is listed with its trigger and 3 tasks, and can be activated', async () => {
    await page.locator('[data-testid=nav] a', { hasText: 'Workflows' }).click();
    await page.waitForURL(`${BASE}/workflows`);
    const row = page.locator(`[data-testid=workflows-table] tr[data-id="${wfId}"]`);
    await row.waitFor();
    assert((await row.locator('[data-testid=workflow-name]').innerText()).trim() === wfName, 'the row does not show the name');
    const tasks = (await row.locator('[data-testid=workflow-tasks]').innerText()).trim();
    assert(tasks === '3', `task count is ${JSON.stringify(tasks)}`);
    const triggers = await row.locator('[data-testid=workflow-triggers]').innerText();
    assert(triggers.includes('manual'), `triggers show ${JSON.stringify(triggers)}`);
    const toggle = row.locator('[data-testid=workflow-active]');
    if (!(await toggle.isChecked())) await toggle.click();
    await page.waitForFunction(
      (id) => window.arclight.api.get(`/api/v1/workflows/${encodeURIComponent(id)}`).then((w) => w.active === true),
      wfId,
      { timeout: 5000, polling: 300 },
    );
    assert(await toggle.isChecked(), 'the active switch is off after activating');
    await shot(page, 'workflows');
  });

  await check('Run starts a run (input {}) and opens the run view', async () => {
    const row = page.locator(`[data-testid=workflows-table] tr[data-id="${wfId}"]`);
    await row.locator('[data-testid=workflow-run]').click();
    const dialog = page.locator('[data-testid=dialog]');
    await dialog.waitFor();
    assert((await dialog.locator('[data-testid=run-input]').inputValue()).trim() === '{}', 'the run input is not {} by default');
    await dialog.locator('[data-testid=dialog-confirm]').click();
    await page.waitForURL((u) => /^\/runs\/[^/]+$/.test(u.pathname));
    runId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
    assert(runId.length > 0, 'no run id in the URL');
  });

  await check('the run view draws the DAG; all three nodes become succeeded; the waterfall has 3 rows', async () => {
    await page.locator('svg[data-testid=dag]').waitFor();
    for (const id of ['a', 'b', 'c']) {
      await page.locator(`svg[data-testid=dag] [data-task-id="${id}"][data-status="succeeded"]`).waitFor({ timeout: 20_000 });
    }
    const edges = await page.locator('svg[data-testid=dag] path.dag-edge').count();
    assert(edges === 2, `the DAG has ${edges} edges (c depends on a and b)`);
    const rows = await page.locator('[data-testid=waterfall] [data-task-id]').count();
    assert(rows === 3, `the waterfall has ${rows} rows`);
    await page.locator('[data-testid=run-header-status][data-status=succeeded]').waitFor({ timeout: 10_000 });
    await page.locator('[data-testid=run-rerun]').waitFor();
    assert((await page.locator('[data-testid=run-cancel]').count()) === 0, 'a finished run offers Cancel');
    await page.locator('[data-testid=run-output]').waitFor(); // the refetch after the run finished
    await shot(page, 'run');
  });

  await check('clicking a node or a waterfall row shows that task\'s details', async () => {
    await page.locator('svg[data-testid=dag] [data-task-id="c"]').click();
    const detail = page.locator('[data-testid=task-detail][data-task-id="c"]');
    await detail.waitFor();
    assert((await detail.locator('[data-testid=task-status]').innerText()).trim() === 'succeeded', 'task c is not shown as succeeded');
    const out = detail.locator('[data-testid=task-output]');
    await out.waitFor();
    const json = await out.innerText();
    assert(json.includes('"x"'), `task c output is ${JSON.stringify(json)}`);
    await page.locator('[data-testid=waterfall] [data-task-id="a"]').click();
    await page.locator('[data-testid=task-detail][data-task-id="a"]').waitFor();
  });

  await check('the runs list shows the run; the filters narrow it', async () => {
    await page.locator('[data-testid=nav] a', { hasText: 'Runs' }).click();
    await page.waitForURL(`${BASE}/runs`);
    const row = runRow(runId);
    await row.waitFor();
    assert((await row.getAttribute('data-status')) === 'succeeded', `the run's row has status ${await row.getAttribute('data-status')}`);
    const cells = await row.innerText();
    assert(cells.includes(wfName), `the run row shows ${JSON.stringify(cells)}`);
    await shot(page, 'runs');
    await page.locator('[data-testid=runs-status-filter]').selectOption('failed');
    await row.waitFor({ state: 'detached' });
    assert(new URL(page.url()).searchParams.get('status') === 'failed', `URL after filtering is ${page.url()}`);
    await page.locator('[data-testid=runs-status-filter]').selectOption('');
    await page.locator(`[data-testid=runs-workflow-filter] option[value="${wfId}"]`).waitFor({ state: 'attached' });
    await page.locator('[data-testid=runs-workflow-filter]').selectOption(wfId);
    await row.waitFor();
    const others = await page.locator('[data-testid=runs-table] tr[data-run-id]').evaluateAll((rs, id) => rs.filter((r) => !r.textContent.includes(id)).length, wfName);
    assert(others === 0, `${others} runs of other workflows are listed with the workflow filter`);
  });

  await check('a run started elsewhere appears in the runs list live and reaches succeeded', async () => {
    const started = await page.evaluate(
      (id) => window.arclight.api.post(`/api/v1/workflows/${encodeURIComponent(id)}/runs`, { input: { from: 'api' } }),
      wfId,
    );
    assert(started?.id, `POST /runs answered ${JSON.stringify(started)}`);
    await page.locator(`[data-testid=runs-table] tr[data-run-id="${started.id}"][data-status=succeeded]`).waitFor({ timeout: 15_000 });
    await runRow(started.id).locator('td').first().click();
    await page.waitForURL(`${BASE}/runs/${encodeURIComponent(started.id)}`);
    await page.locator('svg[data-testid=dag] [data-task-id="c"][data-status="succeeded"]').waitFor();
  });

  await check('Cancel stops a running run; the run view follows it live', async () => {
    const slow = await page.evaluate((name) => window.arclight.api.post('/api/v1/workflows', {
      name, execution_data: 'full', triggers: [{ type: 'manual' }],
      tasks: [{ id: 'first', type: 'set', config: { values: { x: 1 } }, depends_on: [] }, { id: 'pause', type: 'delay', config: { seconds: 60 }, depends_on: ['first'] }],
    }), `${wfName}-slow`);
    const run = await page.evaluate((id) => window.arclight.api.post(`/api/v1/workflows/${encodeURIComponent(id)}/runs`, { input: {} }), slow.id);
    await page.goto(`${BASE}/runs/${encodeURIComponent(run.id)}`);
    await page.locator('svg[data-testid=dag] [data-task-id="pause"][data-status="waiting"]').waitFor();
    await page.locator('[data-testid=waterfall] [data-task-id="pause"] .wf-bar').waitFor();
    await page.locator('[data-testid=run-cancel]').click();
    await page.locator('[data-testid=dialog] [data-testid=dialog-confirm]').click();
    await page.locator('[data-testid=run-header-status][data-status=cancelled]').waitFor();
    await page.locator('svg[data-testid=dag] [data-task-id="pause"]:not([data-status="waiting"])').waitFor();
    await page.locator('[data-testid=run-retry]').waitFor();
    assert((await page.locator('[data-testid=run-cancel]').count()) === 0, 'a cancelled run still offers Cancel');
    await page.evaluate((id) => window.arclight.api.delete(`/api/v1/workflows/${encodeURIComponent(id)}`), slow.id);
  });

  await check('a workflow whose runs are not kept says so on its page and in the Runs filter', async () => {
    const name = `quiet-${Date.now()}`;
    const created = await page.evaluate(
      (n) => window.arclight.api.post('/api/v1/workflows', { name: n, execution_data: 'none', triggers: [{ type: 'manual' }], tasks: [{ id: 'a', type: 'set', config: { values: { x: 1 } } }] }),
      name,
    );
    await page.evaluate((id) => window.arclight.api.post(`/api/v1/workflows/${encodeURIComponent(id)}/runs`, { input: {} }), created.id);
    await page.goto(`${BASE}/runs?workflow_id=${encodeURIComponent(created.id)}`);
    // The option is a placeholder ("workflow <id>") until the workflow list has come.
    const option = page.locator(`[data-testid=runs-workflow-filter] option[value="${created.id}"]`, { hasText: name });
    await option.waitFor({ state: 'attached' });
    const label = (await option.innerText()).trim();
    assert(label === `${name} (runs not kept)`, `the filter offers ${JSON.stringify(label)}`);
    await page.locator('main', { hasText: 'are not recorded' }).waitFor();
    await shot(page, 'runs-not-kept');
    await page.goto(`${BASE}/workflows/${encodeURIComponent(created.id)}`);
    const kept = await text(page, '[data-testid=workflow-kept]');
    assert(kept.includes('not recorded'), `the workflow page says ${JSON.stringify(kept)}`);
    await page.evaluate((id) => window.arclight.api.delete(`/api/v1/workflows/${encodeURIComponent(id)}`), created.id);
  });

  await check('deleting a workflow asks first, then removes it from the list', async () => {
    const other = await page.evaluate((name) => window.arclight.api.post('/api/v1/workflows', {
      name, execution_data: 'none', triggers: [{ type: 'manual' }],
      tasks: [{ id: 'only', type: 'set', config: { values: { x: 1 } }, depends_on: [] }],
    }), `${wfName}-delete-me`);
    await page.locator('[data-testid=nav] a', { hasText: 'Workflows' }).click();
    const row = page.locator(`[data-testid=workflows-table] tr[data-id="${other.id}"]`);
    await row.waitFor();
    await row.locator('[data-testid=workflow-delete]').click();
    await page.locator('[data-testid=dialog]').waitFor();
    await page.locator('[data-testid=dialog] [data-testid=dialog-confirm]').click();
    await row.waitFor({ state: 'detached' });
    const status = await page.evaluate((id) => fetch(`/api/v1/workflows/${encodeURIComponent(id)}`).then((r) => r.status), other.id);
    assert(status === 404, `GET of the deleted workflow answered ${status}`);
  });

  // ---- projects ----------------------------------------------------------------

  const api = (method, path, body) =>
    page.evaluate(([m, p, b]) => window.arclight.api.request(m, p, { body: b, quiet: true }), [method, path, body]);
  const switcher = () => page.locator('[data-testid=project-switcher]');
  const wfTable = (projectId) => page.locator(`[data-testid=workflows-table][data-project-id="${projectId}"]`);
  const wfRow = (id) => page.locator(`[data-testid=workflows-table] tr[data-id="${id}"]`);
  const stamp = Date.now();
  let projA = null;
  let projB = null;
  let wfA = null;
  let wfB = null;

  await check('the project switcher lists the caller\'s projects and filters the workflow list', async () => {
    projA = await api('POST', '/api/v1/projects', { name: `ui-alpha-${stamp}` });
    projB = await api('POST', '/api/v1/projects', { name: `ui-beta-${stamp}` });
    assert(projA?.id && projB?.id && projA.kind === 'team', `POST /projects answered ${JSON.stringify([projA, projB])}`);
    const oneTask = (name, project_id) => ({
      name, project_id, execution_data: 'full', triggers: [{ type: 'manual' }],
      tasks: [{ id: 'only', type: 'set', config: { values: { x: 1 } }, depends_on: [] }],
    });
    wfA = await api('POST', '/api/v1/workflows', oneTask(`${wfName}-in-alpha`, projA.id));
    wfB = await api('POST', '/api/v1/workflows', oneTask(`${wfName}-in-beta`, projB.id));
    // A fresh page load reads /auth/me, which now lists both projects.
    await page.goto(`${BASE}/workflows`);
    await wfTable('').waitFor();
    await switcher().locator(`option[value="${projA.id}"]`).waitFor({ state: 'attached' });
    const options = await switcher().locator('option').allInnerTexts();
    assert(options[0] === 'All projects', `the switcher's first option is ${JSON.stringify(options[0])}`);
    assert(options.includes(projB.name), `the switcher lacks ${projB.name}: ${JSON.stringify(options)}`);
    assert(options.some((o) => o.endsWith('(personal)')), `the switcher shows no personal project: ${JSON.stringify(options)}`);
    // All projects: both workflows, each with its project named.
    await wfRow(wfA.id).waitFor();
    await wfRow(wfB.id).waitFor();
    const tag = (await wfRow(wfA.id).locator('[data-testid=workflow-project]').innerText()).trim();
    assert(tag === projA.name, `the row of ${wfA.name} names the project ${JSON.stringify(tag)}`);

    await switcher().selectOption(projA.id);
    await wfTable(projA.id).waitFor();
    await wfRow(wfA.id).waitFor();
    assert((await wfRow(wfB.id).count()) === 0, `${wfB.name} (project B) is listed under project A`);
    const ids = await page.locator('[data-testid=workflows-table] tr[data-id]').evaluateAll((rs) => rs.map((r) => r.dataset.id));
    assert(ids.length === 1 && ids[0] === wfA.id, `project A lists ${JSON.stringify(ids)}`);
    await page.locator('[data-testid=project-scope]', { hasText: projA.name }).waitFor();
    await shot(page, 'project-switcher');

    await switcher().selectOption(projB.id);
    await wfTable(projB.id).waitFor();
    await wfRow(wfB.id).waitFor();
    assert((await wfRow(wfA.id).count()) === 0, `${wfA.name} (project A) is listed under project B`);
  });

  await check('the chosen project is remembered across a reload and filters the runs list', async () => {
    const run = await api('POST', `/api/v1/workflows/${encodeURIComponent(wfA.id)}/runs`, { input: {} });
    await page.goto(`${BASE}/runs`);
    await page.locator('[data-testid=runs-table]').waitFor();
    assert((await switcher().inputValue()) === projB.id, `after a reload the switcher shows ${JSON.stringify(await switcher().inputValue())}`);
    // Project B: no run of A's workflow, and A's workflow is not offered as a filter.
    await page.locator('[data-testid=runs-table] td', { hasText: 'No runs' }).waitFor();
    assert((await runRow(run.id).count()) === 0, 'a run of project A is listed under project B');
    await page.locator(`[data-testid=runs-workflow-filter] option[value="${wfB.id}"]`).waitFor({ state: 'attached' });
    assert((await page.locator(`[data-testid=runs-workflow-filter] option[value="${wfA.id}"]`).count()) === 0, 'the workflow filter offers a workflow of another project');
    await switcher().selectOption(projA.id);
    await runRow(run.id).waitFor();
    const others = await page.locator('[data-testid=runs-table] tr[data-run-id]').count();
    assert(others === 1, `project A lists ${others} runs`);
  });

  await check('a workflow created while a project is chosen is created in that project', async () => {
    await page.locator('[data-testid=nav] a', { hasText: 'Workflows' }).click();
    await wfTable(projA.id).waitFor();
    await page.locator('[data-testid=new-workflow]').click();
    await page.waitForURL(`${BASE}/workflows/new`);
    const where = await text(page, '[data-testid=new-workflow-project]');
    assert(where.includes(projA.name), `the new-workflow editor says it goes to ${JSON.stringify(where)}`);
    await fillEditor(JSON.stringify(definition(`${wfName}-made-in-alpha`), null, 2));
    await page.locator('[data-testid=save-workflow]').click();
    await page.waitForURL((u) => /^\/workflows\/[^/]+$/.test(u.pathname) && !u.pathname.endsWith('/new'));
    const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
    const w = await api('GET', `/api/v1/workflows/${encodeURIComponent(id)}`);
    assert(w.project_id === projA.id, `the new workflow is in ${JSON.stringify(w.project_id)}, not ${projA.id}`);
    await api('DELETE', `/api/v1/workflows/${encodeURIComponent(id)}`);
  });

  await check('the workflow page and the run page show their project; Move to project… moves the workflow', async () => {
    await page.goto(`${BASE}/workflows/${encodeURIComponent(wfA.id)}`);
    const tag = page.locator('.page-header [data-testid=resource-project]');
    await tag.waitFor();
    assert((await tag.innerText()).trim() === projA.name, `the workflow page shows the project ${JSON.stringify(await tag.innerText())}`);
    assert((await text(page, '[data-testid=workflow-project]')) === projA.name, 'the Saved panel does not name the project');
    await shot(page, 'workflow-project');
    await page.locator('[data-testid=workflow-move]').click();
    const dialog = page.locator('[data-testid=dialog]');
    await dialog.waitFor();
    await dialog.locator('[data-testid=move-target]').selectOption(projB.id);
    await shot(page, 'workflow-move');
    await dialog.locator('[data-testid=dialog-confirm]').click();
    await dialog.waitFor({ state: 'detached' });
    await page.locator('.page-header [data-testid=resource-project]', { hasText: projB.name }).waitFor();
    const w = await api('GET', `/api/v1/workflows/${encodeURIComponent(wfA.id)}`);
    assert(w.project_id === projB.id, `after the move the workflow is in ${JSON.stringify(w.project_id)}`);
    // Its runs moved with it.
    const runs = await api('GET', `/api/v1/runs?workflow_id=${encodeURIComponent(wfA.id)}&limit=1`);
    const runId2 = runs.items?.[0]?.id;
    assert(runId2 && runs.items[0].project_id === projB.id, `the workflow's run is in ${JSON.stringify(runs.items?.[0]?.project_id)}`);
    await page.goto(`${BASE}/runs/${encodeURIComponent(runId2)}`);
    await page.locator('.page-header [data-testid=resource-project]', { hasText: projB.name }).waitFor();
  });

  const memberName = `ui-member-${stamp}`;
  const memberPassword = `member pass ${stamp}`;
  let teamId = '';
  await check('Settings → Projects creates a team project and adds a member', async () => {
    await api('POST', '/api/v1/auth/users', { username: memberName, password: memberPassword, role: 'viewer' });
    await page.locator('[data-testid=nav] a', { hasText: 'Settings' }).click();
    await page.locator('[data-testid=settings-tabs] a', { hasText: 'Projects' }).click();
    await page.waitForURL(`${BASE}/settings/projects`);
    await page.locator(`[data-testid=projects-table] tr[data-id="${projA.id}"]`).waitFor();
    const teamName = `ui-team-${stamp}`;
    const form = page.locator('[data-testid=project-form]');
    await form.locator('input[name=name]').fill(teamName);
    await shot(page, 'projects');
    await form.locator('[data-testid=project-create]').click();
    await page.waitForURL((u) => u.pathname.startsWith('/settings/projects/'));
    teamId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
    await page.locator('[data-testid=project-title]', { hasText: teamName }).waitFor();
    // The instance admin reaches it without being a member; the header's switcher offers it at once.
    await page.locator('[data-testid=members-table]').waitFor();
    await switcher().locator(`option[value="${teamId}"]`).waitFor({ state: 'attached' });
    const add = page.locator('[data-testid=member-form]');
    await add.locator(`[data-testid=member-add-user] option`, { hasText: memberName }).waitFor({ state: 'attached' });
    await add.locator('[data-testid=member-add-user]').selectOption({ label: memberName });
    await add.locator('[data-testid=member-add-role]').selectOption('operator');
    await add.locator('[data-testid=member-add]').click();
    const row = page.locator(`[data-testid=members-table] tr[data-username="${memberName}"]`);
    await row.waitFor();
    assert((await row.locator('[data-testid=member-role]').inputValue()) === 'operator', 'the new member\'s role is not operator');
    const members = await api('GET', `/api/v1/projects/${encodeURIComponent(teamId)}/members`);
    const m = members.items.find((x) => x.username === memberName);
    assert(m?.role === 'operator', `the server has the member as ${JSON.stringify(m)}`);
    // Changing the role in place.
    await row.locator('[data-testid=member-role]').selectOption('editor');
    await page.waitForFunction(
      ([id, name]) => window.arclight.api.get(`/api/v1/projects/${encodeURIComponent(id)}/members`).then((r) => r.items.some((x) => x.username === name && x.role === 'editor')),
      [teamId, memberName],
      { timeout: 5000, polling: 200 },
    );
    await shot(page, 'project-detail');
  });

  await check('a member sees only their projects in the switcher; another project\'s workflow is not found', async () => {
    const other = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const p2 = await other.newPage();
      p2.setDefaultTimeout(10_000);
      await p2.goto(`${BASE}/login`);
      await login(p2, memberName, memberPassword);
      await p2.waitForURL(`${BASE}/`);
      const sw = p2.locator('[data-testid=project-switcher]');
      await sw.locator(`option[value="${teamId}"]`).waitFor({ state: 'attached' });
      const values = await sw.locator('option').evaluateAll((os) => os.map((o) => o.value));
      assert(values[0] === '' && values.includes(teamId), `the member's switcher offers ${JSON.stringify(values)}`);
      assert(!values.includes(projA.id) && !values.includes(projB.id), 'the member is offered projects they are not in');
      await p2.goto(`${BASE}/workflows/${encodeURIComponent(wfB.id)}`);
      await p2.locator('[data-testid=notice]', { hasText: 'no workflow with this id' }).waitFor();
      await p2.goto(`${BASE}/settings/projects`);
      await p2.locator(`[data-testid=projects-table] tr[data-id="${teamId}"]`).waitFor();
      assert((await p2.locator('[data-testid=project-form]').count()) === 0, 'a member who is not an instance admin is offered to create projects');
    } finally {
      await other.close();
    }
  });

  /** Closes a dialog a failed check left open, so that the next checks can click. */
  const closeDialogs = async () => {
    while (await page.locator('dialog[open]').count()) await page.keyboard.press('Escape');
  };

  await check('renaming a project and removing a member; deleting a project that holds workflows shows the refusal', async () => {
    const name = page.locator('[data-testid=project-rename] input[name=name]');
    await name.fill(`ui-team-renamed-${stamp}`);
    await page.locator('[data-testid=project-rename-save]').click();
    await page.locator('[data-testid=project-title]', { hasText: `ui-team-renamed-${stamp}` }).waitFor();
    await switcher().locator(`option[value="${teamId}"]`, { hasText: `ui-team-renamed-${stamp}` }).waitFor({ state: 'attached' });
    const row = page.locator(`[data-testid=members-table] tr[data-username="${memberName}"]`);
    await row.locator('[data-testid=member-remove]').click();
    await page.locator('[data-testid=dialog] [data-testid=dialog-confirm]').click();
    await row.waitFor({ state: 'detached' });
    // Project B holds two workflows: the server refuses with 409 and the dialog says why.
    await page.goto(`${BASE}/settings/projects/${encodeURIComponent(projB.id)}`);
    await page.locator('[data-testid=project-delete]').click();
    const dialog = page.locator('[data-testid=dialog]');
    await dialog.locator('[data-testid=dialog-confirm]').click();
    const err = dialog.locator('[data-testid=dialog-error]');
    await err.waitFor({ state: 'visible' });
    const msg = (await err.innerText()).trim();
    assert(/workflow/i.test(msg), `the refusal says ${JSON.stringify(msg)}`);
    await shot(page, 'project-delete-refused');
    await dialog.locator('[data-testid=dialog-cancel]').click();
    // The empty team project goes.
    await page.goto(`${BASE}/settings/projects/${encodeURIComponent(teamId)}`);
    await page.locator('[data-testid=project-delete]').click();
    await page.locator('[data-testid=dialog] [data-testid=dialog-confirm]').click();
    await page.waitForURL(`${BASE}/settings/projects`);
    await page.locator('[data-testid=flash]').waitFor();
    assert((await page.locator(`[data-testid=projects-table] tr[data-id="${teamId}"]`).count()) === 0, 'the deleted project is still listed');
    assert((await switcher().locator(`option[value="${teamId}"]`).count()) === 0, 'the switcher still offers the deleted project');
  });
  await closeDialogs();

  await check('"All projects" shows every project\'s workflows again', async () => {
    await switcher().selectOption('');
    await page.locator('[data-testid=nav] a', { hasText: 'Workflows' }).click();
    await wfTable('').waitFor();
    await wfRow(wfA.id).waitFor();
    await wfRow(wfB.id).waitFor();
    for (const w of [wfA, wfB]) await api('DELETE', `/api/v1/workflows/${encodeURIComponent(w.id)}`);
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

  await check('the page ran under its Content-Security-Policy with no violation', async () => {
    const res = await page.goto(`${BASE}/`, { waitUntil: 'load' });
    const csp = res?.headers()['content-security-policy'] ?? '';
    assert(csp.includes("object-src 'none'") && csp.includes("script-src 'self'"), `CSP is ${JSON.stringify(csp)}`);
    const reported = await page.evaluate(() => window.__cspViolations || []);
    const all = [...cspViolations, ...reported];
    assert(all.length === 0, all.join('\n'));
  });

  await context.close();

  // Further suites, one file each (tests/browser/suites/*.mjs, in name order): each exports
  // `default async function (t)` and gets the helpers below, and a logged-in page of its own.
  const suites = (await readdir(new URL('./suites/', import.meta.url))).filter((f) => f.endsWith('.mjs')).sort();
  for (const file of suites) {
    const suite = await import(new URL(`./suites/${file}`, import.meta.url));
    const t = { browser, BASE, USER, PASSWORD, check, assert, text, shot, login, loggedInPage, pasteText, dismissedDialogs };
    await suite.default(t);
  }
} catch (err) {
  failed++;
  console.log(`not ok - test run aborted: ${err?.stack ?? err}`);
} finally {
  await browser.close();
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
