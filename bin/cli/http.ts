/**
 * The admin and /v1 calls of the `smx` admin commands: the envelope of docs/api.md unwrapped into
 * `data`, or an {@link ApiError} with the API's code. Unlike the phone's client it speaks every
 * method and hands back the status and headers (`Idempotent-Replayed`, `Retry-After`).
 */
import { ApiError, apiUrl, isRecord } from '../../device/index.js';

export interface Call {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Gives up after this long. @defaultValue 30000 */
  timeoutMs?: number;
}

export interface Answer<T> {
  data: T;
  status: number;
  headers: Headers;
}

/** An {@link ApiError} that also carries the `Retry-After` of a 429 or 503, in seconds. */
export class CallError extends ApiError {
  constructor(
    code: string,
    message: string,
    options: { status?: number; requestId?: string; cause?: unknown },
    readonly retryAfterS: number | undefined,
  ) {
    super(code, message, options);
  }
}

/** Calls `server` and returns the envelope's `data` with the status and headers, or throws {@link CallError}. */
export async function call<T>(server: string, request: Call): Promise<Answer<T>> {
  const url = apiUrl(server, request.path);
  const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(url, {
      method: request.method,
      headers,
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
      signal: AbortSignal.timeout(request.timeoutMs ?? 30_000),
    });
  } catch (err) {
    throw new CallError(
      'NETWORK_ERROR',
      `Cannot reach ${new URL(url).origin}: ${networkReason(err)} (is smx start running? --server or SMX_PUBLIC_URL / SMX_HTTP_PORT say where)`,
      { cause: err },
      undefined,
    );
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
  if (response.ok && envelope.success === true && 'data' in envelope)
    return { data: envelope.data as T, status: response.status, headers: response.headers };
  const retryAfterHeader = response.headers.get('retry-after');
  const retryAfter = retryAfterHeader === null ? NaN : Number(retryAfterHeader);
  const retryAfterS = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined;
  if (isRecord(envelope.error) && typeof envelope.error.code === 'string') {
    const message = typeof envelope.error.message === 'string' ? envelope.error.message : envelope.error.code;
    throw new CallError(
      envelope.error.code,
      withDetails(message, envelope.error.details),
      { status: response.status, requestId },
      retryAfterS,
    );
  }
  throw new CallError(
    'BAD_RESPONSE',
    `Unexpected answer from ${new URL(url).origin}: HTTP ${response.status}, not an SMX envelope`,
    { status: response.status, requestId },
    retryAfterS,
  );
}

/** Validation details name the field: "to: not a valid phone number". */
function withDetails(message: string, details: unknown): string {
  if (!Array.isArray(details) || details.length === 0) return message;
  const parts = details
    .filter(isRecord)
    .map((d) => (typeof d.field === 'string' ? `${d.field}: ${String(d.message)}` : String(d.message)));
  return parts.length ? `${message} (${parts.join('; ')})` : message;
}

/** fetch() only says "fetch failed"; the useful part (ECONNREFUSED, a timeout) is in its cause. */
function networkReason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError') return 'no answer in time';
  const cause = err.cause as (Error & { code?: string; errors?: Array<{ code?: string }> }) | undefined;
  return cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? err.message;
}
