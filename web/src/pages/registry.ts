// Pages that modules add: every pages/<name>.page.ts exports `page` (its navigation entry and its
// renderer). They are found at build time, so a new module's page (scripts/new-module) needs no
// edit anywhere else; nav.ts places each entry in its section and main.ts routes to it.

import type { NavEntry } from '../nav';

export interface ModulePage {
  nav: NavEntry;
  /** Renders the page into `root`; may return a cleanup run when the user leaves the page. */
  render(root: HTMLElement, entry: NavEntry, path: string): (() => void) | void;
}

const found = import.meta.glob<{ page: ModulePage }>('./*.page.ts', { eager: true });

export const MODULE_PAGES: ModulePage[] = Object.keys(found)
  .sort()
  .map((file) => found[file].page);
