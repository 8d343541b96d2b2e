// What flowed through a run (issue 21, item 4): a task's Input is the data that flowed into it
// (its dependencies' outputs; the run input for a task without dependencies), its evaluated
// config is shown beside it as Config; and a synchronous webhook run's Response (what its caller
// got, GET /api/v1/runs/{id} "response").

import { h, type Child } from '../dom';
import { jsonBlock, type Run, type TaskRun } from './wf-common';

/** GET /api/v1/runs/{id} "response": what answered a synchronous webhook's caller. */
export interface RunResponse {
  source: 'task' | 'run_end' | 'timeout';
  task_id?: string;
  status?: number;
  content_type?: string;
  headers?: Record<string, unknown>;
  body?: unknown;
}

export interface Flowed {
  /** False when nothing has flowed in yet (the task has not started). */
  started: boolean;
  value: unknown;
  /** Where the value came from, in words. */
  from: string;
  /** Dependencies that did not succeed (their output is what they left, often none). */
  notes: string[];
}

/**
 * The data that flowed into task `t`: one dependency's output; several dependencies' outputs by
 * task id; the run input for a task without dependencies (a webhook run: the request body; the
 * whole request is `trigger` in expressions). Derived from the run answer, as the engine gives it
 * (tasks.<id>.output).
 */
export function flowedInput(run: Run, t: TaskRun): Flowed {
  const started = !!t.started_at || (t.attempts ?? 0) > 0;
  const deps = t.depends_on ?? [];
  const byId = new Map((run.tasks ?? []).map((x) => [x.id, x]));
  const notes: string[] = [];
  for (const d of deps) {
    const dt = byId.get(d);
    if (dt && dt.status !== 'succeeded') notes.push(`${d} ${dt.status}${dt.output == null ? ' (no output)' : ''}`);
  }
  if (deps.length === 0) return { started, value: run.input, from: 'the run input', notes };
  if (deps.length === 1) return { started, value: byId.get(deps[0])?.output ?? null, from: `the output of ${deps[0]}`, notes };
  const value: Record<string, unknown> = {};
  for (const d of deps) value[d] = byId.get(d)?.output ?? null;
  return { started, value, from: `the outputs of ${deps.join(', ')}`, notes };
}

/** The Input (what flowed in) and Config (the evaluated config) blocks of a task's details. */
export function taskIoBlocks(run: Run, t: TaskRun, stale: boolean): Child {
  const f = flowedInput(run, t);
  const loading = (testid: string) => h('p', { class: 'muted', 'data-testid': testid }, 'Loading…');
  return [
    h(
      'div',
      { class: 'detail-block' },
      h('div', { class: 'detail-head', title: 'The data that flowed into the task' }, 'Input ', h('span', { class: 'detail-from' }, `· ${f.from}`)),
      stale
        ? loading('task-input-loading')
        : !f.started
          ? h('p', { class: 'muted', 'data-testid': 'task-input-none' }, 'Not started: nothing has flowed in yet.')
          : jsonBlock(f.value, 'task-input'),
      f.notes.length > 0 && h('p', { class: 'muted small', 'data-testid': 'task-input-notes' }, `Not succeeded: ${f.notes.join('; ')}.`),
    ),
    h(
      'div',
      { class: 'detail-block' },
      h('div', { class: 'detail-head', title: "The task's config with its {{ }} expressions evaluated" }, 'Config ', h('span', { class: 'detail-from' }, '· evaluated')),
      stale ? loading('task-config-loading') : !f.started && t.input == null ? h('p', { class: 'muted' }, 'Evaluated when the task starts.') : jsonBlock(t.input, 'task-config'),
    ),
  ];
}

const SOURCE: Record<string, string> = {
  run_end: "the run's end (no respond task answered first)",
  timeout: 'the timeout: the workflow did not answer in time; the run went on',
};

/** A body sent as text with a JSON content type (a problem), shown as the JSON it holds. */
function shownBody(body: unknown, contentType: string | undefined): unknown {
  if (typeof body !== 'string' || !/json/i.test(contentType ?? '')) return body;
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

/** The Response block of a synchronous webhook run: null for other runs. */
export function responseBlock(run: Run): HTMLElement | null {
  const r = (run as Run & { response?: RunResponse | null }).response;
  if (!r || typeof r !== 'object') return null;
  const from = r.source === 'task' ? `respond task ${r.task_id ?? ''}`.trim() : SOURCE[r.source] ?? r.source;
  const headers = r.headers && typeof r.headers === 'object' ? Object.entries(r.headers) : [];
  const known = typeof r.status === 'number';
  return h(
    'div',
    { class: 'io-wide', 'data-testid': 'run-response', 'data-source': r.source },
    h('div', { class: 'detail-head' }, 'Response'),
    known
      ? h(
          'div',
          { class: 'response-head' },
          h('strong', { 'data-testid': 'run-response-status' }, String(r.status)),
          r.content_type && h('span', { class: 'muted small', 'data-testid': 'run-response-type' }, ` ${r.content_type}`),
        )
      : h('p', { class: 'muted small' }, 'What was sent is not recorded (the task that answered has no recorded output).'),
    h('p', { class: 'muted small', 'data-testid': 'run-response-source' }, `Sent by ${from}.`),
    headers.length > 0 && h('pre', { class: 'json', 'data-testid': 'run-response-headers' }, headers.map(([k, v]) => `${k}: ${String(v)}`).join('\n')),
    known && jsonBlock(shownBody(r.body, r.content_type), 'run-response-body'),
  );
}
