import { ApiError } from '../errors.js';

/** Custom SMS limits (docs/api.md "Custom SMS"). */
export const SMS_LIMITS = {
  maxLength: 1600,
  maxRecipients: 10_000,
  /** Seconds a custom SMS may wait for its phone, counted from its `scheduleAt` (else from the request). */
  ttl: { min: 60, max: 259_200, default: 86_400 },
  metadataBytes: 1024,
  /** How far ahead `scheduleAt` may be. */
  scheduleMaxSeconds: 30 * 86_400,
  /** `priority` of a custom SMS (SMSGate's range); OTPs are {@link OTP_MESSAGE_PRIORITY}, above all of them. */
  priority: { min: -128, max: 127, default: 0 },
  /**
   * A data SMS is one SMS: 140 bytes of user data less the 7-byte header that carries the ports
   * (Android's `sendDataMessage` refuses more).
   */
  dataBytes: { min: 1, max: 133 },
  dataPort: { min: 1, max: 65_535 },
} as const;

/** What a custom SMS request may set, for one message or every message of a bulk request. */
export interface SmsOptions {
  countryCode?: string;
  /** Seconds it may wait for its phone, from `scheduleAt` (else now); `ttlSeconds` on the wire is the same. */
  ttl?: number;
  /** An absolute expiry instead of `ttl`. */
  validUntil?: Date;
  /** Held (not handed to any phone) until then. */
  scheduleAt?: Date;
  /** The SIM of the phone to send from; the phone must have it. */
  simSlot?: number;
  /** This phone of the project and no other (never re-routed away from it). */
  deviceId?: string;
  /** -128..127, default 0: higher goes first among the phone's SMS (OTPs go before all). */
  priority?: number;
  /**
   * The content is encrypted end to end (SMSGate's `isEncrypted`): only phones with the
   * `encrypted-content` capability get it, and it stays on the phone it was routed to (pinned:
   * never re-routed to one that cannot decrypt it). Not on the public API: the SMSGate surface sets it.
   */
  encryptedContent?: boolean;
  callbackUrl?: string;
}

/** The dispatch priority of OTP messages: above every custom SMS priority, so an OTP never waits behind one. */
export const OTP_MESSAGE_PRIORITY = 128;

/** When a message may go out and until when, from a request's `scheduleAt`, `ttl` and `validUntil`. */
export interface DeliveryWindow {
  /** Held until then; null: at once. */
  scheduledAt: Date | null;
  expiresAt: Date;
}

export interface WindowInput {
  scheduleAt?: Date;
  /** Seconds from `scheduleAt` (or now). */
  ttl?: number;
  /** Absolute expiry; not with `ttl`. */
  validUntil?: Date;
}

const invalid = (field: string, message: string) =>
  new ApiError('VALIDATION_FAILED', { details: [{ field, message }] });

/**
 * The delivery window of a request: `scheduleAt` must be in the future (at most 30 days ahead);
 * the TTL counts from it; `validUntil` replaces the TTL and must fall within the TTL's range of
 * it. Throws VALIDATION_FAILED naming the field.
 */
export function deliveryWindow(now: Date, input: WindowInput): DeliveryWindow {
  const { scheduleAt, ttl, validUntil } = input;
  if (scheduleAt !== undefined) {
    if (!(scheduleAt.getTime() > now.getTime())) throw invalid('scheduleAt', 'scheduleAt must be in the future');
    if (scheduleAt.getTime() > now.getTime() + SMS_LIMITS.scheduleMaxSeconds * 1000) {
      throw invalid('scheduleAt', `scheduleAt must be at most ${SMS_LIMITS.scheduleMaxSeconds / 86_400} days ahead`);
    }
  }
  const start = scheduleAt ?? now;
  if (validUntil !== undefined) {
    if (ttl !== undefined) throw invalid('validUntil', 'give ttl (or ttlSeconds) or validUntil, not both');
    const seconds = (validUntil.getTime() - start.getTime()) / 1000;
    if (!(seconds > 0))
      throw invalid(
        'validUntil',
        scheduleAt ? 'validUntil must be after scheduleAt' : 'validUntil must be in the future',
      );
    if (seconds > SMS_LIMITS.ttl.max)
      throw invalid(
        'validUntil',
        `validUntil must be at most ${SMS_LIMITS.ttl.max} seconds after ${scheduleAt ? 'scheduleAt' : 'now'}`,
      );
    return { scheduledAt: scheduleAt ?? null, expiresAt: validUntil };
  }
  return {
    scheduledAt: scheduleAt ?? null,
    expiresAt: new Date(start.getTime() + (ttl ?? SMS_LIMITS.ttl.default) * 1000),
  };
}

/** Strict base64 (padding included), as `data` must be. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Why a data SMS's `data` (base64) and `dataPort` are refused, or null; `field` prefixes the fields named. */
export function dataProblem(data: unknown, port: unknown): { field: 'data' | 'dataPort'; message: string } | null {
  if (typeof data !== 'string' || data.length === 0 || !BASE64.test(data))
    return { field: 'data', message: 'data must be a base64 string (with padding)' };
  const bytes = Buffer.byteLength(data, 'base64');
  if (bytes < SMS_LIMITS.dataBytes.min || bytes > SMS_LIMITS.dataBytes.max) {
    return {
      field: 'data',
      message: `data must decode to ${SMS_LIMITS.dataBytes.min}-${SMS_LIMITS.dataBytes.max} bytes (one SMS), got ${bytes}`,
    };
  }
  if (
    typeof port !== 'number' ||
    !Number.isInteger(port) ||
    port < SMS_LIMITS.dataPort.min ||
    port > SMS_LIMITS.dataPort.max
  ) {
    return {
      field: 'dataPort',
      message: `dataPort must be an integer ${SMS_LIMITS.dataPort.min}-${SMS_LIMITS.dataPort.max}`,
    };
  }
  return null;
}
