// Form building blocks: labelled fields, inline error messages built from
// problem details, a modal dialog, and copy-to-clipboard.

import { ApiError, NetworkError } from '../api';
import { h, replace, type Child } from '../dom';

let fieldSeq = 0;

/** A labelled form control with an optional hint under it. */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement, hint?: Child): HTMLElement {
  control.id ||= `f${++fieldSeq}`;
  const hintId = hint ? `${control.id}-hint` : undefined;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  return h(
    'div',
    { class: 'field' },
    h('label', { for: control.id }, label),
    control,
    hint && h('div', { class: 'field-hint', id: hintId }, hint),
  );
}

export function input(attrs: Record<string, string | boolean | number | undefined>): HTMLInputElement {
  return h('input', { class: 'input', ...attrs });
}

/** The field name a JSON pointer such as "/new_password" refers to. */
export function pointerName(pointer: string): string {
  return pointer.replace(/^\//, '').split('/')[0] ?? '';
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** What to tell the user about a failed call: the problem's detail plus per-field messages. */
export function errorLines(err: unknown): { message: string; fields: string[] } {
  if (err instanceof ApiError) {
    const message = capitalize(err.detail || err.title);
    const fields = err.errors
      .filter((e) => e.message && !message.includes(e.message))
      .map((e) => {
        const name = pointerName(e.pointer).replace(/_/g, ' ');
        return name ? `${name}: ${e.message}` : e.message;
      });
    return { message, fields };
  }
  if (err instanceof NetworkError) return { message: 'The server could not be reached. Is it running?', fields: [] };
  return { message: err instanceof Error ? err.message : String(err), fields: [] };
}

/** An inline error box; empty (and hidden) until show() is called. */
export function formError(testid?: string): { el: HTMLElement; show: (err: unknown) => void; text: (msg: string) => void; clear: () => void } {
  const el = h('div', { class: 'form-error', role: 'alert', 'data-testid': testid, hidden: true });
  return {
    el,
    show(err) {
      const { message, fields } = errorLines(err);
      el.hidden = false;
      replace(el, message, fields.length > 0 && h('ul', null, fields.map((f) => h('li', null, f))));
    },
    text(msg) {
      el.hidden = false;
      replace(el, msg);
    },
    clear() {
      el.hidden = true;
      replace(el);
    },
  };
}

/** Marks the form's controls named by the problem's field pointers as invalid (and clears the rest). */
export function markInvalid(form: HTMLFormElement, err: unknown): void {
  const bad = new Set(err instanceof ApiError ? err.errors.map((e) => pointerName(e.pointer)) : []);
  for (const el of Array.from(form.elements)) {
    if (!(el instanceof HTMLInputElement || el instanceof HTMLSelectElement)) continue;
    if (el.name && bad.has(el.name)) el.setAttribute('aria-invalid', 'true');
    else el.removeAttribute('aria-invalid');
  }
}

/** Disables a form's controls while `work` runs. */
export async function busy<T>(form: HTMLFormElement, work: () => Promise<T>): Promise<T> {
  const controls = Array.from(form.elements).filter(
    (el): el is HTMLInputElement | HTMLButtonElement | HTMLSelectElement =>
      (el instanceof HTMLInputElement || el instanceof HTMLButtonElement || el instanceof HTMLSelectElement) && !el.disabled,
  );
  for (const c of controls) c.disabled = true;
  form.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    for (const c of controls) c.disabled = false;
    form.removeAttribute('aria-busy');
  }
}

export interface DialogOptions {
  title: string;
  body?: Child;
  confirmLabel: string;
  danger?: boolean;
  /** A dialog that only informs: no Cancel button. */
  alert?: boolean;
  /** As wide as the window allows (up to 1100 px), for side-by-side content. */
  wide?: boolean;
  /** Runs on confirm; throwing keeps the dialog open and shows the error in it. */
  onConfirm?: (form: HTMLFormElement) => Promise<void> | void;
}

/** Tells the user why an action failed, in a modal dialog. */
export function errorDialog(title: string, err: unknown): Promise<boolean> {
  const e = formError();
  e.show(err);
  return openDialog({ title, body: e.el, confirmLabel: 'OK', alert: true });
}

/** A modal dialog with Cancel and a confirm button. Resolves true when confirmed (and onConfirm succeeded). */
export function openDialog(opts: DialogOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const error = formError('dialog-error');
    const confirm = h('button', { type: 'submit', class: `btn ${opts.danger ? 'btn-danger' : 'btn-primary'}`, 'data-testid': 'dialog-confirm' }, opts.confirmLabel);
    const cancel = h('button', { type: 'button', class: 'btn', 'data-testid': 'dialog-cancel' }, 'Cancel');
    const form = h(
      'form',
      { class: 'dialog-form', method: 'dialog', novalidate: true },
      h('h2', { class: 'dialog-title' }, opts.title),
      opts.body,
      error.el,
      h('div', { class: 'form-actions' }, confirm, !opts.alert && cancel),
    );
    const dialog = h('dialog', { class: opts.wide ? 'dialog dialog-wide' : 'dialog', 'data-testid': 'dialog' }, form);
    let result = false;
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(result);
    });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      error.clear();
      void busy(form, async () => {
        try {
          await opts.onConfirm?.(form);
          result = true;
          dialog.close();
        } catch (err) {
          error.show(err);
          markInvalid(form, err);
        }
      });
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    (form.querySelector('input') ?? confirm).focus();
  });
}

/** Copies text to the clipboard; falls back to selecting a field and execCommand outside secure contexts. */
export async function copyText(text: string, fallbackField?: HTMLInputElement): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // Permission denied or unavailable: try the old way.
  }
  if (!fallbackField) return false;
  fallbackField.focus();
  fallbackField.select();
  try {
    return document.execCommand('copy');
  } catch {
    return false;
  }
}
