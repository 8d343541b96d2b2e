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
