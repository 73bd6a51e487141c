import { apiError } from '../errors.js';
import { STATUS_AT_MAX, STATUS_ERROR_MAX, statusUpdateProblem } from '../delivery/status-reports.js';
import type { Sim } from '../services/devices.js';
import type { StatusUpdate } from '../services/messages.js';

/** Reading what the SMSGate app sends (its SIM cards, its message states). */

interface SimCard {
  slotIndex?: unknown;
  phoneNumber?: unknown;
  carrierName?: unknown;
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
/** A non-empty string cut to `max`, or null. */
export const str = (v: unknown, max: number): string | null =>
  typeof v === 'string' && v.length > 0 ? v.slice(0, max) : null;

/**
 * The app reports its SIMs on every start, often with a masked number (`******5678`) and never
 * with the operator's `rentable` flag: per slot, the operator's full number is kept unless the app
 * reports another full one, and `rentable` is kept while the number stays the same.
 */
export function keepOperatorSims(reported: Sim[], current: Sim[]): Sim[] {
  return reported.map((sim) => {
    const before = current.find((c) => c.slot === sim.slot);
    if (!before) return sim;
    const full = sim.number !== null && !sim.number.includes('*');
    const number = full ? sim.number : (before.number ?? sim.number);
    return { ...sim, number, rentable: before.rentable && number === before.number };
  });
}

/** The app's `simCards` → `devices.sims`; undefined when absent (apps before v1.65). */
export function readSimCards(value: unknown): Sim[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const sims: Sim[] = [];
  for (const card of value.slice(0, 8) as SimCard[]) {
    if (!isObject(card) || typeof card.slotIndex !== 'number' || !Number.isInteger(card.slotIndex)) continue;
    sims.push({
      slot: Math.max(0, card.slotIndex - 1),
      number: str(card.phoneNumber, 32),
      carrier: str(card.carrierName, 64),
      rentable: false,
    });
  }
  return sims;
}

const STATE_MAP: Record<string, StatusUpdate['state'] | undefined> = {
  Sent: 'sent',
  Delivered: 'delivered',
  Failed: 'failed',
  Cancelled: 'failed',
};

/**
 * `PATCH /message` items → status updates. Unknown states and malformed items are dropped, each
 * on its own (the same checks as an MQTT phone's updates, statusUpdateProblem), so one bad item
 * never holds back the others; `onDrop` names why.
 */
export function readStates(body: unknown, max = 1000, onDrop?: (problem: string) => void): StatusUpdate[] {
  if (!Array.isArray(body))
    throw apiError('VALIDATION_FAILED', { message: 'The body must be an array of message states.' });
  if (body.length > max) onDrop?.('too-many');
  const updates: StatusUpdate[] = [];
  for (const item of body.slice(0, max)) {
    if (!isObject(item) || typeof item.state !== 'string') {
      onDrop?.('shape');
      continue;
    }
    const state = STATE_MAP[item.state];
    if (!state) continue; // Pending, Processed, Cancelling: nothing to report
    const states = isObject(item.states) ? item.states : {};
    const when = states[item.state];
    const at = typeof when === 'string' && when.length <= STATUS_AT_MAX ? when : undefined;
    const recipients = Array.isArray(item.recipients) ? item.recipients : [];
    const firstError =
      isObject(recipients[0]) && typeof recipients[0].error === 'string' ? recipients[0].error : undefined;
    const error = item.state === 'Cancelled' ? 'CANCELED' : state === 'failed' ? (firstError ?? 'UNKNOWN') : undefined;
    const update: StatusUpdate = {
      id: item.id as string,
      state,
      ...(at ? { at } : {}),
      ...(error ? { error: error.slice(0, STATUS_ERROR_MAX) } : {}),
    };
    const problem = statusUpdateProblem(update);
    if (problem) {
      onDrop?.(problem);
      continue;
    }
    updates.push(update);
  }
  return updates;
}
