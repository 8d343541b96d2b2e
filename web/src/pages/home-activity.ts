// The home page's activity: the latest runs, the latest failures, and the live triggers (webhooks
// with their full URL, cron schedules with their next fire) of the chosen project(s). Runs follow
// live events; the triggers are read again when a listed next fire has passed.

import { api } from '../api';
import { authStore } from '../auth';
import { h, replace, type Child } from '../dom';
import { formatWhen } from '../format';
import { live } from '../live';
import { projectStore } from '../projects';
import { notice } from './common';
import { formError } from './forms';
import { RUNS, Refetcher, WORKFLOWS, errorText, hookPath, isRunEvent, lacks, none, runBadge, type RunSummary } from './wf-common';

export const TRIGGERS = `${WORKFLOWS}/triggers`;
const RECENT = 10;
const FAILURES = 5;

/** An entry of GET /api/v1/workflows/triggers. */
export interface LiveTrigger {
  workflow_id: string;
  workflow_name: string;
  type: 'webhook' | 'cron' | string;
  method?: string;
  path?: string;
  cron?: string;
  timezone?: string;
  next_fire_at?: string | null;
}

function panel(title: string, testid: string, body: HTMLElement, ...head: Child[]): HTMLElement {
  return h(
    'section',
    { class: 'panel', 'data-testid': testid },
    h('div', { class: 'panel-title panel-title-row' }, h('span', null, title), h('span', { class: 'spacer' }), head),
    body,
  );
}

/** A link to the workflow; a run of a deleted workflow has no name to show (nor page to open). */
function workflowLink(id: string, name: string): HTMLElement {
  if (!name) return h('span', { class: 'muted', title: `workflow ${id}` }, 'a deleted workflow');
  return h('a', { href: `/workflows/${encodeURIComponent(id)}`, 'data-link': true, 'data-testid': 'home-workflow' }, name);
}

/** "in 4 min", "in 2 h", "in 3 days"; "due" once the moment has come. */
export function fromNow(iso: string, now = Date.now()): string {
  const ms = Date.parse(iso) - now;
  if (Number.isNaN(ms)) return '';
  if (ms <= 0) return 'due';
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `in ${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `in ${m} min`;
  const hr = Math.round(m / 60);
  if (hr < 48) return `in ${hr} h`;
  return `in ${Math.round(hr / 24)} days`;
}

function runsTable(runs: RunSummary[], testid: string, empty: Child, withError: boolean): HTMLElement {
  if (runs.length === 0) return h('p', { class: 'muted pad', 'data-testid': `${testid}-empty` }, empty);
  return h(
    'table',
    { class: 'table table-compact', 'data-testid': testid },
    h('thead', null, h('tr', null, h('th', null, 'Status'), h('th', null, 'Workflow'), h('th', null, withError ? 'Error' : 'Started'), h('th', null, ''))),
    h(
      'tbody',
      null,
      runs.map((r) =>
        h(
          'tr',
          { 'data-run-id': r.id, 'data-testid': 'home-run' },
          h('td', null, runBadge(r.status)),
          h('td', { class: 'break' }, workflowLink(r.workflow_id, r.workflow_name)),
          withError
            ? h('td', { class: 'break home-error' }, errorText(r.error) || none())
            : h('td', { class: 'nowrap' }, r.created_at ? formatWhen(r.created_at) : none()),
          h('td', { class: 'actions' }, h('a', { href: `/runs/${encodeURIComponent(r.id)}`, 'data-link': true, class: 'btn btn-small', 'data-testid': 'home-run-open' }, 'Open')),
        ),
      ),
    ),
  );
}

/** Recent runs and failures; returns the two panels and the cleanup. */
export function runsPanels(): { recent: HTMLElement; failures: HTMLElement; stop: () => void } {
  const recentBody = h('div', null, h('p', { class: 'muted pad' }, 'Loading runs…'));
  const failBody = h('div', null, h('p', { class: 'muted pad' }, 'Loading…'));
  const all = h('a', { href: '/runs', 'data-link': true, class: 'small' }, 'All runs');
  const allFailed = h('a', { href: '/runs?status=failed', 'data-link': true, class: 'small' }, 'All failed runs');
  const recent = panel('Recent runs', 'recent-runs', recentBody, all);
  const failures = panel('Recent failures', 'recent-failures', failBody, allFailed);
  if (!authStore.can('runs.read')) {
    replace(recentBody, h('div', { class: 'pad' }, lacks('runs.read', 'see runs')));
    replace(failBody);
    return { recent, failures, stop: () => undefined };
  }
  let alive = true;
  let seq = 0;
  const load = async () => {
    const mine = ++seq;
    try {
      const [latest, failed] = await Promise.all([
        api.get<{ items: RunSummary[] }>(projectStore.filtered(`${RUNS}?limit=${RECENT}`), { quiet: true }),
        api.get<{ items: RunSummary[] }>(projectStore.filtered(`${RUNS}?status=failed&limit=${FAILURES}`), { quiet: true }),
      ]);
      if (!alive || mine !== seq) return;
      const canWrite = authStore.can('flows.write');
      replace(
        recentBody,
        runsTable(latest.items ?? [], 'recent-runs-table', [
          'No runs yet. ',
          canWrite ? 'Create a workflow above and run it, or call its webhook.' : 'Runs appear here as workflows run.',
        ], false),
      );
      replace(failBody, runsTable(failed.items ?? [], 'recent-failures-table', 'No failed runs.', true));
    } catch (err) {
      if (!alive || mine !== seq) return;
      const e = formError();
      e.show(err);
      replace(recentBody, h('div', { class: 'pad' }, notice('error', 'Could not load the runs: ', e.el)));
      replace(failBody);
    }
  };
  const refetch = new Refetcher(load, 300, 1500);
  const stopRuns = live.subscribe('workflow.**', (ev) => {
    if (!ev.topic.startsWith('workflow.run.') || !isRunEvent(ev.data)) return;
    if (projectStore.current && ev.data.project_id && ev.data.project_id !== projectStore.current) return;
    refetch.request();
  });
  const stopSwitch = projectStore.onSwitch(() => void refetch.now());
  void refetch.now();
  return {
    recent,
    failures,
    stop: () => {
      alive = false;
      refetch.stop();
      stopRuns();
      stopSwitch();
    },
  };
}

/** Live webhooks and cron schedules; returns the panel and the cleanup. */
export function triggersPanel(): { el: HTMLElement; stop: () => void } {
  const body = h('div', null, h('p', { class: 'muted pad' }, 'Loading triggers…'));
  const el = panel('Live triggers', 'home-triggers', body, h('span', { class: 'muted small' }, 'of active workflows'));
  if (!authStore.can('flows.read')) {
    replace(body, h('div', { class: 'pad' }, lacks('flows.read', 'see workflows')));
    return { el, stop: () => undefined };
  }
  let alive = true;
  let seq = 0;
  let items: LiveTrigger[] = [];
  let due: ReturnType<typeof setTimeout> | undefined;
  const whenCells: [HTMLElement, string][] = [];

  const draw = () => {
    whenCells.length = 0;
    const hooks = items.filter((t) => t.type === 'webhook');
    const crons = items.filter((t) => t.type === 'cron').sort((a, b) => (a.next_fire_at ?? '~').localeCompare(b.next_fire_at ?? '~'));
    if (hooks.length === 0 && crons.length === 0) {
      replace(body, h('p', { class: 'muted pad', 'data-testid': 'home-triggers-empty' }, 'No active workflow has a webhook or a schedule. Activate a workflow to make its triggers live.'));
      return;
    }
    replace(
      body,
      hooks.length > 0 &&
        h(
          'table',
          { class: 'table table-compact', 'data-testid': 'home-webhooks' },
          h('thead', null, h('tr', null, h('th', null, 'Webhook'), h('th', null, 'URL'), h('th', null, 'Workflow'))),
          h(
            'tbody',
            null,
            hooks.map((t) =>
              h(
                'tr',
                { 'data-testid': 'home-webhook', 'data-workflow-id': t.workflow_id },
                h('td', { class: 'nowrap' }, h('code', { class: 'chip chip-trigger chip-webhook' }, t.method ?? '')),
                h('td', { class: 'break' }, h('code', { 'data-testid': 'home-webhook-url' }, `${location.origin}${hookPath(t.path)}`)),
                h('td', { class: 'break' }, workflowLink(t.workflow_id, t.workflow_name)),
              ),
            ),
          ),
        ),
      crons.length > 0 &&
        h(
          'table',
          { class: 'table table-compact', 'data-testid': 'home-schedules' },
          h('thead', null, h('tr', null, h('th', null, 'Schedule'), h('th', null, 'Next run'), h('th', null, 'Workflow'))),
          h(
            'tbody',
            null,
            crons.map((t) => {
              const rel = h('span', { class: 'muted small' });
              if (t.next_fire_at) whenCells.push([rel, t.next_fire_at]);
              return h(
                'tr',
                { 'data-testid': 'home-schedule', 'data-workflow-id': t.workflow_id },
                h('td', { class: 'nowrap' }, h('code', { class: 'chip chip-trigger chip-cron' }, t.cron ?? ''), ' ', h('span', { class: 'muted small' }, t.timezone ?? 'UTC')),
                h(
                  'td',
                  { class: 'nowrap', 'data-testid': 'home-next-fire', 'data-at': t.next_fire_at ?? '' },
                  t.next_fire_at ? [h('span', { title: t.next_fire_at }, formatWhen(t.next_fire_at)), ' ', rel] : none('never'),
                ),
                h('td', { class: 'break' }, workflowLink(t.workflow_id, t.workflow_name)),
              );
            }),
          ),
        ),
    );
    relative();
  };

  const relative = () => {
    for (const [cell, at] of whenCells) cell.textContent = fromNow(at);
  };

  const load = async () => {
    const mine = ++seq;
    try {
      const r = await api.get<{ items: LiveTrigger[] }>(projectStore.filtered(TRIGGERS), { quiet: true });
      if (!alive || mine !== seq) return;
      items = r.items ?? [];
      draw();
      // Once the soonest listed fire has passed, the next one is read again.
      clearTimeout(due);
      const soonest = Math.min(...items.map((t) => (t.next_fire_at ? Date.parse(t.next_fire_at) : Infinity)));
      if (Number.isFinite(soonest)) due = setTimeout(() => void load(), Math.min(2 ** 31 - 1, Math.max(1000, soonest - Date.now() + 1000)));
    } catch (err) {
      if (!alive || mine !== seq) return;
      const e = formError();
      e.show(err);
      replace(body, h('div', { class: 'pad' }, notice('error', 'Could not load the triggers: ', e.el)));
    }
  };
  const ticker = setInterval(relative, 1000);
  const stopSwitch = projectStore.onSwitch(() => void load());
  void load();
  return {
    el,
    stop: () => {
      alive = false;
      clearTimeout(due);
      clearInterval(ticker);
      stopSwitch();
    },
  };
}
