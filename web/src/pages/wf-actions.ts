// Workflow actions shared by the list (workflows.ts) and the editor (wf-editor.ts): starting a
// run, deleting, the active switch, and the message carried to the next page shown.

import { api } from '../api';
import { h, replace } from '../dom';
import { navigate } from '../router';
import { errorDialog, openDialog } from './forms';
import { idempotencyKey, workflowPath } from './wf-common';

/** A message for the next page shown (e.g. "Saved" after a new workflow's editor reloads under its id). */
let flash: string | null = null;

export function setFlash(message: string): void {
  flash = message;
}

export function takeFlash(): HTMLElement | null {
  const msg = flash;
  flash = null;
  return msg ? h('div', { class: 'notice notice-ok', role: 'status', 'data-testid': 'flash' }, msg) : null;
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

export function confirmDelete(w: { id: string; name: string }): Promise<boolean> {
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

export function activeSwitch(w: { id: string; name: string; active: boolean }, canWrite: boolean): HTMLElement {
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

