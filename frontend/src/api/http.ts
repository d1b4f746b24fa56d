// SPDX-License-Identifier: ISC
// The one fetch wrapper of the console: same-origin cookie session, the CSRF
// header on state-changing requests, JSON in and out, 401 -> /login.

/** An API failure: HTTP status (0 for a network error) and the server's message. */
export class ApiError extends Error {
  readonly status: number;
  readonly retryAfter: number | undefined;

  constructor(status: number, message: string, retryAfter?: number) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

type Query = Record<string, string | number | undefined | null>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** Do not send the browser to /login on 401 (login itself, the start-up /api/me). */
  noAuthRedirect?: boolean;
  signal?: AbortSignal;
}

let csrfToken = '';
let onUnauthorized: () => void = defaultUnauthorized;

/** Remembers the session's CSRF token (from login or /api/me). */
export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** Returns the CSRF token currently sent on state-changing requests. */
export function getCsrfToken(): string {
  return csrfToken;
}

/** Replaces what happens on a 401 (the router installs a navigate-based handler). */
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

/** The path of the current page, to come back to after login. */
export function currentReturnPath(): string {
  const { pathname, search } = window.location;
  return pathname + search;
}

/** Builds /login?next=<path> for the page the user was on. */
export function loginPath(next: string): string {
  if (!next || next === '/' || next.startsWith('/login')) return '/login';
  return '/login?next=' + encodeURIComponent(next);
}

// Without a router (or before it is mounted) a full navigation does the job.
function defaultUnauthorized(): void {
  if (window.location.pathname !== '/login') window.location.assign(loginPath(currentReturnPath()));
}

/** Builds a same-origin URL with the query parameters that are set. */
export function apiUrl(path: string, query?: Query): string {
  const params = new URLSearchParams();
  if (query) {
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
    }
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Sends one API request and returns the parsed JSON reply, or throws ApiError. */
export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (!SAFE_METHODS.has(method) && csrfToken) headers['X-CSRF-Token'] = csrfToken;

  let res: Response;
  try {
    res = await fetch(apiUrl(path, opts.query), {
      method,
      headers,
      credentials: 'same-origin',
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network error: the admin server cannot be reached');
  }

  const text = await res.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }

  if (!res.ok) {
    const msg =
      data && typeof data === 'object' && 'error' in data && typeof (data as { error: unknown }).error === 'string'
        ? (data as { error: string }).error
        : `HTTP ${res.status}`;
    const ra = Number(res.headers.get('Retry-After'));
    const err = new ApiError(res.status, msg, Number.isFinite(ra) && ra > 0 ? ra : undefined);
    if (res.status === 401 && !opts.noAuthRedirect) {
      csrfToken = '';
      onUnauthorized();
    }
    throw err;
  }
  if (data === undefined) throw new ApiError(res.status, 'malformed reply from the admin server');
  return data as T;
}

/** GET helper. */
export function get<T>(path: string, query?: Query, opts: Omit<RequestOptions, 'query'> = {}): Promise<T> {
  return request<T>('GET', path, { ...opts, query });
}

/** POST helper (sends the CSRF header). */
export function post<T>(path: string, body?: unknown, opts: Omit<RequestOptions, 'body'> = {}): Promise<T> {
  return request<T>('POST', path, { ...opts, body });
}
