// The pages shown before anyone is logged in: the login form and, on a
// fresh server, the form that creates the first admin.

import { ApiError } from '../api';
import { authStore } from '../auth';
import { h, replace } from '../dom';
import { busy, field, formError, input, markInvalid } from './forms';

export const MIN_PASSWORD_LENGTH = 10;

function authCard(title: string, sub: string, ...body: (Node | false | null)[]): HTMLElement {
  return h(
    'div',
    { class: 'auth-card' },
    h('div', { class: 'auth-brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), 'Arclight'),
    h('h1', { class: 'auth-title', tabindex: '-1' }, title),
    h('p', { class: 'auth-sub' }, sub),
    ...body,
  );
}

export interface LoginOptions {
  /** Shown above the form, e.g. "Your session has expired". */
  message?: string;
  onLoggedIn: () => void;
}

export function renderLogin(root: HTMLElement, opts: LoginOptions): () => void {
  const username = input({ name: 'username', type: 'text', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = input({ name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Log in');
  const error = formError('login-error');
  const form = h(
    'form',
    { class: 'auth-form', 'data-testid': 'login-form', novalidate: true },
    field('Username', username),
    field('Password', password),
    error.el,
    submit,
  );
  let countdown: ReturnType<typeof setInterval> | undefined;
  let blockedUntil = 0;

  const throttled = (seconds: number) => {
    clearInterval(countdown);
    blockedUntil = Date.now() + seconds * 1000;
    const tick = () => {
      const left = Math.ceil((blockedUntil - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(countdown);
        submit.disabled = false;
        error.text('You can try again now.');
        return;
      }
      submit.disabled = true;
      error.text(`Too many attempts, try again in ${left} s`);
    };
    tick();
    countdown = setInterval(tick, 1000);
  };

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (Date.now() < blockedUntil) return;
    error.clear();
    if (!username.value.trim() || !password.value) {
      error.text('Enter your username and password.');
      (username.value.trim() ? password : username).focus();
      return;
    }
    void busy(form, () => authStore.login(username.value.trim(), password.value)).then(
      () => opts.onLoggedIn(),
      (err: unknown) => {
        password.value = '';
        if (err instanceof ApiError && err.status === 429) {
          throttled(err.retryAfter ?? 1);
          return;
        }
        if (err instanceof ApiError && err.status === 401) error.text('Wrong username or password.');
        else error.show(err);
        markInvalid(form, err);
        password.focus();
      },
    );
  });

  replace(
    root,
    authCard(
      'Log in',
      'Sign in to manage this Arclight server.',
      opts.message ? h('div', { class: 'notice notice-info', 'data-testid': 'login-message' }, opts.message) : null,
      form,
    ),
  );
  username.focus();
  return () => clearInterval(countdown);
}

export interface SetupOptions {
  onDone: () => void;
  /** Someone else already created a user: go to the login page. */
  onAlreadyDone: () => void;
}

export function renderSetup(root: HTMLElement, opts: SetupOptions): () => void {
  const username = input({ name: 'username', type: 'text', autocomplete: 'username', required: true, value: 'admin', autocapitalize: 'none', spellcheck: 'false' });
  const password = input({ name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: MIN_PASSWORD_LENGTH });
  const confirm = input({ name: 'confirm', type: 'password', autocomplete: 'new-password', required: true });
  const error = formError('setup-error');
  const form = h(
    'form',
    { class: 'auth-form', 'data-testid': 'setup-form', novalidate: true },
    field('Username', username, 'Letters, digits and . _ - @ (up to 64 characters).'),
    field(
      'Password',
      password,
      `At least ${MIN_PASSWORD_LENGTH} characters. Common passwords (such as "password123") and the username itself are refused.`,
    ),
    field('Confirm password', confirm),
    error.el,
    h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Create admin and log in'),
  );

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    error.clear();
    if (!username.value.trim()) {
      error.text('Choose a username.');
      username.focus();
      return;
    }
    if (password.value.length < MIN_PASSWORD_LENGTH) {
      error.text(`The password must be at least ${MIN_PASSWORD_LENGTH} characters long.`);
      password.focus();
      return;
    }
    if (password.value !== confirm.value) {
      error.text('The two passwords differ.');
      confirm.focus();
      return;
    }
    void busy(form, () => authStore.setup(username.value.trim(), password.value)).then(
      () => opts.onDone(),
      (err: unknown) => {
        if (err instanceof ApiError && err.status === 409) {
          replace(
            error.el,
            err.detail || 'An admin already exists.',
            ' ',
            h('button', { type: 'button', class: 'btn btn-small', onclick: () => opts.onAlreadyDone() }, 'Go to the login page'),
          );
          error.el.hidden = false;
          return;
        }
        error.show(err);
        markInvalid(form, err);
      },
    );
  });

  replace(
    root,
    authCard(
      'Create the first admin',
      'This server has no users yet. The account you create here can manage everything, including other users. ' +
        'It can only be created from the machine the server runs on.',
      form,
    ),
  );
  password.focus();
  return () => undefined;
}
