/**
 * `POST /messages` bodies (contract §3 "Request Message"), read and checked. Pure: no I/O.
 * Every field of the contract is served; what SMX cannot honour as asked (an encrypted binary
 * SMS, encrypted phone numbers) answers 400 naming the field rather than being dropped silently.
 */
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import { SMS_LIMITS } from '../../sending/sms.js';
import { dataProblem } from '../../sending/sms-options.js';
import { invalid, SmsGateError, unsupported } from './errors.js';

/** Recipients per SMSGate message. */
export const MAX_RECIPIENTS = 100;
/** Longest client-chosen message id (the original's limit). */
export const MAX_MESSAGE_ID = 36;
/** Shortest `ttl` the original accepts, in seconds. */
export const MIN_TTL = 5;
/** SMSGate assumes Russian numbers when a number has no `+` (libphonenumber default region). */
export const DEFAULT_REGION: CountryCode = 'RU';

/** SIM numbers SMSGate accepts (1-based; SMX's `simSlot` is `simNumber - 1`). */
export const SIM_NUMBERS = { min: 1, max: 3 } as const;

/**
 * SMSGate's `priority` (-128..127, default 0) is SMX's custom-SMS priority as it is: the same
 * range, higher first. OTPs (128) still go before every one of them. SMSGate's "100 and above
 * bypass limits and delays" is the phone's own: SMSGate-app phones get the priority and skip
 * their own delays; SMX's pace (`sendRatePerMinute`) and the project's limits still apply.
 */
export const PRIORITY = SMS_LIMITS.priority;

/** A message's content: a text, or a binary SMS (base64 `data` to `port`). */
export type SendContent = { text: string } | { data: string; port: number };

/** A send request SMX can serve. */
export interface SendRequest {
  /** The client's id, if it chose one. */
  id: string | undefined;
  content: SendContent;
  /** Content (and numbers) encrypted by the client: passed through untouched, only to phones that decrypt it. */
  isEncrypted: boolean;
  /** E.164, unique, in the order given. */
  phoneNumbers: string[];
  /** Seconds the message may wait for a phone (from `ttl` or `validUntil`); SMX's default when absent. */
  ttlSeconds: number | undefined;
  validUntil: Date | undefined;
  /** Stored and shown; SMX's phones always ask for delivery reports. */
  withDeliveryReport: boolean;
  /** Held until then. */
  scheduleAt: Date | undefined;
  /** 0-based (`simNumber - 1`). */
  simSlot: number | undefined;
  /** One of the project's phones (checked by the send). */
  deviceId: string | undefined;
  priority: number | undefined;
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
  if (present(body.isEncrypted) && typeof body.isEncrypted !== 'boolean')
    throw invalid('isEncrypted must be a boolean');
  const isEncrypted = body.isEncrypted === true;
  const content = readContent(body, contents[0]!, isEncrypted);

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

  let deviceId: string | undefined;
  if (present(body.deviceId) && body.deviceId !== '') {
    if (typeof body.deviceId !== 'string' || body.deviceId.length > 64 || CONTROL.test(body.deviceId))
      throw invalid('deviceId must be a device id');
    deviceId = body.deviceId;
  }
  let simSlot: number | undefined;
  if (present(body.simNumber)) {
    const n = body.simNumber;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < SIM_NUMBERS.min || n > SIM_NUMBERS.max)
      throw invalid(`simNumber must be an integer ${SIM_NUMBERS.min} to ${SIM_NUMBERS.max}`);
    simSlot = n - 1;
  }
  let priority: number | undefined;
  if (present(body.priority)) {
    const p = body.priority;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < PRIORITY.min || p > PRIORITY.max)
      throw invalid(`priority must be an integer ${PRIORITY.min} to ${PRIORITY.max}`);
    priority = p;
  }
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
  let scheduleAt: Date | undefined;
  if (present(body.scheduleAt)) {
    const at = typeof body.scheduleAt === 'string' ? Date.parse(body.scheduleAt) : Number.NaN;
    if (Number.isNaN(at)) throw invalid('scheduleAt must be an RFC 3339 date-time');
    if (at <= now.getTime()) throw invalid('scheduleAt must be in the future');
    if (at > now.getTime() + SMS_LIMITS.scheduleMaxSeconds * 1000)
      throw invalid(`scheduleAt must be at most ${SMS_LIMITS.scheduleMaxSeconds / 86_400} days ahead on SMX`);
    if (validUntil !== undefined && at >= validUntil.getTime()) throw invalid('scheduleAt must be before validUntil');
    scheduleAt = new Date(at);
  }
  // SMX counts a message's wait from its scheduleAt: at most SMS_LIMITS.ttl.max seconds after it.
  const waitFrom = scheduleAt ?? now;
  if (validUntil !== undefined && validUntil.getTime() - waitFrom.getTime() > SMS_LIMITS.ttl.max * 1000)
    throw invalid(`a message may wait at most ${SMS_LIMITS.ttl.max} seconds on SMX (ttl / validUntil)`);

  const phoneNumbers = numbers.map((n) => {
    if (isEncrypted && ENCRYPTED.test(n as string))
      throw unsupported(
        'isEncrypted',
        'SMX routes each message by its recipient, so the phone numbers must be sent unencrypted (the text is passed through encrypted)',
      );
    return normalisePhone(n as string, options.skipPhoneValidation === true);
  });
  if (new Set(phoneNumbers).size !== phoneNumbers.length) throw invalid('phone numbers must be unique');

  return {
    id,
    content,
    isEncrypted,
    phoneNumbers,
    ttlSeconds,
    validUntil,
    withDeliveryReport: body.withDeliveryReport !== false,
    scheduleAt,
    simSlot,
    deviceId,
    priority,
  };
}

/** SMSGate's encrypted strings (`$aes-256-cbc/pbkdf2-sha1$i=75000$<salt>$<data>`, as its clients write them). */
const ENCRYPTED = /^\$[a-z0-9-]+\/[a-z0-9-]+\$/i;

/**
 * The text of `message` / `textMessage`, or `dataMessage` { data, port } checked as SMX sends a
 * binary SMS (one SMS: 1-133 bytes). Encrypted text is passed through as it is (SMX's length
 * limit still applies); an encrypted binary SMS is not served.
 */
function readContent(
  body: Record<string, unknown>,
  kind: 'message' | 'textMessage' | 'dataMessage',
  isEncrypted: boolean,
): SendContent {
  if (kind === 'dataMessage') {
    if (isEncrypted)
      throw unsupported(
        'isEncrypted',
        'an encrypted dataMessage is not served; SMX passes encrypted text messages only',
      );
    const data = body.dataMessage;
    if (!isObject(data)) throw invalid('dataMessage must be an object { data, port }');
    if (typeof data.data !== 'string' || data.data.length < 4 || data.data.length > 65_535)
      throw invalid('dataMessage.data must be a base64 string of 4 to 65535 characters');
    const problem = dataProblem(data.data, data.port);
    if (problem)
      throw invalid(
        `dataMessage.${problem.field === 'dataPort' ? 'port' : 'data'}: ${problem.message.replace('dataPort', 'port')}`,
      );
    return { data: data.data, port: data.port as number };
  }
  let text: unknown = body.message;
  if (kind === 'textMessage') {
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
  return { text };
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
