import './style.css';
import { api, setErrorReporter } from './api';
import { h, replace } from './dom';
import { NAV, findEntry } from './nav';
import { mountNotices, showError, showMessage } from './notify';
import { notice, pageHeader } from './pages/common';
import { renderDashboard } from './pages/dashboard';
import { renderModulePage } from './pages/module';
import { renderSettings } from './pages/settings';
import { Router } from './router';
import { isSystemInfo, systemStore } from './system';
import { LiveSocket, type ConnState } from './ws';

const live = new LiveSocket();

declare global {
  interface Window {
    /** The app's API client and live socket, for tests and power users. */
    arclight: { api: typeof api; live: LiveSocket; system: typeof systemStore };
  }
}

// ---- shell -------------------------------------------------------------

const wsState = h('span', { class: 'conn conn-connecting', 'data-testid': 'ws-state', role: 'status' }, 'connecting');
const serverLabel = h('span', { class: 'server-label', 'data-testid': 'server-label' });
const content = h('main', { class: 'content', id: 'content' });
const notices = h('div', { class: 'notices', 'aria-live': 'assertive' });

const navLinks = new Map<string, HTMLAnchorElement>();
const sections: HTMLElement[] = [];
for (const entry of NAV) {
  let section = sections.find((s) => s.dataset.section === entry.section);
  if (!section) {
    section = h('div', { class: 'nav-section', 'data-section': entry.section }, h('div', { class: 'nav-heading' }, entry.section));
    sections.push(section);
  }
  const link = h('a', { href: entry.path, 'data-link': true, class: 'nav-link', 'data-testid': `nav-${entry.label.toLowerCase()}` }, entry.label);
  navLinks.set(entry.path, link);
  section.appendChild(link);
}

const app = document.getElementById('app') ?? document.body;
replace(
  app,
  h(
    'div',
    { class: 'shell' },
    h(
      'header',
      { class: 'topbar' },
      h('a', { href: '/', 'data-link': true, class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'Arclight'),
      serverLabel,
      h('span', { class: 'spacer' }),
      wsState,
    ),
    h('nav', { class: 'sidebar', 'aria-label': 'Main', 'data-testid': 'nav' }, sections),
    content,
  ),
  notices,
);
mountNotices(notices);
setErrorReporter(showError);

// ---- nav state -----------------------------------------------------------

function updateNav(): void {
  const info = systemStore.info;
  for (const entry of NAV) {
    const link = navLinks.get(entry.path);
    if (!link || !entry.module) continue;
    const absent = !!info && !info.modules.some((m) => m.name === entry.module);
    link.classList.toggle('absent', absent);
    if (absent) link.title = `The ${entry.module} module is not part of this server yet.`;
    else link.removeAttribute('title');
  }
  replace(serverLabel, info ? `${info.name} ${info.version}` : '');
}
systemStore.listen(updateNav);

function setActive(path: string): void {
  for (const [p, link] of navLinks) {
    if (p === path) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

// ---- live connection -----------------------------------------------------

let wasLive = false;
live.onState((state: ConnState, info) => {
  wsState.className = `conn conn-${state}`;
  wsState.textContent = state;
  wsState.title =
    state === 'live'
      ? 'Live updates connected'
      : state === 'reconnecting'
        ? `Live updates lost; retrying in ${(info.retryInMs / 1000).toFixed(1)} s (attempt ${info.attempt})`
        : 'Connecting to live updates…';
  // After a reconnect, catch up on anything missed while offline.
  if (state === 'live' && wasLive) void systemStore.refresh();
  if (state === 'live') wasLive = true;
});
live.subscribe('system.heartbeat', (ev) => {
  if (isSystemInfo(ev.data)) systemStore.set(ev.data, 'heartbeat');
});
live.onServerError((detail) => showMessage('Live updates error', detail));

// ---- routing -------------------------------------------------------------

const router = new Router((path) => {
  setActive(path);
  content.scrollTop = 0;
  const entry = findEntry(path);
  document.title = entry ? `${entry.label} · Arclight` : 'Not found · Arclight';
  if (!entry) {
    replace(content, pageHeader('Page not found'), notice('info', `There is no page at ${path}. `, h('a', { href: '/', 'data-link': true }, 'Go to the dashboard')));
    return;
  }
  if (entry.path === '/') return renderDashboard(content);
  if (entry.path === '/settings') return renderSettings(content, entry);
  return renderModulePage(content, entry);
});

window.arclight = { api, live, system: systemStore };

if (!systemStore.info) void systemStore.refresh();
router.start();
live.start();
