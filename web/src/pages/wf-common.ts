// Shared pieces of the workflow pages (Workflows, Runs, a run): the API's
// shapes, status badges, trigger summaries, the module gate, JSON blocks
// and a refetch limiter for live updates.

import { authStore } from '../auth';
import { h, replace, type Child } from '../dom';
import type { NavEntry } from '../nav';
import { systemStore } from '../system';
import { notice } from './common';
import { renderModuleState } from './module';

export const WORKFLOWS = '/api/v1/workflows';
export const RUNS = '/api/v1/runs';

export const RUN_STATUSES = ['queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled'] as const;
export const TASK_STATUSES = ['pending', 'running', 'waiting', 'retrying', 'succeeded', 'failed', 'skipped', 'cancelled'] as const;
/** Run statuses that may still change. */
export const ACTIVE_RUN = new Set(['queued', 'running', 'waiting']);
/** Task statuses that may still change. */
export const ACTIVE_TASK = new Set(['pending', 'running', 'waiting', 'retrying']);

export interface Trigger {
  type: string;
  method?: string;
  path?: string;
  respond?: string;
  schedule?: string;
  topic?: string;
}

export interface WorkflowSummary {
  id: string;
  name: string;
  description?: string;
  version: number;
  active: boolean;
  created_at: string | null;
  updated_at: string | null;
  triggers: Trigger[];
  task_count: number;
  /** The project holding the workflow (absent on a server without projects). */
  project_id?: string;
  /** What its runs keep: absent means "full". */
  execution_data?: string;
}

/**
 * What a workflow's execution data setting means for the Runs page, in words: null for "full"
 * (every run listed), otherwise a short note (filter option) and a sentence.
 */
export function keptRuns(mode: unknown): { short: string; long: string } | null {
  if (mode === 'none')
    return {
      short: 'runs not kept',
      long: 'Its runs are not recorded (execution data "none"): they run and answer, but are not listed under Runs. Set "execution_data": "full" (the default) to keep them.',
    };
  if (mode === 'errors')
    return {
      short: 'failed runs only',
      long: 'Only its failed runs are recorded (execution data "errors"); runs that succeed are not listed under Runs.',
    };
  return null;
}

/** GET /workflows/{id}: the definition plus what the server keeps about it. */
export interface WorkflowDoc extends Record<string, unknown> {
  id: string;
  name: string;
  version: number;
  active: boolean;
  created_at: string | null;
  updated_at: string | null;
  project_id?: string;
}

export interface RunSummary {
  id: string;
  workflow_id: string;
  workflow_name: string;
  version: number;
  status: string;
  trigger: unknown;
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  error: unknown;
  project_id?: string;
}

export interface TaskRun {
  id: string;
  type: string;
  status: string;
  attempts: number;
  input: unknown;
  output: unknown;
  error: unknown;
  started_at: string | null;
  finished_at: string | null;
  depends_on: string[];
  agent: string | null;
  /** What the task's attempts cost (agent and model tasks), USD; 0 otherwise. */
  cost?: number;
}

export interface Run extends RunSummary {
  input: unknown;
  output: unknown;
  tasks: TaskRun[];
}

/** Data of the `workflow.run.<status>` events. */
export interface RunEvent {
  run_id: string;
  workflow_id: string;
  project_id?: string;
  status: string;
  error?: unknown;
}

/** Data of the `workflow.task.<status>` events. */
export interface TaskEvent {
  run_id: string;
  task_id: string;
  type: string;
  status: string;
  attempts: number;
  started_at: string | null;
  finished_at: string | null;
  error?: unknown;
  agent?: string;
  cost?: number;
}

export function isRunEvent(v: unknown): v is RunEvent {
  const o = v as Record<string, unknown> | null;
  return typeof o === 'object' && o !== null && typeof o.run_id === 'string' && typeof o.status === 'string' && !('task_id' in o);
}

export function isTaskEvent(v: unknown): v is TaskEvent {
  const o = v as Record<string, unknown> | null;
  return typeof o === 'object' && o !== null && typeof o.run_id === 'string' && typeof o.task_id === 'string' && typeof o.status === 'string';
}

/** A CSS-safe status name for the `st-*` colour classes. */
export function statusClass(status: string): string {
  return `st st-${/^[a-z]+$/.test(status) ? status : 'unknown'}`;
}

/** A run's or task's status as a coloured badge. */
export function runBadge(status: string, testid = 'run-status'): HTMLElement {
  return h('span', { class: `badge ${statusClass(status)}`, 'data-testid': testid, 'data-status': status }, status || 'unknown');
}

export function workflowPath(id: string): string {
  return `${WORKFLOWS}/${encodeURIComponent(id)}`;
}

export function runPath(id: string): string {
  return `${RUNS}/${encodeURIComponent(id)}`;
}

/** Where a webhook trigger listens. */
export function hookPath(path: string | undefined): string {
  return `/hooks/${(path ?? '').replace(/^\/+/, '')}`;
}

/** A trigger in a few words: "POST /hooks/orders", "cron 0 * * * *", "event orders.created", "manual". */
export function triggerSummary(t: Trigger): string {
  switch (t.type) {
    case 'webhook':
      return `${(t.method || 'POST').toUpperCase()} ${hookPath(t.path)}${t.respond === 'sync' ? ' (sync)' : ''}`;
    case 'cron':
      return `cron ${t.schedule ?? ''}`.trim();
    case 'event':
      return `event ${t.topic ?? ''}`.trim();
    default:
      return t.type || 'unknown';
  }
}

/** What started a run, as the runs API reports it (a word, or an object with a type). */
export function triggerLabel(trigger: unknown): string {
  if (typeof trigger === 'string') return trigger;
  if (trigger && typeof trigger === 'object' && typeof (trigger as Trigger).type === 'string') return triggerSummary(trigger as Trigger);
  return '';
}

/** An error field (a string, or an object with a message) as one line of text. */
export function errorText(err: unknown): string {
  if (err === null || err === undefined || err === '') return '';
  if (typeof err === 'string') return err;
  if (typeof err === 'object') {
    const o = err as Record<string, unknown>;
    const msg = typeof o.message === 'string' ? o.message : typeof o.detail === 'string' ? o.detail : '';
    const code = typeof o.code === 'string' ? o.code : typeof o.type === 'string' ? o.type : '';
    if (msg) return code ? `${code}: ${msg}` : msg;
  }
  return JSON.stringify(err);
}

const MAX_JSON_CHARS = 200_000;

/** A value pretty-printed as JSON in a scrollable block (text only, never parsed as HTML). */
export function jsonBlock(value: unknown, testid?: string): HTMLElement {
  if (value === undefined || value === null) return h('p', { class: 'muted json-none', 'data-testid': testid }, 'none');
  let text = JSON.stringify(value, null, 2) ?? String(value);
  let cut = false;
  if (text.length > MAX_JSON_CHARS) {
    text = text.slice(0, MAX_JSON_CHARS);
    cut = true;
  }
  return h('div', null, h('pre', { class: 'json', 'data-testid': testid }, text), cut && h('p', { class: 'muted small' }, `Only the first ${MAX_JSON_CHARS.toLocaleString()} characters are shown.`));
}

/** A random Idempotency-Key (crypto.randomUUID needs a secure context; getRandomValues does not). */
export function idempotencyKey(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/**
 * Renders `render` into `body` once the server's module list shows `moduleName`
 * present and enabled; until then (or when it is absent or disabled) says so,
 * as the other module pages do. Returns the cleanup.
 */
export function moduleGate(body: HTMLElement, moduleName: string, render: (el: HTMLElement) => (() => void) | void): () => void {
  let inner: (() => void) | void;
  let last = '';
  const update = () => {
    const mod = systemStore.module(moduleName);
    const ready = !!mod && mod.enabled;
    const key = ready ? 'ready' : JSON.stringify([!!systemStore.info, systemStore.loading, !!systemStore.error, mod ?? null]);
    if (key === last) return;
    last = key;
    inner?.();
    inner = undefined;
    if (ready) {
      replace(body);
      inner = render(body);
    } else {
      renderModuleState(body, moduleName, true);
    }
  };
  update();
  const stop = systemStore.listen(update);
  return () => {
    stop();
    inner?.();
  };
}

/** A notice for a missing permission. */
/**
 * The frame of a workflow-module page at `entry.path` (a list) and `entry.path/<id>` (one item):
 * header, "no such page" for deeper paths, the module gate and the permission check.
 */
export function workflowPage(
  root: HTMLElement,
  entry: NavEntry,
  path: string,
  opts: {
    permission: string;
    toSee: string;
    backTo: string;
    list: (el: HTMLElement, set: HeaderSetter, entry: NavEntry) => (() => void) | void;
    item: (el: HTMLElement, set: HeaderSetter, rest: string) => (() => void) | void;
  },
): () => void {
  const rest = path.slice(entry.path.length).replace(/^\//, '');
  const head = pageHead();
  head.set(entry.label, entry.about);
  const body = h('div');
  replace(root, head.el, body);
  if (rest.includes('/')) {
    replace(body, notice('info', `There is no page at ${path}. `, h('a', { href: entry.path, 'data-link': true }, opts.backTo)));
    return () => undefined;
  }
  return moduleGate(body, 'workflow', (el) => {
    if (!authStore.can(opts.permission)) {
      replace(el, lacks(opts.permission, opts.toSee));
      return;
    }
    return rest === '' ? opts.list(el, head.set, entry) : opts.item(el, head.set, rest);
  });
}

export function lacks(permission: string, what: string): HTMLElement {
  return h('div', { class: 'notice notice-warn', 'data-testid': 'notice' }, `Your account lacks the permission "${permission}" needed to ${what}.`);
}

/**
 * Coalesces refetch requests from bursts of live events: one call at a time,
 * at most one every `gapMs`, and the last request after a burst is never lost.
 */
export class Refetcher {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private again = false;
  private lastStart = 0;
  private stopped = false;

  constructor(
    private readonly fetch: () => Promise<void>,
    private readonly delayMs = 250,
    private readonly gapMs = 1000,
  ) {}

  /** Asks for a refetch soon. */
  request(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer !== undefined) return;
    const wait = Math.max(this.delayMs, this.lastStart + this.gapMs - Date.now());
    this.timer = setTimeout(() => void this.run(), wait);
  }

  /** Refetches now (e.g. the user pressed Refresh), still one call at a time. */
  now(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running) {
      this.again = true;
      return Promise.resolve();
    }
    return this.run();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async run(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return;
    this.running = true;
    this.again = false;
    this.lastStart = Date.now();
    try {
      await this.fetch();
    } catch {
      // The fetch reports its own failures.
    } finally {
      this.running = false;
    }
    if (this.again) this.request();
  }
}

/** A small "label: value" list. */
export function kvList(rows: [string, Child][], testid?: string): HTMLElement {
  return h('dl', { class: 'kv', 'data-testid': testid }, rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

/** A dash for an empty cell. */
export function none(text = '—'): HTMLElement {
  return h('span', { class: 'muted' }, text);
}

/** Sets a page header's title, subtitle and action buttons (the buttons sit on the right). */
export type HeaderSetter = (title: string, sub?: Child, ...actions: Child[]) => void;

export function pageHead(): { el: HTMLElement; set: HeaderSetter } {
  const el = h('div', { class: 'page-header' });
  return {
    el,
    set(title, sub, ...actions) {
      const acts = actions.filter((a) => a !== null && a !== undefined && a !== false);
      replace(el, h('h1', { tabindex: '-1' }, title), sub !== undefined && sub !== null && sub !== false && sub !== '' && h('div', { class: 'page-sub' }, sub), acts.length > 0 && h('div', { class: 'page-actions' }, acts));
    },
  };
}
