// Who is logged in: the user, their effective permissions and the session's
// CSRF token (kept by api.ts), as reported by the server's auth module.

import { api, ApiError, ME_PATH, setCsrfToken } from './api';

export type Role = 'admin' | 'editor' | 'operator' | 'viewer';
export const ROLES: Role[] = ['admin', 'editor', 'operator', 'viewer'];

export interface User {
  id: string;
  username: string;
  role: Role | string;
  disabled: boolean;
  created_at?: string | null;
  last_login_at?: string | null;
}

export interface Me {
  user: User;
  /** Effective permissions; "*" holds every permission. */
  permissions: string[];
  csrf_token: string | null;
  via: 'session' | 'api_key' | string;
  /** The caller's projects and role in each (an instance admin: every project, as admin); absent on a server without projects. */
  projects?: MeProject[];
  personal_project_id?: string | null;
  /** The global admin role: users, instance settings and every project. */
  instance_admin?: boolean;
}

export interface MeProject {
  id: string;
  name: string;
  kind: 'personal' | 'team' | string;
  role: Role | string;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  /** The one project the key is limited to; null: every project of its owner. */
  project_id?: string | null;
}

export interface NewApiKey extends ApiKey {
  key: string;
}

export interface PermissionCatalog {
  roles: Record<string, string[]>;
  permissions: string[];
}

export interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  ip: string;
  detail: Record<string, unknown> | null;
  /** The project the entry is about; null: instance-wide. */
  project_id?: string | null;
}

export interface AuditPage {
  items: AuditEntry[];
  next_cursor: string | null;
  retention_days?: number;
}

export const AUTH = '/api/v1/auth';

/** The outcome of asking the server who we are. */
export type AuthState =
  | 'unknown'
  /** Logged in (session cookie or, for scripted use, an API key). */
  | 'in'
  /** Not logged in; the first admin still has to be created. */
  | 'setup'
  /** Not logged in. */
  | 'out'
  /** The server has no auth module: every request is admitted. */
  | 'open';

type Listener = () => void;

class AuthStore {
  state: AuthState = 'unknown';
  me: Me | null = null;
  private readonly listeners = new Set<Listener>();

  listen(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get user(): User | null {
    return this.me?.user ?? null;
  }

  /** Whether the current user holds `permission` (without auth, everything is allowed). */
  can(permission: string): boolean {
    if (this.state === 'open') return true;
    const perms = this.me?.permissions ?? [];
    return perms.includes('*') || perms.includes(permission);
  }

  /**
   * Asks the server who we are. Resolves to the new state; rejects only
   * when the server could not be asked (network error, 5xx).
   */
  async load(): Promise<AuthState> {
    try {
      const me = await api.get<Me>(ME_PATH, { quiet: true, allowUnauthorized: true });
      this.setMe(me);
      return this.state;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (err.status === 404) {
        // No auth routes: a server without the auth module admits everyone.
        this.set('open', null);
        return this.state;
      }
      if (err.status !== 401) throw err;
    }
    this.set((await this.setupNeeded()) ? 'setup' : 'out', null);
    return this.state;
  }

  async setupNeeded(): Promise<boolean> {
    const r = await api.get<{ needed: boolean }>(`${AUTH}/setup`, { quiet: true, allowUnauthorized: true });
    return r?.needed === true;
  }

  async login(username: string, password: string): Promise<void> {
    await api.post(`${AUTH}/login`, { username, password }, { quiet: true, allowUnauthorized: true });
    await this.meAfterLogin();
  }

  async setup(username: string, password: string): Promise<void> {
    await api.post(`${AUTH}/setup`, { username, password }, { quiet: true, allowUnauthorized: true });
    await this.meAfterLogin();
  }

  private async meAfterLogin(): Promise<void> {
    try {
      this.setMe(await api.get<Me>(ME_PATH, { quiet: true, allowUnauthorized: true }));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        throw new Error(
          'The server accepted the login, but this browser did not keep the session cookie ' +
            '(a Secure cookie over plain HTTP, or cookies blocked?).',
        );
      }
      throw err;
    }
  }

  /** Ends the session on the server (best effort) and forgets it here. */
  async logout(): Promise<void> {
    try {
      await api.post(`${AUTH}/logout`, undefined, { quiet: true, allowUnauthorized: true });
    } catch {
      // Already logged out or the server is unreachable: either way this browser is done.
    }
    this.expire();
  }

  async changePassword(currentPassword: string, newPassword: string): Promise<void> {
    // The response carries the new session's CSRF token; api.ts takes it.
    await api.post(`${AUTH}/password`, { current_password: currentPassword, new_password: newPassword }, { quiet: true });
  }

  /** Re-reads /me (permissions may have changed); a 401 goes to the unauthorized handler. */
  async refreshMe(): Promise<void> {
    const me = await api.get<Me>(ME_PATH, { quiet: true });
    this.setMe(me);
  }

  /** Forgets the session (after logout, or when the server answered 401). */
  expire(): void {
    setCsrfToken(null);
    if (this.state === 'open') return;
    this.set('out', null);
  }

  private setMe(me: Me): void {
    setCsrfToken(me.csrf_token ?? null);
    this.set('in', me);
  }

  private set(state: AuthState, me: Me | null): void {
    this.state = state;
    this.me = me;
    for (const fn of this.listeners) fn();
  }
}

export const authStore = new AuthStore();
