// Client-side routing with the History API. Links marked `data-link`
// are intercepted; the server answers unknown non-API paths with
// index.html, so deep links land here too.

import { normalizePath } from './nav';

export type Cleanup = () => void;
export type RouteHandler = (path: string) => Cleanup | void;

export class Router {
  private cleanup: Cleanup | void = undefined;

  constructor(private readonly handler: RouteHandler) {}

  start(): void {
    window.addEventListener('popstate', () => this.render());
    document.addEventListener('click', (ev) => {
      if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
      const a = (ev.target as Element | null)?.closest?.('a[data-link]');
      if (!(a instanceof HTMLAnchorElement) || a.target || a.origin !== location.origin) return;
      ev.preventDefault();
      this.navigate(a.pathname + a.search);
    });
    this.render();
  }

  navigate(to: string): void {
    if (to !== location.pathname + location.search) history.pushState(null, '', to);
    this.render();
  }

  get path(): string {
    return normalizePath(location.pathname);
  }

  private render(): void {
    if (this.cleanup) this.cleanup();
    this.cleanup = this.handler(this.path);
  }
}
