/**
 * Reading what the server publishes (device-protocol.md §3). Everything here is liberal in what it
 * accepts: invalid JSON yields null, unknown fields are dropped, and a malformed entry is skipped
 * without affecting its neighbours, so a newer server never crashes an older phone.
 */
import { isRecord } from './api-client.js';
import type { ControlMessage, OutboxMessage } from '../protocol/index.js';

/** Parses a payload that must be a JSON object; anything else (invalid JSON, arrays, ...) is null. */
export function parseJsonObject(payload: Buffer | string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(payload.toString());
    return isRecord(value) ? value : null;
  } catch {
    return null;
  }
}

/** Outbox messages that are usable, and how many entries were not (missing `id`, `to` or `body`). */
export interface ParsedOutbox {
  messages: OutboxMessage[];
  invalid: number;
}

/** Reads `{ "messages": [OutboxMessage, ...] }`; null when there is no `messages` array at all. */
export function parseOutbox(value: Record<string, unknown>): ParsedOutbox | null {
  if (!Array.isArray(value.messages)) return null;
  const messages: OutboxMessage[] = [];
  let invalid = 0;
  for (const raw of value.messages as unknown[]) {
    const message = parseOutboxMessage(raw);
    if (message === null) invalid += 1;
    else messages.push(message);
  }
  return { messages, invalid };
}

/**
 * A text (`body`) or a binary SMS (`data`, base64, and `port` 1-65535, device-protocol.md §3);
 * a binary one is read with an empty `body`.
 */
function parseOutboxMessage(raw: unknown): OutboxMessage | null {
  if (!isRecord(raw)) return null;
  const { id, to, body, data, port } = raw;
  if (typeof id !== 'string' || id.length === 0 || typeof to !== 'string' || to.length === 0) return null;
  const isData = body === undefined && typeof data === 'string' && data.length > 0;
  if (!isData && typeof body !== 'string') return null;
  if (isData && !(typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65_535)) return null;
  return {
    id,
    to,
    body: isData ? '' : (body as string),
    ...(isData ? { data: data as string, port: port as number } : {}),
    simSlot: typeof raw.simSlot === 'number' && Number.isInteger(raw.simSlot) ? raw.simSlot : null,
    expiresAt: typeof raw.expiresAt === 'string' ? raw.expiresAt : null,
    priority: typeof raw.priority === 'number' && Number.isFinite(raw.priority) ? raw.priority : 0,
  };
}

/** True when the message carries a valid `expiresAt` that is not in the future. */
export function isExpired(message: OutboxMessage, now: number): boolean {
  if (message.expiresAt === null) return false;
  const at = Date.parse(message.expiresAt);
  // An unreadable date is not a reason to drop an OTP; the server enforces expiry too.
  return Number.isFinite(at) && at <= now;
}

/** Reads a control message; unknown or malformed types are null (ignored by the device). */
export function parseControl(value: Record<string, unknown>): ControlMessage | null {
  switch (value.type) {
    case 'unlink':
      return { type: 'unlink' };
    case 'ping':
      return { type: 'ping' };
    case 'cancel': {
      if (!Array.isArray(value.ids)) return null;
      const ids = (value.ids as unknown[]).filter((id): id is string => typeof id === 'string' && id.length > 0);
      return { type: 'cancel', ids };
    }
    case 'config':
      return { ...value, type: 'config' };
    default:
      return null;
  }
}
