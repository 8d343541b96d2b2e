// Workflows: the list (activate, run, edit, delete) at /workflows and a
// JSON editor for a definition at /workflows/new and /workflows/{id}, with
// server-side validation whose errors point into the text.

import { api, ApiError, type FieldError } from '../api';
import { authStore } from '../auth';
import { h, replace, type Child } from '../dom';
import { formatDateTime } from '../format';
import type { NavEntry } from '../nav';
import { projectStore, type Project } from '../projects';
import { navigate, setLeaveGuard } from '../router';
import { notice } from './common';
import { errorDialog, formError, openDialog } from './forms';
import { lineCol, locatePointer } from './json-locate';
import { historyPanel } from './wf-history';
import { webhooksPanel } from './wf-webhooks';
import { projectScopeNote, projectTag } from './project-ui';
import {
  WORKFLOWS,
  idempotencyKey,
  keptRuns,
  kvList,
  none,
  triggerSummary,
  workflowPath,
  workflowPage,
  type HeaderSetter,
  type WorkflowDoc,
  type WorkflowSummary,
} from './wf-common';

/** A message for the next page shown (e.g. "Saved" after a new workflow's editor reloads under its id). */
let flash: string | null = null;

function takeFlash(): HTMLElement | null {
  const msg = flash;
  flash = null;
  return msg ? h('div', { class: 'notice notice-ok', role: 'status', 'data-testid': 'flash' }, msg) : null;
}

export function renderWorkflows(root: HTMLElement, entry: NavEntry, path: string): () => void {
  return workflowPage(root, entry, path, {
    permission: 'flows.read',
    toSee: 'see workflows',
    backTo: 'Go to the workflows',
    list: renderList,
    item: (el, set, rest) => renderEditor(el, set, rest === 'new' ? null : decodeURIComponent(rest)),
  });
}

// ---- starting a run ----------------------------------------------------------

/** Asks for the run's input (a JSON object, `{}` by default), starts the run and opens it. */
export function startRunDialog(w: { id: string; name: string }): void {
  const key = idempotencyKey();
  const text = h('textarea', { class: 'input input-code', name: 'input', rows: 6, spellcheck: 'false', 'data-testid': 'run-input', 'aria-label': 'Run input (JSON)' }, '{}');
  let runId = '';
  void openDialog({
    title: `Run ${w.name}`,
    body: h(
      'div',
      { class: 'field' },
      h('label', null, 'Input'),
      text,
      h('div', { class: 'field-hint' }, 'A JSON object the run receives as its input.'),
    ),
    confirmLabel: 'Start run',
    onConfirm: async () => {
      let input: unknown;
      try {
        input = JSON.parse(text.value.trim() || '{}');
      } catch (err) {
        throw new Error(`The input is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new Error('The input must be a JSON object, e.g. {}.');
      // The same key for every attempt from this dialog: a retried click starts one run.
      const r = await api.post<{ id: string; status: string }>(`${workflowPath(w.id)}/runs`, { input }, { quiet: true, headers: { 'Idempotency-Key': key } });
      runId = r.id;
    },
  }).then((ok) => {
    if (ok && runId) navigate(`/runs/${encodeURIComponent(runId)}`);
  });
  text.focus();
  text.select();
}

function confirmDelete(w: { id: string; name: string }): Promise<boolean> {
  return openDialog({
    title: 'Delete workflow',
    body: h('p', null, 'Delete ', h('strong', null, w.name), ' and its triggers? Runs already made keep their history. This cannot be undone.'),
    confirmLabel: 'Delete',
    danger: true,
    onConfirm: async () => {
      await api.delete(workflowPath(w.id), { quiet: true });
    },
  });
}

// ---- list ------------------------------------------------------------------

function activeSwitch(w: { id: string; name: string; active: boolean }, canWrite: boolean): HTMLElement {
  const box = h('input', {
    type: 'checkbox',
    role: 'switch',
    class: 'switch',
    checked: w.active,
    disabled: !canWrite,
    'data-testid': 'workflow-active',
    'aria-label': `${w.name} active`,
    title: canWrite ? (w.active ? 'Active: its triggers fire. Click to deactivate.' : 'Inactive: its triggers do not fire. Click to activate.') : 'Changing this needs the flows.write permission.',
  });
  const label = h('span', { class: 'switch-label' }, w.active ? 'active' : 'off');
  box.addEventListener('change', () => {
    const want = box.checked;
    box.disabled = true;
    void api
      .post<{ id: string; active: boolean }>(`${workflowPath(w.id)}/${want ? 'activate' : 'deactivate'}`, undefined, { quiet: true })
      .then(
        (r) => {
          w.active = typeof r?.active === 'boolean' ? r.active : want;
        },
        (err: unknown) => {
          void errorDialog(`Could not ${want ? 'activate' : 'deactivate'} ${w.name}`, err);
        },
      )
      .finally(() => {
        box.checked = w.active;
        box.disabled = false;
        replace(label, w.active ? 'active' : 'off');
      });
  });
  return h('label', { class: 'switch-wrap' }, box, label);
}

function renderList(el: HTMLElement, setHead: HeaderSetter, entry: NavEntry): () => void {
  let alive = true;
  const canWrite = authStore.can('flows.write');
  const canRun = authStore.can('runs.start');
  setHead(
    entry.label,
    entry.about,
    canWrite && h('a', { href: '/workflows/new', 'data-link': true, class: 'btn btn-primary', 'data-testid': 'new-workflow' }, 'New workflow'),
  );
  const list = h('div', { class: 'panel-body' }, h('p', { class: 'muted pad' }, 'Loading workflows…'));
  const count = h('span', { class: 'muted small' });
  const refresh = h('button', { type: 'button', class: 'btn btn-small', onclick: () => void load() }, 'Refresh');
  const scope = projectScopeNote();
  replace(
    el,
    takeFlash(),
    h(
      'section',
      { class: 'panel' },
      h('div', { class: 'panel-title panel-title-row' }, h('span', null, 'Workflows'), count, scope.el, h('span', { class: 'spacer' }), refresh),
      list,
    ),
  );
  /** The project column, while the list shows several projects. */
  let showProject = false;

  const row = (w: WorkflowSummary) => {
    const triggers = w.triggers ?? [];
    return h(
      'tr',
      { 'data-testid': 'workflow-row', 'data-id': w.id, 'data-name': w.name },
      h(
        'td',
        { class: 'wf-name' },
        h('a', { href: `/workflows/${encodeURIComponent(w.id)}`, 'data-link': true, class: 'strong-link', 'data-testid': 'workflow-name' }, w.name),
        w.description && h('div', { class: 'cell-sub' }, w.description),
        showProject && w.project_id && h('div', { class: 'cell-sub cell-project', 'data-testid': 'workflow-project' }, projectTag(w.project_id, 'workflow-project-name')),
      ),
      h('td', { class: 'nowrap' }, activeSwitch(w, canWrite)),
      h(
        'td',
        { 'data-testid': 'workflow-triggers' },
        triggers.length === 0
          ? none('none')
          : h('div', { class: 'chips' }, triggers.map((t) => h('code', { class: `chip chip-trigger chip-${/^[a-z]+$/.test(t.type) ? t.type : 'other'}`, title: t.type }, triggerSummary(t)))),
      ),
      h('td', { class: 'num', 'data-testid': 'workflow-tasks' }, String(w.task_count ?? '')),
      h('td', { class: 'num' }, `v${w.version}`),
      h('td', { class: 'nowrap' }, w.updated_at ? formatDateTime(w.updated_at) : none()),
      h(
        'td',
        { class: 'actions' },
        h(
          'button',
          {
            type: 'button',
            class: 'btn btn-small btn-run',
            'data-testid': 'workflow-run',
            disabled: !canRun,
            title: canRun ? `Start a run of ${w.name}` : 'Starting runs needs the runs.start permission.',
            onclick: () => startRunDialog(w),
          },
          '▶ Run',
        ),
        h('a', { href: `/runs?workflow_id=${encodeURIComponent(w.id)}`, 'data-link': true, class: 'btn btn-small', title: `Runs of ${w.name}` }, 'Runs'),
        canWrite && h('a', { href: `/workflows/${encodeURIComponent(w.id)}`, 'data-link': true, class: 'btn btn-small', 'data-testid': 'workflow-edit' }, 'Edit'),
        canWrite &&
          h(
            'button',
            {
              type: 'button',
              class: 'btn btn-small btn-danger-quiet',
              'data-testid': 'workflow-delete',
              onclick: () =>
                void confirmDelete(w).then((ok) => {
                  if (ok) void load();
                }),
            },
            'Delete',
          ),
      ),
    );
  };

  // Only the latest request draws (switching projects quickly must not show an older answer).
  let seq = 0;
  const load = async () => {
    const mine = ++seq;
    refresh.disabled = true;
    const project = projectStore.current;
    try {
      const r = await api.get<{ items: WorkflowSummary[] }>(projectStore.filtered(WORKFLOWS), { quiet: true });
      if (!alive || mine !== seq) return;
      const items = [...(r.items ?? [])].sort((a, b) => a.name.localeCompare(b.name));
      showProject = projectStore.enabled && !project;
      const heads = ['Name', 'Active', 'Triggers', 'Tasks', 'Version', 'Updated', ''];
      replace(count, `${items.length} ${items.length === 1 ? 'workflow' : 'workflows'}`);
      replace(
        list,
        h(
          'table',
          { class: 'table', 'data-testid': 'workflows-table', 'data-project-id': project },
          h('thead', null, h('tr', null, heads.map((t) => h('th', { class: t === 'Tasks' || t === 'Version' ? 'num' : null }, t)))),
          h(
            'tbody',
            null,
            items.length === 0 &&
              h(
                'tr',
                null,
                h(
                  'td',
                  { colspan: String(heads.length), class: 'muted' },
                  project ? `No workflows in ${projectStore.name(project)} yet. ` : 'No workflows yet. ',
                  canWrite && h('a', { href: '/workflows/new', 'data-link': true }, 'Create the first one'),
                ),
              ),
            items.map(row),
          ),
        ),
      );
    } catch (err) {
      if (!alive || mine !== seq) return;
      const e = formError();
      e.show(err);
      replace(list, h('div', { class: 'pad' }, notice('error', 'Could not load the workflows: ', e.el)));
    } finally {
      if (mine === seq) refresh.disabled = false;
    }
  };
  const stopSwitch = projectStore.onSwitch(() => void load());
  void load();
  return () => {
    alive = false;
    scope.stop();
    stopSwitch();
  };
}

// ---- editor ----------------------------------------------------------------

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

interface TaskTypeInfo {
  name: string;
  description?: string;
  builtin?: boolean;
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
      h('p', { class: 'muted small' }, 'Ctrl+S saves; Tab indents.'),
    ),
  );
}

function renderEditor(el: HTMLElement, setHead: HeaderSetter, id: string | null): () => void {
  let alive = true;
  let doc: WorkflowDoc | null = null;
  let saved = '';
  const canWrite = authStore.can('flows.write');
  const canRun = authStore.can('runs.start');

  const text = h('textarea', {
    class: 'input input-code editor',
    'data-testid': 'workflow-json',
    spellcheck: 'false',
    autocomplete: 'off',
    autocapitalize: 'off',
    rows: 26,
    wrap: 'off',
    'aria-label': 'Workflow definition (JSON)',
    readonly: !canWrite,
  });
  const result = h('div', { class: 'validation', 'data-testid': 'validation-result', 'aria-live': 'polite' });
  const dirty = h('span', { class: 'muted small', 'data-testid': 'editor-state' });
  const validateBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'validate-workflow' }, 'Validate');
  const saveBtn = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'save-workflow', disabled: !canWrite, title: canWrite ? null : 'Saving needs the flows.write permission.' }, 'Save');
  const formatBtn = h('button', { type: 'button', class: 'btn', 'data-testid': 'format-json', disabled: !canWrite }, 'Format');
  const meta = h('div');
  const types = h('span', null, 'e.g. ', h('code', null, 'set'), ', ', h('code', null, 'delay'));
  api.get<{ items: TaskTypeInfo[] }>('/api/v1/task-types', { quiet: true }).then(
    (r) => {
      const list = [...(r.items ?? [])].sort((a, b) => a.name.localeCompare(b.name));
      if (alive && list.length) replace(types, 'one of ', list.map((t, i) => [i > 0 && ', ', h('code', { title: t.description ?? null }, t.name)]));
    },
    () => undefined,
  );
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

  const isDirty = () => canWrite && text.value !== saved;
  const updateDirty = () => replace(dirty, isDirty() ? 'Unsaved changes' : doc ? `Version ${doc.version} saved` : '');
  text.addEventListener('input', updateDirty);
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
                saved = text.value;  // nothing left to save
                flash = `Deleted ${d.name}.`;
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
        flash = `Restored an earlier version as version ${version}.`;
        void load();
      }),
    );
  };

  const select = (start: number, end: number) => {
    text.focus();
    text.setSelectionRange(start, end);
    const { line } = lineCol(text.value, start);
    const lh = parseFloat(getComputedStyle(text).lineHeight) || 18;
    text.scrollTop = Math.max(0, (line - 4) * lh);
  };

  const selectPointer = (pointer: string) => {
    const span = locatePointer(text.value, pointer);
    if (span) select(span.start, span.end);
  };

  const reveal = () => result.scrollIntoView({ block: 'nearest' });
  const showOk = (msg: string) => {
    replace(result, h('div', { class: 'notice notice-ok', role: 'status', 'data-testid': 'validation-ok' }, msg));
    reveal();
  };

  const showErrors = (title: string, errors: FieldError[]) => {
    replace(
      result,
      h(
        'div',
        { class: 'notice notice-error', role: 'alert', 'data-testid': 'validation-errors' },
        h('div', { class: 'validation-title' }, title),
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
                  { type: 'button', class: 'pointer', title: 'Show in the definition', onclick: () => selectPointer(e.pointer) },
                  h('code', null, e.pointer || '(definition)'),
                ),
                h('span', { class: 'validation-msg' }, e.message),
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
    replace(result, h('div', { class: 'notice notice-error', role: 'alert', 'data-testid': 'validation-errors' }, h('div', { class: 'validation-title' }, `${action}:`), e.el));
    reveal();
  };

  /** The definition as an object, or null after showing why it is not one. */
  const parse = (): Record<string, unknown> | null => {
    let v: unknown;
    try {
      v = JSON.parse(text.value);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      const at = /position (\d+)/.exec(msg);
      let where = '';
      if (at) {
        const pos = Number(at[1]);
        const { line, col } = lineCol(text.value, pos);
        if (!/line \d+/.test(msg)) where = ` (line ${line}, column ${col})`;
        select(pos, Math.min(text.value.length, pos + 1));
      }
      showErrors('Not valid JSON', [{ pointer: '', message: `${msg}${where}` }]);
      return null;
    }
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
        flash = `Saved ${String(def.name ?? 'the workflow')}, version ${r.version}.`;
        saved = text.value;
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
    if (!def) return;
    text.value = JSON.stringify(def, null, 2);
    updateDirty();
  });
  text.addEventListener('keydown', (ev) => {
    if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === 's') {
      ev.preventDefault();
      save();
    } else if (ev.key === 'Tab' && !ev.shiftKey && !ev.ctrlKey && !ev.altKey && !ev.metaKey && !text.readOnly) {
      ev.preventDefault();
      text.setRangeText('  ', text.selectionStart, text.selectionEnd, 'end');
      updateDirty();
    }
  });

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
          h('div', { class: 'editor-body' }, text),
          h('div', { class: 'panel-foot' }, validateBtn, saveBtn, formatBtn, h('span', { class: 'spacer' }), h('a', { href: '/workflows', 'data-link': true, class: 'btn' }, 'Close')),
        ),
        result,
      ),
      h('div', { class: 'editor-side' }, meta, referencePanel(types)),
    ),
  );

  setHead(id === null ? 'New workflow' : 'Workflow', h('a', { href: '/workflows', 'data-link': true }, '← All workflows'));
  const load = async () => {
    if (id === null) {
      text.value = JSON.stringify(TEMPLATE, null, 2);
      saved = text.value;  // the template untouched is nothing to lose
      setTitle();
      updateDirty();
      return;
    }
    text.disabled = true;
    try {
      const d = await api.get<WorkflowDoc>(workflowPath(id), { quiet: true });
      if (!alive) return;
      doc = d;
      saved = definitionText(d);
      text.value = saved;
      setTitle();
      updateDirty();
      const f = takeFlash();
      if (f) replace(flashEl, f);
      document.title = `${d.name} · Workflows · Arclight`;
    } catch (err) {
      if (!alive) return;
      if (err instanceof ApiError && err.status === 404) {
        replace(el, notice('info', 'There is no workflow with this id (it may have been deleted). ', h('a', { href: '/workflows', 'data-link': true }, 'All workflows')));
        return;
      }
      const e = formError();
      e.show(err);
      replace(el, notice('error', 'Could not load the workflow: ', e.el, h('button', { type: 'button', class: 'btn btn-small', onclick: () => navigate(location.pathname, { replace: true }) }, 'Retry')));
    } finally {
      text.disabled = false;
    }
  };
  void load();
  return () => {
    alive = false;
  };
}
