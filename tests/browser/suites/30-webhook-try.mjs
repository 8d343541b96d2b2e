// Issue 21, items 4 and 5: the README's first workflow, tried from its page. Its Webhook panel
// shows the URL and a curl line; an inactive workflow's hook says it does not answer; "Send test
// request" shows the answer and the run it started, which is then opened: the Input of `add` is
// the request body that flowed in, the Input of `reply` is add's output, each with its evaluated
// Config beside it, and the run's Response is what the caller got.
//
// The README's definition, on the path echo-try (so that it does not take /hooks/echo from
// another suite).

const PATH = 'echo-try';
const DEF = {
  name: 'echo (tried from its page)',
  active: false,
  triggers: [{ type: 'webhook', method: 'POST', path: PATH, respond: 'sync' }],
  tasks: [
    { id: 'add', type: 'script', config: { code: 'local b = input.trigger.body; b.echoed = true; return b' } },
    { id: 'reply', type: 'respond', depends_on: ['add'], config: { status: 200, body: '{{ tasks.add.output }}' } },
  ],
};

export default async function (t) {
  const { BASE, check, assert, shot } = t;
  const { context, page, errors } = await t.loggedInPage();
  let wfId = '';
  let runId = '';
  let guardedId = '';
  const panel = page.locator('[data-testid=webhooks-panel]');
  const detail = (id) => page.locator(`[data-testid=task-detail][data-task-id="${id}"]`);

  try {
    await check('webhook try: the README example, saved inactive, shows its URL, curl line and that it does not answer yet', async () => {
      const created = await page.evaluate((def) => window.arclight.api.post('/api/v1/workflows', def), DEF);
      wfId = created?.id;
      assert(wfId, `creating the workflow answered ${JSON.stringify(created)}`);
      await page.goto(`${BASE}/workflows/${encodeURIComponent(wfId)}`);
      await panel.waitFor();
      const url = (await panel.locator('[data-testid=webhook-url]').innerText()).trim();
      assert(url === `${BASE}/hooks/${PATH}`, `the URL is ${JSON.stringify(url)}`);
      const curl = (await panel.locator('[data-testid=webhook-curl]').innerText()).trim();
      for (const part of ["curl -H 'Content-Type: application/json'", `'${BASE}/hooks/${PATH}'`, `-d '{"hello":1}'`])
        assert(curl.includes(part), `the curl line ${JSON.stringify(curl)} lacks ${JSON.stringify(part)}`);
      await panel.locator('[data-testid=webhook-inactive]').waitFor();
      await panel.scrollIntoViewIfNeeded();
      await shot(page, 'webhook-panel');
      // Sent anyway: the hook is not served, and no run starts.
      await panel.locator('[data-testid=webhook-send]').click();
      await panel.locator('[data-testid=webhook-response-status]', { hasText: '404' }).waitFor();
      const none = (await panel.locator('[data-testid=webhook-no-run]').innerText()).trim();
      assert(none.includes('inactive'), `without a run the panel says ${JSON.stringify(none)}`);
    });

    await check('webhook try: once active, "Send test request" shows the response and the run, which reaches succeeded', async () => {
      assert(wfId, 'no workflow');
      const toggle = page.locator('[data-testid=workflow-active]');
      await toggle.click();
      await page.waitForFunction(
        (id) => window.arclight.api.get(`/api/v1/workflows/${encodeURIComponent(id)}`).then((w) => w.active === true),
        wfId,
        { timeout: 5000, polling: 200 },
      );
      await page.locator('.switch-label', { hasText: 'active' }).waitFor();
      await panel.hover(); // the panel checks again whether the workflow is active
      await panel.locator('[data-testid=webhook-inactive]').waitFor({ state: 'detached' });
      const body = panel.locator('[data-testid=webhook-body]');
      await body.fill('{"hello": 1, "from": "the panel"}');
      const curl = (await panel.locator('[data-testid=webhook-curl]').innerText()).trim();
      assert(curl.includes(`-d '{"hello":1,"from":"the panel"}'`), `the curl line does not follow the body: ${curl}`);
      await panel.locator('[data-testid=webhook-send]').click();
      await panel.locator('[data-testid=webhook-response-status]', { hasText: '200' }).waitFor();
      const type = (await panel.locator('[data-testid=webhook-response-type]').innerText()).trim();
      assert(type.startsWith('application/json'), `the response's content type is ${JSON.stringify(type)}`);
      const shown = JSON.parse(await panel.locator('[data-testid=webhook-response-body]').innerText());
      assert(shown.echoed === true && shown.hello === 1 && shown.from === 'the panel', `the response body is ${JSON.stringify(shown)}`);
      await panel.locator('[data-testid=webhook-run-status][data-status=succeeded]').waitFor({ timeout: 15_000 });
      const href = await panel.locator('[data-testid=webhook-run-link]').getAttribute('href');
      runId = decodeURIComponent((href ?? '').split('/').pop() ?? '');
      assert(runId.length > 8, `the run link is ${JSON.stringify(href)}`);
      await shot(page, 'webhook-sent');
    });

    await check('webhook try: the run shows the input that flowed into each task, its config beside it', async () => {
      assert(runId, 'no run');
      await panel.locator('[data-testid=webhook-run-link]').click();
      await page.waitForURL(`${BASE}/runs/${encodeURIComponent(runId)}`);
      for (const id of ['add', 'reply']) await page.locator(`svg[data-testid=dag] [data-task-id="${id}"][data-status="succeeded"]`).waitFor();
      await page.locator('[data-testid=run-output]').waitFor();

      await page.locator('svg[data-testid=dag] [data-task-id="add"]').click();
      await detail('add').waitFor();
      const addIn = JSON.parse(await detail('add').locator('[data-testid=task-input]').innerText());
      assert(JSON.stringify(addIn) === JSON.stringify({ hello: 1, from: 'the panel' }), `add's input is ${JSON.stringify(addIn)} (the request body flowed in)`);
      const addCfg = JSON.parse(await detail('add').locator('[data-testid=task-config]').innerText());
      assert(typeof addCfg.code === 'string' && addCfg.code.includes('echoed'), `add's config is ${JSON.stringify(addCfg)}`);

      await page.locator('[data-testid=waterfall] [data-task-id="reply"]').click();
      await detail('reply').waitFor();
      const replyIn = JSON.parse(await detail('reply').locator('[data-testid=task-input]').innerText());
      assert(replyIn.echoed === true && replyIn.hello === 1, `reply's input is ${JSON.stringify(replyIn)} (add's output flowed in)`);
      const replyCfg = JSON.parse(await detail('reply').locator('[data-testid=task-config]').innerText());
      assert(replyCfg.status === 200 && replyCfg.body?.echoed === true, `reply's config is ${JSON.stringify(replyCfg)}`);
      const from = await detail('reply').locator('.detail-from').first().innerText();
      assert(from.includes('add'), `reply's input says it came from ${JSON.stringify(from)}`);
      await shot(page, 'run-input-flowed');
    });

    await check('webhook try: the run shows the response that was sent', async () => {
      const resp = page.locator('[data-testid=run-response]');
      await resp.waitFor();
      assert((await resp.getAttribute('data-source')) === 'task', `the response source is ${await resp.getAttribute('data-source')}`);
      assert((await resp.locator('[data-testid=run-response-status]').innerText()).trim() === '200', 'the response status is not 200');
      const type = (await resp.locator('[data-testid=run-response-type]').innerText()).trim();
      assert(type.startsWith('application/json'), `the response type is ${JSON.stringify(type)}`);
      const body = JSON.parse(await resp.locator('[data-testid=run-response-body]').innerText());
      assert(body.echoed === true && body.from === 'the panel', `the response body is ${JSON.stringify(body)}`);
      const source = await resp.locator('[data-testid=run-response-source]').innerText();
      assert(source.includes('reply'), `the response's source says ${JSON.stringify(source)}`);
      await resp.scrollIntoViewIfNeeded();
      await shot(page, 'run-response');
      assert(errors.length === 0, `page errors: ${errors.join('; ')}`);
    });

    await check('webhook try: hooks with auth explain it, take the header value or the signing secret, and are refused without', async () => {
      const created = await page.evaluate(
        (def) => window.arclight.api.post('/api/v1/workflows', def),
        {
          name: 'guarded hooks (tried from their page)',
          active: true,
          triggers: [
            { type: 'webhook', method: 'POST', path: 'guarded-try', auth: { type: 'header', header: 'X-Hook-Token', secret: 'token-of-the-try' } },
            {
              type: 'webhook',
              method: 'PUT',
              path: 'signed-try',
              auth: { type: 'hmac', header: 'X-Signature-256', prefix: 'sha256=', secret: 'key-of-the-try', timestamp_header: 'X-Timestamp' },
            },
          ],
          tasks: [{ id: 'ok', type: 'set', config: { values: '{{ input }}' } }],
        },
      );
      guardedId = created?.id;
      assert(guardedId, `creating the workflow answered ${JSON.stringify(created)}`);
      await page.goto(`${BASE}/workflows/${encodeURIComponent(guardedId)}`);
      const header = panel.locator('[data-testid=webhook][data-index="0"]');
      const hmac = panel.locator('[data-testid=webhook][data-index="1"]');
      await header.waitFor();
      const curl = (await header.locator('[data-testid=webhook-curl]').innerText()).trim();
      assert(curl.includes("-H 'X-Hook-Token: <secret>'"), `the curl line has no auth header placeholder: ${curl}`);
      const signedCurl = (await hmac.locator('[data-testid=webhook-curl]').innerText()).trim();
      assert(signedCurl.includes('-X PUT') && signedCurl.includes("'X-Timestamp: <epoch seconds>'") && signedCurl.includes('X-Signature-256: sha256=<hex HMAC-SHA256'), `the signed hook's curl line is ${signedCurl}`);
      const hint = await header.locator('[data-testid=webhook-auth]').innerText();
      assert(hint.includes('X-Hook-Token') && hint.includes('write-only'), `the auth hint says ${JSON.stringify(hint)}`);
      // Without the value: refused before any run.
      await header.locator('[data-testid=webhook-send]').click();
      await header.locator('[data-testid=webhook-response-status]', { hasText: '401' }).waitFor();
      await header.locator('[data-testid=webhook-no-run]').waitFor();
      // With it: accepted (async: 202 and the run).
      await header.locator('[data-testid=webhook-auth-value]').fill('token-of-the-try');
      await header.locator('[data-testid=webhook-send]').click();
      await header.locator('[data-testid=webhook-response-status]', { hasText: '202' }).waitFor();
      await header.locator('[data-testid=webhook-run-status][data-status=succeeded]').waitFor({ timeout: 15_000 });
      // Signed in the browser with the secret entered there.
      await hmac.locator('[data-testid=webhook-send]').click();
      await hmac.locator('[data-testid=webhook-response-status]', { hasText: '401' }).waitFor();
      await hmac.locator('[data-testid=webhook-auth-value]').fill('key-of-the-try');
      await hmac.locator('[data-testid=webhook-send]').click();
      await hmac.locator('[data-testid=webhook-response-status]', { hasText: '202' }).waitFor();
      await hmac.locator('[data-testid=webhook-run-status][data-status=succeeded]').waitFor({ timeout: 15_000 });
      await shot(page, 'webhook-auth');
      assert(errors.length === 0, `page errors: ${errors.join('; ')}`);
    });
  } finally {
    // The hook paths are free again for anything after this suite.
    for (const id of [wfId, guardedId])
      if (id) await page.evaluate((i) => window.arclight.api.post(`/api/v1/workflows/${encodeURIComponent(i)}/deactivate`), id).catch(() => undefined);
    await context.close();
  }
}
