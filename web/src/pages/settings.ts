// Settings: an overview (the auth module's state and server information)
// plus tabs for the account, API keys, projects, users and the audit log.
// Tabs the user has no permission for are not shown.

import { authStore } from '../auth';
import { h, replace } from '../dom';
import { formatDateTime } from '../format';
import type { NavEntry } from '../nav';
import { projectStore } from '../projects';
import { componentName, systemStore } from '../system';
import { notice, pageHeader, statusBadge } from './common';
import { renderModuleState } from './module';
import { renderAccount } from './settings-account';
import { renderApiKeys } from './settings-keys';
import { renderAudit } from './settings-audit';
import { renderProjects } from './settings-projects';
import { renderUsers } from './settings-users';

interface Tab {
  path: string;
  label: string;
  /** Permission needed to see the tab; undefined = everyone. */
  permission?: string;
  /** Needs a logged-in user (not a server without the auth module). */
  session?: boolean;
  /** Shown only when this holds (e.g. the server has projects). */
  when?: () => boolean;
  /** The tab also has pages below its path (/settings/projects/{id}). */
  children?: boolean;
  render: (root: HTMLElement, path: string) => (() => void) | void;
}

const TABS: Tab[] = [
  { path: '/settings', label: 'Overview', render: renderOverview },
  { path: '/settings/account', label: 'Account', permission: 'auth.self', session: true, render: renderAccount },
  { path: '/settings/api-keys', label: 'API keys', permission: 'auth.self', session: true, render: renderApiKeys },
  { path: '/settings/projects', label: 'Projects', session: true, when: () => projectStore.enabled, children: true, render: renderProjects },
  { path: '/settings/users', label: 'Users', permission: 'users.admin', session: true, render: renderUsers },
  { path: '/settings/audit', label: 'Audit log', permission: 'audit.read', session: true, render: renderAudit },
];

function allowed(tab: Tab): boolean {
  if (tab.session && authStore.state !== 'in') return false;
  if (tab.when && !tab.when()) return false;
  return !tab.permission || authStore.can(tab.permission);
}

export function renderSettings(root: HTMLElement, entry: NavEntry, path: string): () => void {
  const tab = TABS.find((t) => t.path === path) ?? TABS.find((t) => t.children && path.startsWith(`${t.path}/`));
  const body = h('div', { class: 'tab-body' });
  replace(
    root,
    pageHeader(entry.label, entry.about),
    h(
      'nav',
      { class: 'tabs', 'aria-label': 'Settings', 'data-testid': 'settings-tabs' },
      TABS.filter(allowed).map((t) =>
        h(
          'a',
          { href: t.path, 'data-link': true, class: 'tab', 'aria-current': t === tab ? 'page' : null, 'data-testid': `tab-${t.path.split('/').pop()}` },
          t.label,
        ),
      ),
    ),
    body,
  );
  if (!tab) {
    replace(body, notice('info', `There is no settings page at ${path}.`));
    return () => undefined;
  }
  if (!allowed(tab)) {
    let why = `${tab.label} needs user accounts, which this server does not have.`;
    if (authStore.state === 'in') {
      why = tab.when && !tab.when() ? `This server has no ${tab.label.toLowerCase()}.` : `Your account lacks the permission "${tab.permission}" needed for ${tab.label}.`;
    }
    replace(body, notice('warn', why));
    return () => undefined;
  }
  return tab.render(body, path) ?? (() => undefined);
}

function renderOverview(root: HTMLElement): () => void {
  const auth = h('div');
  const account = h('div');
  const server = h('div');
  replace(root, h('h2', null, 'Users and access'), account, auth, h('h2', null, 'Server'), server);

  const me = authStore.me;
  if (me) {
    replace(
      account,
      h(
        'div',
        { class: 'panel' },
        h(
          'dl',
          { class: 'kv' },
          h('dt', null, 'Logged in as'),
          h('dd', null, h('strong', null, me.user.username), ' ', h('span', { class: 'badge badge-role' }, me.user.role)),
          h('dt', null, 'Permissions'),
          h('dd', null, me.permissions.includes('*') ? 'all (admin)' : me.permissions.join(', ') || '—'),
          projectStore.enabled && [
            h('dt', null, 'Projects'),
            h(
              'dd',
              { class: 'chips', 'data-testid': 'overview-projects' },
              projectStore.instanceAdmin
                ? h('a', { href: '/settings/projects', 'data-link': true }, `every project (instance admin): ${projectStore.all.length}`)
                : projectStore.all.map((p) => h('span', { class: 'project-tag' }, p.name, h('span', { class: 'muted small' }, p.role))),
            ),
          ],
        ),
      ),
    );
  } else if (authStore.state === 'open') {
    replace(account, notice('warn', 'This server runs without authentication: anyone who can reach it has full access.'));
  }

  let last = '';
  const update = () => {
    const info = systemStore.info;
    const key = JSON.stringify([!!info, systemStore.loading, !!systemStore.error, systemStore.module('auth'), info?.version, info?.database]);
    if (key === last) return;
    last = key;
    renderModuleState(auth, 'auth', true);
    if (!info) {
      replace(server, h('p', { class: 'muted' }, systemStore.loading ? 'Loading…' : 'Server information is not available.'));
      return;
    }
    replace(
      server,
      h(
        'div',
        { class: 'panel' },
        h(
          'dl',
          { class: 'kv' },
          h('dt', null, 'Name'),
          h('dd', null, info.name),
          h('dt', null, 'Version'),
          h('dd', null, info.version),
          h('dt', null, 'Started'),
          h('dd', null, formatDateTime(info.started_at)),
          h('dt', null, 'Database'),
          h('dd', null, info.database.backend, ' ', statusBadge(info.database.ok ? 'ok' : 'failed')),
          h('dt', null, 'Components'),
          h('dd', null, info.modules.map((m) => componentName(m.name)).join(', ') || '—'),
        ),
      ),
    );
  };
  update();
  return systemStore.listen(update);
}
