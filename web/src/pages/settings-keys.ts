// Settings → API keys: your own keys. A new key's secret is shown exactly
// once, right after it is created; the server keeps only a hash.

import { api } from '../api';
import { AUTH, authStore, type ApiKey, type NewApiKey, type PermissionCatalog } from '../auth';
import { h, replace } from '../dom';
import { formatDateTime } from '../format';
import { projectStore } from '../projects';
import { notice } from './common';
import { busy, copyText, field, formError, input, markInvalid, openDialog } from './forms';
import { projectTag } from './project-ui';

const ALL = '*';

function keyStatus(k: ApiKey): 'revoked' | 'expired' | 'active' {
  if (k.revoked_at) return 'revoked';
  if (k.expires_at && Date.parse(k.expires_at) <= Date.now()) return 'expired';
  return 'active';
}

function when(iso: string | null, none: string): Node | string {
  return iso ? formatDateTime(iso) : h('span', { class: 'muted' }, none);
}

/** The permissions this user may give a key: their own (all of them for an admin). */
function grantable(catalog: PermissionCatalog | null): string[] {
  const mine = authStore.me?.permissions ?? [];
  const all = catalog?.permissions ?? [];
  const list = mine.includes(ALL) ? all : [...new Set([...all.filter((p) => mine.includes(p)), ...mine.filter((p) => p !== ALL)])];
  return [...list].sort();
}

/** A date picked in the form ("2027-01-31") as the end of that day, local time, in RFC 3339 UTC. */
export function endOfDayUtc(date: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return null;
  const t = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 23, 59, 59);
  return Number.isNaN(t.getTime()) ? null : t.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function localDate(t: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}`;
}

export function renderApiKeys(root: HTMLElement): () => void {
  let alive = true;
  const reveal = h('div');
  const list = h('div', { class: 'panel-body' }, h('p', { class: 'muted pad' }, 'Loading API keys…'));
  const formHost = h('div', { class: 'panel-pad' }, h('p', { class: 'muted' }, 'Loading permissions…'));

  replace(
    root,
    reveal,
    h('section', { class: 'panel' }, h('div', { class: 'panel-title' }, 'Your API keys'), list),
    h(
      'section',
      { class: 'panel' },
      h('div', { class: 'panel-title' }, 'Create an API key'),
      formHost,
    ),
    h(
      'p',
      { class: 'muted' },
      'Programs send a key as ',
      h('code', null, 'Authorization: Bearer ak_…'),
      '. A key can do at most what you can do, limited to its scopes.',
    ),
  );

  const showNewKey = (k: NewApiKey) => {
    const value = h('input', { class: 'input input-code', readonly: true, value: k.key, 'data-testid': 'new-api-key-value', 'aria-label': 'New API key', spellcheck: 'false' });
    const copied = h('span', { class: 'copy-state', role: 'status' });
    const copy = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'copy-api-key' }, 'Copy');
    copy.addEventListener('click', () => {
      void copyText(k.key, value).then((ok) => replace(copied, ok ? 'Copied.' : 'Copy failed: select the key and copy it by hand.'));
    });
    value.addEventListener('focus', () => value.select());
    replace(
      reveal,
      h(
        'section',
        { class: 'panel panel-key', 'data-testid': 'new-api-key' },
        h('div', { class: 'panel-title' }, `New API key “${k.name}”`),
        h(
          'div',
          { class: 'panel-pad' },
          h('p', { class: 'key-warning' }, h('strong', null, 'Copy this key now.'), ' It is shown only this once: the server does not store it and cannot show it again. If you lose it, revoke it and create a new one.'),
          h('div', { class: 'key-row' }, value, copy, copied),
          h('div', { class: 'form-actions' }, h('button', { type: 'button', class: 'btn', onclick: () => replace(reveal) }, 'I have copied it')),
        ),
      ),
    );
    value.focus();
  };

  const revoke = (k: ApiKey) =>
    void openDialog({
      title: 'Revoke API key',
      body: h('p', null, 'Revoke ', h('strong', null, k.name), ' (', h('code', null, `${k.prefix}…`), ')? Programs using it stop working at once. This cannot be undone.'),
      confirmLabel: 'Revoke',
      danger: true,
      onConfirm: async () => {
        await api.delete(`${AUTH}/api-keys/${encodeURIComponent(k.id)}`, { quiet: true });
      },
    }).then((ok) => {
      if (ok) void load();
    });

  const table = (items: ApiKey[]) =>
    h(
      'table',
      { class: 'table', 'data-testid': 'api-keys-table' },
      h(
        'thead',
        null,
        h('tr', null, ['Name', 'Key', 'Scopes', projectStore.enabled && 'Project', 'Created', 'Expires', 'Last used', 'Status', ''].filter((t) => t !== false).map((t) => h('th', null, t))),
      ),
      h(
        'tbody',
        null,
        items.length === 0 && h('tr', null, h('td', { colspan: projectStore.enabled ? '9' : '8', class: 'muted' }, 'You have no API keys.')),
        items.map((k) => {
          const status = keyStatus(k);
          return h(
            'tr',
            { 'data-testid': 'api-key-row', 'data-id': k.id, class: status === 'active' ? null : 'row-inactive' },
            h('td', null, k.name),
            h('td', null, h('code', null, `${k.prefix}…`)),
            h('td', null, h('div', { class: 'chips' }, k.scopes.map((s) => h('code', { class: 'chip' }, s === ALL ? '* (all)' : s)))),
            projectStore.enabled && h('td', { 'data-testid': 'api-key-project' }, k.project_id ? projectTag(k.project_id, 'api-key-project-name') : h('span', { class: 'muted' }, 'all of yours')),
            h('td', { class: 'nowrap' }, when(k.created_at, '—')),
            h('td', { class: 'nowrap' }, when(k.expires_at, 'never')),
            h('td', { class: 'nowrap' }, when(k.last_used_at, 'never')),
            h(
              'td',
              { class: 'nowrap' },
              h('span', { class: `badge badge-${status === 'active' ? 'ok' : status === 'expired' ? 'degraded' : 'disabled'}`, 'data-testid': 'api-key-status' }, status),
              k.revoked_at && h('div', { class: 'cell-sub' }, formatDateTime(k.revoked_at)),
            ),
            h(
              'td',
              { class: 'actions' },
              status !== 'revoked' && h('button', { type: 'button', class: 'btn btn-small btn-danger-quiet', onclick: () => revoke(k) }, 'Revoke'),
            ),
          );
        }),
      ),
    );

  const load = async () => {
    try {
      const r = await api.get<{ items: ApiKey[] }>(`${AUTH}/api-keys`, { quiet: true });
      if (!alive) return;
      const items = [...(r.items ?? [])].sort((a, b) => Number(keyStatus(a) !== 'active') - Number(keyStatus(b) !== 'active') || (b.created_at ?? '').localeCompare(a.created_at ?? ''));
      replace(list, table(items));
    } catch (err) {
      if (!alive) return;
      const e = formError();
      e.show(err);
      replace(list, h('div', { class: 'pad' }, notice('error', 'Could not load your API keys: ', e.el)));
    }
  };

  const buildForm = (catalog: PermissionCatalog | null) => {
    const name = input({ name: 'name', type: 'text', required: true, maxlength: 100, placeholder: 'e.g. CI pipeline', autocomplete: 'off' });
    const expires = input({ name: 'expires_at', type: 'date', min: localDate(new Date(Date.now() + 86_400_000)) });
    const allBox = h('input', { type: 'checkbox', name: 'scopes', value: ALL });
    const perms = grantable(catalog);
    const boxes = perms.map((p) => h('input', { type: 'checkbox', name: 'scopes', value: p }));
    const sync = () => {
      for (const b of boxes) b.disabled = allBox.checked;
    };
    allBox.addEventListener('change', sync);
    const error = formError('api-key-error');
    // A key can be limited to one project, on top of its scopes.
    const project = h(
      'select',
      { class: 'input', name: 'project_id', 'data-testid': 'api-key-project-select' },
      h('option', { value: '' }, 'Every project of mine'),
      projectStore.all.map((p) => h('option', { value: p.id }, p.kind === 'personal' && p.id === projectStore.personalId ? `${p.name} (personal)` : p.name)),
    );
    const form = h(
      'form',
      { class: 'form', 'data-testid': 'api-key-form', novalidate: true },
      field('Name', name, 'What the key is for, so you can recognise it later.'),
      h(
        'fieldset',
        { class: 'scopes' },
        h('legend', null, 'Scopes'),
        h('label', { class: 'check check-all' }, allBox, h('span', null, h('code', null, '*'), ' all of my permissions (', authStore.me?.user.role ?? '', ')')),
        h('div', { class: 'check-grid' }, boxes.map((b) => h('label', { class: 'check' }, b, h('code', null, b.value)))),
        perms.length === 0 && h('p', { class: 'muted' }, 'The list of permissions could not be loaded; "*" still works.'),
      ),
      projectStore.enabled && field('Project', project, 'Optional. A key limited to one project cannot reach the others, whatever its scopes.'),
      field('Expires', expires, 'Optional. The key stops working at the end of that day; leave empty for a key that does not expire.'),
      error.el,
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create key')),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      error.clear();
      const scopes = allBox.checked ? [ALL] : boxes.filter((b) => b.checked).map((b) => b.value);
      if (!name.value.trim()) {
        error.text('Give the key a name.');
        name.focus();
        return;
      }
      if (scopes.length === 0) {
        error.text('Pick at least one scope (or "*" for all of your permissions).');
        return;
      }
      const body: { name: string; scopes: string[]; expires_at?: string; project_id?: string } = { name: name.value.trim(), scopes };
      if (project.value) body.project_id = project.value;
      if (expires.value) {
        const at = endOfDayUtc(expires.value);
        if (!at || Date.parse(at) <= Date.now()) {
          error.text('The expiry date must be in the future.');
          expires.focus();
          return;
        }
        body.expires_at = at;
      }
      void busy(form, () => api.post<NewApiKey>(`${AUTH}/api-keys`, body, { quiet: true })).then(
        (k) => {
          if (!alive) return;
          form.reset();
          sync();
          markInvalid(form, null);
          showNewKey(k);
          void load();
        },
        (err: unknown) => {
          error.show(err);
          markInvalid(form, err);
        },
      );
    });
    replace(formHost, form);
  };

  void load();
  api.get<PermissionCatalog>(`${AUTH}/permissions`, { quiet: true }).then(
    (c) => alive && buildForm(c),
    () => alive && buildForm(null),
  );
  return () => {
    alive = false;
  };
}
