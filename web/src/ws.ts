// Live event stream over the server's /ws endpoint.
//
// Protocol (JSON text frames):
//   client -> server  {"type":"subscribe","topics":[...]}, {"type":"unsubscribe","topics":[...]}, {"type":"ping"}
//   server -> client  {"type":"subscribed","topics":[...]}, {"type":"pong"},
//                     {"type":"event","topic":"a.b","id":"...","time":"...","data":{...}},
//                     {"type":"error","detail":"..."}
// Topic patterns are dotted; `*` matches one segment, `**` any number of
// trailing segments.

export type ConnState = 'connecting' | 'live' | 'reconnecting';

export interface LiveEvent<T = unknown> {
  topic: string;
  id: string;
  time: string;
  data: T;
}

export type EventHandler<T = unknown> = (ev: LiveEvent<T>) => void;
export type StateListener = (state: ConnState, info: { attempt: number; retryInMs: number }) => void;

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 10_000;
const PING_EVERY_MS = 20_000;
const STALE_AFTER_MS = 50_000;

export function topicMatches(pattern: string, topic: string): boolean {
  const p = pattern.split('.');
  const t = topic.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '**') return true;
    if (i >= t.length) return false;
    if (p[i] !== '*' && p[i] !== t[i]) return false;
  }
  return p.length === t.length;
}

/** Delay before reconnect attempt `attempt` (0-based): 0.5 s doubling, capped at 10 s, with jitter in [50%, 100%]. */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export function defaultSocketUrl(loc: Location = window.location): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/ws`;
}

export class LiveSocket {
  private socket: WebSocket | null = null;
  private readonly handlers = new Map<string, Set<EventHandler>>();
  private readonly stateListeners = new Set<StateListener>();
  private readonly errorListeners = new Set<(detail: string) => void>();
  private current: ConnState = 'connecting';
  private attempt = 0;
  private retryInMs = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private lastMessageAt = 0;
  private running = false;

  constructor(private readonly url: string = defaultSocketUrl()) {}

  get state(): ConnState {
    return this.current;
  }

  /** Connects (the server only accepts a logged-in browser) and keeps reconnecting until stop(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.attempt = 0;
    this.retryInMs = 0;
    if (this.current !== 'connecting') this.setState('connecting');
    window.addEventListener('online', this.onOnline);
    this.connect();
  }

  get started(): boolean {
    return this.running;
  }

  /** Closes the connection and stops reconnecting (e.g. on logout). Subscriptions are kept for the next start(). */
  stop(): void {
    this.running = false;
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    const s = this.socket;
    this.socket = null;
    s?.close(1000, 'client stopped');
  }

  /** Calls `handler` for every event whose topic matches `pattern`. Returns an unsubscribe function. */
  subscribe<T = unknown>(pattern: string, handler: EventHandler<T>): () => void {
    let set = this.handlers.get(pattern);
    if (!set) {
      set = new Set();
      this.handlers.set(pattern, set);
      this.send({ type: 'subscribe', topics: [pattern] });
    }
    set.add(handler as EventHandler);
    return () => {
      const s = this.handlers.get(pattern);
      if (!s || !s.delete(handler as EventHandler) || s.size > 0) return;
      this.handlers.delete(pattern);
      this.send({ type: 'unsubscribe', topics: [pattern] });
    };
  }

  onState(listener: StateListener): () => void {
    this.stateListeners.add(listener);
    listener(this.current, { attempt: this.attempt, retryInMs: this.retryInMs });
    return () => this.stateListeners.delete(listener);
  }

  /** Listens for `{"type":"error"}` frames from the server. */
  onServerError(listener: (detail: string) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  private readonly onOnline = (): void => {
    if (this.current === 'live' || !this.running) return;
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.connect();
  };

  private setState(state: ConnState): void {
    this.current = state;
    for (const l of this.stateListeners) l(state, { attempt: this.attempt, retryInMs: this.retryInMs });
  }

  private send(msg: object): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(msg));
  }

  private connect(): void {
    if (!this.running) return;
    let s: WebSocket;
    try {
      s = new WebSocket(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = s;
    s.onopen = () => {
      if (this.socket !== s) return;
      this.attempt = 0;
      this.retryInMs = 0;
      this.lastMessageAt = Date.now();
      const topics = [...this.handlers.keys()];
      if (topics.length) this.send({ type: 'subscribe', topics });
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.keepAlive(), PING_EVERY_MS);
      this.setState('live');
    };
    s.onmessage = (ev: MessageEvent) => {
      if (this.socket !== s) return;
      this.lastMessageAt = Date.now();
      if (typeof ev.data === 'string') this.dispatch(ev.data);
    };
    s.onclose = () => {
      if (this.socket !== s) return;
      this.socket = null;
      clearInterval(this.pingTimer);
      this.scheduleReconnect();
    };
    // 'error' is always followed by 'close', which does the work.
    s.onerror = () => undefined;
  }

  private keepAlive(): void {
    if (Date.now() - this.lastMessageAt > STALE_AFTER_MS) {
      // No frame (not even a pong) for too long: assume the link is dead.
      this.socket?.close(4000, 'stale');
      return;
    }
    this.send({ type: 'ping' });
  }

  private scheduleReconnect(): void {
    if (!this.running) return;
    this.retryInMs = backoffDelay(this.attempt);
    this.attempt++;
    this.setState('reconnecting');
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), this.retryInMs);
  }

  private dispatch(raw: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return;
    }
    switch (msg.type) {
      case 'event': {
        if (typeof msg.topic !== 'string') return;
        const ev: LiveEvent = {
          topic: msg.topic,
          id: String(msg.id ?? ''),
          time: String(msg.time ?? ''),
          data: msg.data,
        };
        for (const [pattern, set] of this.handlers) {
          if (!topicMatches(pattern, ev.topic)) continue;
          for (const handler of [...set]) {
            try {
              handler(ev);
            } catch (err) {
              console.error(`arclight: handler for ${pattern} failed`, err);
            }
          }
        }
        return;
      }
      case 'error': {
        const detail = typeof msg.detail === 'string' ? msg.detail : 'unknown error';
        console.warn('arclight: live stream error:', detail);
        for (const l of this.errorListeners) l(detail);
        return;
      }
      default:
        // 'subscribed' and 'pong' only prove the link is alive.
        return;
    }
  }
}
