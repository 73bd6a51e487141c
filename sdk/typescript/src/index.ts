/**
 * A typed client for the SMX HTTP API: openapi-fetch over the types openapi-typescript generated
 * from the document SMX serves (`src/schema.d.ts`). Paths, parameters, bodies and answers are
 * checked by the compiler; `unwrap` turns SMX's envelope into its `data` or a thrown `SmxApiError`.
 *
 * ```ts
 * const smx = createSmxClient({ baseUrl: 'https://smx.example.com', apiKey: process.env.SMX_API_KEY! });
 * const otp = await unwrap(smx.POST('/v1/send-otp', { body: { to: '+4915112345678' } }));
 * const check = await unwrap(smx.POST('/v1/verify-otp', { body: { verificationId: otp.verificationId, otp: code } }));
 * ```
 */
import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, operations, paths } from './schema.js';

export type { components, operations, paths };

/** The error envelope every SMX error answers with (`docs/api.md` "Envelope"). */
export type ErrorEnvelope = components['schemas']['ErrorEnvelope'];
/** A code of SMX's closed error catalogue (`VALIDATION_FAILED`, `DEVICE_NOT_LINKED`, ...). */
export type ErrorCode = ErrorEnvelope['error']['code'];

export interface SmxClientOptions extends Omit<ClientOptions, 'baseUrl'> {
  /** Where SMX answers, e.g. `https://smx.example.com` (its SMX_PUBLIC_URL). */
  baseUrl: string;
  /** A project API key, sent as `X-SMX-API-Key` (the `/v1` API). */
  apiKey?: string;
  /** The operator's admin token, sent as `Authorization: Bearer` (the `/admin` API). */
  adminToken?: string;
}

/** The client: `GET`, `POST`, `PUT`, `PATCH`, `DELETE` over SMX's paths, typed from its OpenAPI document. */
export type SmxClient = Client<paths>;

/** A client for one SMX, authenticated with a project API key and/or the admin token. */
export function createSmxClient(options: SmxClientOptions): SmxClient {
  const { apiKey, adminToken, headers, baseUrl, ...rest } = options;
  return createClient<paths>({
    ...rest,
    baseUrl: baseUrl.replace(/\/+$/, ''),
    headers: {
      ...(apiKey ? { 'x-smx-api-key': apiKey } : {}),
      ...(adminToken ? { authorization: `Bearer ${adminToken}` } : {}),
      ...(headers as Record<string, string> | undefined),
    },
  });
}

/** An SMX error answer: the catalogue's code, HTTP status, origin and details, and the request id. */
export class SmxApiError extends Error {
  override name = 'SmxApiError';

  constructor(
    /** The catalogue code, or `HTTP_<status>` when the answer was not SMX's envelope (a proxy's page). */
    readonly code: ErrorCode | `HTTP_${number}`,
    /** The HTTP status. */
    readonly status: number,
    message: string,
    /** Who must act: `client`, `auth`, `project`, `device` or `server`. */
    readonly origin: ErrorEnvelope['error']['origin'] | undefined,
    /** For `VALIDATION_FAILED`, one item per refused field. */
    readonly details: ErrorEnvelope['error']['details'],
    /** The answer's `x-request-id`: quote it when asking the operator. */
    readonly requestId: string | undefined,
    /** Seconds from `Retry-After` (429 and 503). */
    readonly retryAfter: number | undefined,
  ) {
    super(message);
  }
}

function isEnvelope(body: unknown): body is ErrorEnvelope {
  return (
    typeof body === 'object' &&
    body !== null &&
    (body as { success?: unknown }).success === false &&
    typeof (body as { error?: unknown }).error === 'object'
  );
}

/** The `SmxApiError` for an answer that was not a success. */
export function toSmxApiError(response: Response, body: unknown): SmxApiError {
  const retry = Number(response.headers.get('retry-after'));
  const retryAfter = Number.isFinite(retry) && retry > 0 ? retry : undefined;
  const requestId = response.headers.get('x-request-id') ?? undefined;
  if (isEnvelope(body)) {
    const { code, message, origin, details } = body.error;
    return new SmxApiError(code, response.status, message, origin, details, body.requestId ?? requestId, retryAfter);
  }
  return new SmxApiError(
    `HTTP_${response.status}`,
    response.status,
    `SMX answered ${response.status} ${response.statusText}`.trim(),
    undefined,
    [],
    requestId,
    retryAfter,
  );
}

/**
 * Awaits a call to an enveloped route (`/v1`, `/admin`, `/health`) and returns its `data`, or
 * throws an `SmxApiError` (compatibility routes answer their provider's bodies: read those
 * results' `data` directly).
 */
export async function unwrap<T>(
  call: Promise<{ data?: { success: true; data: T }; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (data !== undefined && response.ok) return data.data;
  throw toSmxApiError(response, error ?? data);
}
