// The workflow definition's code editor (issue 21, item 2): its code loads only with the editor;
// line numbers and highlighting; a JSON syntax error located as it is typed (line and column under
// the editor, a mark in the gutter, the range underlined) and on Validate (the cursor put on it);
// the editor's own locator on several kinds of error; completion of task types and config keys
// from GET /api/v1/task-types; a server validation error still selecting its place; undo.
// Screenshots: editor, editor-json-error, editor-completion.

export default async function (t) {
  const { BASE, check, assert, shot } = t;
  const { context, page, errors } = await t.loggedInPage();
  // Content-Security-Policy violations of this page (the editor must run under script-src 'self'):
  // the page is already loaded, and the editor is reached by the UI's own navigation.
  await page.evaluate(() => {
    window.__cspViolations = [];
    window.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(`${e.violatedDirective}: ${e.blockedURI}`));
  });
  const cspConsole = [];
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) cspConsole.push(msg.text());
  });

  const editor = page.locator('[data-testid=wf-editor]');
  const content = editor.locator('.cm-content');
  const editorText = () => content.evaluate((el) => el.closest('[data-testid=wf-editor]').jsonEditor.text());
  const selection = () => content.evaluate((el) => el.closest('[data-testid=wf-editor]').jsonEditor.selection());
  // Replaces the whole text by pasting (t.pasteText), and checks it arrived unchanged.
  const fill = async (value) => {
    await t.pasteText(page, content, value);
    const now = await editorText();
    assert(now === value, `the editor holds ${JSON.stringify(now)} after ${JSON.stringify(value)}`);
  };
  /** 1-based line and column of an offset. */
  const lineCol = (s, offset) => {
    const before = s.slice(0, offset);
    return { line: before.split('\n').length, col: offset - before.lastIndexOf('\n') };
  };
  /** Puts the cursor on the line holding `lineText`, `fromEnd` characters before its end. */
  const cursorAt = async (lineText, fromEnd) => {
    await editor.locator('.cm-line', { hasText: lineText }).first().click();
    await page.keyboard.press('End');
    for (let i = 0; i < fromEnd; i++) await page.keyboard.press('ArrowLeft');
  };
  const liveError = page.locator('[data-testid=json-status] [data-testid=json-error]');
  const resources = () => page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name));

  const def = (tasks) => ({ name: `json-editor-${Date.now()}`, execution_data: 'full', triggers: [{ type: 'manual' }], tasks });

  try {
    await check('the editor code is not loaded with the dashboard, only with the editor (a chunk the server embeds and serves compressed)', async () => {
      const first = await resources();
      assert(!first.some((u) => /json-editor|wf-editor/.test(u)), `the dashboard loaded ${JSON.stringify(first.filter((u) => /\.js/.test(u)))}`);
      await page.locator('[data-testid=nav] a', { hasText: 'Workflows' }).click();
      await page.locator('[data-testid=new-workflow]').click();
      await page.waitForURL(`${BASE}/workflows/new`);
      await content.waitFor();
      const chunk = (await resources()).find((u) => /\/assets\/json-editor-[^/]+\.js$/.test(u));
      assert(chunk, `the editor's chunk was not loaded: ${JSON.stringify(await resources())}`);
      const res = await page.request.get(chunk, { headers: { 'Accept-Encoding': 'br' } });
      assert(res.status() === 200, `GET ${chunk} answered ${res.status()}`);
      assert(res.headers()['content-encoding'] === 'br', `the chunk came with content-encoding ${res.headers()['content-encoding']}`);
      assert(/immutable/.test(res.headers()['cache-control'] ?? ''), `the chunk's cache-control is ${res.headers()['cache-control']}`);
    });

    await check('the editor has line numbers, JSON highlighting and says the template is valid JSON', async () => {
      const gutterNumbers = await editor.locator('.cm-lineNumbers .cm-gutterElement').allInnerTexts();
      assert(gutterNumbers.includes('1') && gutterNumbers.includes('10'), `line numbers: ${JSON.stringify(gutterNumbers.slice(0, 12))}`);
      const text = await editorText();
      assert(JSON.parse(text).tasks.length === 2, `the template is ${text}`);
      // A property name and a string value are drawn in different colours.
      const colour = (s) => editor.locator('.cm-line span', { hasText: s }).first().evaluate((el) => getComputedStyle(el).color);
      const key = await colour('"execution_data"');
      const str = await colour('"full"');
      assert(key !== str && key !== 'rgb(29, 35, 48)', `a key is ${key}, a string ${str}`);
      await page.locator('[data-testid=json-status] [data-testid=json-ok]').waitFor();
      const size = await content.evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
      assert(size >= 12.5, `the editor's font is ${size}px`);
      await shot(page, 'editor');
    });

    await check('a trailing comma typed into the text is located at once: line and column, gutter mark, underline; Validate puts the cursor on it', async () => {
      const good = JSON.stringify(def([{ id: 'a', type: 'set', config: { values: { x: 1 } }, depends_on: [] }]), null, 2);
      await fill(good);
      await page.locator('[data-testid=json-status] [data-testid=json-ok]').waitFor();
      // Type a comma after the last member of the task, as a user would.
      await cursorAt('"depends_on": []', 0);
      await page.keyboard.type(',');
      const text = await editorText();
      const comma = good.indexOf('"depends_on": []') + '"depends_on": []'.length;
      assert(text === `${good.slice(0, comma)},${good.slice(comma)}`, `typing a comma made ${JSON.stringify(text)}`);
      const at = lineCol(text, comma);
      // Live: the message with line and column under the editor.
      await liveError.and(page.locator(`[data-line="${at.line}"][data-col="${at.col}"]`)).waitFor();
      const live = await liveError.innerText();
      assert(live.includes(`Line ${at.line}, column ${at.col}`) && live.includes('Trailing comma'), `under the editor: ${JSON.stringify(live)}`);
      // A mark in the gutter, on the comma's line, and the comma underlined.
      const marker = editor.locator('.cm-gutter-lint .cm-lint-marker-error');
      await marker.waitFor();
      assert((await marker.count()) === 1, `${await marker.count()} gutter marks`);
      const line = editor.locator('.cm-line', { hasText: '"depends_on": [],' });
      const [m, l] = [await marker.boundingBox(), await line.boundingBox()];
      assert(m && l && m.y < l.y + l.height && m.y + m.height > l.y, `the gutter mark (${JSON.stringify(m)}) is not on the comma's line (${JSON.stringify(l)})`);
      const underlined = await editor.locator('.cm-lintRange-error').allInnerTexts();
      assert(underlined.join('') === ',', `underlined: ${JSON.stringify(underlined)}`);
      // Move the cursor away; Validate reports the error (no request needed) and puts the cursor back on it.
      await page.keyboard.press('Control+Home');
      await page.locator('[data-testid=validate-workflow]').click();
      const errs = page.locator('[data-testid=validation-errors]');
      await errs.waitFor();
      const shown = await errs.innerText();
      assert(shown.includes(`Not valid JSON: line ${at.line}, column ${at.col}`) && shown.includes('Trailing comma'), `validation shows ${JSON.stringify(shown)}`);
      const sel = await selection();
      assert(sel.from === comma && sel.to === comma, `the cursor is at ${JSON.stringify(sel)}, the comma at ${comma}`);
      const focused = await page.evaluate(() => !!document.activeElement?.closest('[data-testid=wf-editor]'));
      assert(focused, 'the editor does not have the focus');
      await page.mouse.move(0, 0);
      await shot(page, 'editor-json-error');
      // Hovering the gutter mark tells the message too.
      await marker.hover();
      const tip = page.locator('.cm-tooltip-lint');
      await tip.waitFor();
      assert((await tip.innerText()).includes('Trailing comma'), `the gutter tooltip says ${JSON.stringify(await tip.innerText())}`);
      // Undo takes the comma back out, and the error goes.
      await content.focus();
      await page.keyboard.press('Control+z');
      assert((await editorText()) === good, 'undo did not restore the text');
      await page.locator('[data-testid=json-status] [data-testid=json-ok]').waitFor();
    });

    await check('the locator names the place and kind of other syntax errors (missing comma, unterminated string, bad literal, text after the end, ...)', async () => {
      const cases = [
        { text: '{\n  "name": "x"\n  "tasks": []\n}', line: 3, col: 3, message: /Expected ',' or '}'/ },
        { text: '{\n  "name": "x,\n  "tasks": []\n}', line: 2, col: 11, message: /Unterminated string/ },
        { text: '{\n  "name": "x",\n  "active": tru\n}', line: 3, col: 13, message: /Unknown literal 'tru'/ },
        { text: '{\n  "active": True\n}', line: 2, col: 13, message: /lower case/ },
        { text: '{"name": "x"}\n{"name": "y"}', line: 2, col: 1, message: /after the end/ },
        { text: '{"tasks": [1, 2,]}', line: 1, col: 16, message: /Trailing comma/ },
        { text: "{'name': 'x'}", line: 1, col: 2, message: /double quotes/ },
        { text: '{"name": "x"', line: 1, col: 13, message: /Expected ',' or '}'/ },
        { text: '{"n": 01}', line: 1, col: 7, message: /leading zero/ },
      ];
      for (const c of cases) {
        await fill(c.text);
        const el = liveError.and(page.locator(`[data-line="${c.line}"][data-col="${c.col}"]`));
        try {
          await el.waitFor({ timeout: 5000 });
        } catch {
          throw new Error(`${JSON.stringify(c.text)}: the editor shows ${JSON.stringify(await page.locator('[data-testid=json-status]').innerText())}, not line ${c.line}, column ${c.col}`);
        }
        const msg = await el.locator('[data-testid=json-error-message]').innerText();
        assert(c.message.test(msg), `${JSON.stringify(c.text)}: the message is ${JSON.stringify(msg)}`);
        // The editor's verdict agrees with the browser's parser.
        const parses = await page.evaluate((s) => { try { JSON.parse(s); return true; } catch { return false; } }, c.text);
        assert(!parses, `${JSON.stringify(c.text)} parses`);
      }
    });

    await check('completion offers the task types inside "type": "" and the chosen type\'s config keys (with their description) inside "config": {}', async () => {
      const types = await page.evaluate(() => window.arclight.api.get('/api/v1/task-types'));
      const script = types.items.find((x) => x.name === 'script');
      assert(script && script.config_schema?.properties?.code, `GET /api/v1/task-types has no script type with a code key: ${JSON.stringify(types.items.map((x) => x.name))}`);
      const start = JSON.stringify(def([{ id: 'a', type: '', config: {} }]), null, 2);
      await fill(start);
      await page.locator('[data-testid=json-status] [data-testid=json-ok]').waitFor();
      // "type": "|",
      await cursorAt('"type": ""', 2);
      await page.keyboard.type('scr');
      const list = page.locator('.cm-tooltip-autocomplete');
      await list.waitFor();
      const labels = await list.locator('.cm-completionLabel').allInnerTexts();
      assert(labels.includes('script') && !labels.includes('set'), `completing "scr" offers ${JSON.stringify(labels)}`);
      // Picked with the mouse: CodeMirror ignores Enter for a moment after the list changes (so a fast
      // typist's Enter is not taken as a choice), and a test types faster than that.
      await list.locator('li', { has: page.locator('.cm-completionLabel', { hasText: /^script$/ }) }).click();
      await list.waitFor({ state: 'detached' });
      let now = JSON.parse(await editorText());
      assert(now.tasks[0].type === 'script', `the task's type is now ${JSON.stringify(now.tasks[0])}`);
      // "config": {|}: typing a quote opens the keys of the script type.
      await cursorAt('"config": {}', 1);
      await page.keyboard.type('"');
      await list.waitFor();
      const option = list.locator('li', { has: page.locator('.cm-completionLabel', { hasText: /^code$/ }) });
      await option.waitFor();
      const detail = await option.locator('.cm-completionDetail').innerText();
      assert(/Lua/.test(detail), `the code key's detail is ${JSON.stringify(detail)}`);
      // The unfinished member is an error until its value is there.
      await liveError.and(page.locator('[data-line="13"]')).waitFor();
      await page.mouse.move(0, 0);
      await shot(page, 'editor-completion');
      await option.click();
      await list.waitFor({ state: 'detached' });
      // The value typed with the auto-closing quotes: nothing doubled, nothing lost.
      await page.keyboard.type('"return {ok = true}"');
      const text = await editorText();
      try {
        now = JSON.parse(text);
      } catch (err) {
        throw new Error(`${err.message}: the text is ${JSON.stringify(text)}`);
      }
      assert(now.tasks[0].config.code === 'return {ok = true}' && Object.keys(now.tasks[0].config).length === 1, `the config is now ${JSON.stringify(now.tasks[0].config)} in ${text}`);
      await page.locator('[data-testid=validate-workflow]').click();
      await page.locator('[data-testid=validation-ok]').waitFor();
    });

    await check('a server validation error still selects its place in the new editor', async () => {
      const bad = def([{ id: 'a', type: 'set', config: { values: { x: 1 } } }, { id: 'b', type: 'no-such-type', config: {}, depends_on: ['a'] }]);
      await fill(JSON.stringify(bad, null, 2));
      await page.locator('[data-testid=validate-workflow]').click();
      const err = page.locator('[data-testid=validation-errors] [data-testid=validation-error][data-pointer="/tasks/1/type"]');
      await err.waitFor();
      await page.keyboard.press('Control+Home');
      await err.locator('button').click();
      const sel = await selection();
      const text = await editorText();
      const picked = text.slice(sel.from, sel.to);
      assert(picked.includes('no-such-type') && picked.startsWith('"type"'), `clicking the pointer selected ${JSON.stringify(picked)}`);
      assert(await page.evaluate(() => !!document.activeElement?.closest('[data-testid=wf-editor]')), 'the editor does not have the focus');
    });

    await check('the editor page raised no error and no Content-Security-Policy violation', async () => {
      const reported = await page.evaluate(() => window.__cspViolations || []);
      const all = [...cspConsole, ...reported];
      assert(all.length === 0, all.join('\n'));
      assert(errors.length === 0, errors.join('\n'));
    });
  } finally {
    // Leave without the "unsaved changes" question.
    page.on('dialog', (d) => void d.accept());
    await context.close();
  }
}
