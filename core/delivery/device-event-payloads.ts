import type { PresenceReport } from '../presence/store.js';
import { CONTROL_CHARS, STATUS_AT_MAX, STATUS_ERROR_MAX, statusUpdateProblem } from './status-reports.js';
import type { StatusUpdate } from '../services/messages.js';

/**
 * Reading what phones publish (device-protocol.md §3). Phones are untrusted: anything malformed is
 * dropped item by item, unknown fields are ignored (forward compatible), nothing throws.
 */

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The status updates of a `status` publish. Each item is checked on its own before it can reach
 * SQL (statusUpdateProblem: an id SMX made, a known state, a short error without control
 * characters); an unusable one is dropped and named to `onDrop`, its neighbours are kept. A long
 * error is cut to {@link STATUS_ERROR_MAX}; an unreadable `at` is left out (the receipt time
 * stands in).
 */
export function readStatusUpdates(payload: unknown, max = 1000, onDrop?: (problem: string) => void): StatusUpdate[] {
  if (!isObject(payload) || !Array.isArray(payload.updates)) return [];
  if (payload.updates.length > max) onDrop?.('too-many');
  const updates: StatusUpdate[] = [];
  for (const item of payload.updates.slice(0, max)) {
    const update = isObject(item)
      ? {
          id: item.id,
          state: item.state,
          at: typeof item.at === 'string' && item.at.length <= STATUS_AT_MAX ? item.at : undefined,
          error: typeof item.error === 'string' ? item.error.slice(0, STATUS_ERROR_MAX) : undefined,
        }
      : item;
    const problem = statusUpdateProblem(update);
    if (problem) {
      onDrop?.(problem);
      continue;
    }
    const { id, state, at, error } = update as StatusUpdate;
    updates.push({ id, state, at, error });
  }
  return updates;
}

export interface PresencePayload extends PresenceReport {
  online?: boolean;
  /** What the phone declares it can do (device-protocol.md §3); undefined when it did not say. */
  capabilities?: string[];
  /** 'broker' when the embedded broker saw the connection change (not the phone's own publish). */
  source?: string;
}

export function readPresence(payload: unknown): PresencePayload {
  if (!isObject(payload)) return {};
  const num = (v: unknown, min: number, max: number) =>
    typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max ? v : undefined;
  return {
    online: typeof payload.online === 'boolean' ? payload.online : undefined,
    source: typeof payload.source === 'string' ? payload.source : undefined,
    battery: num(payload.battery, 0, 100),
    charging: typeof payload.charging === 'boolean' ? payload.charging : undefined,
    signal: num(payload.signal, 0, 5),
    appVersion:
      typeof payload.appVersion === 'string' && !CONTROL_CHARS.test(payload.appVersion)
        ? payload.appVersion.slice(0, 50)
        : undefined,
    capabilities: Array.isArray(payload.capabilities)
      ? payload.capabilities.slice(0, 32).filter((c): c is string => typeof c === 'string')
      : undefined,
  };
}

/** Longest sender kept (a phone number, or an alphanumeric sender id of up to 11 characters). */
export const INBOUND_FROM_MAX = 64;
/** Longest SMS text kept (a concatenated SMS is at most 255 parts of 153 characters). */
export const INBOUND_BODY_MAX = 10_000;
/** The earliest receipt time believed; earlier (or unreadable, or more than a day ahead) means "now". */
const EARLIEST_RECEIVED = Date.UTC(2000, 0, 1);

/**
 * The inbox payload's SMS (device-protocol.md §3 InboundSms), each checked before it can reach
 * SQL: a sender that is a non-empty string without control characters (cut to
 * {@link INBOUND_FROM_MAX}), a string body (cut to {@link INBOUND_BODY_MAX}, NUL removed: PostgreSQL
 * text cannot hold it, and some phones decode GSM's `@` as NUL). A receipt time outside 2000 to a
 * day ahead (JavaScript reads years PostgreSQL cannot store) is replaced by `now`; a SIM slot
 * that is not 0..7 by null. Unusable items are dropped and named to `onDrop`.
 */
export function readInbound(
  payload: unknown,
  max = 1000,
  onDrop?: (problem: string) => void,
  now = new Date(),
): Array<{ from: string; body: string; receivedAt: string; simSlot: number | null }> {
  if (!isObject(payload) || !Array.isArray(payload.messages)) return [];
  if (payload.messages.length > max) onDrop?.('too-many');
  const out: Array<{ from: string; body: string; receivedAt: string; simSlot: number | null }> = [];
  for (const item of payload.messages.slice(0, max)) {
    if (!isObject(item)) {
      onDrop?.('shape');
      continue;
    }
    if (typeof item.from !== 'string' || item.from.length === 0 || CONTROL_CHARS.test(item.from)) {
      onDrop?.('from');
      continue;
    }
    if (typeof item.body !== 'string') {
      onDrop?.('body');
      continue;
    }
    const parsed =
      typeof item.receivedAt === 'string' && item.receivedAt.length <= STATUS_AT_MAX
        ? Date.parse(item.receivedAt)
        : Number.NaN;
    const believable = parsed >= EARLIEST_RECEIVED && parsed <= now.getTime() + 86_400_000;
    const receivedAt = new Date(believable ? parsed : now.getTime()).toISOString();
    const simSlot =
      typeof item.simSlot === 'number' && Number.isInteger(item.simSlot) && item.simSlot >= 0 && item.simSlot <= 7
        ? item.simSlot
        : null;
    out.push({
      from: item.from.slice(0, INBOUND_FROM_MAX),
      body: item.body.slice(0, INBOUND_BODY_MAX).replace(/\u0000/g, ''),
      receivedAt,
      simSlot,
    });
  }
  return out;
}
