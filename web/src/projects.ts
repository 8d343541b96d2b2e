// Projects: the caller's projects (from /api/v1/auth/me) and the project chosen in the header's
// switcher, which filters every list (`?project_id=`) and is where new workflows are created.
// The choice is remembered per user in localStorage; "" means all projects.

import { authStore, type MeProject, type Role } from './auth';

/** A project of the caller, with the caller's role in it (an instance admin is admin of every project). */
export type Project = MeProject;

/** GET /api/v1/projects items. */
export interface ProjectSummary extends Project {
  created_at?: string | null;
}

export interface Member {
  user_id: string;
  username: string;
  role: Role | string;
}

export const PROJECTS = '/api/v1/projects';

export function projectPath(id: string): string {
  return `${PROJECTS}/${encodeURIComponent(id)}`;
}

const STORAGE_PREFIX = 'arclight.project.';

type Listener = () => void;

function storageGet(key: string): string {
  try {
    return localStorage.getItem(key) ?? '';
  } catch {
    return '';
  }
}

function storageSet(key: string, value: string): void {
  try {
    if (value) localStorage.setItem(key, value);
    else localStorage.removeItem(key);
  } catch {
    // Storage disabled: the choice lasts for this page only.
  }
}

/** Personal projects first, then by name. */
export function byKindAndName(a: Project, b: Project): number {
  const ka = a.kind === 'personal' ? 0 : 1;
  const kb = b.kind === 'personal' ? 0 : 1;
  return ka - kb || a.name.localeCompare(b.name);
}

class ProjectStore {
  private chosen = '';
  private chosenFor = '';
  private readonly listeners = new Set<Listener>();
  /** Names of projects seen outside /me (e.g. listed by /projects), for resolving ids. */
  private readonly extraNames = new Map<string, string>();

  constructor() {
    authStore.listen(() => this.sync());
  }

  /** Called on every change: the chosen project or the caller's projects. */
  listen(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Called when the chosen project changes (lists reload). */
  onSwitch(fn: Listener): () => void {
    let last = this.chosen;
    return this.listen(() => {
      if (this.chosen === last) return;
      last = this.chosen;
      fn();
    });
  }

  /** Whether the server has projects (its /me lists them). */
  get enabled(): boolean {
    return Array.isArray(this.meProjects());
  }

  /** The caller's projects, personal first, then by name. */
  get all(): Project[] {
    return [...(this.meProjects() ?? [])].sort(byKindAndName);
  }

  get personalId(): string {
    return authStore.me?.personal_project_id ?? '';
  }

  /** The project chosen in the switcher; "" = all projects. */
  get current(): string {
    return this.chosen;
  }

  get currentProject(): Project | undefined {
    return this.chosen ? this.find(this.chosen) : undefined;
  }

  /** The instance admin (global role admin) sees and manages every project. */
  get instanceAdmin(): boolean {
    const flag = authStore.me?.instance_admin;
    return typeof flag === 'boolean' ? flag : authStore.user?.role === 'admin';
  }

  find(id: string): Project | undefined {
    return this.meProjects()?.find((p) => p.id === id);
  }

  /** A project's name for display; the id when the caller does not know it. */
  name(id: string | null | undefined): string {
    if (!id) return '';
    return this.find(id)?.name ?? this.extraNames.get(id) ?? id;
  }

  noteName(id: string, name: string): void {
    this.extraNames.set(id, name);
  }

  /** Whether the caller administers the project (members, rename, delete, moving workflows out and in). */
  isAdmin(id: string | null | undefined): boolean {
    if (!id) return false;
    return this.find(id)?.role === 'admin';
  }

  /** Projects the caller administers (every project for an instance admin). */
  get adminProjects(): Project[] {
    return this.all.filter((p) => p.role === 'admin');
  }

  select(id: string): void {
    const next = id && this.find(id) ? id : '';
    if (next === this.chosen) return;
    this.chosen = next;
    const uid = authStore.user?.id;
    if (uid) storageSet(STORAGE_PREFIX + uid, next);
    this.emit();
  }

  /** `path` with `project_id` added when a project is chosen (merged into an existing query). */
  filtered(path: string, params?: URLSearchParams): string {
    const q = new URLSearchParams(params);
    if (this.chosen) q.set('project_id', this.chosen);
    const qs = q.toString();
    return qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path;
  }

  /** Re-reads the choice after /me changed: a new user, or projects joined or left. */
  private sync(): void {
    const uid = authStore.state === 'in' ? (authStore.user?.id ?? '') : '';
    let next = this.chosen;
    if (uid !== this.chosenFor) {
      this.chosenFor = uid;
      next = uid ? storageGet(STORAGE_PREFIX + uid) : '';
    }
    // A project the caller is no longer a member of (or that was deleted) falls back to all.
    if (next && !this.find(next)) next = '';
    this.chosen = next;
    this.emit();
  }

  private meProjects(): Project[] | undefined {
    const list: unknown = authStore.me?.projects;
    if (!Array.isArray(list)) return undefined;
    return list.filter((p): p is Project => typeof p === 'object' && p !== null && typeof (p as Project).id === 'string');
  }

  private emit(): void {
    for (const fn of this.listeners) fn();
  }
}

export const projectStore = new ProjectStore();

/** Whether a list item belongs to the chosen project (true for items without a project_id or with all projects chosen). */
export function inCurrentProject(item: { project_id?: unknown }): boolean {
  const cur = projectStore.current;
  return !cur || typeof item.project_id !== 'string' || item.project_id === cur;
}
