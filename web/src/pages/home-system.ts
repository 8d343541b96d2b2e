// The home page's System box: version, uptime (advancing every second between heartbeats),
// database and the health of each component of the server, kept live by system.heartbeat
// events (via the shared system store).

import { h, replace } from '../dom';
import { formatDateTime, formatTime, formatUptime } from '../format';
import { componentName, systemStore, type SystemInfo } from '../system';
import { moduleStatus, notice, statusBadge } from './common';

function fact(label: string, value: Node | string, foot?: Node | string | false): HTMLElement {
  return h('div', { class: 'fact' }, h('div', { class: 'fact-label' }, label), h('div', { class: 'fact-value' }, value), foot && h('div', { class: 'fact-foot' }, foot));
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

function healthTable(info: SystemInfo): HTMLElement {
  const mods = [...info.modules].sort((a, b) => componentName(a.name).localeCompare(componentName(b.name)));
  return h(
    'table',
    { class: 'table table-compact', 'data-testid': 'module-health' },
    h('thead', null, h('tr', null, h('th', null, 'Component'), h('th', null, 'Status'), h('th', { class: 'wide' }, 'Reason'))),
    h(
      'tbody',
      null,
      mods.length === 0 && h('tr', null, h('td', { colspan: '3', class: 'muted' }, 'The server reports no components.')),
      mods.map((m) =>
        h(
          'tr',
          { 'data-testid': `module-${m.name}`, class: `row-${m.enabled ? m.health?.status : 'disabled'}` },
          h('td', null, componentName(m.name)),
          h('td', null, statusBadge(moduleStatus(m))),
          h('td', { class: 'wide' }, m.health?.reason ? m.health.reason : h('span', { class: 'muted' }, '—')),
        ),
      ),
    ),
  );
}

/** The System box; returns its element and the cleanup (listener and the uptime ticker). */
export function systemBox(): { el: HTMLElement; stop: () => void } {
  const sub = h('span', { class: 'muted small', 'data-testid': 'system-updated' });
  const facts = h('div', { class: 'facts' });
  const health = h('div');
  const status = h('div');
  const el = h(
    'section',
    { class: 'panel', 'data-testid': 'home-system' },
    h('div', { class: 'panel-title panel-title-row' }, h('span', null, 'System'), h('span', { class: 'spacer' }), sub),
    status,
    facts,
    health,
  );
  const uptime = h('span', { 'data-testid': 'uptime' });
  const tick = () => {
    if (!systemStore.info) return;
    const text = formatUptime(systemStore.uptimeNow());
    if (uptime.textContent !== text) uptime.textContent = text;
  };

  const update = () => {
    const info = systemStore.info;
    if (!info) {
      replace(sub, systemStore.loading ? 'Loading…' : '');
      replace(facts);
      replace(health, h('p', { class: 'muted pad' }, systemStore.loading ? 'Loading…' : 'No data.'));
      replace(
        status,
        !systemStore.loading && systemStore.error
          ? h('div', { class: 'pad' }, notice('error', 'Could not load the server status. ', h('button', { type: 'button', class: 'btn btn-small', onclick: () => void systemStore.refresh() }, 'Retry')))
          : null,
      );
      return;
    }
    replace(status);
    const when = systemStore.updatedAt ? formatTime(systemStore.updatedAt) : '';
    replace(sub, `${info.name} · updated ${when}${systemStore.source === 'heartbeat' ? ' (live)' : ''}`);
    tick();
    replace(
      facts,
      fact('Version', h('span', { 'data-testid': 'version' }, info.version)),
      fact('Uptime', uptime, `since ${formatDateTime(info.started_at)}`),
      fact(
        'Database',
        h('span', { 'data-testid': 'database' }, info.database.backend, ' ', h('span', { class: `badge badge-${info.database.ok ? 'ok' : 'failed'}` }, info.database.ok ? 'ok' : 'unavailable')),
      ),
      fact('Components', String(info.modules.length), summary(info)),
    );
    replace(health, healthTable(info));
  };

  update();
  const stop = systemStore.listen(update);
  // A quarter-second check shows each new second within 250 ms of it.
  const ticker = setInterval(tick, 250);
  void systemStore.refresh();
  return {
    el,
    stop: () => {
      stop();
      clearInterval(ticker);
    },
  };
}
