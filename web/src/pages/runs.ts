// Runs: the list of workflow runs at /runs (filters by status and workflow,
// kept current by the workflow.run.* live events) and one run at /runs/{id}.

import { api } from '../api';
import { authStore } from '../auth';
import { h, replace } from '../dom';
import { elapsedMs, formatDateTimeSeconds, formatDuration, formatWhen } from '../format';
import { live } from '../live';
import type { NavEntry } from '../nav';
import { projectStore } from '../projects';
import { navigate } from '../router';
import { notice } from './common';
import { formError } from './forms';
import { projectScopeNote, projectTag } from './project-ui';
import { renderRunView } from './run-view';
import {
  ACTIVE_RUN,
  RUNS,
  keptRuns,
  RUN_STATUSES,
  Refetcher,
  WORKFLOWS,
  errorText,
  isRunEvent,
  none,
  runBadge,
  triggerLabel,
  workflowPage,
  type HeaderSetter,
  type RunSummary,
  type WorkflowSummary,
} from './wf-common';

const PAGE = 50;
const MAX_LIMIT = 500;

export function renderRuns(root: HTMLElement, entry: NavEntry, path: string): () => void {
  return workflowPage(root, entry, path, {
    permission: 'runs.read',
    toSee: 'see runs',
    backTo: 'Go to the runs',
    list: renderRunList,
    item: (el, set, rest) => renderRunView(el, set, decodeURIComponent(rest)),
  });
}

/** What the server keeps: "Runs are kept for 30 days after they end"; 0: indefinitely; absent: nothing. */
function retentionText(days: number | undefined, what: string): string {
  if (days === undefined) return '';
  if (days <= 0) return `${what} indefinitely`;
  return `${what} for ${days} day${days === 1 ? '' : 's'} after they end`;
}

function duration(r: RunSummary): string {
  const ms = elapsedMs(r.started_at, r.finished_at);
  return ms === null ? '' : formatDuration(ms);
}

function renderRunList(el: HTMLElement, setHead: HeaderSetter, entry: NavEntry): () => void {
  let alive = true;
  const params = new URLSearchParams(location.search);
  let status = params.get('status') ?? '';
  let workflowId = params.get('workflow_id') ?? '';
  let limit = PAGE;
  let items: RunSummary[] = [];
  let loaded = false;

  setHead(entry.label, entry.about);
  const statusSel = h(
    'select',
    { class: 'input', name: 'status', 'data-testid': 'runs-status-filter', 'aria-label': 'Status' },
    h('option', { value: '' }, 'All statuses'),
    RUN_STATUSES.map((s) => h('option', { value: s, selected: s === status }, s)),
  );
  const wfSel = h('select', { class: 'input', name: 'workflow_id', 'data-testid': 'runs-workflow-filter', 'aria-label': 'Workflow' }, h('option', { value: '' }, 'All workflows'));
  let workflows: WorkflowSummary[] = [];
  const fillWorkflows = (list: WorkflowSummary[]) => {
    workflows = list;
    const sorted = [...list].sort((a, b) => a.name.localeCompare(b.name));
    replace(
      wfSel,
      h('option', { value: '' }, 'All workflows'),
      sorted.map((w) => {
        const kept = keptRuns(w.execution_data);
        return h('option', { value: w.id, selected: w.id === workflowId, 'data-kept': w.execution_data ?? 'full' }, kept ? `${w.name} (${kept.short})` : w.name);
      }),
      workflowId && !sorted.some((w) => w.id === workflowId) && h('option', { value: workflowId, selected: true }, `workflow ${workflowId}`),
    );
  };
  fillWorkflows([]);
  const refresh = h('button', { type: 'button', class: 'btn btn-small' }, 'Refresh');
  const count = h('span', { class: 'muted small', 'data-testid': 'runs-count' });
  const kept = h('span', { class: 'muted small', 'data-testid': 'runs-retention' });
  const tbody = h('tbody');
  const status_ = h('div');
  const more = h('button', { type: 'button', class: 'btn', 'data-testid': 'runs-more', hidden: true }, 'Show more');
  const scope = projectScopeNote();
  const foot = h('div', { class: 'panel-foot', hidden: true }, status_, more);
  const syncFoot = () => {
    foot.hidden = more.hidden && status_.childNodes.length === 0;
  };
  replace(
    el,
    h(
      'div',
      { class: 'filters', 'data-testid': 'runs-filters' },
      h('label', { class: 'filter' }, h('span', null, 'Status'), statusSel),
      h('label', { class: 'filter' }, h('span', null, 'Workflow'), wfSel),
      scope.el,
    ),
    h(
      'section',
      { class: 'panel' },
      h('div', { class: 'panel-title panel-title-row' }, h('span', null, 'Runs'), h('span', { class: 'muted small' }, 'newest first'), count, h('span', { class: 'spacer' }), kept, refresh),
      h(
        'div',
        { class: 'panel-body' },
        h(
          'table',
          { class: 'table table-runs', 'data-testid': 'runs-table' },
          h(
            'thead',
            null,
            h('tr', null, h('th', null, 'Status'), h('th', null, 'Workflow'), h('th', null, 'Trigger'), h('th', null, 'Started'), h('th', { class: 'num' }, 'Duration'), h('th', null, 'Run')),
          ),
          tbody,
        ),
      ),
      foot,
    ),
  );

  const row = (r: RunSummary) => {
    const href = `/runs/${encodeURIComponent(r.id)}`;
    const err = errorText(r.error);
    const when = r.started_at ?? r.created_at;
    const tr = h(
      'tr',
      { class: 'row-link', 'data-testid': 'run-row', 'data-run-id': r.id, 'data-status': r.status },
      h('td', null, runBadge(r.status)),
      h(
        'td',
        null,
        h('span', { class: 'strong' }, r.workflow_name || r.workflow_id),
        ' ',
        h('span', { class: 'muted small' }, `v${r.version}`),
        projectStore.enabled && !projectStore.current && r.project_id && h('div', { class: 'cell-sub' }, projectTag(r.project_id, 'run-project')),
        err && h('div', { class: 'cell-sub cell-error', title: err }, err),
      ),
      h('td', null, triggerLabel(r.trigger) || none()),
      h(
        'td',
        { class: 'nowrap', title: when ? formatDateTimeSeconds(when) : null },
        r.started_at ? formatWhen(r.started_at) : r.created_at ? h('span', { class: 'muted' }, `queued ${formatWhen(r.created_at)}`) : none(),
      ),
      h('td', { class: 'num nowrap', 'data-testid': 'run-duration' }, duration(r)),
      h('td', null, h('a', { href, 'data-link': true, class: 'run-link', title: r.id }, h('code', null, r.id.length > 12 ? `${r.id.slice(0, 8)}…` : r.id))),
    );
    tr.addEventListener('click', (ev) => {
      if ((ev.target as Element).closest('a, button, input, select')) return;
      if (window.getSelection()?.toString()) return; // selecting text, not opening the run
      navigate(href);
    });
    return tr;
  };

  const emptyText = () => {
    const project = projectStore.current ? ` in ${projectStore.name(projectStore.current)}` : '';
    const kept = workflowId ? keptRuns(workflows.find((w) => w.id === workflowId)?.execution_data) : null;
    if (kept) return kept.long;
    if (status || workflowId) return `No runs${project} match these filters.`;
    return project ? `No runs${project} yet.` : 'No runs yet. Start one from the Workflows page.';
  };

  const draw = () => {
    replace(
      tbody,
      items.length === 0 &&
        h('tr', null, h('td', { colspan: '6', class: 'muted' }, loaded ? emptyText() : 'Loading runs…')),
      items.map(row),
    );
    replace(count, loaded ? `${items.length}${items.length >= limit ? '+' : ''} shown` : '');
    more.hidden = items.length < limit || limit >= MAX_LIMIT;
    syncFoot();
  };

  const fetchRuns = async () => {
    const q = new URLSearchParams({ limit: String(limit) });
    if (status) q.set('status', status);
    if (workflowId) q.set('workflow_id', workflowId);
    const project = projectStore.current;
    refresh.disabled = true;
    try {
      const r = await api.get<{ items: RunSummary[]; retention_days?: number }>(projectStore.filtered(RUNS, q), { quiet: true });
      if (!alive) return;
      // The project was switched while this call ran: the refetch the switch asked for draws.
      if (project !== projectStore.current) return;
      items = r.items ?? [];
      replace(kept, retentionText(r.retention_days, 'Runs are kept'));
      loaded = true;
      replace(status_);
      draw();
    } catch (err) {
      if (!alive) return;
      const e = formError();
      e.show(err);
      replace(status_, notice('error', 'Could not load the runs: ', e.el));
      syncFoot();
    } finally {
      refresh.disabled = false;
    }
  };
  const refetch = new Refetcher(fetchRuns, 300, 1500);

  const filtersChanged = () => {
    status = statusSel.value;
    workflowId = wfSel.value;
    limit = PAGE;
    syncUrl();
    void refetch.now();
  };
  const syncUrl = () => {
    const q = new URLSearchParams();
    if (status) q.set('status', status);
    if (workflowId) q.set('workflow_id', workflowId);
    const qs = q.toString();
    history.replaceState(null, '', qs ? `/runs?${qs}` : '/runs');
  };
  statusSel.addEventListener('change', filtersChanged);
  wfSel.addEventListener('change', filtersChanged);
  refresh.addEventListener('click', () => void refetch.now());
  more.addEventListener('click', () => {
    limit = Math.min(MAX_LIMIT, limit + PAGE);
    void refetch.now();
  });

  // Live: a known run's status changes at once; new runs and timings come with a (rate-limited) refetch.
  const stopRuns = live.subscribe('workflow.**', (ev) => {
    if (!ev.topic.startsWith('workflow.run.') || !isRunEvent(ev.data)) return;
    const d = ev.data;
    if (workflowId && d.workflow_id && d.workflow_id !== workflowId) return;
    if (projectStore.current && d.project_id && d.project_id !== projectStore.current) return;
    const known = items.find((r) => r.id === d.run_id);
    if (known) {
      known.status = d.status;
      if (d.error !== undefined) known.error = d.error;
      draw();
    } else if (status && d.status !== status) {
      return;
    }
    refetch.request();
  });
  let wasLive = live.state === 'live';
  const stopState = live.onState((state) => {
    // Catch up on what was missed while the connection was down.
    if (state === 'live' && !wasLive) refetch.request();
    wasLive = state === 'live';
  });

  // Durations of runs still going tick every second.
  const ticker = setInterval(() => {
    for (const tr of Array.from(tbody.querySelectorAll<HTMLTableRowElement>('tr[data-run-id]'))) {
      const r = items.find((x) => x.id === tr.dataset.runId);
      if (!r || !ACTIVE_RUN.has(r.status) || !r.started_at) continue;
      const cell = tr.querySelector('[data-testid=run-duration]');
      if (cell) cell.textContent = duration(r);
    }
  }, 1000);

  // The workflow filter offers the workflows of the chosen project.
  let wfSeq = 0;
  const loadWorkflows = async (): Promise<WorkflowSummary[] | null> => {
    if (!authStore.can('flows.read')) return null;
    const mine = ++wfSeq;
    try {
      const r = await api.get<{ items: WorkflowSummary[] }>(projectStore.filtered(WORKFLOWS), { quiet: true });
      if (!alive || mine !== wfSeq) return null;
      fillWorkflows(r.items ?? []);
      draw();  // an empty list may now say why (a workflow whose runs are not kept)
      return r.items ?? [];
    } catch {
      return null;
    }
  };
  const stopSwitch = projectStore.onSwitch(() => {
    limit = PAGE;
    items = [];
    loaded = false;
    draw();
    void loadWorkflows().then((list) => {
      if (!alive) return;
      // A workflow of another project matches no run here: drop that filter.
      if (list && workflowId && !list.some((w) => w.id === workflowId)) {
        workflowId = '';
        wfSel.value = '';
        syncUrl();
      }
      void refetch.now();
    });
  });

  draw();
  void refetch.now();
  void loadWorkflows();
  return () => {
    alive = false;
    scope.stop();
    stopSwitch();
    refetch.stop();
    stopRuns();
    stopState();
    clearInterval(ticker);
  };
}
