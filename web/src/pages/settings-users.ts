// Settings → Users (admins only): list, create, change role, disable or
// enable, reset a password, delete.

import { api } from '../api';
import { AUTH, ROLES, authStore, type PermissionCatalog, type User } from '../auth';
import { h, replace } from '../dom';
import { formatDateTime } from '../format';
import { notice } from './common';
import { busy, errorDialog, field, formError, input, markInvalid, openDialog } from './forms';
import { MIN_PASSWORD_LENGTH } from './login';

const ROLE_SUMMARY: Record<string, string> = {
  admin: 'everything, including users, API keys of their own, the audit log and server administration',
  editor: 'read everything; change flows, agents, memory, hub and learning; start and cancel runs',
  operator: 'read everything; start and cancel runs',
  viewer: 'read everything, change nothing',
};

function roleSelect(value: string, attrs: Record<string, string | boolean> = {}): HTMLSelectElement {
  return h(
    'select',
    { class: 'input', ...attrs },
    ROLES.map((r) => h('option', { value: r, selected: r === value }, r)),
  );
}

function passwordHint(): string {
  return `At least ${MIN_PASSWORD_LENGTH} characters; common passwords and the username are refused.`;
}

function userPath(u: User): string {
  return `${AUTH}/users/${encodeURIComponent(u.id)}`;
}

export function renderUsers(root: HTMLElement): () => void {
  let alive = true;
  const list = h('div', { class: 'panel-body' }, h('p', { class: 'muted pad' }, 'Loading users…'));
  const roles = h('div');
  const createHost = h('div', { class: 'panel-pad' });
  replace(
    root,
    h('section', { class: 'panel' }, h('div', { class: 'panel-title' }, 'Users'), list),
    h('section', { class: 'panel' }, h('div', { class: 'panel-title' }, 'Add a user'), createHost),
    roles,
  );
  const selfId = authStore.user?.id;

  const patch = (u: User, body: Record<string, unknown>) => api.patch<User>(userPath(u), body, { quiet: true });

  const setDisabled = (u: User, disabled: boolean) => {
    if (!disabled) {
      void patch(u, { disabled: false }).then(load, (err: unknown) => void errorDialog(`Could not enable ${u.username}`, err).then(() => load()));
      return;
    }
    void openDialog({
      title: 'Disable user',
      body: h('p', null, 'Disable ', h('strong', null, u.username), '? They are logged out at once and cannot log in until enabled again. Their API keys stop working too.'),
      confirmLabel: 'Disable',
      danger: true,
      onConfirm: async () => {
        await patch(u, { disabled: true });
      },
    }).then((ok) => {
      if (ok) void load();
    });
  };

  const resetPassword = (u: User) => {
    const pw = input({ name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: MIN_PASSWORD_LENGTH });
    const again = input({ name: 'confirm', type: 'password', autocomplete: 'new-password', required: true });
    void openDialog({
      title: `Reset the password of ${u.username}`,
      body: h('div', null, field('New password', pw, passwordHint()), field('Confirm', again), h('p', { class: 'muted' }, 'Their sessions end; they log in with the new password.')),
      confirmLabel: 'Set password',
      onConfirm: async () => {
        if (pw.value.length < MIN_PASSWORD_LENGTH) throw new Error(`The password must be at least ${MIN_PASSWORD_LENGTH} characters long.`);
        if (pw.value !== again.value) throw new Error('The two passwords differ.');
        await patch(u, { password: pw.value });
      },
    }).then((ok) => {
      if (ok) void load();
    });
  };

  const remove = (u: User) =>
    void openDialog({
      title: 'Delete user',
      body: h('p', null, 'Delete ', h('strong', null, u.username), ' for good? Their sessions and API keys are deleted with them. The audit log keeps their entries.'),
      confirmLabel: 'Delete',
      danger: true,
      onConfirm: async () => {
        await api.delete(userPath(u), { quiet: true });
      },
    }).then((ok) => {
      if (ok) void load();
    });

  const row = (u: User) => {
    const self = u.id === selfId;
    const select = roleSelect(u.role, { 'aria-label': `Role of ${u.username}`, 'data-testid': 'user-role', disabled: self });
    if (self) select.title = 'You cannot change your own role here; ask another admin.';
    select.addEventListener('change', () => {
      const role = select.value;
      select.disabled = true;
      void patch(u, { role }).then(
        (updated) => {
          u.role = updated.role;
          select.disabled = false;
        },
        (err: unknown) => {
          select.value = u.role;
          select.disabled = false;
          // The list may be stale (someone else changed or deleted the user): reload it after.
          void errorDialog(`Could not change the role of ${u.username}`, err).then(() => load());
        },
      );
    });
    const selfTitle = self ? 'This is you.' : undefined;
    return h(
      'tr',
      { 'data-testid': 'user-row', 'data-username': u.username, class: u.disabled ? 'row-inactive' : null },
      h('td', null, h('strong', { 'data-testid': 'user-name' }, u.username), self && h('span', { class: 'tag' }, 'you')),
      h('td', null, select),
      h('td', null, h('span', { class: `badge badge-${u.disabled ? 'disabled' : 'ok'}`, 'data-testid': 'user-status' }, u.disabled ? 'disabled' : 'active')),
      h('td', { class: 'nowrap' }, u.created_at ? formatDateTime(u.created_at) : '—'),
      h('td', { class: 'nowrap' }, u.last_login_at ? formatDateTime(u.last_login_at) : h('span', { class: 'muted' }, 'never')),
      h(
        'td',
        { class: 'actions' },
        h('button', { type: 'button', class: 'btn btn-small', disabled: self, title: selfTitle, onclick: () => setDisabled(u, !u.disabled) }, u.disabled ? 'Enable' : 'Disable'),
        h(
          'button',
          { type: 'button', class: 'btn btn-small', disabled: self, title: self ? 'Change your own password under Account.' : undefined, onclick: () => resetPassword(u) },
          'Reset password',
        ),
        h('button', { type: 'button', class: 'btn btn-small btn-danger-quiet', disabled: self, title: selfTitle, onclick: () => remove(u) }, 'Delete'),
      ),
    );
  };

  const load = async () => {
    try {
      const r = await api.get<{ items: User[] }>(`${AUTH}/users`, { quiet: true });
      if (!alive) return;
      const items = [...(r.items ?? [])].sort((a, b) => a.username.localeCompare(b.username));
      replace(
        list,
        h(
          'table',
          { class: 'table', 'data-testid': 'users-table' },
          h('thead', null, h('tr', null, ['Username', 'Role', 'Status', 'Created', 'Last login', ''].map((t) => h('th', null, t)))),
          h('tbody', null, items.length === 0 && h('tr', null, h('td', { colspan: '6', class: 'muted' }, 'No users.')), items.map(row)),
        ),
      );
    } catch (err) {
      if (!alive) return;
      const e = formError();
      e.show(err);
      replace(list, h('div', { class: 'pad' }, notice('error', 'Could not load the users: ', e.el)));
    }
  };

  // ---- create ----
  const username = input({ name: 'username', type: 'text', required: true, autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' });
  const password = input({ name: 'password', type: 'password', required: true, autocomplete: 'new-password', minlength: MIN_PASSWORD_LENGTH });
  const role = roleSelect('viewer', { name: 'role' });
  const roleHelp = h('span', null, ROLE_SUMMARY.viewer);
  role.addEventListener('change', () => replace(roleHelp, ROLE_SUMMARY[role.value] ?? ''));
  const error = formError('user-error');
  const created = h('div', { class: 'notice notice-ok', role: 'status', hidden: true });
  const form = h(
    'form',
    { class: 'form form-inline', 'data-testid': 'user-form', novalidate: true },
    field('Username', username, 'Letters, digits and . _ - @'),
    field('Password', password, passwordHint()),
    field('Role', role, roleHelp),
    error.el,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Add user')),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    error.clear();
    created.hidden = true;
    if (!username.value.trim()) {
      error.text('Enter a username.');
      username.focus();
      return;
    }
    if (password.value.length < MIN_PASSWORD_LENGTH) {
      error.text(`The password must be at least ${MIN_PASSWORD_LENGTH} characters long.`);
      password.focus();
      return;
    }
    const body = { username: username.value.trim(), password: password.value, role: role.value };
    void busy(form, () => api.post<User>(`${AUTH}/users`, body, { quiet: true })).then(
      (u) => {
        form.reset();
        replace(roleHelp, ROLE_SUMMARY[role.value] ?? '');
        markInvalid(form, null);
        created.hidden = false;
        replace(created, `Added ${u.username} (${u.role}). Give them their password by a safe channel; they can change it under Settings → Account.`);
        void load();
      },
      (err: unknown) => {
        error.show(err);
        markInvalid(form, err);
      },
    );
  });
  replace(createHost, created, form);

  // ---- what each role can do ----
  api.get<PermissionCatalog>(`${AUTH}/permissions`, { quiet: true }).then(
    (c) => {
      if (!alive) return;
      replace(
        roles,
        h(
          'details',
          { class: 'panel roles' },
          h('summary', { class: 'panel-title' }, 'What each role can do'),
          h(
            'dl',
            { class: 'kv' },
            ROLES.filter((r) => c.roles?.[r]).map((r) => {
              const perms = c.roles[r] ?? [];
              return [
                h('dt', null, h('span', { class: 'badge badge-role' }, r)),
                h('dd', null, perms.includes('*') ? 'every permission' : h('div', { class: 'chips' }, perms.map((p) => h('code', { class: 'chip' }, p)))),
              ];
            }),
          ),
        ),
      );
    },
    () => undefined,
  );

  void load();
  return () => {
    alive = false;
  };
}
