// The home page (/) and the small things of "the first hour": getting started with the README
// example in one click, recent runs and failures, live webhooks and cron schedules with their next
// fire, the nav's "Coming" group, the Workflows list at 1280 px, a viewer's read-only notices and
// the uptime that advances every second. Screenshots: home, home-example-created, viewer-readonly,
// workflows-1280.

export default async function (t) {
  const { BASE, check, assert, shot } = t;
  const { context, page, errors } = await t.loggedInPage();
  const api = (method, path, body) =>
    page.evaluate(([m, p, b]) => window.arclight.api.request(m, p, { body: b, quiet: true }), [method, path, body]);
  const stamp = Date.now();
  const created = [];
  const createWorkflow = async (def) => {
    const r = await api('POST', '/api/v1/workflows', def);
    created.push(r.id);
    return r.id;
  };
  const setTask = { id: 'a', type: 'set', config: { values: { x: 1 } }, depends_on: [] };
  const MAIN_NAV = ['Home', 'Workflows', 'Runs', 'Settings'];
  const COMING_NAV = ['Flows', 'Agents', 'Hub', 'Memory', 'Learning', 'Monitoring'];

  try {
    await check('home: getting started, recent runs, failures, live triggers and the System box', async () => {
      await page.goto(`${BASE}/`);
      for (const id of ['getting-started', 'recent-runs', 'recent-failures', 'home-triggers', 'home-system', 'module-health']) {
        await page.locator(`[data-testid=${id}]`).waitFor();
      }
      assert((await page.locator('main#content h1').innerText()).trim() === 'Home', 'the page heading is not "Home"');
      const current = (await page.locator('[data-testid=nav] a[aria-current=page] .nav-label').innerText()).trim();
      assert(current === 'Home', `the active nav entry is ${JSON.stringify(current)}`);
      await page.locator('[data-testid=home-new-workflow][href="/workflows/new"]').waitFor();
      await page.locator('[data-testid=home-create-example]').waitFor();
      const health = await page.locator('[data-testid=module-health]').innerText();
      assert(!/\bModule\b/.test(health), `the health table still says "Module": ${JSON.stringify(health)}`);
      assert(health.includes('Workflows') && health.includes('Server'), `the health table names ${JSON.stringify(health)}`);
    });

    await check('home: the nav groups the modules still to come under "Coming", marked, apart from the rest', async () => {
      const labels = async (sel) => (await page.locator(sel).allInnerTexts()).map((s) => s.trim());
      await page.locator('[data-testid=nav-coming] a').first().waitFor();
      const main = await labels('[data-testid=nav] .nav-section:not([data-testid=nav-coming]) a .nav-label');
      const coming = await labels('[data-testid=nav-coming] a .nav-label');
      assert(JSON.stringify(main) === JSON.stringify(MAIN_NAV), `the main entries are ${JSON.stringify(main)}`);
      assert(JSON.stringify(coming) === JSON.stringify(COMING_NAV), `the coming entries are ${JSON.stringify(coming)}`);
      const heading = (await page.locator('[data-testid=nav-coming] .nav-heading').innerText()).trim();
      assert(/^coming$/i.test(heading), `the group's heading is ${JSON.stringify(heading)}`);
      assert((await page.locator('[data-testid=nav-coming] a.coming [data-testid=nav-coming-mark]').count()) === COMING_NAV.length, 'not every coming entry is marked');
      assert((await page.locator('[data-testid=nav] [data-testid=nav-coming-mark]').count()) === COMING_NAV.length, 'an entry outside the group is marked coming');
      // Their pages say plainly that it is coming; no internal name, nothing that looks broken.
      await page.locator('[data-testid=nav-coming] a', { hasText: 'Learning' }).click();
      await page.waitForURL(`${BASE}/learning`);
      const box = page.locator('[data-testid=coming]');
      await box.waitFor();
      const said = await box.innerText();
      assert(said.includes('Learning is coming'), `the Learning page says ${JSON.stringify(said)}`);
      const all = await page.locator('main#content').innerText();
      assert(!/\brl\b|\bmodule\b/i.test(all), `the Learning page shows an internal name: ${JSON.stringify(all)}`);
      assert((await page.locator('main#content .notice-error, main#content .notice-warn').count()) === 0, 'the Learning page shows a warning or an error');
    });

    await check('home: "Create the README example" creates the echo workflow in one click and opens it; a second click says it exists', async () => {
      // A fresh start: no workflow named echo (an earlier suite may have left one).
      const before = await api('GET', '/api/v1/workflows');
      for (const w of before.items.filter((x) => x.name === 'echo')) await api('DELETE', `/api/v1/workflows/${encodeURIComponent(w.id)}`);
      await page.goto(`${BASE}/`);
      await page.locator('[data-testid=home-create-example]').click();
      await page.waitForURL((u) => /^\/workflows\/[^/]+$/.test(u.pathname) && u.pathname !== '/workflows/new');
      const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
      created.push(id);
      await page.locator('main#content h1', { hasText: 'echo' }).waitFor();
      const flash = (await page.locator('[data-testid=flash]').innerText()).trim();
      assert(flash.includes('README example') && flash.includes('/hooks/echo'), `the workflow page says ${JSON.stringify(flash)}`);
      const w = await api('GET', `/api/v1/workflows/${encodeURIComponent(id)}`);
      assert(w.name === 'echo' && w.active === true, `the example is ${JSON.stringify({ name: w.name, active: w.active })}`);
      assert(w.triggers?.[0]?.type === 'webhook' && w.triggers[0].path === 'echo', `its trigger is ${JSON.stringify(w.triggers)}`);
      assert(JSON.stringify(w.tasks.map((x) => x.id)) === '["add","reply"]', `its tasks are ${JSON.stringify(w.tasks)}`);
      // It answers as the README says.
      const answer = await page.evaluate(() =>
        fetch('/hooks/echo', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"hello":1}' }).then((r) => r.json()),
      );
      assert(answer.echoed === true && answer.hello === 1, `POST /hooks/echo answered ${JSON.stringify(answer)}`);
      await shot(page, 'home-example-created');
      await page.goto(`${BASE}/`);
      await page.locator('[data-testid=home-create-example]').click();
      const exists = page.locator('[data-testid=home-example-exists]');
      await exists.waitFor();
      const msg = await exists.innerText();
      assert(/already exists/.test(msg), `the second click says ${JSON.stringify(msg)}`);
      await exists.locator(`a[href="/workflows/${encodeURIComponent(id)}"]`).waitFor();
      const after = await api('GET', '/api/v1/workflows');
      assert(after.items.filter((x) => x.name === 'echo').length === 1, 'a second echo workflow was created');
      // With the name free but POST /hooks/echo served by another workflow, the refusal says why.
      await api('DELETE', `/api/v1/workflows/${encodeURIComponent(id)}`);
      await createWorkflow({ name: `home-echo-path-${stamp}`, active: true, triggers: [{ type: 'webhook', method: 'POST', path: 'echo' }], tasks: [setTask] });
      await page.goto(`${BASE}/`);
      await page.locator('[data-testid=home-create-example]').click();
      const refused = page.locator('[data-testid=home-example-error]');
      await refused.waitFor();
      const why = await refused.innerText();
      assert(why.includes('Not created') && why.includes('/hooks/echo'), `the refusal says ${JSON.stringify(why)}`);
      assert(new URL(page.url()).pathname === '/', `the page moved to ${page.url()}`);
    });

    await check('home: a run shows under recent runs, a failed one under recent failures, with links', async () => {
      await page.goto(`${BASE}/`);
      await page.locator('[data-testid=recent-runs]').waitFor();
      const ok = await createWorkflow({ name: `home-ok-${stamp}`, triggers: [{ type: 'manual' }], tasks: [setTask] });
      const bad = await createWorkflow({
        name: `home-bad-${stamp}`,
        triggers: [{ type: 'manual' }],
        tasks: [{ id: 'boom', type: 'script', config: { code: 'error("home page test failure")' } }],
      });
      const run = await api('POST', `/api/v1/workflows/${encodeURIComponent(ok)}/runs`, { input: {} });
      const failed = await api('POST', `/api/v1/workflows/${encodeURIComponent(bad)}/runs`, { input: {} });
      // Live events bring them in, without a reload.
      const row = page.locator(`[data-testid=recent-runs-table] tr[data-run-id="${run.id}"]`);
      await row.locator('[data-testid=run-status][data-status=succeeded]').waitFor();
      assert((await row.innerText()).includes(`home-ok-${stamp}`), 'the recent run does not name its workflow');
      const frow = page.locator(`[data-testid=recent-failures-table] tr[data-run-id="${failed.id}"]`);
      await frow.waitFor();
      const ftext = await frow.innerText();
      assert(ftext.includes(`home-bad-${stamp}`) && ftext.includes('home page test failure'), `the failure row says ${JSON.stringify(ftext)}`);
      await row.locator('[data-testid=home-run-open]').click();
      await page.waitForURL(`${BASE}/runs/${encodeURIComponent(run.id)}`);
    });

    await check('home: live triggers list the webhooks (full URL) and a cron workflow\'s next fire', async () => {
      const cron = await createWorkflow({ name: `home-cron-${stamp}`, active: true, triggers: [{ type: 'cron', schedule: '*/5 * * * *' }], tasks: [setTask] });
      const hookPath = `home-${stamp}`;
      const hook = await createWorkflow({ name: `home-hook-${stamp}`, active: true, triggers: [{ type: 'webhook', method: 'PUT', path: hookPath }], tasks: [setTask] });
      await page.goto(`${BASE}/`);
      const sched = page.locator(`[data-testid=home-schedule][data-workflow-id="${cron}"]`);
      await sched.waitFor();
      const at = await sched.locator('[data-testid=home-next-fire]').getAttribute('data-at');
      const next = Date.parse(at ?? '');
      const now = Date.now();
      assert(next > now - 60_000 && next <= now + 5 * 60_000 + 60_000, `the next fire is ${JSON.stringify(at)}`);
      assert(new Date(next).getUTCMinutes() % 5 === 0 && new Date(next).getUTCSeconds() === 0, `the next fire ${at} is not on a fifth minute`);
      const text = (await sched.innerText()).replace(/\s+/g, ' ');
      assert(text.includes('*/5 * * * *') && text.includes('UTC') && /in \d+ (s|min)|due/.test(text), `the schedule row says ${JSON.stringify(text)}`);
      const hrow = page.locator(`[data-testid=home-webhook][data-workflow-id="${hook}"]`);
      await hrow.waitFor();
      const url = (await hrow.locator('[data-testid=home-webhook-url]').innerText()).trim();
      assert(url === `${BASE}/hooks/${hookPath}`, `the webhook URL is ${JSON.stringify(url)}`);
      assert((await hrow.innerText()).includes('PUT'), 'the webhook row does not show its method');
      await shot(page, 'home');
    });

    await check('the Workflows list fits at 1280x800: Edit and Delete of a wide row are inside the viewport', async () => {
      const wide = await createWorkflow({
        name: `home-a-rather-long-workflow-name-for-the-list-${stamp}`,
        description: 'Receives orders from the shop, checks them against the stock and answers the shop with what can be shipped today',
        active: true,
        triggers: [
          { type: 'webhook', method: 'POST', path: `shop/orders/incoming/${stamp}` },
          { type: 'cron', schedule: '15 */2 * * 1-5' },
          { type: 'event', topic: 'shop.order.created' },
          { type: 'manual' },
        ],
        tasks: [setTask],
      });
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.goto(`${BASE}/workflows`);
      const row = page.locator(`[data-testid=workflows-table] tr[data-id="${wide}"]`);
      await row.waitFor();
      for (const id of ['workflow-run', 'workflow-edit', 'workflow-delete']) {
        const b = await row.locator(`[data-testid=${id}]`).boundingBox();
        assert(b, `${id} has no box`);
        assert(b.x >= 0 && b.x + b.width <= 1280 && b.y >= 0, `${id} is at x=${b.x.toFixed(0)}..${(b.x + b.width).toFixed(0)} (viewport 1280)`);
      }
      // Nothing hidden behind a horizontal scroll either.
      const scroll = await page.locator('[data-testid=workflows-table]').evaluate((t) => {
        const box = t.parentElement;
        return { scroll: box.scrollWidth, client: box.clientWidth, table: t.getBoundingClientRect().right, page: document.documentElement.clientWidth };
      });
      assert(scroll.scroll <= scroll.client + 1, `the list scrolls sideways: ${JSON.stringify(scroll)}`);
      assert(scroll.table <= scroll.page, `the table ends at ${scroll.table} of ${scroll.page}`);
      await shot(page, 'workflows-1280');
    });

    await check('the uptime shown advances every second without waiting for a heartbeat', async () => {
      await page.goto(`${BASE}/`);
      const uptime = page.locator('[data-testid=uptime]');
      await uptime.waitFor();
      // No heartbeat reaches the page from here on: only the page's own clock can move it.
      await page.evaluate(() => window.arclight.live.stop());
      for (let i = 0; i < 3; i++) {
        const before = (await uptime.innerText()).trim();
        await page
          .waitForFunction((prev) => document.querySelector('[data-testid=uptime]')?.textContent?.trim() !== prev, before, { timeout: 1500 })
          .catch(() => {
            throw new Error(`the uptime stayed ${JSON.stringify(before)} for 1.5 s`);
          });
      }
    });

    await check('a viewer sees "read-only" on Workflows, the editor and Home, no New button, and /workflows/new creates nothing', async () => {
      const name = `home-viewer-${stamp}`;
      const password = `viewer pass ${stamp}`;
      const user = await api('POST', '/api/v1/auth/users', { username: name, password, role: 'viewer' });
      const team = await api('POST', '/api/v1/projects', { name: `home-team-${stamp}` });
      await api('POST', `/api/v1/projects/${encodeURIComponent(team.id)}/members`, { user_id: user.id, role: 'viewer' });
      const wf = await createWorkflow({ name: `home-shared-${stamp}`, project_id: team.id, triggers: [{ type: 'manual' }], tasks: [setTask] });
      const v = await t.loggedInPage(name, password);
      try {
        const vp = v.page;
        await vp.locator('[data-testid=getting-started] [data-testid=readonly-notice]').waitFor();
        assert((await vp.locator('[data-testid=home-create-example]').count()) === 0, 'a viewer is offered to create the README example');
        assert((await vp.locator('[data-testid=home-new-workflow]').count()) === 0, 'a viewer is offered to create a workflow');
        await vp.locator('[data-testid=nav] a', { hasText: 'Workflows' }).click();
        await vp.locator(`[data-testid=workflows-table] tr[data-id="${wf}"]`).waitFor();
        const notice = vp.locator('[data-testid=readonly-notice]');
        await notice.waitFor();
        assert(/read-only/i.test(await notice.innerText()), 'the notice does not say read-only');
        assert((await vp.locator('[data-testid=new-workflow]').count()) === 0, 'a viewer sees the New workflow button');
        await shot(vp, 'viewer-readonly');
        await vp.goto(`${BASE}/workflows/${encodeURIComponent(wf)}`);
        await vp.locator('main#content h1', { hasText: `home-shared-${stamp}` }).waitFor();
        await vp.locator('[data-testid=readonly-notice]').waitFor();
        // The definition's editor takes no edits: typing into it changes nothing.
        const ed = vp.locator('[data-testid=wf-editor]');
        await ed.locator('.cm-content').waitFor();
        assert(await ed.evaluate((el) => el.querySelector('.cm-readonly, .cm-editor.cm-readonly') !== null || el.classList.contains('cm-readonly')), 'the viewer\'s editor is not marked read-only');
        const before = await ed.evaluate((el) => el.jsonEditor.text());
        await ed.locator('.cm-content').click();
        await vp.keyboard.type('xyz');
        assert((await ed.evaluate((el) => el.jsonEditor.text())) === before, 'the viewer\'s editor took an edit');
        await vp.goto(`${BASE}/workflows/new`);
        const refused = vp.locator('[data-testid=cannot-create]');
        await refused.waitFor();
        assert(/cannot create/i.test(await refused.innerText()), 'the New page does not say the viewer cannot create');
        assert((await vp.locator('[data-testid=wf-editor], [data-testid=save-workflow]').count()) === 0, 'the New page offers a form to a viewer');
        assert(v.errors.length === 0, v.errors.join('\n'));
      } finally {
        await v.context.close();
      }
    });

    await check('home: no uncaught errors in the page', async () => {
      assert(errors.length === 0, errors.join('\n'));
    });
  } finally {
    for (const id of created) await api('DELETE', `/api/v1/workflows/${encodeURIComponent(id)}`).catch(() => undefined);
    await context.close();
  }
}
