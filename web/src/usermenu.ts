// The header's user menu: who is logged in (username and role) with links
// to the account and API-key settings and a "Log out" item.

import type { Me } from './auth';
import { h, replace } from './dom';

export interface UserMenu {
  el: HTMLElement;
  update(me: Me | null): void;
  close(): void;
}

export function createUserMenu(onLogout: () => void): UserMenu {
  const name = h('span', { class: 'user-name', 'data-testid': 'user-menu-name' });
  const role = h('span', { class: 'badge badge-role', 'data-testid': 'user-menu-role' });
  const button = h(
    'button',
    { type: 'button', class: 'user-button', 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'data-testid': 'user-menu-button' },
    h('span', { class: 'avatar', 'aria-hidden': 'true' }),
    name,
    role,
    h('span', { class: 'caret', 'aria-hidden': 'true' }),
  );
  const items = [
    h('a', { href: '/settings/account', 'data-link': true, role: 'menuitem', class: 'menu-item', 'data-testid': 'menu-password' }, 'Change password'),
    h('a', { href: '/settings/api-keys', 'data-link': true, role: 'menuitem', class: 'menu-item', 'data-testid': 'menu-api-keys' }, 'API keys'),
    h('button', { type: 'button', role: 'menuitem', class: 'menu-item', 'data-testid': 'logout' }, 'Log out'),
  ];
  const menu = h('div', { class: 'menu', role: 'menu', hidden: true, 'aria-label': 'User' }, items);
  const el = h('div', { class: 'user-menu', 'data-testid': 'user-menu', hidden: true }, button, menu);

  const isOpen = () => !menu.hidden;
  const open = () => {
    menu.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    document.addEventListener('pointerdown', onOutside, true);
    document.addEventListener('keydown', onEscape);
  };
  const close = () => {
    if (!isOpen()) return;
    menu.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    document.removeEventListener('pointerdown', onOutside, true);
    document.removeEventListener('keydown', onEscape);
  };
  const onOutside = (ev: Event) => {
    if (!el.contains(ev.target as Node)) close();
  };
  const onEscape = (ev: KeyboardEvent) => {
    if (ev.key !== 'Escape') return;
    close();
    button.focus();
  };

  button.addEventListener('click', () => {
    if (isOpen()) close();
    else open();
  });
  button.addEventListener('keydown', (ev) => {
    if (ev.key === 'ArrowDown') {
      ev.preventDefault();
      open();
      items[0]?.focus();
    }
  });
  menu.addEventListener('keydown', (ev) => {
    const i = items.indexOf(document.activeElement as HTMLAnchorElement | HTMLButtonElement);
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
      ev.preventDefault();
      const next = (i + (ev.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length;
      items[next]?.focus();
    }
  });
  // Following a link or logging out closes the menu.
  menu.addEventListener('click', () => close());
  items[2]?.addEventListener('click', () => onLogout());

  return {
    el,
    update(me) {
      el.hidden = !me;
      if (!me) {
        close();
        return;
      }
      replace(name, me.user.username);
      replace(role, me.user.role);
      button.title = `Logged in as ${me.user.username} (${me.user.role})${me.via === 'api_key' ? ' with an API key' : ''}`;
    },
    close,
  };
}
