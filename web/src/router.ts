// Client-side routing with the History API. Links marked `data-link`
// are intercepted; the server answers unknown non-API paths with
// index.html, so deep links land here too.

import { normalizePath } from './nav';

export type Cleanup = () => void;

/** Returned by a route handler to send the browser elsewhere (the history entry is replaced). */
export class Redirect {
  constructor(readonly to: string) {}
}

export type RouteHandler = (path: string) => Cleanup | Redirect | void;

const MAX_REDIRECTS = 5;

let active: Router | null = null;
let leaveGuard: (() => string | null) | null = null;

/**
 * While set, leaving the page (another route, back, reload, closing the tab) asks first whenever
 * the guard returns a message (e.g. an editor with unsaved changes). Cleared when a page renders.
 */
export function setLeaveGuard(guard: (() => string | null) | null): void {
  leaveGuard = guard;
}

/** Whether the page may be left now: no guard, nothing to lose, or the user said so. */
function mayLeave(): boolean {
  const message = leaveGuard?.();
  return !message || window.confirm(message);
}

/** Client-side navigation from page code (e.g. to a run just started); a full page load before the router runs. */
export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (active) active.navigate(to, opts);
  else location.assign(to);
}

export class Router {
  private cleanup: Cleanup | void = undefined;
  private started = false;
  private shown = '';

  constructor(private readonly handler: RouteHandler) {}

  start(): void {
    if (this.started) {
      this.render();
      return;
    }
    this.started = true;
    active = this;
    window.addEventListener('popstate', () => {
      if (!mayLeave()) {
        history.pushState(null, '', this.shown);  // back where the user stays
        return;
      }
      this.render();
    });
    window.addEventListener('beforeunload', (ev) => {
      if (!leaveGuard?.()) return;
      ev.preventDefault();
      ev.returnValue = '';  // the browser asks in its own words
    });
    document.addEventListener('click', (ev) => {
      if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
      const a = (ev.target as Element | null)?.closest?.('a[data-link]');
      if (!(a instanceof HTMLAnchorElement) || a.target || a.origin !== location.origin) return;
      ev.preventDefault();
      this.navigate(a.pathname + a.search);
    });
    this.render();
  }

  navigate(to: string, opts: { replace?: boolean } = {}): void {
    if (!mayLeave()) return;
    if (to !== location.pathname + location.search) {
      if (opts.replace) history.replaceState(null, '', to);
      else history.pushState(null, '', to);
    }
    this.render();
  }

  /** Renders the current location again (e.g. after logging in or out). */
  refresh(): void {
    this.render();
  }

  get path(): string {
    return normalizePath(location.pathname);
  }

  private render(): void {
    if (this.cleanup) this.cleanup();
    this.cleanup = undefined;
    leaveGuard = null;
    for (let i = 0; i <= MAX_REDIRECTS; i++) {
      const result = this.handler(this.path);
      if (!(result instanceof Redirect)) {
        this.cleanup = result;
        this.shown = location.pathname + location.search;
        return;
      }
      history.replaceState(null, '', result.to);
    }
    console.error('arclight: too many redirects at', location.pathname);
  }
}
