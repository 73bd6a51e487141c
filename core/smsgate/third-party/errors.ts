/**
 * Errors of the SMSGate 3rd-party surface. SMSGate answers `{"message": "<text>"}` with the HTTP
 * status (contract §1), never SMX's envelope: this is the one error type its routes throw, and
 * the surface's own error handler turns anything else into one (see toSmsGateError).
 */
export class SmsGateError extends Error {
  override name = 'SmsGateError';

  constructor(
    readonly status: number,
    message: string,
    options?: { cause?: unknown; retryAfter?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retryAfter = options?.retryAfter;
  }

  /** Seconds, sent as `Retry-After` (429, 503). */
  readonly retryAfter: number | undefined;

  toJSON(): { message: string } {
    return { message: this.message };
  }
}

/** 400 `failed to validate: …` (the original's validation wording). */
export function invalid(what: string): SmsGateError {
  return new SmsGateError(400, `failed to validate: ${what}`);
}

/** 400 for a field SMX does not serve yet (rather than ignoring it silently). */
export function unsupported(field: string, why: string): SmsGateError {
  return new SmsGateError(400, `${field} is not supported yet by SMX: ${why}`);
}

export const unauthorized = (): SmsGateError => new SmsGateError(401, 'Unauthorized');
export const notFound = (what: string): SmsGateError => new SmsGateError(404, `${what} not found`);
