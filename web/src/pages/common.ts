import { h } from '../dom';
import type { ModuleInfo } from '../system';

export function statusBadge(status: string): HTMLElement {
  const known = status === 'ok' || status === 'degraded' || status === 'failed';
  return h('span', { class: `badge badge-${known ? status : 'unknown'}`, 'data-testid': 'status' }, status || 'unknown');
}

export function pageHeader(title: string, sub?: string | Node): HTMLElement {
  return h('div', { class: 'page-header' }, h('h1', { tabindex: '-1' }, title), sub && h('div', { class: 'page-sub' }, sub));
}

export function moduleStatus(mod: ModuleInfo): string {
  return mod.enabled ? mod.health?.status || 'unknown' : 'disabled';
}

export function notice(kind: 'info' | 'warn' | 'error', ...body: (string | Node)[]): HTMLElement {
  return h('div', { class: `notice notice-${kind}`, 'data-testid': 'notice' }, ...body);
}

/** A notice for those who may read but not change workflows. */
export function readOnlyNotice(what: string): HTMLElement {
  return h(
    'div',
    { class: 'notice notice-info readonly-notice', role: 'note', 'data-testid': 'readonly-notice' },
    h('strong', null, 'Read-only. '),
    `Your role lets you see ${what} but not create or change them. An admin of the project can give you the editor role.`,
  );
}
