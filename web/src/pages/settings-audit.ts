// Settings → Audit log (needs audit.read): who did what, newest first,
// fetched a page at a time with the server's cursor.

import { api } from '../api';
import { AUTH, type AuditEntry, type AuditPage } from '../auth';
import { h, replace } from '../dom';
import { formatDateTimeSeconds } from '../format';
import { projectStore } from '../projects';
import { notice } from './common';
import { formError } from './forms';
import { projectTag } from './project-ui';

const PAGE = 50;

function outcomeBadge(outcome: string): HTMLElement {
  const kind = outcome === 'success' ? 'ok' : outcome === 'failure' ? 'failed' : outcome === 'denied' ? 'degraded' : 'unknown';
  return h('span', { class: `badge badge-${kind}`, 'data-testid': 'audit-outcome' }, outcome || 'unknown');
}

function detailText(detail: AuditEntry['detail']): string {
  if (!detail || typeof detail !== 'object') return '';
  return Object.entries(detail)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(',') : JSON.stringify(v)}`)
    .join(' ');
}

function row(e: AuditEntry): HTMLElement {
  const detail = detailText(e.detail);
  return h(
    'tr',
    { 'data-testid': 'audit-row', 'data-action': e.action, 'data-outcome': e.outcome },
    h('td', { class: 'nowrap', title: e.at }, formatDateTimeSeconds(e.at)),
    h('td', null, e.actor || h('span', { class: 'muted' }, '—')),
    h('td', null, h('code', { 'data-testid': 'audit-action' }, e.action)),
    h('td', { class: 'break' }, e.target || h('span', { class: 'muted' }, '—')),
    projectStore.enabled && h('td', { 'data-testid': 'audit-project' }, e.project_id ? projectTag(e.project_id, 'audit-project-name') : h('span', { class: 'muted', title: 'Instance-wide: users, logins, projects themselves' }, 'instance')),
    h('td', null, outcomeBadge(e.outcome)),
    h('td', { class: 'nowrap' }, e.ip ? h('code', null, e.ip) : h('span', { class: 'muted' }, '—')),
    h('td', { class: 'break detail' }, detail ? h('code', null, detail) : ''),
  );
}

export function renderAudit(root: HTMLElement): () => void {
  let alive = true;
  let cursor: string | null = null;
  let loading = false;
  const tbody = h('tbody');
  const status = h('div');
  const more = h('button', { type: 'button', class: 'btn', 'data-testid': 'audit-more', hidden: true }, 'Load more');
  const refresh = h('button', { type: 'button', class: 'btn btn-small' }, 'Refresh');
  const kept = h('span', { class: 'muted small', 'data-testid': 'audit-retention' });
  replace(
    root,
    h(
      'section',
      { class: 'panel' },
      h('div', { class: 'panel-title panel-title-row' }, h('span', null, 'Audit log'), h('span', { class: 'muted small' }, 'newest first'), h('span', { class: 'spacer' }), kept, refresh),
      h(
        'div',
        { class: 'panel-body scroll-x' },
        h(
          'table',
          { class: 'table', 'data-testid': 'audit-table' },
          h('thead', null, h('tr', null, ['Time', 'Actor', 'Action', 'Target', projectStore.enabled && 'Project', 'Outcome', 'Address', 'Detail'].filter((t) => t !== false).map((t) => h('th', null, t)))),
          tbody,
        ),
      ),
      h('div', { class: 'panel-foot' }, status, more),
    ),
  );

  const load = async (reset: boolean) => {
    if (loading) return;
    loading = true;
    more.disabled = refresh.disabled = true;
    if (reset) cursor = null;
    replace(status, h('span', { class: 'muted' }, 'Loading…'));
    try {
      const q = new URLSearchParams({ limit: String(PAGE) });
      if (cursor) q.set('cursor', cursor);
      const page = await api.get<AuditPage>(`${AUTH}/audit?${q}`, { quiet: true });
      if (!alive) return;
      if (page.retention_days !== undefined)
        replace(kept, page.retention_days > 0 ? `Entries are kept for ${page.retention_days} days` : 'Entries are kept indefinitely');
      if (reset) replace(tbody);
      tbody.append(...(page.items ?? []).map(row));
      cursor = page.next_cursor ?? null;
      more.hidden = !cursor;
      replace(status, tbody.children.length === 0 ? h('span', { class: 'muted' }, 'The audit log is empty.') : h('span', { class: 'muted' }, `${tbody.children.length} entries${cursor ? '' : ' (all)'}`));
    } catch (err) {
      if (!alive) return;
      const e = formError();
      e.show(err);
      replace(status, notice('error', 'Could not load the audit log: ', e.el));
    } finally {
      loading = false;
      more.disabled = refresh.disabled = false;
    }
  };
  more.addEventListener('click', () => void load(false));
  refresh.addEventListener('click', () => void load(true));
  void load(true);
  return () => {
    alive = false;
  };
}
