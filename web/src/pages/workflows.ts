// Workflows: the list (activate, run, edit, delete) at /workflows; the JSON editor for a
// definition at /workflows/new and /workflows/{id} is in wf-editor.ts.

import { api } from '../api';
import { authStore } from '../auth';
import { h, replace } from '../dom';
import { formatDateTime } from '../format';
import type { NavEntry } from '../nav';
import { projectStore } from '../projects';
import { navigate } from '../router';
import { notice, readOnlyNotice } from './common';
import { formError } from './forms';
import { projectScopeNote, projectTag } from './project-ui';
import { activeSwitch, confirmDelete, startRunDialog, takeFlash } from './wf-actions';
import { WORKFLOWS, none, triggerSummary, workflowPage, type HeaderSetter, type WorkflowSummary } from './wf-common';

export function renderWorkflows(root: HTMLElement, entry: NavEntry, path: string): () => void {
  return workflowPage(root, entry, path, {
    permission: 'flows.read',
    toSee: 'see workflows',
    backTo: 'Go to the workflows',
    list: renderList,
    item: (el, set, rest) => {
      if (authStore.can('flows.write')) return editorPage(el, set, rest === 'new' ? null : decodeURIComponent(rest));
      // Read-only: said once above the page; there is nothing to create.
      if (rest === 'new') {
        set('New workflow', h('a', { href: '/workflows', 'data-link': true }, '← All workflows'));
        replace(
          el,
          h(
            'div',
            { class: 'notice notice-warn', 'data-testid': 'cannot-create' },
            'You cannot create workflows: your role is read-only (creating needs the flows.write permission). ',
            h('a', { href: '/workflows', 'data-link': true }, 'See the workflows'),
          ),
        );
        return;
      }
      const inner = h('div');
      replace(el, readOnlyNotice('this workflow'), inner);
      return editorPage(inner, set, decodeURIComponent(rest));
    },
  });
}

/** The editor page; its code (wf-editor.ts, and the code editor that loads) is fetched when first opened. */
function editorPage(el: HTMLElement, setHead: HeaderSetter, id: string | null): () => void {
  let alive = true;
  let cleanup: (() => void) | undefined;
  replace(el, h('p', { class: 'muted pad' }, 'Loading the editor…'));
  import('./wf-editor').then(
    (m) => {
      if (alive) cleanup = m.renderEditor(el, setHead, id);
    },
    (err: unknown) => {
      if (!alive) return;
      const retry = h('button', { type: 'button', class: 'btn btn-small', onclick: () => navigate(location.pathname, { replace: true }) }, 'Retry');
      replace(el, notice('error', `Could not load the editor: ${err instanceof Error ? err.message : String(err)}. `, retry));
    },
  );
  return () => {
    alive = false;
    cleanup?.();
  };
}

// ---- list ------------------------------------------------------------------

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
    !canWrite && readOnlyNotice('workflows'),
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
      h('td', { class: 'wf-updated' }, w.updated_at ? formatDateTime(w.updated_at) : none()),
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
          { class: 'table wf-list', 'data-testid': 'workflows-table', 'data-project-id': project },
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
