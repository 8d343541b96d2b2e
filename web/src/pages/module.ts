// Page for a server module. It reports honestly what the server has:
// absent, disabled, or present with its health. It invents no content.

import { h, replace } from '../dom';
import type { NavEntry } from '../nav';
import { systemStore } from '../system';
import { notice, pageHeader, statusBadge } from './common';

/**
 * Renders the module's state into `el`; returns true when the module is present and enabled.
 * `hasScreens`: this UI has pages for the module (so do not say it has none).
 */
export function renderModuleState(el: HTMLElement, moduleName: string, hasScreens = false): boolean {
  const info = systemStore.info;
  if (!info) {
    if (systemStore.loading || !systemStore.error) {
      replace(el, h('p', { class: 'muted' }, 'Loading module list…'));
    } else {
      replace(
        el,
        notice(
          'error',
          "Could not load the server's module list. ",
          h('button', { type: 'button', class: 'btn btn-small', onclick: () => void systemStore.refresh() }, 'Retry'),
        ),
      );
    }
    return false;
  }
  const mod = info.modules.find((m) => m.name === moduleName);
  if (!mod) {
    replace(el, notice('info', `The ${moduleName} module is not part of this server yet.`));
    return false;
  }
  if (!mod.enabled) {
    replace(el, notice('warn', `The ${moduleName} module is installed but disabled on this server.`));
    return false;
  }
  replace(
    el,
    h(
      'div',
      { class: 'panel' },
      h('div', { class: 'panel-title' }, 'Module'),
      h(
        'dl',
        { class: 'kv' },
        h('dt', null, 'Name'),
        h('dd', null, h('code', null, mod.name)),
        h('dt', null, 'Health'),
        h('dd', { 'data-testid': `module-${mod.name}` }, statusBadge(mod.health?.status ?? 'unknown')),
        mod.health?.reason && [h('dt', null, 'Reason'), h('dd', null, mod.health.reason)],
      ),
    ),
    !hasScreens && h('p', { class: 'muted' }, `The ${moduleName} module is running, but this UI has no screens for it yet.`),
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
