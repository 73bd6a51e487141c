/**
 * `POST /messages` bodies (contract §3 "Request Message"), read and checked. Pure: no I/O.
 * Fields SMX cannot honour yet answer 400 naming the field rather than being dropped silently.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import { SMS_LIMITS } from '../../sending/sms.js';
import { invalid, SmsGateError, unsupported } from './errors.js';

/** Recipients per SMSGate message. */
export const MAX_RECIPIENTS = 100;
/** Longest client-chosen message id (the original's limit). */
export const MAX_MESSAGE_ID = 36;
/** Shortest `ttl` the original accepts, in seconds. */
export const MIN_TTL = 5;
/** SMSGate assumes Russian numbers when a number has no `+` (libphonenumber default region). */
export const DEFAULT_REGION: CountryCode = 'RU';

/** A send request SMX can serve. */
export interface SendRequest {
  /** The client's id, if it chose one. */
  id: string | undefined;
  text: string;
  /** E.164, unique, in the order given. */
  phoneNumbers: string[];
  /** Seconds the message may wait for a phone (from `ttl` or `validUntil`); SMX's default when absent. */
  ttlSeconds: number | undefined;
  validUntil: Date | undefined;
  /** Stored and shown; SMX's phones always ask for delivery reports. */
  withDeliveryReport: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const present = (v: unknown) => v !== undefined && v !== null;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Reads a send request. `skipPhoneValidation` skips the mobile-number check only: SMX routes and
 * checks countries by E.164, so every number must still be a valid, dialable one.
 */
export function readSendRequest(
  body: unknown,
  options: { skipPhoneValidation?: boolean; now?: Date } = {},
): SendRequest {
  const now = options.now ?? new Date();
  if (!isObject(body)) throw new SmsGateError(400, 'failed to parse body: the body must be a JSON object');

  const contents = (['message', 'textMessage', 'dataMessage'] as const).filter((k) => present(body[k]));
  if (contents.length !== 1) throw invalid('exactly one of message, textMessage or dataMessage must be set');
  if (contents[0] === 'dataMessage')
    throw unsupported('dataMessage', 'binary SMS to a port needs a device protocol change that is in progress');
  let text: unknown = body.message;
  if (contents[0] === 'textMessage') {
    if (!isObject(body.textMessage)) throw invalid('textMessage must be an object { text }');
    text = body.textMessage.text;
  }
  if (typeof text !== 'string' || text.length === 0) throw invalid('the text must be a non-empty string');
  if (text.length > 65_535) throw invalid('the text must be at most 65535 characters');
  if (text.length > SMS_LIMITS.maxLength)
    throw invalid(
      `the text must be at most ${SMS_LIMITS.maxLength} characters on SMX (${Math.ceil(SMS_LIMITS.maxLength / 153)} SMS parts)`,
    );
  if (text.includes('\u0000')) throw invalid('the text must not contain NUL characters');

  let id: string | undefined;
  if (present(body.id)) {
    if (
      typeof body.id !== 'string' ||
      body.id.length === 0 ||
      body.id.length > MAX_MESSAGE_ID ||
      CONTROL.test(body.id)
    ) {
      throw invalid(`id must be a string of 1 to ${MAX_MESSAGE_ID} printable characters`);
    }
    id = body.id;
  }

  const numbers = body.phoneNumbers;
  if (!Array.isArray(numbers) || numbers.length === 0) throw invalid('phoneNumbers is required (1 to 100 numbers)');
  if (numbers.length > MAX_RECIPIENTS) throw invalid(`phoneNumbers must have at most ${MAX_RECIPIENTS} items`);
  if (numbers.some((n) => typeof n !== 'string' || n.length === 0 || n.length > 128))
    throw invalid('each phone number must be a string of 1 to 128 characters');

  if (body.isEncrypted === true)
    throw unsupported('isEncrypted', 'end-to-end encrypted content needs phone-side support that is in progress');
  if (present(body.deviceId) && body.deviceId !== '')
    throw unsupported(
      'deviceId',
      "pinning a message to one phone is in progress; SMX routes it to one of the project's phones",
    );
  if (present(body.simNumber))
    throw unsupported('simNumber', 'choosing the SIM per message is in progress; the phone uses its own choice');
  if (present(body.scheduleAt)) throw unsupported('scheduleAt', 'scheduled sends are in progress');
  if (present(body.priority) && body.priority !== 0)
    throw unsupported('priority', 'message priorities are in progress; send without priority (0)');
  if (present(body.withDeliveryReport) && typeof body.withDeliveryReport !== 'boolean')
    throw invalid('withDeliveryReport must be a boolean');

  let ttlSeconds: number | undefined;
  let validUntil: Date | undefined;
  if (present(body.ttl) && present(body.validUntil)) throw invalid('ttl and validUntil are mutually exclusive');
  if (present(body.ttl)) {
    if (typeof body.ttl !== 'number' || !Number.isInteger(body.ttl) || body.ttl < MIN_TTL)
      throw invalid(`ttl must be an integer of at least ${MIN_TTL} seconds`);
    ttlSeconds = body.ttl;
    validUntil = new Date(now.getTime() + body.ttl * 1000);
  } else if (present(body.validUntil)) {
    const at = typeof body.validUntil === 'string' ? Date.parse(body.validUntil) : Number.NaN;
    if (Number.isNaN(at)) throw invalid('validUntil must be an RFC 3339 date-time');
    if (at <= now.getTime()) throw invalid('validUntil must be in the future');
    validUntil = new Date(at);
    ttlSeconds = Math.ceil((at - now.getTime()) / 1000);
  }
  if (ttlSeconds !== undefined && ttlSeconds > SMS_LIMITS.ttl.max)
    throw invalid(`a message may wait at most ${SMS_LIMITS.ttl.max} seconds on SMX (ttl / validUntil)`);

  const phoneNumbers = numbers.map((n) => normalisePhone(n as string, options.skipPhoneValidation === true));
  if (new Set(phoneNumbers).size !== phoneNumbers.length) throw invalid('phone numbers must be unique');

  return { id, text, phoneNumbers, ttlSeconds, validUntil, withDeliveryReport: body.withDeliveryReport !== false };
}

/** E.164 of a number as SMSGate reads it (default region RU), with its errors. */
export function normalisePhone(raw: string, skipTypeCheck: boolean): string {
  let parsed;
  try {
    parsed = parsePhoneNumberFromString(raw.trim(), DEFAULT_REGION);
  } catch (error) {
    throw new SmsGateError(400, `failed to parse phone number: ${(error as Error).message}`, { cause: error });
  }
  if (!parsed) throw new SmsGateError(400, `failed to parse phone number: "${raw}" is not a phone number`);
  if (!parsed.isValid()) throw new SmsGateError(400, `invalid phone number: "${raw}"`);
  const type = parsed.getType();
  if (!skipTypeCheck && type !== undefined && type !== 'MOBILE' && type !== 'FIXED_LINE_OR_MOBILE')
    throw new SmsGateError(400, `not mobile phone number: "${raw}"`);
  return parsed.number;
}
