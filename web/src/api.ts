// Fetch wrapper for the Arclight HTTP API: JSON in, JSON out.
// Non-2xx responses become ApiError (RFC 9457 problem details when the
// server sends application/problem+json); transport failures become
// NetworkError. Every failure is passed to the registered error reporter
// (the UI shows it in a banner) unless the call asks to stay quiet.

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

  constructor(init: {
    status: number;
    title: string;
    detail?: string;
    code?: string;
    request_id?: string;
    errors?: FieldError[];
    type?: string;
    instance?: string;
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
}

type Reporter = (err: ApiError | NetworkError) => void;
let reporter: Reporter | null = null;

/** Registers the function that shows API failures to the user. */
export function setErrorReporter(fn: Reporter | null): void {
  reporter = fn;
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
  return new ApiError({ status: res.status, title: fallbackTitle, detail: text, request_id: headerId });
}

export async function request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json, application/problem+json', ...opts.headers };
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
    if (!opts.quiet) reporter?.(err);
    throw err;
  }
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('json')) return (await res.json()) as T;
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
