/**
 * The few HTTP calls the phone and the CLI make, unwrapping the envelope of docs/api.md "Envelope".
 * Errors keep the API's `code` so callers can branch on it (`UNAUTHORIZED`, ...). Two codes are
 * local to this client and never come from the server: `NETWORK_ERROR` (no answer) and
 * `BAD_RESPONSE` (an answer that is not the envelope, e.g. a proxy's HTML page).
 */

/** An API failure, carrying the envelope's `code`, the HTTP status and the request id when known. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: string;
  readonly status: number | undefined;
  readonly requestId: string | undefined;

  constructor(code: string, message: string, options: { status?: number; requestId?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
    this.requestId = options.requestId;
  }
}

export interface ApiRequest {
  method: 'GET' | 'POST';
  body?: unknown;
  /** Extra headers, e.g. `Authorization`. */
  headers?: Record<string, string>;
  /** Gives up after this long. @defaultValue 15000 */
  timeoutMs?: number;
}

/** Joins a server base URL (with or without trailing slash) and an absolute path. */
export function apiUrl(server: string, path: string): string {
  return `${server.replace(/\/+$/, '')}${path}`;
}

/**
 * Calls the API and returns the envelope's `data`, or throws {@link ApiError}.
 * A success status without `{ success: true, data }` is a `BAD_RESPONSE`.
 */
export async function callApi<T>(url: string, request: ApiRequest): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(url, {
      method: request.method,
      headers,
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      signal: AbortSignal.timeout(request.timeoutMs ?? 15_000),
    });
  } catch (err) {
    throw new ApiError('NETWORK_ERROR', `Cannot reach ${new URL(url).origin}: ${networkReason(err)}`, { cause: err });
  }

  const text = await response.text();
  let body: unknown;
  try {
    body = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  const envelope = isRecord(body) ? body : {};
  const requestId =
    typeof envelope.requestId === 'string' ? envelope.requestId : (response.headers.get('x-request-id') ?? undefined);

  if (response.ok && envelope.success === true && 'data' in envelope) return envelope.data as T;
  if (isRecord(envelope.error) && typeof envelope.error.code === 'string') {
    const message = typeof envelope.error.message === 'string' ? envelope.error.message : envelope.error.code;
    throw new ApiError(envelope.error.code, message, { status: response.status, requestId });
  }
  throw new ApiError(
    'BAD_RESPONSE',
    `Unexpected answer from ${new URL(url).origin}: HTTP ${response.status}, not an SMX envelope`,
    {
      status: response.status,
      requestId,
    },
  );
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** fetch() only says "fetch failed"; the useful part (ECONNREFUSED, bad port, timeout) is in its cause. */
function networkReason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError') return 'no answer in time';
  const cause = err.cause as (Error & { code?: string; errors?: Array<{ code?: string }> }) | undefined;
  return cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? err.message;
}
