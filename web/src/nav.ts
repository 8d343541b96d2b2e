// The navigation entries and which server module backs each page.

import { MODULE_PAGES } from './pages/registry';

export interface NavEntry {
  path: string;
  label: string;
  section: string;
  /** Server module this page belongs to (as listed by /api/v1/system/info). */
  module?: string;
  /** One line saying what the page is for. */
  about: string;
  /** The page has sub-pages below its path (e.g. /settings/users). */
  children?: boolean;
  /**
   * The server module is not built yet: the entry is listed under "Coming" until the server
   * reports the module (and under "Coming" again for a server that does not have it).
   */
  planned?: boolean;
}

/** The heading under which the entries of modules this server does not have are grouped. */
export const COMING_SECTION = 'Coming';

const BUILT_IN: NavEntry[] = [
  { path: '/', label: 'Home', section: 'Overview', about: 'Getting started, recent runs, live triggers and server status.' },
  { path: '/flows', label: 'Flows', section: 'Build', module: 'visual', planned: true, about: 'Design flows visually.' },
  { path: '/workflows', label: 'Workflows', section: 'Build', module: 'workflow', about: 'Workflow definitions: triggers and tasks.', children: true },
  { path: '/runs', label: 'Runs', section: 'Build', module: 'workflow', about: 'Workflow executions and their history.', children: true },
  { path: '/agents', label: 'Agents', section: 'Build', module: 'agents', planned: true, about: 'Agents and their configuration.' },
  { path: '/hub', label: 'Hub', section: 'Build', module: 'hub', planned: true, about: 'Shared components and integrations.' },
  { path: '/memory', label: 'Memory', section: 'Knowledge', module: 'memory', planned: true, about: 'Stored memory and knowledge.' },
  { path: '/learning', label: 'Learning', section: 'Knowledge', module: 'rl', planned: true, about: 'Reinforcement learning.' },
  { path: '/monitoring', label: 'Monitoring', section: 'Operate', module: 'monitoring', planned: true, about: 'Metrics, traces and alerts.' },
  { path: '/settings', label: 'Settings', section: 'Operate', module: 'auth', about: 'Your account, API keys, projects, users and server information.', children: true },
];

// Each module page (pages/*.page.ts) goes after the last entry of its section, or before Settings
// when its section is new; a page replaces a built-in placeholder with the same path.
function withModulePages(entries: NavEntry[]): NavEntry[] {
  const out = [...entries];
  for (const { nav } of MODULE_PAGES) {
    const same = out.findIndex((e) => e.path === nav.path);
    if (same >= 0) {
      out[same] = nav;
      continue;
    }
    let at = -1;
    out.forEach((e, i) => {
      if (e.section === nav.section) at = i + 1;
    });
    if (at < 0) at = Math.max(0, out.findIndex((e) => e.path === '/settings'));
    out.splice(at, 0, nav);
  }
  return out;
}

export const NAV: NavEntry[] = withModulePages(BUILT_IN);

/**
 * Whether the entry's module is still to come: the server's module list (when known) lacks it;
 * before the list is known, whether it is planned.
 */
export function isComing(entry: NavEntry, serverModules: readonly string[] | null): boolean {
  if (!entry.module) return false;
  return serverModules ? !serverModules.includes(entry.module) : !!entry.planned;
}

export function normalizePath(path: string): string {
  const p = path.replace(/\/+$/, '');
  return p === '' ? '/' : p;
}

export function findEntry(path: string): NavEntry | undefined {
  const p = normalizePath(path);
  return NAV.find((e) => e.path === p) ?? NAV.find((e) => e.children && p.startsWith(`${e.path}/`));
}
