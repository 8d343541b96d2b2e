// Fetch wrapper for the Arclight HTTP API: JSON in, JSON out.
// Non-2xx responses become ApiError (RFC 9457 problem details when the
// server sends application/problem+json); transport failures become
// NetworkError. Every failure is passed to the registered error reporter
// (the UI shows it in a banner) unless the call asks to stay quiet.
//
// Authentication: the session lives in an HttpOnly cookie the browser sends
// by itself. Unsafe requests (POST/PUT/PATCH/DELETE) carry the session's
// CSRF token in X-CSRF-Token once it is known; the token is picked up from
// successful auth responses with a top-level `csrf_token` (login, setup, me,
// password). A 403 `csrf-failed` refetches /api/v1/auth/me once and
// retries. A 401 goes to the registered unauthorized handler (which sends
// the user to the login page) unless the call expects it.

export interface FieldError {
  pointer: string;
  message: string;
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly code: string;
  readonly request_id: string;
  readonly errors: FieldError[];
  readonly type: string;
  readonly instance: string;
  /** Seconds from the Retry-After header (429, 503), when the server sent one. */
  readonly retryAfter: number | null;

  constructor(init: {
    status: number;
    title: string;
    detail?: string;
    code?: string;
    request_id?: string;
    errors?: FieldError[];
    type?: string;
    instance?: string;
    retryAfter?: number | null;
  }) {
    super(init.detail ? `${init.title}: ${init.detail}` : init.title);
    this.status = init.status;
    this.title = init.title;
    this.detail = init.detail ?? '';
    this.code = init.code ?? '';
    this.request_id = init.request_id ?? '';
    this.errors = init.errors ?? [];
    this.type = init.type ?? 'about:blank';
    this.instance = init.instance ?? '';
    this.retryAfter = init.retryAfter ?? null;
  }
}

export class NetworkError extends Error {
  override readonly name = 'NetworkError';
  readonly method: string;
  readonly path: string;

  constructor(method: string, path: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`${method} ${path} failed: ${why}`);
    this.method = method;
    this.path = path;
  }
}

export interface RequestOptions {
  /** Sent as JSON when not undefined. */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Do not report failures to the UI; the caller handles them. */
  quiet?: boolean;
  /** A 401 is an expected answer (login, the initial /me probe): do not call the unauthorized handler. */
  allowUnauthorized?: boolean;
}

type Reporter = (err: ApiError | NetworkError) => void;
let reporter: Reporter | null = null;

/** Registers the function that shows API failures to the user. */
export function setErrorReporter(fn: Reporter | null): void {
  reporter = fn;
}

type UnauthorizedHandler = (err: ApiError) => void;
let onUnauthorized: UnauthorizedHandler | null = null;

/** Registers what happens when a call answers 401 (the session ended): normally, show the login page. */
export function setUnauthorizedHandler(fn: UnauthorizedHandler | null): void {
  onUnauthorized = fn;
}

const AUTH_PREFIX = '/api/v1/auth/';
export const ME_PATH = `${AUTH_PREFIX}me`;
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
let csrfToken: string | null = null;

/** The session's CSRF token, sent as X-CSRF-Token on unsafe requests. */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export function getCsrfToken(): string | null {
  return csrfToken;
}

function noteCsrf(body: unknown): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !('csrf_token' in body)) return;
  const t = (body as { csrf_token: unknown }).csrf_token;
  if (typeof t === 'string' && t) csrfToken = t;
  else if (t === null) csrfToken = null;
}

// One /me refetch shared by every request that hit a stale token at once.
let csrfRefresh: Promise<boolean> | null = null;
function refreshCsrf(): Promise<boolean> {
  csrfRefresh ??= request('GET', ME_PATH, { quiet: true })
    .then(() => csrfToken !== null)
    .catch(() => false)
    .finally(() => {
      csrfRefresh = null;
    });
  return csrfRefresh;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function fieldErrors(v: unknown): FieldError[] {
  if (!Array.isArray(v)) return [];
  return v
    .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
    .map((e) => ({ pointer: str(e.pointer) ?? '', message: str(e.message) ?? String(e.message ?? '') }));
}

async function errorFromResponse(res: Response): Promise<ApiError> {
  const type = res.headers.get('content-type') ?? '';
  const headerId = res.headers.get('x-request-id') ?? undefined;
  const fallbackTitle = res.statusText || `HTTP ${res.status}`;
  const retryAfter = retryAfterSeconds(res);
  if (type.includes('application/problem+json') || type.includes('application/json')) {
    try {
      const p = (await res.json()) as Record<string, unknown>;
      return new ApiError({
        status: typeof p.status === 'number' ? p.status : res.status,
        title: str(p.title) ?? fallbackTitle,
        detail: str(p.detail),
        code: str(p.code),
        request_id: str(p.request_id) ?? headerId,
        errors: fieldErrors(p.errors),
        type: str(p.type),
        instance: str(p.instance),
        retryAfter,
      });
    } catch {
      // Body was not valid JSON; fall through to the generic error.
    }
  }
  let text = '';
  try {
    text = (await res.text()).trim().slice(0, 300);
  } catch {
    // ignore
  }
  return new ApiError({ status: res.status, title: fallbackTitle, detail: text, request_id: headerId, retryAfter });
}

function retryAfterSeconds(res: Response): number | null {
  const v = res.headers.get('retry-after');
  if (!v) return null;
  const n = Number(v.trim());
  if (Number.isFinite(n)) return Math.max(0, Math.ceil(n));
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

export async function request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  return send<T>(method.toUpperCase(), path, opts, true);
}

async function send<T>(method: string, path: string, opts: RequestOptions, mayRetry: boolean): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json, application/problem+json', ...opts.headers };
  if (UNSAFE.has(method) && csrfToken && !Object.keys(headers).some((k) => k.toLowerCase() === 'x-csrf-token')) {
    headers['X-CSRF-Token'] = csrfToken;
  }
  const init: RequestInit = { method, headers, credentials: 'same-origin', signal: opts.signal };
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  }

  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === 'AbortError') throw cause;
    const err = new NetworkError(method, path, cause);
    if (!opts.quiet) reporter?.(err);
    throw err;
  }

  if (!res.ok) {
    const err = await errorFromResponse(res);
    if (err.status === 403 && err.code === 'csrf-failed' && mayRetry && path !== ME_PATH && (await refreshCsrf())) {
      return send<T>(method, path, opts, false);
    }
    if (err.status === 401 && !opts.allowUnauthorized && onUnauthorized) {
      // The handler tells the user (login page); a banner would only repeat it.
      onUnauthorized(err);
      throw err;
    }
    if (!opts.quiet) reporter?.(err);
    throw err;
  }
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('json')) {
    const body = (await res.json()) as T;
    if (path.startsWith(AUTH_PREFIX)) noteCsrf(body);
    return body;
  }
  return (await res.text()) as T;
}

export const api = {
  request,
  get: <T = unknown>(path: string, opts?: RequestOptions) => request<T>('GET', path, opts),
  post: <T = unknown>(path: string, body?: unknown, opts?: RequestOptions) => request<T>('POST', path, { ...opts, body }),
  put: <T = unknown>(path: string, body?: unknown, opts?: RequestOptions) => request<T>('PUT', path, { ...opts, body }),
  patch: <T = unknown>(path: string, body?: unknown, opts?: RequestOptions) => request<T>('PATCH', path, { ...opts, body }),
  delete: <T = unknown>(path: string, opts?: RequestOptions) => request<T>('DELETE', path, opts),
};

export type Api = typeof api;
