// One run at /runs/{id}: its status and timings with Cancel / Retry /
// Re-run, the task graph, a timing waterfall and the selected task's
// details. Task events from the live stream are applied to the model as
// they come; run events (and tasks the model does not know) refetch the run.

import { api, ApiError } from '../api';
import { authStore } from '../auth';
import { h, replace, type Child } from '../dom';
import { elapsedMs, formatCost, formatDateTimeSeconds, formatDuration, formatWhen } from '../format';
import { live } from '../live';
import { projectStore } from '../projects';
import { navigate } from '../router';
import { notice } from './common';
import { dagShape, renderDag, updateDag } from './dag';
import { errorDialog, formError, openDialog } from './forms';
import { projectTag } from './project-ui';
import { responseBlock, taskIoBlocks } from './run-io';
import {
  ACTIVE_RUN,
  ACTIVE_TASK,
  Refetcher,
  errorText,
  isRunEvent,
  isTaskEvent,
  jsonBlock,
  kvList,
  none,
  runBadge,
  runPath,
  statusClass,
  triggerLabel,
  type HeaderSetter,
  type Run,
  type RunEvent,
  type TaskEvent,
  type TaskRun,
} from './wf-common';

const LEGEND = ['pending', 'running', 'waiting', 'retrying', 'succeeded', 'failed', 'skipped', 'cancelled'];

function ms(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/** Tick spacing for a time axis of `span` ms: about six ticks at round values. */
const STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 108e5, 216e5, 432e5, 864e5];
export function tickStep(span: number): number {
  const want = span / 6;
  return STEPS.find((s) => s >= want) ?? Math.ceil(want / 864e5) * 864e5;
}

export function formatTick(v: number): string {
  if (v === 0) return '0';
  if (v < 1000) return `${v} ms`;
  if (v < 60_000) return `${+(v / 1000).toFixed(2)} s`;
  if (v < 3_600_000) return `${+(v / 60_000).toFixed(2)} min`;
  return `${+(v / 3_600_000).toFixed(2)} h`;
}

/** Tasks in graph order (layer by layer), the order of the waterfall's rows. */
function graphOrder(tasks: TaskRun[]): TaskRun[] {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const depth = new Map<string, number>();
  const seen = new Set<string>();
  const d = (id: string): number => {
    const k = depth.get(id);
    if (k !== undefined) return k;
    if (seen.has(id)) return 0;
    seen.add(id);
    let v = 0;
    for (const p of byId.get(id)?.depends_on ?? []) if (byId.has(p) && p !== id) v = Math.max(v, d(p) + 1);
    depth.set(id, v);
    return v;
  };
  return tasks.map((t, i) => ({ t, i, d: d(t.id) })).sort((a, b) => a.d - b.d || a.i - b.i).map((x) => x.t);
}

function waterfall(run: Run, selected: string | null, onSelect: (id: string) => void, now: number): HTMLElement {
  const tasks = graphOrder(run.tasks ?? []);
  const starts = tasks.map((t) => ms(t.started_at)).filter((v): v is number => v !== null);
  const t0 = ms(run.started_at) ?? (starts.length ? Math.min(...starts) : null);
  const ends = tasks.map((t) => ms(t.finished_at) ?? (t.started_at && ACTIVE_TASK.has(t.status) ? now : null)).filter((v): v is number => v !== null);
  const runEnd = ms(run.finished_at) ?? (ACTIVE_RUN.has(run.status) ? now : null);
  const t1 = Math.max(runEnd ?? 0, ...ends, t0 ?? 0);
  const span = t0 === null ? 0 : Math.max(1, t1 - t0);
  const pct = (v: number) => `${Math.min(100, Math.max(0, ((v - (t0 ?? 0)) / span) * 100)).toFixed(3)}%`;

  const step = tickStep(span);
  const ticks: number[] = [];
  if (t0 !== null) for (let v = 0; v <= span + 1e-9 && ticks.length < 40; v += step) ticks.push(v);

  const rows = tasks.map((t) => {
    const s = ms(t.started_at);
    const e = ms(t.finished_at) ?? (s !== null && ACTIVE_TASK.has(t.status) ? now : s);
    const dur = elapsedMs(t.started_at, t.finished_at, now);
    const bar =
      s !== null && t0 !== null
        ? h('div', {
            class: `wf-bar ${statusClass(t.status)}`,
            style: `left:${pct(s)};width:calc(${pct(e ?? s)} - ${pct(s)})`,
            title: `${t.id}: ${t.status}${dur !== null ? `, ${formatDuration(dur)}` : ''}`,
          })
        : h('span', { class: 'wf-none' }, t.status);
    const row = h(
      'div',
      {
        class: `wf-row${selected === t.id ? ' selected' : ''}`,
        'data-task-id': t.id,
        'data-status': t.status,
        'data-testid': 'waterfall-row',
        role: 'button',
        tabindex: '0',
        'aria-pressed': selected === t.id ? 'true' : 'false',
      },
      h('div', { class: 'wf-label', title: `${t.id} (${t.type})` }, h('span', { class: `wf-dot ${statusClass(t.status)}` }), h('span', { class: 'wf-id' }, t.id), h('span', { class: 'wf-type' }, t.type)),
      h('div', { class: 'wf-track' }, bar),
      h('div', { class: 'wf-dur' }, dur !== null && s !== null ? formatDuration(dur) : ''),
    );
    row.addEventListener('click', () => onSelect(t.id));
    row.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === ' ') {
        ev.preventDefault();
        onSelect(t.id);
      }
    });
    return row;
  });

  return h(
    'div',
    { class: 'wf', 'data-testid': 'waterfall' },
    tasks.length === 0
      ? h('p', { class: 'muted' }, 'This run has no tasks.')
      : [
          h(
            'div',
            { class: 'wf-row wf-axis', 'aria-hidden': 'true' },
            h('div', { class: 'wf-label muted small' }, t0 === null ? 'not started' : `from ${formatWhen(new Date(t0).toISOString())}`),
            h(
              'div',
              { class: 'wf-track' },
              ticks.map((v) => h('span', { class: 'wf-tick', style: `left:${((v / span) * 100).toFixed(3)}%` }, formatTick(v))),
            ),
            h('div', { class: 'wf-dur muted small' }, t0 === null ? '' : formatDuration(span)),
          ),
          h(
            'div',
            { class: 'wf-rows' },
            h(
              'div',
              { class: 'wf-grid', 'aria-hidden': 'true' },
              ticks.map((v) => h('span', { class: 'wf-gridline', style: `left:${((v / span) * 100).toFixed(3)}%` })),
            ),
            rows,
          ),
        ],
  );
}

function taskDetail(run: Run, t: TaskRun | undefined, runStart: string | null, now: number, stale: boolean): Child {
  if (!t) {
    return h('p', { class: 'muted pad', 'data-testid': 'task-detail-empty' }, 'Select a task in the graph or the timeline to see the data that flowed into it, its config, output and error.');
  }
  const dur = elapsedMs(t.started_at, t.finished_at, now);
  const offset = elapsedMs(runStart, t.started_at);
  const err = errorText(t.error);
  return h(
    'div',
    { 'data-testid': 'task-detail', 'data-task-id': t.id, 'data-status': t.status },
    kvList([
      ['Status', runBadge(t.status, 'task-status')],
      ['Type', h('code', null, t.type)],
      ['Attempts', String(t.attempts ?? 0)],
      ['Agent', t.agent ? h('code', null, t.agent) : none()],
      ...(t.cost ? [['Cost', h('span', { 'data-testid': 'task-cost' }, formatCost(t.cost))] as [string, Child]] : []),
      ['Depends on', (t.depends_on ?? []).length ? h('div', { class: 'chips' }, t.depends_on.map((d) => h('code', { class: 'chip' }, d))) : none('nothing')],
      ['Started', t.started_at ? h('span', { title: formatDateTimeSeconds(t.started_at) }, formatWhen(t.started_at), offset !== null && h('span', { class: 'muted small' }, ` (+${formatDuration(offset)})`)) : none()],
      ['Finished', t.finished_at ? h('span', { title: formatDateTimeSeconds(t.finished_at) }, formatWhen(t.finished_at)) : none()],
      ['Duration', dur !== null ? formatDuration(dur) + (t.finished_at ? '' : ' so far') : none()],
    ]),
    err && h('div', { class: 'detail-block' }, h('div', { class: 'detail-head' }, 'Error'), h('pre', { class: 'task-error', 'data-testid': 'task-error' }, err)),
    taskIoBlocks(run, t, stale),
    h(
      'div',
      { class: 'detail-block' },
      h('div', { class: 'detail-head' }, 'Output'),
      stale ? h('p', { class: 'muted', 'data-testid': 'task-output-loading' }, 'Loading…') : ACTIVE_TASK.has(t.status) && t.output == null ? h('p', { class: 'muted' }, 'Not finished yet.') : jsonBlock(t.output, 'task-output'),
    ),
  );
}

function card(label: string, value: Child, testid?: string): HTMLElement {
  return h('div', { class: 'card' }, h('div', { class: 'card-label' }, label), h('div', { class: 'card-value card-value-sm', 'data-testid': testid }, value));
}

export function renderRunView(el: HTMLElement, setHead: HeaderSetter, runId: string): () => void {
  let alive = true;
  let run: Run | null = null;
  let selected: string | null = new URLSearchParams(location.search).get('task');
  let autoSelected = false;
  let fetching = false;
  let sinceFetch: (RunEvent | TaskEvent)[] = [];
  let drawQueued = false;
  let shape = '';
  let detailKey = '';
  let ioKey = '';
  let headKey = '';
  /** Tasks changed by live events since the last fetch: their input and output may be out of date. */
  const stale = new Set<string>();

  const summary = h('div', { class: 'cards cards-run', 'data-testid': 'run-summary' });
  const runError = h('div');
  const dagHost = h('div', { class: 'dag-scroll' });
  const wfHost = h('div');
  const detailTitle = h('div', { class: 'panel-title panel-title-row' }, 'Task');
  const detailHost = h('div', { class: 'task-detail' });
  const io = h('div', { class: 'io-grid' });
  const legend = h(
    'div',
    { class: 'legend', 'aria-label': 'Status colours' },
    LEGEND.map((s) => h('span', { class: 'legend-item' }, h('span', { class: `legend-swatch ${statusClass(s)}` }), s)),
  );
  let dagSvg: SVGSVGElement | null = null;

  const showLoading = () => replace(el, h('p', { class: 'muted' }, 'Loading the run…'));
  showLoading();
  setHead('Run', h('a', { href: '/runs', 'data-link': true }, '← All runs'));

  const layout = () =>
    replace(
      el,
      summary,
      runError,
      h(
        'div',
        { class: 'run-grid' },
        h(
          'div',
          { class: 'run-main' },
          h('section', { class: 'panel' }, h('div', { class: 'panel-title' }, 'Tasks'), dagHost, legend),
          h('section', { class: 'panel' }, h('div', { class: 'panel-title' }, 'Timeline'), wfHost),
          h('section', { class: 'panel' }, h('div', { class: 'panel-title' }, 'Run input and output'), io),
        ),
        h('aside', { class: 'run-side' }, h('section', { class: 'panel panel-sticky' }, detailTitle, detailHost)),
      ),
    );

  const select = (id: string | null) => {
    if (id === selected) return;
    selected = id;
    if (selected && stale.has(selected)) refetch.request();
    const q = new URLSearchParams(location.search);
    if (selected) q.set('task', selected);
    else q.delete('task');
    const qs = q.toString();
    history.replaceState(null, '', `${location.pathname}${qs ? `?${qs}` : ''}`);
    draw();
  };

  // ---- actions ----
  const act = (what: 'cancel' | 'retry' | 'rerun') => {
    const r = run;
    if (!r) return;
    if (what === 'cancel') {
      void openDialog({
        title: 'Cancel run',
        body: h('p', null, 'Cancel this run of ', h('strong', null, r.workflow_name), '? Running tasks are stopped and tasks that have not started do not run.'),
        confirmLabel: 'Cancel run',
        danger: true,
        onConfirm: async () => {
          await api.post(`${runPath(r.id)}/cancel`, undefined, { quiet: true });
        },
      }).then((ok) => {
        if (ok) refetch.request();
      });
      return;
    }
    const btn = document.querySelector<HTMLButtonElement>(`[data-testid=run-${what}]`);
    if (btn) btn.disabled = true;
    const path = `${runPath(r.id)}/${what}`;
    void api.post<{ id: string; status: string }>(path, undefined, { quiet: true }).then(
      (res) => {
        if (!alive) return;
        if (what === 'rerun' && res?.id) navigate(`/runs/${encodeURIComponent(res.id)}`);
        else refetch.request();
      },
      (err: unknown) => {
        if (btn) btn.disabled = false;
        void errorDialog(what === 'retry' ? 'Could not retry the run' : 'Could not start a new run', err);
      },
    );
  };

  const drawHead = (r: Run) => {
    const canCancel = authStore.can('runs.cancel');
    const canStart = authStore.can('runs.start');
    const active = ACTIVE_RUN.has(r.status);
    const retryable = r.status === 'failed' || r.status === 'cancelled';
    const key = JSON.stringify([r.workflow_name, r.status, r.version, canCancel, canStart, r.project_id, projectStore.name(r.project_id)]);
    if (key === headKey) return;
    headKey = key;
    setHead(
      r.workflow_name || 'Run',
      h(
        'span',
        null,
        h('a', { href: '/runs', 'data-link': true }, '← All runs'),
        ' · run ',
        h('code', { 'data-testid': 'run-id' }, r.id),
        r.project_id && [' · in ', projectTag(r.project_id)],
      ),
      runBadge(r.status, 'run-header-status'),
      active && canCancel && h('button', { type: 'button', class: 'btn btn-danger-quiet', 'data-testid': 'run-cancel', onclick: () => act('cancel') }, 'Cancel'),
      retryable &&
        canStart &&
        h('button', { type: 'button', class: 'btn', 'data-testid': 'run-retry', title: 'Run the failed tasks again, keeping the ones that succeeded', onclick: () => act('retry') }, 'Retry'),
      !active && canStart && h('button', { type: 'button', class: 'btn', 'data-testid': 'run-rerun', title: 'Start a new run with the same input', onclick: () => act('rerun') }, 'Re-run'),
    );
    document.title = `Run of ${r.workflow_name || r.workflow_id} · Arclight`;
  };

  const draw = () => {
    const r = run;
    if (!r || !alive) return;
    const now = Date.now();
    drawHead(r);
    const total = elapsedMs(r.started_at, r.finished_at, now);
    const counts = new Map<string, number>();
    for (const t of r.tasks ?? []) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
    replace(
      summary,
      card('Workflow', h('span', null, h('a', { href: `/workflows/${encodeURIComponent(r.workflow_id)}`, 'data-link': true }, r.workflow_name || r.workflow_id), h('span', { class: 'muted small' }, ` v${r.version}`))),
      card('Trigger', triggerLabel(r.trigger) || none()),
      card('Started', r.started_at ? h('span', { title: formatDateTimeSeconds(r.started_at) }, formatWhen(r.started_at)) : h('span', { class: 'muted' }, r.created_at ? `queued ${formatWhen(r.created_at)}` : 'not yet')),
      card('Finished', r.finished_at ? h('span', { title: formatDateTimeSeconds(r.finished_at) }, formatWhen(r.finished_at)) : none(ACTIVE_RUN.has(r.status) ? 'not yet' : '—')),
      card('Duration', total !== null ? formatDuration(total) + (r.finished_at ? '' : ' so far') : none(), 'run-duration'),
      card(
        'Tasks',
        h(
          'span',
          { class: 'task-counts' },
          (r.tasks ?? []).length === 0
            ? none('none')
            : LEGEND.filter((s) => counts.has(s)).map((s) => h('span', { class: `count ${statusClass(s)}`, title: s }, `${counts.get(s)} ${s}`)),
        ),
      ),
    );
    const err = errorText(r.error);
    replace(runError, err ? notice('error', h('strong', null, 'The run failed: '), err) : null);

    const tasks = r.tasks ?? [];
    const newShape = dagShape(tasks);
    const activeEl = document.activeElement;
    const refocus = (host: Element) => (activeEl && host.contains(activeEl) ? activeEl.getAttribute('data-task-id') : null);
    const dagFocus = refocus(dagHost);
    const wfFocus = refocus(wfHost);
    if (dagSvg && newShape === shape) {
      updateDag(dagSvg, tasks, selected);
    } else {
      shape = newShape;
      dagSvg = tasks.length ? renderDag(tasks, { selected, onSelect: select }) : null;
      replace(dagHost, dagSvg ?? h('p', { class: 'muted pad' }, 'This run has no tasks.'));
      if (dagFocus) dagHost.querySelector<SVGGElement>(`[data-task-id="${CSS.escape(dagFocus)}"]`)?.focus();
    }
    replace(wfHost, waterfall(r, selected, select, now));
    if (wfFocus) wfHost.querySelector<HTMLElement>(`[data-task-id="${CSS.escape(wfFocus)}"]`)?.focus();

    const task = selected ? tasks.find((t) => t.id === selected) : undefined;
    const isStale = !!task && stale.has(task.id);
    const flowedFrom = task ? (task.depends_on ?? []).map((d) => tasks.find((x) => x.id === d)).map((x) => x && [x.status, x.output]) : null;
    const key = JSON.stringify([task ?? selected, isStale, task && ACTIVE_TASK.has(task.status) ? Math.floor(now / 1000) : 0, flowedFrom, task && !(task.depends_on ?? []).length ? r.input : null]);
    if (key !== detailKey) {
      detailKey = key;
      replace(
        detailTitle,
        task ? h('span', null, 'Task ', h('code', null, task.id)) : 'Task',
        task && h('span', { class: 'spacer' }),
        task && h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'task-detail-close', title: 'Close the task details', onclick: () => select(null) }, 'Close'),
      );
      replace(detailHost, taskDetail(r, task, r.started_at, now, isStale));
    }
    const response = responseBlock(r);
    const newIo = JSON.stringify([r.input, r.output, (r as { response?: unknown }).response]);
    if (newIo !== ioKey) {
      ioKey = newIo;
      const emptyOutput = !!r.output && typeof r.output === 'object' && Object.keys(r.output).length === 0;
      replace(
        io,
        h('div', null, h('div', { class: 'detail-head' }, 'Input'), jsonBlock(r.input, 'run-input')),
        h(
          'div',
          null,
          h('div', { class: 'detail-head' }, 'Output'),
          ACTIVE_RUN.has(r.status) && r.output == null ? h('p', { class: 'muted' }, 'Not finished yet.') : jsonBlock(r.output, 'run-output'),
          response && emptyOutput && h('p', { class: 'muted small' }, 'A respond task\'s answer is not part of the output: see Response.'),
        ),
        response,
      );
    }
  };

  const scheduleDraw = () => {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(() => {
      drawQueued = false;
      draw();
    });
  };

  // ---- live events ----
  /** Applies an event to the model; true when the model cannot follow it (a refetch is needed). */
  const apply = (data: RunEvent | TaskEvent): boolean => {
    const r = run;
    if (!r) return true;
    if ('task_id' in data) {
      const t = (r.tasks ?? []).find((x) => x.id === data.task_id);
      if (!t) return true;
      t.status = data.status;
      if (typeof data.attempts === 'number') t.attempts = data.attempts;
      if (data.started_at !== undefined) t.started_at = data.started_at;
      if (data.finished_at !== undefined) t.finished_at = data.finished_at;
      if (typeof data.agent === 'string') t.agent = data.agent;
      if (typeof data.cost === 'number') t.cost = data.cost;
      if (data.error !== undefined) t.error = data.error;
      else if (ACTIVE_TASK.has(data.status) || data.status === 'succeeded') t.error = null;
      // A task's input and output only come with the run; fetch them when someone is looking.
      stale.add(t.id);
      return data.task_id === selected;
    }
    r.status = data.status;
    if (data.error !== undefined) r.error = data.error;
    return true;
  };

  const fetchRun = async () => {
    fetching = true;
    sinceFetch = [];
    try {
      const r = await api.get<Run>(runPath(runId), { quiet: true });
      if (!alive) return;
      const first = run === null;
      run = r;
      stale.clear();
      // Events that arrived while the request was out are at least as new as the answer.
      for (const ev of sinceFetch) apply(ev);
      if (first) {
        layout();
        if (!selected && !autoSelected) {
          autoSelected = true;
          selected = (r.tasks ?? []).find((t) => t.status === 'failed')?.id ?? null;
        }
      }
      draw();
    } catch (err) {
      if (!alive) return;
      if (err instanceof ApiError && err.status === 404) {
        replace(
          el,
          notice(
            'info',
            'There is no run with this id. ',
            'Runs of workflows that keep no execution data (execution data "none", or "errors" for a run that succeeded) are gone once they end. ',
            h('a', { href: '/runs', 'data-link': true }, 'All runs'),
          ),
        );
        refetch.stop();
        return;
      }
      if (run) return; // keep showing what we have; the next event or reconnect tries again
      const e = formError();
      e.show(err);
      replace(el, notice('error', 'Could not load the run: ', e.el, h('button', { type: 'button', class: 'btn btn-small', onclick: () => void refetch.now() }, 'Retry')));
    } finally {
      fetching = false;
      sinceFetch = [];
    }
  };
  const refetch = new Refetcher(fetchRun, 200, 1000);

  const onKey = (ev: KeyboardEvent) => {
    if (ev.key === 'Escape' && selected && !document.querySelector('dialog[open]')) select(null);
  };
  document.addEventListener('keydown', onKey);
  const stopEvents = live.subscribe('workflow.**', (ev) => {
    const data = ev.data;
    if (!(isTaskEvent(data) || isRunEvent(data)) || data.run_id !== runId) return;
    if (fetching) sinceFetch.push(data);
    if (apply(data)) refetch.request();
    scheduleDraw();
  });
  let wasLive = live.state === 'live';
  const stopState = live.onState((state) => {
    if (state === 'live' && !wasLive && run) refetch.request();
    wasLive = state === 'live';
  });
  // While the run goes on, durations and running bars grow.
  const ticker = setInterval(() => {
    if (run && (ACTIVE_RUN.has(run.status) || (run.tasks ?? []).some((t) => ACTIVE_TASK.has(t.status) && t.started_at))) draw();
  }, 1000);

  void refetch.now();
  return () => {
    alive = false;
    refetch.stop();
    stopEvents();
    stopState();
    clearInterval(ticker);
    document.removeEventListener('keydown', onKey);
  };
}
