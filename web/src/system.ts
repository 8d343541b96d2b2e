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
