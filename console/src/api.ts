/**
 * The console's only way to the server: the public /admin API (and /metrics), with the admin
 * token as `Authorization: Bearer` — never in a URL, never in a cookie. The token lives in
 * sessionStorage: it survives a reload of the tab, not the closing of it, and no other tab sees it.
 */

const TOKEN_KEY = 'smx.adminToken';

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** One item of an error envelope's `details` (a validation error names its field). */
export interface ErrorDetail {
  field?: string;
  message: string;
}

/** An answer in the error envelope (spec/api.md), or a network failure (`code` NETWORK). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
    readonly requestId?: string,
  ) {
    super(message);
  }

  /** The message of the first detail about `field` (or a field below it: `rateLimits.perNumber`, `sims[0]`). */
  about(field: string): string | undefined {
    return this.details.find(
      (d) => d.field === field || d.field?.startsWith(`${field}.`) || d.field?.startsWith(`${field}[`),
    )?.message;
  }
}

type Listener = (reason: string) => void;
const signedOutListeners = new Set<Listener>();

/** Called when the server refuses the stored token (it was changed, or the server restarted with another). */
export function onSignedOut(listener: Listener): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

interface CallOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  /** Sign in: the token to try instead of the stored one. */
  token?: string;
  signal?: AbortSignal;
}

function withQuery(path: string, query: CallOptions['query']): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {}))
    if (value !== undefined && value !== '') params.set(name, String(value));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function send(method: string, path: string, options: CallOptions): Promise<Response> {
  const token = options.token ?? storedToken();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  try {
    return await fetch(withQuery(path, options.query), {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: 'omit',
      cache: 'no-store',
      signal: options.signal,
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, 'NETWORK', 'SMX did not answer. Is it running?');
  }
}

async function refusal(response: Response, signingIn: boolean): Promise<ApiError> {
  const envelope = (await response.json().catch(() => undefined)) as
    { error?: { code?: string; message?: string; details?: ErrorDetail[] }; requestId?: string } | undefined;
  const error = new ApiError(
    response.status,
    envelope?.error?.code ?? `HTTP_${response.status}`,
    envelope?.error?.message ?? `SMX answered ${response.status}.`,
    envelope?.error?.details ?? [],
    envelope?.requestId,
  );
  // The stored token stopped working: back to the sign-in page (sign-in reports its own refusal).
  if (response.status === 401 && !signingIn) {
    clearToken();
    for (const listener of signedOutListeners) listener('SMX refused the admin token. Sign in again.');
  }
  return error;
}

/** Calls the JSON API; resolves with the envelope's `data`, rejects with an {@link ApiError}. */
export async function api<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
  const response = await send(method, path, options);
  if (!response.ok) throw await refusal(response, options.token !== undefined);
  const envelope = (await response.json()) as { data: T };
  return envelope.data;
}

/** A text answer (Prometheus /metrics). */
export async function apiText(path: string): Promise<string> {
  const response = await send('GET', path, {});
  if (!response.ok) throw await refusal(response, false);
  return response.text();
}

export const get = <T>(path: string, query?: CallOptions['query'], signal?: AbortSignal) =>
  api<T>('GET', path, { query, signal });
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, { body: body ?? {} });
export const patch = <T>(path: string, body: unknown) => api<T>('PATCH', path, { body });
export const del = <T>(path: string) => api<T>('DELETE', path);

/** Path segment, encoded (ids are URL-safe; this keeps anything else from changing the path). */
export const seg = (value: string) => encodeURIComponent(value);
