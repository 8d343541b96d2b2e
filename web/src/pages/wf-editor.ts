// The workflow editor at /workflows/new and /workflows/{id}: the definition's JSON in a code
// editor (json-editor.ts, CodeMirror, loaded on demand) with a live syntax check, completion of
// task types and config keys, and server-side validation whose errors point into the text; beside
// it the saved workflow's details, its history and a short reference.

import { api, ApiError, type FieldError } from '../api';
import { authStore } from '../auth';
import { h, replace, type Child } from '../dom';
import { formatDateTime } from '../format';
import { projectStore, type Project } from '../projects';
import { navigate, setLeaveGuard } from '../router';
import { notice } from './common';
import { formError, openDialog } from './forms';
import type { JsonEditor, JsonSyntaxError, TaskTypeInfo } from './json-editor';
import { locatePointer } from './json-locate';
import { projectTag } from './project-ui';
import { activeSwitch, confirmDelete, setFlash, startRunDialog, takeFlash } from './wf-actions';
import { WORKFLOWS, keptRuns, kvList, none, workflowPath, type HeaderSetter, type WorkflowDoc } from './wf-common';
import { historyPanel } from './wf-history';
import { webhooksPanel } from './wf-webhooks';

const TEMPLATE = {
  name: 'my-workflow',
  description: '',
  execution_data: 'full',
  triggers: [{ type: 'manual' }],
  tasks: [
    { id: 'first', type: 'set', config: { values: { greeting: 'hello' } }, depends_on: [] },
    { id: 'second', type: 'set', config: { values: { done: true } }, depends_on: ['first'] },
  ],
};

/**
 * Fields the server adds to a definition; they are not edited here. `active` is switched on its
 * own (a save without it keeps the workflow's state, so a stale editor cannot undo a switch);
 * `project_id` changes with "Move to project…".
 */
const SERVER_FIELDS = ['id', 'version', 'active', 'created_at', 'updated_at', 'project_id'];
/** The order of the top-level fields in the editor (others follow as the server sent them). */
const FIELD_ORDER = ['name', 'description', 'execution_data', 'timeout_ms', 'concurrency', 'input_schema', 'triggers', 'tasks'];

/** The Saved panel's "Runs kept" entry: all, failed only, or none (saying where they are not). */
function keptNote(mode: unknown): HTMLElement {
  const kept = keptRuns(mode);
  if (!kept) return h('span', { 'data-testid': 'workflow-kept' }, 'every run (listed under Runs)');
  return h('span', { 'data-testid': 'workflow-kept', class: 'kept-warning' }, kept.long);
}

function definitionText(doc: WorkflowDoc): string {
  const def: Record<string, unknown> = {};
  for (const k of FIELD_ORDER) if (k in doc) def[k] = doc[k];
  for (const [k, v] of Object.entries(doc)) if (!SERVER_FIELDS.includes(k) && !(k in def)) def[k] = v;
  return JSON.stringify(def, null, 2);
}

function referencePanel(types: HTMLElement): HTMLElement {
  const item = (name: string, ...what: Child[]) => h('li', null, h('code', null, name), ' ', what);
  return h(
    'section',
    { class: 'panel' },
    h('div', { class: 'panel-title' }, 'Definition'),
    h(
      'div',
      { class: 'panel-pad reference' },
      h(
        'ul',
        null,
        item('name', 'unique name'),
        item('execution_data', h('code', null, 'full'), ' | ', h('code', null, 'errors'), ' | ', h('code', null, 'none'), ': what runs keep'),
        item('triggers', '[…]'),
        item('tasks', '[…]'),
        item('timeout_ms', ', ', h('code', null, 'concurrency'), ', ', h('code', null, 'input_schema'), ': optional'),
      ),
      h('div', { class: 'reference-head' }, 'Triggers'),
      h(
        'ul',
        null,
        item('{"type":"manual"}'),
        item('{"type":"webhook","method","path","respond"}', 'at ', h('code', null, '/hooks/<path>'), '; respond ', h('code', null, 'async'), ' or ', h('code', null, 'sync')),
        item('{"type":"cron","schedule"}'),
        item('{"type":"event","topic"}'),
      ),
      h('div', { class: 'reference-head' }, 'Tasks'),
      h(
        'ul',
        null,
        item('id', 'unique in the workflow'),
        item('type', types),
        item('config', 'the task type’s settings'),
        item('depends_on', 'ids of tasks that must finish first'),
        item('when', ', ', h('code', null, 'retry'), ', ', h('code', null, 'timeout_ms'), ': optional'),
        item('on_error', h('code', null, 'fail'), ' (default), ', h('code', null, 'continue'), ' or the id of a task that handles the error'),
      ),
      h('p', { class: 'muted small' }, 'Inside the quotes of a task’s ', h('code', null, 'type'), ' or a ', h('code', null, 'config'), ' key, Ctrl+Space lists what fits. Ctrl+S saves; Ctrl+Z undoes; Tab indents (Ctrl+M: Tab moves on instead).'),
    ),
  );
}


/**
 * A validation error's place and message. The server starts the message with where the error
 * is in the definition's own words ("task `reply` → depends_on: no task `ad`"); the place becomes
 * the button that selects it. A message without a place keeps the pointer there.
 */
function errorPlace(e: FieldError): { place: string; message: string } {
  const at = e.message.indexOf(': ');
  if (at > 0 && (e.pointer === '' || !e.message.startsWith('/'))) {
    const place = e.message.slice(0, at);
    if (/^(task |trigger |[a-z_]+( →|$))/.test(place)) return { place, message: e.message.slice(at + 2) };
  }
  return { place: e.pointer || '(definition)', message: e.message };
}

export function renderEditor(el: HTMLElement, setHead: HeaderSetter, id: string | null): () => void {
  let alive = true;
  let doc: WorkflowDoc | null = null;
  let saved = '';
  const canWrite = authStore.can('flows.write');
  const canRun = authStore.can('runs.start');

  /** The code editor, once its module has loaded and the definition is there. */
  let ed: JsonEditor | null = null;
  const host = h('div', { class: 'json-editor', 'data-testid': 'wf-editor', 'aria-busy': 'true' }, h('p', { class: 'muted pad' }, 'Loading the editor…'));
  /** The live syntax check's verdict, under the editor. */
  const syntax = h('div', { class: 'editor-status', 'data-testid': 'json-status', 'aria-live': 'polite' });
  const result = h('div', { class: 'validation', 'data-testid': 'validation-result', 'aria-live': 'polite' });
  const dirty = h('span', { class: 'muted small', 'data-testid': 'editor-state' });
  const validateBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'validate-workflow' }, 'Validate');
  const saveBtn = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'save-workflow', disabled: !canWrite, title: canWrite ? null : 'Saving needs the flows.write permission.' }, 'Save');
  const formatBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'format-json', disabled: !canWrite }, 'Format');
  const meta = h('div');
  const types = h('span', null, 'e.g. ', h('code', null, 'set'), ', ', h('code', null, 'delay'));
  // Fetched once for this editor: the reference panel's list and the editor's completion.
  const taskTypes = api.get<{ items: TaskTypeInfo[] }>('/api/v1/task-types', { quiet: true }).then(
    (r) => [...(r.items ?? [])].sort((a, b) => a.name.localeCompare(b.name)),
    () => [] as TaskTypeInfo[],
  );
  void taskTypes.then((list) => {
    if (alive && list.length) replace(types, 'one of ', list.map((t, i) => [i > 0 && ', ', h('code', { title: t.description ?? null }, t.name)]));
  });
  const flashEl = h('div', null, takeFlash());

  /** Where a new workflow goes: the project chosen in the header, or the personal project. */
  const newWorkflowProject = (): HTMLElement | null => {
    if (!projectStore.enabled) return null;
    const target = projectStore.current || projectStore.personalId;
    return h(
      'section',
      { class: 'panel' },
      h('div', { class: 'panel-title' }, 'Project'),
      h(
        'div',
        { class: 'panel-pad', 'data-testid': 'new-workflow-project' },
        target ? projectTag(target) : 'Your personal project',
        h(
          'p',
          { class: 'muted small' },
          projectStore.current ? 'The project chosen in the header. Saving creates the workflow there.' : 'All projects are shown, so saving creates the workflow in your personal project. Choose a project in the header to create it there.',
        ),
      ),
    );
  };

  /** "Move to project…": for the admin of the workflow's project, to another project they administer. */
  const moveAction = (d: WorkflowDoc): HTMLElement | null => {
    if (!canWrite || !d.project_id) return null;
    const from = d.project_id;
    const targets = projectStore.adminProjects.filter((p) => p.id !== from);
    if (targets.length === 0) return null;
    const adminHere = projectStore.isAdmin(from);
    return h(
      'button',
      {
        type: 'button',
        class: 'btn',
        'data-testid': 'workflow-move',
        disabled: !adminHere,
        title: adminHere ? 'Move this workflow and the visibility of its runs to another project' : `Moving needs the admin role in ${projectStore.name(from)} and in the target project.`,
        onclick: () => moveDialog(d, targets),
      },
      'Move to project…',
    );
  };

  const moveDialog = (d: WorkflowDoc, targets: Project[]) => {
    const target = h(
      'select',
      { class: 'input', name: 'project_id', 'data-testid': 'move-target', required: true },
      targets.map((p) => h('option', { value: p.id }, p.kind === 'personal' ? `${p.name} (personal)` : p.name)),
    );
    let moved = '';
    void openDialog({
      title: `Move ${d.name}`,
      body: h(
        'div',
        null,
        h('p', null, 'Now in ', projectTag(d.project_id), '.'),
        h('div', { class: 'field' }, h('label', { for: 'move-target' }, 'Move to'), Object.assign(target, { id: 'move-target' })),
        h('p', { class: 'muted small' }, 'Its runs move with it: members of the other project no longer see them. Its webhook paths stay the same.'),
      ),
      confirmLabel: 'Move',
      onConfirm: async () => {
        await api.post(`${workflowPath(d.id)}/move`, { project_id: target.value }, { quiet: true });
        moved = target.value;
      },
    }).then((ok) => {
      if (!ok || !alive) return;
      // Only the project changed: the editor keeps its text (and any unsaved edits).
      d.project_id = moved;
      setTitle();
      replace(flashEl, h('div', { class: 'notice notice-ok', role: 'status', 'data-testid': 'flash' }, `Moved ${d.name} to ${projectStore.name(moved)}.`));
    });
  };

  const isDirty = () => canWrite && ed !== null && ed.text() !== saved;
  const updateDirty = () => replace(dirty, isDirty() ? 'Unsaved changes' : doc ? `Version ${doc.version} saved` : '');
  /** Whether the result below the editor reports a syntax error (the live check under the editor takes over once the text changes). */
  let resultIsSyntax = false;
  const changed = () => {
    updateDirty();
    if (resultIsSyntax) {
      resultIsSyntax = false;
      replace(result);
    }
  };
  setLeaveGuard(() => (alive && isDirty() ? 'This workflow has unsaved changes. Leave without saving them?' : null));

  const setTitle = () => {
    if (!doc) {
      setHead('New workflow', h('a', { href: '/workflows', 'data-link': true }, '← All workflows'));
      replace(meta, newWorkflowProject());
      return;
    }
    const d = doc;
    const move = moveAction(d);
    setHead(
      d.name,
      h(
        'span',
        null,
        h('a', { href: '/workflows', 'data-link': true }, '← All workflows'),
        ` · version ${d.version}`,
        d.project_id && [' · in ', projectTag(d.project_id)],
      ),
      h('button', { type: 'button', class: 'btn', 'data-testid': 'workflow-run', disabled: !canRun, onclick: () => startRunDialog(d) }, '▶ Run'),
      h('a', { href: `/runs?workflow_id=${encodeURIComponent(d.id)}`, 'data-link': true, class: 'btn' }, 'Runs'),
      move,
      canWrite &&
        h(
          'button',
          {
            type: 'button',
            class: 'btn btn-danger-quiet',
            'data-testid': 'workflow-delete',
            onclick: () =>
              void confirmDelete(d).then((ok) => {
                if (!ok) return;
                if (ed) saved = ed.text();  // nothing left to save
                setFlash(`Deleted ${d.name}.`);
                navigate('/workflows');
              }),
          },
          'Delete',
        ),
    );
    replace(
      meta,
      h(
        'section',
        { class: 'panel' },
        h('div', { class: 'panel-title' }, 'Saved'),
        kvList([
          ...(d.project_id ? [['Project', projectTag(d.project_id, 'workflow-project')] as [string, Child]] : []),
          ['Version', String(d.version)],
          ['Active', activeSwitch(d, canWrite)],
          ['Runs kept', keptNote(d.execution_data)],
          ['Created', d.created_at ? formatDateTime(d.created_at) : none()],
          ['Updated', d.updated_at ? formatDateTime(d.updated_at) : none()],
        ]),
      ),
      webhooksPanel(d),
      historyPanel(d, canWrite, isDirty, (version) => {
        setFlash(`Restored an earlier version as version ${version}.`);
        void load();
      }),
    );
  };

  const selectPointer = (pointer: string) => {
    if (!ed) return;
    const span = locatePointer(ed.text(), pointer);
    if (span) ed.select(span.start, span.end);
  };

  /** The syntax error's place, as a button that puts the cursor there. */
  const syntaxPlace = (e: JsonSyntaxError, testid: string) =>
    h(
      'button',
      { type: 'button', class: 'pointer', 'data-testid': testid, title: 'Show in the definition', onclick: () => ed?.select(e.from, e.from) },
      `Line ${e.line}, column ${e.col}`,
    );

  const showSyntax = (e: JsonSyntaxError | null) => {
    if (!e) {
      replace(syntax, h('span', { class: 'muted', 'data-testid': 'json-ok' }, 'Valid JSON'));
      return;
    }
    replace(
      syntax,
      h(
        'span',
        { class: 'editor-status-error', 'data-testid': 'json-error', 'data-line': String(e.line), 'data-col': String(e.col), 'data-offset': String(e.from) },
        syntaxPlace(e, 'json-error-place'),
        ' ',
        h('span', { 'data-testid': 'json-error-message' }, e.message),
      ),
    );
  };

  const reveal = () => result.scrollIntoView({ block: 'nearest' });
  const showOk = (msg: string) => {
    resultIsSyntax = false;
    replace(result, h('div', { class: 'notice notice-ok', role: 'status', 'data-testid': 'validation-ok' }, msg));
    reveal();
  };

  const showErrors = (title: string, errors: FieldError[], syntaxError?: JsonSyntaxError) => {
    resultIsSyntax = !!syntaxError;
    replace(
      result,
      h(
        'div',
        { class: 'notice notice-error', role: 'alert', 'data-testid': 'validation-errors' },
        h('div', { class: 'validation-title' }, title),
        syntaxError &&
          h(
            'ul',
            { class: 'validation-list' },
            h('li', { 'data-testid': 'validation-error', 'data-pointer': '' }, syntaxPlace(syntaxError, 'validation-place'), h('span', { class: 'validation-msg' }, syntaxError.message)),
          ),
        errors.length > 0 &&
          h(
            'ul',
            { class: 'validation-list' },
            errors.map((e) =>
              h(
                'li',
                { 'data-testid': 'validation-error', 'data-pointer': e.pointer },
                h(
                  'button',
                  { type: 'button', class: 'pointer', title: `Show in the definition (${e.pointer || '/'})`, onclick: () => selectPointer(e.pointer) },
                  h('code', null, errorPlace(e).place),
                ),
                h('span', { class: 'validation-msg' }, errorPlace(e).message),
              ),
            ),
          ),
      ),
    );
    reveal();
  };

  const showFailure = (err: unknown, action: string) => {
    if (err instanceof ApiError && err.errors.length > 0) {
      const n = err.errors.length;
      showErrors(`${action}: ${n} ${n === 1 ? 'problem' : 'problems'}`, err.errors);
      return;
    }
    const e = formError();
    e.show(err);
    resultIsSyntax = false;
    replace(result, h('div', { class: 'notice notice-error', role: 'alert', 'data-testid': 'validation-errors' }, h('div', { class: 'validation-title' }, `${action}:`), e.el));
    reveal();
  };

  /**
   * The definition as an object, or null after showing why it is not one. A syntax error is
   * located by the editor's own check (browsers' JSON.parse messages differ and may not say
   * where): its line and column are shown and the cursor is put on it.
   */
  const parse = (): Record<string, unknown> | null => {
    if (!ed) return null;
    const bad = ed.checkSyntax();
    if (bad) {
      showErrors(`Not valid JSON: line ${bad.line}, column ${bad.col}`, [], bad);
      return null;
    }
    const v: unknown = JSON.parse(ed.text());
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      showErrors('Not a definition', [{ pointer: '', message: 'The definition must be a JSON object.' }]);
      return null;
    }
    return v as Record<string, unknown>;
  };

  const running = (work: () => Promise<void>) => {
    validateBtn.disabled = saveBtn.disabled = true;
    result.setAttribute('aria-busy', 'true');
    void work().finally(() => {
      validateBtn.disabled = false;
      saveBtn.disabled = !canWrite;
      result.removeAttribute('aria-busy');
    });
  };

  const validate = () => {
    const def = parse();
    if (!def) return;
    running(async () => {
      try {
        await api.post(`${WORKFLOWS}/validate`, def, { quiet: true });
        if (alive) showOk('The definition is valid.');
      } catch (err) {
        if (alive) showFailure(err, 'Not valid');
      }
    });
  };

  const save = () => {
    if (!canWrite) return;
    const def = parse();
    if (!def) return;
    running(async () => {
      try {
        // A new workflow goes to the project chosen in the header (with all projects: the server's default, the personal project).
        if (!doc && projectStore.current && !('project_id' in def)) def.project_id = projectStore.current;
        const r = doc
          ? await api.put<{ id: string; version: number }>(workflowPath(doc.id), def, { quiet: true })
          : await api.post<{ id: string; version: number }>(WORKFLOWS, def, { quiet: true });
        if (!alive) return;
        setFlash(`Saved ${String(def.name ?? 'the workflow')}, version ${r.version}.`);
        saved = ed?.text() ?? saved;
        if (!doc) {
          navigate(`/workflows/${encodeURIComponent(r.id)}`, { replace: true });
          return;
        }
        replace(result);
        await load();
      } catch (err) {
        if (alive) showFailure(err, 'Not saved');
      }
    });
  };

  validateBtn.addEventListener('click', validate);
  saveBtn.addEventListener('click', save);
  formatBtn.addEventListener('click', () => {
    const def = parse();
    if (!def || !ed) return;
    ed.setText(JSON.stringify(def, null, 2));  // one step in the undo history
    updateDirty();
  });
  // Nothing to validate or save before the editor is there.
  validateBtn.disabled = saveBtn.disabled = formatBtn.disabled = true;
  const editorReady = () => {
    validateBtn.disabled = false;
    saveBtn.disabled = formatBtn.disabled = !canWrite;
  };

  replace(
    el,
    flashEl,
    h(
      'div',
      { class: 'editor-grid' },
      h(
        'div',
        { class: 'editor-main' },
        h(
          'section',
          { class: 'panel' },
          h('div', { class: 'panel-title panel-title-row' }, h('span', null, 'Definition (JSON)'), h('span', { class: 'spacer' }), dirty),
          h('div', { class: 'editor-body' }, host, syntax),
          h('div', { class: 'panel-foot' }, validateBtn, saveBtn, formatBtn, h('span', { class: 'spacer' }), h('a', { href: '/workflows', 'data-link': true, class: 'btn' }, 'Close')),
        ),
        result,
      ),
      h('div', { class: 'editor-side' }, meta, referencePanel(types)),
    ),
  );

  setHead(id === null ? 'New workflow' : 'Workflow', h('a', { href: '/workflows', 'data-link': true }, '← All workflows'));
  // The editor's code loads while the definition does (a new page: the template).
  const editorModule = import('./json-editor');
  /** Puts `text` into the editor, making the editor first (with `text`, its undo history empty). */
  const show = async (text: string) => {
    if (ed) {
      ed.setText(text);
      return;
    }
    const m = await editorModule;
    if (!alive) return;
    ed = m.createJsonEditor({
      parent: host,
      doc: text,
      readOnly: !canWrite,
      label: 'Workflow definition (JSON)',
      onChange: changed,
      onSave: save,
      onSyntax: showSyntax,
      taskTypes,
    });
    host.removeAttribute('aria-busy');
    editorReady();
  };
  const load = async () => {
    if (id === null) {
      saved = JSON.stringify(TEMPLATE, null, 2);  // the template untouched is nothing to lose
      setTitle();
      try {
        await show(saved);
      } catch (err) {
        editorFailed(err);
      }
      updateDirty();
      return;
    }
    let d: WorkflowDoc;
    try {
      d = await api.get<WorkflowDoc>(workflowPath(id), { quiet: true });
    } catch (err) {
      if (!alive) return;
      if (err instanceof ApiError && err.status === 404) {
        replace(el, notice('info', 'There is no workflow with this id (it may have been deleted). ', h('a', { href: '/workflows', 'data-link': true }, 'All workflows')));
        return;
      }
      const e = formError();
      e.show(err);
      replace(el, notice('error', 'Could not load the workflow: ', e.el, retry()));
      return;
    }
    if (!alive) return;
    doc = d;
    saved = definitionText(d);
    setTitle();
    try {
      await show(saved);
    } catch (err) {
      editorFailed(err);
    }
    if (!alive) return;
    updateDirty();
    const f = takeFlash();
    if (f) replace(flashEl, f);
    document.title = `${d.name} · Workflows · Arclight`;
  };
  const retry = () => h('button', { type: 'button', class: 'btn btn-small', onclick: () => navigate(location.pathname, { replace: true }) }, 'Retry');
  /** The editor's code did not load (e.g. the server was updated meanwhile, or the network is gone). */
  const editorFailed = (err: unknown) => {
    if (!alive) return;
    host.removeAttribute('aria-busy');
    replace(host, h('div', { class: 'pad' }, notice('error', `Could not load the editor: ${err instanceof Error ? err.message : String(err)}. `, retry())));
  };
  void load();
  return () => {
    alive = false;
    ed?.destroy();
  };
}
