// Shared system-info state: loaded over HTTP, then kept current by the
// `system.heartbeat` live event (whose data has the same shape).

import { api } from './api';

export type HealthStatus = 'ok' | 'degraded' | 'failed';

export interface ModuleInfo {
  name: string;
  enabled: boolean;
  health: { status: HealthStatus | string; reason: string };
}

export interface SystemInfo {
  name: string;
  version: string;
  started_at: string;
  uptime_seconds: number;
  database: { backend: string; ok: boolean };
  modules: ModuleInfo[];
}

/** What the user calls each server module (its id is for logs and configuration). */
const COMPONENT_NAMES: Record<string, string> = {
  system: 'Server',
  auth: 'Users and access',
  workflow: 'Workflows',
  models: 'Models',
  agents: 'Agents',
  hub: 'Hub',
  visual: 'Flows',
  memory: 'Memory',
  rl: 'Learning',
  monitoring: 'Monitoring',
};

/** A server module's name in user words ("rl" is "Learning"); an unknown one, capitalized. */
export function componentName(moduleId: string): string {
  return COMPONENT_NAMES[moduleId] ?? (moduleId ? moduleId[0].toUpperCase() + moduleId.slice(1) : 'Unnamed');
}

export const SYSTEM_INFO_PATH = '/api/v1/system/info';

export function isSystemInfo(v: unknown): v is SystemInfo {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.version === 'string' && typeof o.uptime_seconds === 'number' && Array.isArray(o.modules);
}

type Listener = () => void;

class SystemStore {
  info: SystemInfo | null = null;
  error: unknown = null;
  loading = false;
  source: 'http' | 'heartbeat' | null = null;
  updatedAt: Date | null = null;
  private readonly listeners = new Set<Listener>();
  private uptimeFor = '';
  private uptimeShown = 0;
  private inflight: Promise<void> | null = null;

  listen(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  module(name: string): ModuleInfo | undefined {
    return this.info?.modules.find((m) => m.name === name);
  }

  set(info: SystemInfo, source: 'http' | 'heartbeat'): void {
    this.info = info;
    this.error = null;
    this.source = source;
    this.updatedAt = new Date();
    this.emit();
  }

  /**
   * The server's uptime now, in whole seconds: the last report's, advanced by the local clock
   * since it came (heartbeats come every few seconds; the shown uptime moves every second).
   * Never smaller than what was shown before for the same start (a report's seconds are whole).
   */
  uptimeNow(now = Date.now()): number {
    const info = this.info;
    if (!info || !this.updatedAt) return 0;
    const up = Math.floor(info.uptime_seconds + Math.max(0, now - this.updatedAt.getTime()) / 1000);
    if (this.uptimeFor === info.started_at && up < this.uptimeShown) return this.uptimeShown;
    this.uptimeFor = info.started_at;
    this.uptimeShown = up;
    return up;
  }

  /** Forgets what was loaded (after logout: the next user may see less). */
  clear(): void {
    this.info = null;
    this.error = null;
    this.source = null;
    this.updatedAt = null;
    this.emit();
  }

  /** Fetches system info; concurrent calls share one request. */
  refresh(): Promise<void> {
    if (this.inflight) return this.inflight;
    this.loading = true;
    this.emit();
    this.inflight = api
      .get<unknown>(SYSTEM_INFO_PATH)
      .then((info) => {
        if (!isSystemInfo(info)) throw new Error('unexpected system info response');
        this.set(info, 'http');
      })
      .catch((err: unknown) => {
        this.error = err;
      })
      .finally(() => {
        this.loading = false;
        this.inflight = null;
        this.emit();
      });
    return this.inflight;
  }

  private emit(): void {
    for (const fn of this.listeners) fn();
  }
}

export const systemStore = new SystemStore();
