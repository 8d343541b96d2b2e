// Dashboard: server status and module health, loaded over HTTP and then
// kept live by system.heartbeat events (via the shared system store).

import { h, replace } from '../dom';
import { formatDateTime, formatTime, formatUptime } from '../format';
import { systemStore, type SystemInfo } from '../system';
import { moduleStatus, notice, pageHeader, statusBadge } from './common';

function card(label: string, value: Node | string, foot?: Node | string | false): HTMLElement {
  return h('div', { class: 'card' }, h('div', { class: 'card-label' }, label), h('div', { class: 'card-value' }, value), foot && h('div', { class: 'card-foot' }, foot));
}

function summary(info: SystemInfo): string {
  const counts = new Map<string, number>();
  for (const m of info.modules) {
    const s = moduleStatus(m);
    counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  return ['ok', 'degraded', 'failed', 'disabled', 'unknown']
    .filter((s) => counts.has(s))
    .map((s) => `${counts.get(s)} ${s}`)
    .join(' · ');
}

function moduleTable(info: SystemInfo): HTMLElement {
  const mods = [...info.modules].sort((a, b) => a.name.localeCompare(b.name));
  return h(
    'table',
    { class: 'table', 'data-testid': 'module-health' },
    h('thead', null, h('tr', null, h('th', null, 'Module'), h('th', null, 'Status'), h('th', null, 'Enabled'), h('th', { class: 'wide' }, 'Reason'))),
    h(
      'tbody',
      null,
      mods.length === 0 && h('tr', null, h('td', { colspan: '4', class: 'muted' }, 'The server reports no modules.')),
      mods.map((m) =>
        h(
          'tr',
          { 'data-testid': `module-${m.name}`, class: `row-${m.enabled ? m.health?.status : 'disabled'}` },
          h('td', null, h('code', null, m.name)),
          h('td', null, statusBadge(m.enabled ? (m.health?.status ?? 'unknown') : 'disabled')),
          h('td', null, m.enabled ? 'yes' : 'no'),
          h('td', { class: 'wide' }, m.health?.reason ? m.health.reason : h('span', { class: 'muted' }, '—')),
        ),
      ),
    ),
  );
}

export function renderDashboard(root: HTMLElement): () => void {
  const sub = h('span');
  const cards = h('div', { class: 'cards' });
  const modules = h('div', { class: 'panel-body' });
  const status = h('div');
  replace(
    root,
    pageHeader('Dashboard', sub),
    status,
    cards,
    h('section', { class: 'panel' }, h('div', { class: 'panel-title' }, 'Module health'), modules),
  );

  const update = () => {
    const info = systemStore.info;
    if (!info) {
      replace(sub, systemStore.loading ? 'Loading…' : '');
      replace(cards);
      replace(modules, h('p', { class: 'muted pad' }, systemStore.loading ? 'Loading module health…' : 'No data.'));
      replace(
        status,
        !systemStore.loading && systemStore.error
          ? notice('error', 'Could not load system information. ', h('button', { type: 'button', class: 'btn btn-small', onclick: () => void systemStore.refresh() }, 'Retry'))
          : null,
      );
      return;
    }
    replace(status);
    const when = systemStore.updatedAt ? formatTime(systemStore.updatedAt) : '';
    replace(sub, `${info.name} · updated ${when}${systemStore.source === 'heartbeat' ? ' (live)' : ''}`);
    replace(
      cards,
      card('Version', h('span', { 'data-testid': 'version' }, info.version)),
      card('Uptime', h('span', { 'data-testid': 'uptime' }, formatUptime(info.uptime_seconds)), `since ${formatDateTime(info.started_at)}`),
      card(
        'Database',
        h('span', { 'data-testid': 'database' }, info.database.backend, ' ', h('span', { class: `badge badge-${info.database.ok ? 'ok' : 'failed'}` }, info.database.ok ? 'ok' : 'unavailable')),
      ),
      card('Modules', String(info.modules.length), summary(info)),
    );
    replace(modules, moduleTable(info));
  };

  update();
  const stop = systemStore.listen(update);
  void systemStore.refresh();
  return stop;
}
