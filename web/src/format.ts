const pad = (n: number) => String(n).padStart(2, '0');

/** 42s, 5m 07s, 3h 05m 07s, 2d 3h 05m */
export function formatUptime(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const d = Math.floor(s / 86400);
  const hr = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return `${d}d ${hr}h ${pad(m)}m`;
  if (hr > 0) return `${hr}h ${pad(m)}m ${pad(sec)}s`;
  if (m > 0) return `${m}m ${pad(sec)}s`;
  return `${sec}s`;
}

export function formatDateTime(iso: string): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  return t.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatTime(t: Date): string {
  return t.toLocaleTimeString(undefined, { hour12: false });
}

/** Date and time to the second, for logs. */
export function formatDateTimeSeconds(iso: string): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  return t.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** A duration for humans: 850 ms, 1.25 s, 42.5 s, 5m 07s, 3h 05m, 2d 3h. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '';
  const v = Math.max(0, ms);
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 10_000) return `${(v / 1000).toFixed(2)} s`;
  if (v < 60_000) return `${(v / 1000).toFixed(1)} s`;
  const s = Math.floor(v / 1000);
  const d = Math.floor(s / 86400);
  const hr = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${hr}h`;
  if (hr > 0) return `${hr}h ${pad(m)}m`;
  return `${m}m ${pad(s % 60)}s`;
}

/** Milliseconds between two ISO times (`to` null: until now); null when `from` is missing or invalid. */
export function elapsedMs(from: string | null | undefined, to: string | null | undefined, now = Date.now()): number | null {
  if (!from) return null;
  const a = Date.parse(from);
  if (Number.isNaN(a)) return null;
  const b = to ? Date.parse(to) : now;
  return Number.isNaN(b) ? null : Math.max(0, b - a);
}

/** A moment, compactly: the time to the second when it is today, else the date and time. */
export function formatWhen(iso: string, now: Date = new Date()): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  if (t.toDateString() === now.toDateString()) return t.toLocaleTimeString(undefined, { timeStyle: 'medium' });
  return t.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** A cost in USD: cents precision above a dollar, more digits for the fractions of a cent that model calls cost. */
export function formatCost(usd: number): string {
  if (!Number.isFinite(usd)) return '';
  if (usd >= 1) return `$${usd.toFixed(2)}`;
  return `$${Number(usd.toPrecision(3))}`;
}
