// Visible, dismissible error banners stacked in the top-right corner.

import { ApiError, NetworkError } from './api';
import { h } from './dom';

const MAX_BANNERS = 4;
let region: HTMLElement | null = null;

export function mountNotices(el: HTMLElement): void {
  region = el;
}

export function showError(err: unknown): void {
  if (err instanceof ApiError) {
    const meta = [`HTTP ${err.status}`, err.code, err.request_id && `request ${err.request_id}`].filter(Boolean);
    push(err.title, err.detail, meta.join(' · '), err.errors.map((e) => (e.pointer ? `${e.pointer}: ${e.message}` : e.message)));
  } else if (err instanceof NetworkError) {
    push('Network error', `${err.message}. Is the Arclight server running?`, '', []);
  } else {
    push('Something went wrong', err instanceof Error ? err.message : String(err), '', []);
  }
}

export function showMessage(title: string, detail: string): void {
  push(title, detail, '', []);
}

function push(title: string, detail: string, meta: string, fields: string[]): void {
  if (!region) return;
  const banner = h(
    'div',
    { class: 'banner banner-error', role: 'alert', 'data-testid': 'error-banner' },
    h(
      'div',
      { class: 'banner-body' },
      h('div', { class: 'banner-title', 'data-testid': 'error-title' }, title),
      detail && h('div', { class: 'banner-detail' }, detail),
      fields.length > 0 && h('ul', { class: 'banner-fields' }, fields.map((f) => h('li', null, f))),
      meta && h('div', { class: 'banner-meta' }, meta),
    ),
    h('button', { class: 'banner-close', type: 'button', 'aria-label': 'Dismiss', title: 'Dismiss', onclick: () => banner.remove() }, '×'),
  );
  region.prepend(banner);
  while (region.children.length > MAX_BANNERS) region.lastElementChild?.remove();
}
