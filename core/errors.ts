/**
 * The API error catalogue of docs/api.md, closed: every error the HTTP API returns is built here.
 * A test fixes the count and compares each row with the spec's table and the OpenAPI document.
 */

export type ErrorOrigin = 'client' | 'auth' | 'project' | 'device' | 'server';

export interface ErrorDetail {
  field?: string;
  message: string;
  [extra: string]: unknown;
}

export interface CatalogueEntry {
  readonly code: string;
  readonly status: number;
  readonly origin: ErrorOrigin;
  readonly message: string;
}

function entry<C extends string>(code: C, status: number, origin: ErrorOrigin, message: string) {
  return { code, status, origin, message } as const;
}

export const ERROR_CATALOGUE = {
  VALIDATION_FAILED: entry('VALIDATION_FAILED', 400, 'client', 'The request has invalid fields; see details.'),
  INVALID_JSON: entry('INVALID_JSON', 400, 'client', 'The request body is not valid JSON.'),
  PAYLOAD_TOO_LARGE: entry('PAYLOAD_TOO_LARGE', 413, 'client', 'The request body is larger than allowed.'),
  INVALID_PHONE_NUMBER: entry(
    'INVALID_PHONE_NUMBER',
    422,
    'client',
    'The phone number is not a valid, dialable number.',
  ),
  UNAUTHORIZED: entry('UNAUTHORIZED', 401, 'auth', 'Missing, malformed, unknown or revoked credentials.'),
  FORBIDDEN: entry('FORBIDDEN', 403, 'auth', 'These credentials have no rights to this resource.'),
  NOT_FOUND: entry('NOT_FOUND', 404, 'client', 'Not found.'),
  VERIFICATION_NOT_FOUND: entry(
    'VERIFICATION_NOT_FOUND',
    404,
    'client',
    'No verification with this id exists for this project.',
  ),
  VERIFICATION_EXPIRED: entry('VERIFICATION_EXPIRED', 410, 'client', 'The verification has expired.'),
  VERIFICATION_FAILED: entry('VERIFICATION_FAILED', 409, 'client', 'The maximum number of attempts has been used up.'),
  VERIFICATION_ALREADY_VERIFIED: entry(
    'VERIFICATION_ALREADY_VERIFIED',
    409,
    'client',
    'The verification has already been verified.',
  ),
  VERIFICATION_CANCELED: entry('VERIFICATION_CANCELED', 409, 'client', 'The verification was canceled.'),
  DEVICE_NOT_LINKED: entry('DEVICE_NOT_LINKED', 409, 'device', 'No active device is linked to this project.'),
  IDEMPOTENCY_KEY_MISMATCH: entry(
    'IDEMPOTENCY_KEY_MISMATCH',
    422,
    'client',
    'This Idempotency-Key was used with a different request.',
  ),
  IDEMPOTENCY_IN_PROGRESS: entry(
    'IDEMPOTENCY_IN_PROGRESS',
    409,
    'client',
    'A request with this Idempotency-Key is still running.',
  ),
  RATE_LIMITED: entry('RATE_LIMITED', 429, 'project', 'Too many requests; retry after the time in Retry-After.'),
  RENTAL_NOT_FOUND: entry('RENTAL_NOT_FOUND', 404, 'client', 'No rental with this id exists for this project.'),
  NO_NUMBERS_AVAILABLE: entry(
    'NO_NUMBERS_AVAILABLE',
    409,
    'device',
    'No rentable number is available for this country.',
  ),
  MESSAGE_NOT_CANCELABLE: entry(
    'MESSAGE_NOT_CANCELABLE',
    409,
    'client',
    'The message can no longer be canceled: the phone has sent it, or it has ended.',
  ),
  INTERNAL: entry('INTERNAL', 500, 'server', 'An unexpected error occurred; it has been logged.'),
  UNAVAILABLE: entry('UNAVAILABLE', 503, 'server', 'A service SMX depends on is unreachable; retry later.'),
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface ApiErrorOptions {
  message?: string;
  details?: ErrorDetail[];
  /** Seconds, sent as `Retry-After` (RATE_LIMITED, UNAVAILABLE). */
  retryAfter?: number;
  cause?: unknown;
}

/** An error the API answers with: one row of the catalogue, plus details. Matched by `name` across processes. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly origin: ErrorOrigin;
  readonly details: ErrorDetail[];
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, options: ApiErrorOptions = {}) {
    const row = ERROR_CATALOGUE[code];
    super(options.message ?? row.message, { cause: options.cause });
    this.code = code;
    this.status = row.status;
    this.origin = row.origin;
    this.details = options.details ?? [];
    this.retryAfter = options.retryAfter;
  }

  toJSON() {
    return { code: this.code, message: this.message, origin: this.origin, details: this.details };
  }
}

/** Shorthand: `throw apiError('NOT_FOUND')`. */
export function apiError(code: ErrorCode, options?: ApiErrorOptions): ApiError {
  return new ApiError(code, options);
}

export function isApiError(error: unknown): error is ApiError {
  return (
    error instanceof Error &&
    error.name === 'ApiError' &&
    'code' in error &&
    (error as ApiError).code in ERROR_CATALOGUE
  );
}
