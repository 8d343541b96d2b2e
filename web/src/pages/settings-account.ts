// Settings → Account: who you are, and changing your password.

import { authStore } from '../auth';
import { h, replace } from '../dom';
import { busy, field, formError, input, markInvalid } from './forms';
import { MIN_PASSWORD_LENGTH } from './login';

export function renderAccount(root: HTMLElement): void {
  const me = authStore.me;
  const current = input({ name: 'current_password', type: 'password', autocomplete: 'current-password', required: true });
  const next = input({ name: 'new_password', type: 'password', autocomplete: 'new-password', required: true, minlength: MIN_PASSWORD_LENGTH });
  const confirm = input({ name: 'confirm', type: 'password', autocomplete: 'new-password', required: true });
  const error = formError('password-error');
  const done = h('div', { class: 'notice notice-ok', role: 'status', 'data-testid': 'password-changed', hidden: true });
  const form = h(
    'form',
    { class: 'form', 'data-testid': 'password-form', novalidate: true },
    // A hidden username helps password managers file the new password under the right account.
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: me?.user.username ?? '', hidden: true, readonly: true }),
    field('Current password', current),
    field(
      'New password',
      next,
      `At least ${MIN_PASSWORD_LENGTH} characters; common passwords and your username are refused.`,
    ),
    field('Confirm new password', confirm),
    error.el,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Change password')),
  );

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    error.clear();
    done.hidden = true;
    if (!current.value) {
      error.text('Enter your current password.');
      current.focus();
      return;
    }
    if (next.value.length < MIN_PASSWORD_LENGTH) {
      error.text(`The new password must be at least ${MIN_PASSWORD_LENGTH} characters long.`);
      next.focus();
      return;
    }
    if (next.value !== confirm.value) {
      error.text('The two new passwords differ.');
      confirm.focus();
      return;
    }
    void busy(form, () => authStore.changePassword(current.value, next.value)).then(
      () => {
        form.reset();
        markInvalid(form, null);
        done.hidden = false;
        replace(done, 'Password changed. Every other session of yours has been logged out; this browser stays logged in.');
      },
      (err: unknown) => {
        error.show(err);
        markInvalid(form, err);
      },
    );
  });

  replace(
    root,
    me &&
      h(
        'section',
        { class: 'panel' },
        h('div', { class: 'panel-title' }, 'Account'),
        h(
          'dl',
          { class: 'kv' },
          h('dt', null, 'Username'),
          h('dd', { 'data-testid': 'account-username' }, me.user.username),
          h('dt', null, 'Role'),
          h('dd', null, h('span', { class: 'badge badge-role' }, me.user.role)),
        ),
      ),
    h('section', { class: 'panel' }, h('div', { class: 'panel-title' }, 'Change password'), h('div', { class: 'panel-pad' }, done, form)),
  );
}
