// Settings: the auth module's state plus read-only server information.

import { h, replace } from '../dom';
import { formatDateTime } from '../format';
import type { NavEntry } from '../nav';
import { systemStore } from '../system';
import { pageHeader, statusBadge } from './common';
import { renderModuleState } from './module';

export function renderSettings(root: HTMLElement, entry: NavEntry): () => void {
  const auth = h('div');
  const server = h('div');
  replace(
    root,
    pageHeader(entry.label, entry.about),
    h('h2', null, 'Users and access'),
    auth,
    h('h2', null, 'Server'),
    server,
  );
  let last = '';
  const update = () => {
    const info = systemStore.info;
    const key = JSON.stringify([!!info, systemStore.loading, !!systemStore.error, systemStore.module('auth'), info?.version, info?.database]);
    if (key === last) return;
    last = key;
    renderModuleState(auth, entry.module ?? 'auth');
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
          h('dt', null, 'Modules'),
          h('dd', null, info.modules.map((m) => m.name).join(', ') || '—'),
        ),
      ),
    );
  };
  update();
  return systemStore.listen(update);
}
