// Issue 21, "the first hour", walked as a new user walks it, on a server of its own with a fresh
// database (ARCLIGHT_FRESH_URL, started by scripts/test.sh with no user): the set-up page, the
// README example in one click from Home, the webhook tried from its page, its run found under
// Runs and opened (the input that flowed into each task, the response that was sent), the JSON
// broken and the error located, leaving with unsaved edits (asked first), an old version
// restored. A screenshot of each step: first-hour-1-setup ... first-hour-8-restored.

const FRESH = (process.env.ARCLIGHT_FRESH_URL || '').replace(/\/+$/, '');

export default async function (t) {
  const { browser, check, assert, shot } = t;
  if (!FRESH) {
    await check('first hour: ARCLIGHT_FRESH_URL names a fresh server (scripts/test.sh starts one)', async () => {
      throw new Error('ARCLIGHT_FRESH_URL is not set');
    });
    return;
  }
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const step = (n, name) => shot(page, `first-hour-${n}-${name}`);
  const editor = () => page.locator('[data-testid=wf-editor]');
  const editorText = () => editor().evaluate((el) => el.jsonEditor.text());
  let wfId = '';
  let runId = '';

  try {
    await check('first hour: a fresh server opens on its set-up page; creating the first admin logs in to Home', async () => {
      await page.goto(`${FRESH}/`, { waitUntil: 'load' });
      const form = page.locator('[data-testid=setup-form]');
      await form.waitFor();
      await form.locator('input[name=username]').fill('owner');
      await form.locator('input[name=password]').fill('first hour password 1');
      await form.locator('input[name=confirm]').fill('first hour password 1');
      await step(1, 'setup');
      await form.locator('button[type=submit]').click();
      await page.locator('[data-testid=getting-started]').waitFor();
      assert(new URL(page.url()).pathname === '/', `after set-up the page is ${page.url()}`);
      await step(2, 'home');
    });

    await check('first hour: "Create the README example" makes the echo workflow and opens it', async () => {
      await page.locator('[data-testid=home-create-example]').click();
      await page.waitForURL((u) => /^\/workflows\/[^/]+$/.test(u.pathname) && u.pathname !== '/workflows/new');
      wfId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
      await page.locator('main#content h1', { hasText: 'echo' }).waitFor();
      await page.locator('[data-testid=webhooks-panel] [data-testid=webhook-url]').waitFor();
      const url = (await page.locator('[data-testid=webhooks-panel] [data-testid=webhook-url]').innerText()).trim();
      assert(url === `${FRESH}/hooks/echo`, `the webhook URL is ${JSON.stringify(url)}`);
      await step(3, 'example');
    });

    await check('first hour: the webhook, tried from its page, answers as the README says and its run succeeds', async () => {
      const panel = page.locator('[data-testid=webhooks-panel]');
      await panel.locator('[data-testid=webhook-inactive]').waitFor({ state: 'detached' });
      await panel.locator('[data-testid=webhook-body]').fill('{"hello": 1}');
      await panel.locator('[data-testid=webhook-send]').click();
      await panel.locator('[data-testid=webhook-response-status]', { hasText: '200' }).waitFor();
      const body = JSON.parse(await panel.locator('[data-testid=webhook-response-body]').innerText());
      assert(body.echoed === true && body.hello === 1, `the hook answered ${JSON.stringify(body)}`);
      await panel.locator('[data-testid=webhook-run-status][data-status=succeeded]').waitFor({ timeout: 15_000 });
      const href = await panel.locator('[data-testid=webhook-run-link]').getAttribute('href');
      runId = decodeURIComponent((href ?? '').split('/').pop() ?? '');
      await panel.scrollIntoViewIfNeeded();
      await step(4, 'webhook-sent');
    });

    await check('first hour: Runs lists the run (its runs are kept), and it opens', async () => {
      await page.locator('[data-testid=nav] a', { hasText: 'Runs' }).click();
      await page.waitForURL(`${FRESH}/runs`);
      const row = page.locator(`[data-testid=runs-table] tr[data-run-id="${runId}"]`);
      await row.waitFor();
      await step(5, 'runs');
      await row.locator('a').first().click();
      await page.waitForURL(`${FRESH}/runs/${encodeURIComponent(runId)}`);
      for (const id of ['add', 'reply']) await page.locator(`svg[data-testid=dag] [data-task-id="${id}"][data-status="succeeded"]`).waitFor();
    });

    await check('first hour: the run shows the input that flowed into each task and the response that was sent', async () => {
      const detail = (id) => page.locator(`[data-testid=task-detail][data-task-id="${id}"]`);
      await page.locator('svg[data-testid=dag] [data-task-id="add"]').click();
      const addIn = JSON.parse(await detail('add').locator('[data-testid=task-input]').innerText());
      assert(JSON.stringify(addIn) === '{"hello":1}', `add received ${JSON.stringify(addIn)}`);
      await page.locator('svg[data-testid=dag] [data-task-id="reply"]').click();
      const replyIn = JSON.parse(await detail('reply').locator('[data-testid=task-input]').innerText());
      assert(replyIn.echoed === true && replyIn.hello === 1, `reply received ${JSON.stringify(replyIn)}`);
      const sent = JSON.parse(await page.locator('[data-testid=run-response] [data-testid=run-response-body]').innerText());
      assert(sent.echoed === true && sent.hello === 1, `the run's response is ${JSON.stringify(sent)}`);
      await step(6, 'run');
    });

    await check('first hour: a trailing comma in the definition is located (line, column, gutter mark)', async () => {
      await page.goto(`${FRESH}/workflows/${encodeURIComponent(wfId)}`);
      await editor().locator('.cm-content').waitFor();
      const good = await editorText();
      const def = JSON.parse(good);
      def.description = 'Tried in the first hour';
      const text = JSON.stringify(def, null, 2);
      const broken = text.replace(/\n}$/, ',\n}');
      await t.pasteText(page, editor().locator('.cm-content'), broken);
      assert((await editorText()) === broken, 'the broken text did not arrive in the editor');
      const lines = broken.split('\n');
      const line = lines.length - 1;
      const col = lines[line - 1].length;
      const live = page.locator('[data-testid=json-status] [data-testid=json-error]');
      await live.and(page.locator(`[data-line="${line}"][data-col="${col}"]`)).waitFor();
      assert((await live.innerText()).includes('Trailing comma'), `under the editor: ${await live.innerText()}`);
      await editor().locator('.cm-gutter-lint .cm-lint-marker-error').waitFor();
      // Validate puts the cursor on the comma (the editor scrolls to it) and says where it is.
      await page.locator('[data-testid=validate-workflow]').click();
      const shown = await page.locator('[data-testid=validation-errors]').innerText();
      assert(shown.includes(`line ${line}, column ${col}`) && shown.includes('Trailing comma'), `Validate shows ${JSON.stringify(shown)}`);
      const cursor = await editor().evaluate((el) => el.jsonEditor.selection().from);
      assert(cursor === broken.lastIndexOf(','), `the cursor is at ${cursor}, the comma at ${broken.lastIndexOf(',')}`);
      const mark = await editor().locator('.cm-gutter-lint .cm-lint-marker-error').boundingBox();
      const box = await editor().boundingBox();
      assert(mark && box && mark.y >= box.y && mark.y + mark.height <= box.y + box.height, 'the gutter mark is not in view after Validate');
      await step(7, 'json-error');
    });

    await check('first hour: leaving with unsaved edits asks first; after saving, History restores version 1 as a new version', async () => {
      const asked = await t.dismissedDialogs(page, () => page.locator('[data-testid=nav] a', { hasText: 'Runs' }).click());
      assert(asked.length === 1 && asked[0] === 'confirm', `leaving asked ${JSON.stringify(asked)}`);
      assert(new URL(page.url()).pathname === `/workflows/${wfId}`, `the page left for ${page.url()}`);
      // Mend the comma and save: version 2.
      const mended = (await editorText()).replace(/,\n}$/, '\n}');
      await t.pasteText(page, editor().locator('.cm-content'), mended);
      await page.locator('[data-testid=save-workflow]').click();
      await page.locator('[data-testid=flash]', { hasText: 'version 2' }).waitFor();
      const history = page.locator('[data-testid=workflow-history]');
      const v1 = history.locator('[data-testid=history-version][data-version="1"]');
      await v1.locator('[data-testid=history-restore]').click();
      await page.locator('[data-testid=dialog] [data-testid=dialog-confirm]').click();
      await page.locator('[data-testid=flash]', { hasText: 'version 3' }).waitFor();
      const now = JSON.parse(await editorText());
      assert(now.description !== 'Tried in the first hour', `after the restore the editor shows ${JSON.stringify(now.description)}`);
      await history.locator('[data-testid=history-version][data-version="3"]').waitFor();
      await step(8, 'restored');
      assert(errors.length === 0, `page errors: ${errors.join('; ')}`);
    });
  } finally {
    await context.close();
  }
}
