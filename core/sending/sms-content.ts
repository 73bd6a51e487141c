import { ApiError, isApiError } from '../errors.js';
import type { ParsedPhone } from '../phone.js';
import { countParts } from '../sms-parts.js';
import {
  dataProblem,
  deliveryWindow,
  SMS_LIMITS,
  type DeliveryWindow,
  type SmsOptions,
  type WindowInput,
} from './sms-options.js';

/**
 * What one SMS carries and when it may go: the content of a send-sms request or a bulk entry
 * (a text, or a binary SMS), and a bulk entry's own options over its request's.
 */

export const invalidField = (field: string, message: string) =>
  new ApiError('VALIDATION_FAILED', { details: [{ field, message }] });

/**
 * The options a bulk entry may set for itself, over the request's (docs/api.md "POST
 * /v1/send-sms/bulk"), and `encryptedContent`, which only the request sets.
 */
export type EntryOptions = Pick<
  SmsOptions,
  'ttl' | 'validUntil' | 'scheduleAt' | 'simSlot' | 'deviceId' | 'priority' | 'encryptedContent'
>;

/** One bulk entry, as sent (validated here, item by item): `message`, or `data` with `dataPort`, and its own options. */
export interface BulkEntry {
  to: unknown;
  message?: unknown;
  data?: unknown;
  dataPort?: unknown;
  metadata?: unknown;
  ttl?: unknown;
  ttlSeconds?: unknown;
  validUntil?: unknown;
  scheduleAt?: unknown;
  simSlot?: unknown;
  deviceId?: unknown;
  priority?: unknown;
}

/** A bulk entry ready to route: its number, content, and options (the request's, overridden by its own). */
export interface PreparedEntry {
  index: number;
  to: string;
  countryIso: string | null;
  /** The text, or the data SMS's base64 payload. */
  body: string;
  dataPort: number | null;
  parts: number;
  metadata?: unknown;
  options: EntryOptions;
  window: DeliveryWindow;
}

/** A message's content: a text, or a data SMS (exactly one); `prefix` names the fields of a bulk entry. */
export function contentOf(
  entry: { message?: unknown; data?: unknown; dataPort?: unknown },
  prefix: string,
): { body: string; dataPort: number | null; parts: number } {
  const hasData = entry.data !== undefined || entry.dataPort !== undefined;
  if (hasData) {
    if (entry.message !== undefined)
      throw invalidField(`${prefix}message`, 'give message or data (with dataPort), not both');
    const problem = dataProblem(entry.data, entry.dataPort);
    if (problem) throw invalidField(`${prefix}${problem.field}`, problem.message);
    return { body: entry.data as string, dataPort: entry.dataPort as number, parts: 1 };
  }
  const message = entry.message;
  if (typeof message !== 'string' || message.length === 0)
    throw invalidField(`${prefix}message`, 'message must be a non-empty string (or give data with dataPort)');
  if (message.length > SMS_LIMITS.maxLength)
    throw invalidField(`${prefix}message`, `message must be at most ${SMS_LIMITS.maxLength} characters`);
  if (message.includes('\u0000')) throw invalidField(`${prefix}message`, 'message must not contain NUL characters');
  return { body: message, dataPort: null, parts: countParts(message).parts };
}

/** An ISO-8601 date-time with its zone, as the DTOs accept it. */
const ZONED_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

/** A bulk entry's own options, checked as the request's DTO checks them; throws VALIDATION_FAILED on the field. */
function entryOptions(entry: BulkEntry, prefix: string): EntryOptions {
  const own: EntryOptions = {};
  const int = (name: keyof BulkEntry, min: number, max: number): number | undefined => {
    const v = entry[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      throw invalidField(`${prefix}${name}`, `${name} must be an integer ${min} to ${max}`);
    return v;
  };
  const time = (name: 'scheduleAt' | 'validUntil'): Date | undefined => {
    const v = entry[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !ZONED_TIME.test(v) || Number.isNaN(Date.parse(v)))
      throw invalidField(`${prefix}${name}`, `${name} must be an ISO-8601 time with Z or an offset`);
    return new Date(v);
  };
  const ttl = int('ttl', SMS_LIMITS.ttl.min, SMS_LIMITS.ttl.max);
  const ttlSeconds = int('ttlSeconds', SMS_LIMITS.ttl.min, SMS_LIMITS.ttl.max);
  const validUntil = time('validUntil');
  if ([ttl, ttlSeconds, validUntil].filter((v) => v !== undefined).length > 1)
    throw invalidField(`${prefix}ttl`, 'give one of ttl, ttlSeconds and validUntil');
  if (ttl !== undefined || ttlSeconds !== undefined) own.ttl = ttl ?? ttlSeconds;
  if (validUntil !== undefined) own.validUntil = validUntil;
  const scheduleAt = time('scheduleAt');
  if (scheduleAt !== undefined) own.scheduleAt = scheduleAt;
  const simSlot = int('simSlot', 0, 7);
  if (simSlot !== undefined) own.simSlot = simSlot;
  const priority = int('priority', SMS_LIMITS.priority.min, SMS_LIMITS.priority.max);
  if (priority !== undefined) own.priority = priority;
  if (entry.deviceId !== undefined) {
    if (typeof entry.deviceId !== 'string' || entry.deviceId.length === 0 || entry.deviceId.length > 64)
      throw invalidField(`${prefix}deviceId`, 'deviceId must be a device id (dev_...)');
    own.deviceId = entry.deviceId;
  }
  return own;
}

/**
 * Validates one bulk entry and merges its own options over the request's (an entry's `ttl`,
 * `ttlSeconds` or `validUntil` replaces the request's expiry as a whole); throws the catalogue
 * error that rejects it, its field named `messages[i].…`.
 */
export function prepareEntry(
  entry: BulkEntry,
  index: number,
  parse: (to: string, field: string) => ParsedPhone,
  request: EntryOptions,
  requestWindow: DeliveryWindow,
  now: Date,
): PreparedEntry {
  const prefix = `messages[${index}].`;
  if (typeof entry !== 'object' || entry === null)
    throw invalidField(`messages[${index}]`, 'each entry must be an object with to and message (or data)');
  if (typeof entry.to !== 'string' || entry.to.trim() === '')
    throw invalidField(`${prefix}to`, 'to must be a phone number string');
  if (entry.to.includes('\u0000')) throw invalidField(`${prefix}to`, 'to must not contain NUL characters');
  const content = contentOf(entry, prefix);
  if (entry.metadata !== undefined) {
    if (typeof entry.metadata !== 'object' || entry.metadata === null || Array.isArray(entry.metadata))
      throw invalidField(`${prefix}metadata`, 'metadata must be an object');
    const json = JSON.stringify(entry.metadata);
    if (Buffer.byteLength(json, 'utf8') > SMS_LIMITS.metadataBytes || json.includes('\\u0000'))
      throw invalidField(
        `${prefix}metadata`,
        `metadata must serialize to at most ${SMS_LIMITS.metadataBytes} bytes of JSON`,
      );
  }
  const own = entryOptions(entry, prefix);
  const ownExpiry = own.ttl !== undefined || own.validUntil !== undefined;
  // Most entries set nothing of their own: they share the request's options (no copy per entry).
  const options: EntryOptions =
    Object.keys(own).length === 0
      ? request
      : { ...request, ...(ownExpiry ? { ttl: undefined, validUntil: undefined } : {}), ...own };
  const window = ownExpiry || own.scheduleAt !== undefined ? windowOf(now, options, prefix) : requestWindow;
  const phone = parse(entry.to, `${prefix}to`);
  return { index, to: phone.e164, countryIso: phone.countryIso, ...content, metadata: entry.metadata, options, window };
}

/** deliveryWindow with the entry's prefix on the field it names. */
function windowOf(now: Date, input: WindowInput, prefix: string): DeliveryWindow {
  try {
    return deliveryWindow(now, input);
  } catch (error) {
    if (!isApiError(error)) throw error;
    throw new ApiError(error.code, {
      details: error.details.map((d) => ({ ...d, field: `${prefix}${d.field ?? ''}` })),
      cause: error,
    });
  }
}
