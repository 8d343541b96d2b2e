// Page for a server module. It reports honestly what the server has: a module still to come,
// one switched off, or one present with its health. It invents no content.

import { h, replace } from '../dom';
import type { NavEntry } from '../nav';
import { componentName, systemStore } from '../system';
import { notice, pageHeader, statusBadge } from './common';

/** The page of a part of Arclight this server does not have yet: it is coming, not broken. */
export function comingNotice(name: string): HTMLElement {
  return h(
    'div',
    { class: 'coming-panel', 'data-testid': 'coming' },
    h('span', { class: 'badge badge-coming' }, 'coming'),
    h('p', { class: 'coming-title' }, `${name} is coming.`),
    h('p', { class: 'muted' }, `This server does not include ${name} yet. Once it does, this page shows it; nothing needs to be set up here meanwhile.`),
    h('p', null, h('a', { href: '/', 'data-link': true }, 'Back to the home page')),
  );
}

/**
 * Renders the module's state into `el`; returns true when the module is present and enabled.
 * `hasScreens`: this UI has pages for the module (so do not say it has none).
 */
export function renderModuleState(el: HTMLElement, moduleName: string, hasScreens = false): boolean {
  const name = componentName(moduleName);
  const info = systemStore.info;
  if (!info) {
    if (systemStore.loading || !systemStore.error) {
      replace(el, h('p', { class: 'muted' }, 'Loading…'));
    } else {
      replace(
        el,
        notice(
          'error',
          "Could not load what this server includes. ",
          h('button', { type: 'button', class: 'btn btn-small', onclick: () => void systemStore.refresh() }, 'Retry'),
        ),
      );
    }
    return false;
  }
  const mod = info.modules.find((m) => m.name === moduleName);
  if (!mod) {
    replace(el, comingNotice(name));
    return false;
  }
  if (!mod.enabled) {
    replace(el, notice('warn', `${name} is installed but switched off on this server.`));
    return false;
  }
  replace(
    el,
    h(
      'div',
      { class: 'panel' },
      h('div', { class: 'panel-title' }, 'Component'),
      h(
        'dl',
        { class: 'kv' },
        h('dt', null, 'Name'),
        h('dd', null, name),
        h('dt', null, 'Health'),
        h('dd', { 'data-testid': `module-${mod.name}` }, statusBadge(mod.health?.status ?? 'unknown')),
        mod.health?.reason && [h('dt', null, 'Reason'), h('dd', null, mod.health.reason)],
      ),
    ),
    !hasScreens && h('p', { class: 'muted' }, `${name} is running, but this UI has no screens for it yet.`),
  );
  return true;
}

export function renderModulePage(root: HTMLElement, entry: NavEntry): () => void {
  const moduleName = entry.module ?? '';
  const body = h('div');
  replace(root, pageHeader(entry.label, entry.about), body);
  let last = '';
  const update = () => {
    const mod = systemStore.module(moduleName);
    const key = JSON.stringify([!!systemStore.info, systemStore.loading, !!systemStore.error, mod]);
    if (key === last) return;
    last = key;
    renderModuleState(body, moduleName);
  };
  update();
  return systemStore.listen(update);
}
