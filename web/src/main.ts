import './style.css';
import { api, setErrorReporter, setUnauthorizedHandler } from './api';
import { authStore } from './auth';
import { h, replace } from './dom';
import { live } from './live';
import { COMING_SECTION, NAV, findEntry, isComing } from './nav';
import { mountNotices, showError, showMessage } from './notify';
import { notice, pageHeader } from './pages/common';
import { renderHome } from './pages/home';
import { errorLines } from './pages/forms';
import { renderLogin, renderSetup } from './pages/login';
import { renderModulePage } from './pages/module';
import { createProjectSwitcher } from './projectswitch';
import { MODULE_PAGES } from './pages/registry';
import { renderRuns } from './pages/runs';
import { renderSettings } from './pages/settings';
import { renderWorkflows } from './pages/workflows';
import { Redirect, Router } from './router';
import { isSystemInfo, systemStore } from './system';
import { createUserMenu } from './usermenu';
import type { ConnState, LiveSocket } from './ws';

declare global {
  interface Window {
    /** The app's API client, live socket and stores, for tests and power users. */
    arclight: { api: typeof api; live: LiveSocket; system: typeof systemStore; auth: typeof authStore };
  }
}

// ---- shell -------------------------------------------------------------

const wsState = h('span', { class: 'conn conn-connecting', 'data-testid': 'ws-state', role: 'status' }, 'connecting');
const serverLabel = h('span', { class: 'server-label', 'data-testid': 'server-label' });
const content = h('main', { class: 'content', id: 'content' });
const notices = h('div', { class: 'notices', 'aria-live': 'assertive' });
const userMenu = createUserMenu(() => void logout());
const projectSwitcher = createProjectSwitcher();

const navLinks = new Map<string, HTMLAnchorElement>();
for (const entry of NAV) {
  const testid = `nav-${entry.label.toLowerCase()}`;
  navLinks.set(
    entry.path,
    h('a', { href: entry.path, 'data-link': true, class: 'nav-link', 'data-testid': testid }, h('span', { class: 'nav-label' }, entry.label)),
  );
}
const sidebar = h('nav', { class: 'sidebar', 'aria-label': 'Main', 'data-testid': 'nav' });

/**
 * Lays the nav out: the entries of the server's modules by section, then those of modules still
 * to come under their own heading, dimmed and marked, whose pages say so.
 */
let navLayout = '';
function layoutNav(): void {
  const info = systemStore.info;
  const modules = info ? info.modules.map((m) => m.name) : null;
  const coming = new Set(NAV.filter((e) => isComing(e, modules)).map((e) => e.path));
  const key = [...coming].join(' ');
  if (key === navLayout && sidebar.childElementCount > 0) return;
  navLayout = key;
  const sections: HTMLElement[] = [];
  const sectionFor = (name: string, extra?: Record<string, string>) => {
    let section = sections.find((s) => s.dataset.section === name);
    if (!section) {
      section = h('div', { class: 'nav-section', 'data-section': name, ...extra }, h('div', { class: 'nav-heading' }, name));
      sections.push(section);
    }
    return section;
  };
  for (const entry of NAV) {
    const link = navLinks.get(entry.path);
    if (!link || coming.has(entry.path)) continue;
    link.classList.remove('coming');
    link.querySelector('.nav-mark')?.remove();
    link.removeAttribute('title');
    sectionFor(entry.section).appendChild(link);
  }
  for (const entry of NAV) {
    const link = navLinks.get(entry.path);
    if (!link || !coming.has(entry.path)) continue;
    link.classList.add('coming');
    if (!link.querySelector('.nav-mark')) link.appendChild(h('span', { class: 'nav-mark', 'data-testid': 'nav-coming-mark' }, 'coming'));
    link.title = `${entry.label} is coming: this server does not have it yet.`;
    sectionFor(COMING_SECTION, { 'data-testid': 'nav-coming' }).appendChild(link);
  }
  replace(sidebar, sections);
}
layoutNav();

const shell = h(
  'div',
  { class: 'shell', hidden: true },
  h(
    'header',
    { class: 'topbar' },
    h('a', { href: '/', 'data-link': true, class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'Arclight'),
    projectSwitcher.el,
    serverLabel,
    h('span', { class: 'spacer' }),
    wsState,
    userMenu.el,
  ),
  sidebar,
  content,
);
// Login, first-admin setup and start-up messages: a page of their own, without the shell.
const authRoot = h('main', { class: 'auth-screen', 'data-testid': 'auth-screen' });

const app = document.getElementById('app') ?? document.body;
replace(app, shell, authRoot, notices);
mountNotices(notices);
setErrorReporter(showError);

function showShell(): void {
  shell.hidden = false;
  authRoot.hidden = true;
  replace(authRoot);
}

function showAuthScreen(): void {
  shell.hidden = true;
  authRoot.hidden = false;
  replace(content);
}

// ---- nav state -----------------------------------------------------------

function updateNav(): void {
  layoutNav();
  const info = systemStore.info;
  replace(serverLabel, info ? `${info.name} ${info.version}` : '');
}
systemStore.listen(updateNav);
authStore.listen(() => userMenu.update(authStore.state === 'in' ? authStore.me : null));

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
  // The server refuses the WebSocket of an ended session (401), which the
  // browser only sees as a failed connection: ask /me whether the session
  // still holds. A 401 there sends the user to the login page.
  if (state === 'reconnecting' && authStore.state === 'in' && (info.attempt === 1 || info.attempt % 5 === 0)) {
    authStore.refreshMe().catch(() => undefined);
  }
});
live.subscribe('system.heartbeat', (ev) => {
  if (isSystemInfo(ev.data)) systemStore.set(ev.data, 'heartbeat');
});
live.onServerError((detail) => showMessage('Live updates error', detail));

// ---- session -------------------------------------------------------------

/** Shown on the login page once, e.g. after the session expired. */
let loginMessage: string | undefined;

function currentLocation(): string {
  return location.pathname + location.search;
}

/** Where to go after logging in: the `next` query parameter if it is a path of this app. */
function nextTarget(): string {
  const next = new URLSearchParams(location.search).get('next') ?? '/';
  if (!next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  if (/^\/(login|setup)(\/|\?|$)/.test(next)) return '/';
  return next;
}

function authPageUrl(page: '/login' | '/setup', wanted: string): string {
  return wanted === '/' || wanted === '' ? page : `${page}?next=${encodeURIComponent(wanted)}`;
}

function enterApp(): void {
  if (!live.started) live.start();
  if (!systemStore.info && !systemStore.loading) void systemStore.refresh();
}

function leaveApp(): void {
  live.stop();
  wasLive = false;
  systemStore.clear();
  userMenu.close();
  for (const d of Array.from(document.querySelectorAll('dialog'))) d.close();
  for (const b of Array.from(notices.children)) b.remove();
}

function loggedIn(): void {
  loginMessage = undefined;
  router.navigate(nextTarget(), { replace: true });
}

async function logout(): Promise<void> {
  await authStore.logout();
  leaveApp();
  loginMessage = 'You have logged out.';
  router.navigate('/login');
}

// Any call answering 401 after login: the session expired or was revoked.
setUnauthorizedHandler(() => {
  if (authStore.state !== 'in') return;
  const wanted = currentLocation();
  authStore.expire();
  leaveApp();
  loginMessage = 'Your session has ended. Log in again to continue.';
  router.navigate(authPageUrl('/login', wanted), { replace: true });
});

// ---- routing -------------------------------------------------------------

function renderAuthPage(path: string): (() => void) | Redirect {
  const state = authStore.state;
  if (state === 'in' || state === 'open') return new Redirect(nextTarget());
  if (path === '/login' && state === 'setup') return new Redirect(`/setup${location.search}`);
  if (path === '/setup' && state !== 'setup') return new Redirect(`/login${location.search}`);
  showAuthScreen();
  if (path === '/setup') {
    document.title = 'Set up · Arclight';
    return renderSetup(authRoot, {
      onDone: loggedIn,
      onAlreadyDone: () => {
        authStore.expire();
        router.navigate(`/login${location.search}`, { replace: true });
      },
    });
  }
  document.title = 'Log in · Arclight';
  const message = loginMessage;
  loginMessage = undefined;
  return renderLogin(authRoot, { message, onLoggedIn: loggedIn });
}

const router = new Router((path) => {
  if (path === '/login' || path === '/setup') return renderAuthPage(path);
  const state = authStore.state;
  if (state === 'out' || state === 'setup') return new Redirect(authPageUrl(state === 'setup' ? '/setup' : '/login', currentLocation()));

  showShell();
  enterApp();
  const entry = findEntry(path);
  setActive(entry?.path ?? path);
  content.scrollTop = 0;
  document.title = entry ? `${entry.label} · Arclight` : 'Not found · Arclight';
  if (!entry) {
    replace(content, pageHeader('Page not found'), notice('info', `There is no page at ${path}. `, h('a', { href: '/', 'data-link': true }, 'Go to the home page')));
    return;
  }
  if (entry.path === '/') return renderHome(content, entry);
  if (entry.path === '/settings') return renderSettings(content, entry, path);
  if (entry.path === '/workflows') return renderWorkflows(content, entry, path);
  if (entry.path === '/runs') return renderRuns(content, entry, path);
  const modulePage = MODULE_PAGES.find((p) => p.nav.path === entry.path);
  if (modulePage) return modulePage.render(content, entry, path);
  return renderModulePage(content, entry);
});

window.arclight = { api, live, system: systemStore, auth: authStore };

// ---- start-up ------------------------------------------------------------

async function boot(): Promise<void> {
  showAuthScreen();
  replace(authRoot, h('div', { class: 'auth-card auth-loading', 'data-testid': 'boot' }, h('p', { class: 'muted' }, 'Connecting to the server…')));
  try {
    await authStore.load();
  } catch (err) {
    const { message: detail } = errorLines(err);
    replace(
      authRoot,
      h(
        'div',
        { class: 'auth-card' },
        h('h1', { class: 'auth-title' }, 'Arclight could not start'),
        notice('error', detail),
        h('button', { type: 'button', class: 'btn btn-primary', onclick: () => void boot() }, 'Try again'),
      ),
    );
    return;
  }
  router.start();
}

void boot();
