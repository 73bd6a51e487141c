import type { PresenceReport } from '../core/presence.js';
import type { StatusUpdate } from '../core/services/messages.js';

/**
 * Reading what phones publish (device-protocol.md §3). Phones are untrusted: anything malformed is
 * dropped item by item, unknown fields are ignored (forward compatible), nothing throws.
 */

const STATES = new Set(['sent', 'delivered', 'failed']);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function readStatusUpdates(payload: unknown, max = 1000): StatusUpdate[] {
  if (!isObject(payload) || !Array.isArray(payload.updates)) return [];
  const updates: StatusUpdate[] = [];
  for (const item of payload.updates.slice(0, max)) {
    if (!isObject(item) || typeof item.id !== 'string' || !item.id.startsWith('msg_') || typeof item.state !== 'string' || !STATES.has(item.state)) continue;
    updates.push({
      id: item.id,
      state: item.state as StatusUpdate['state'],
      at: typeof item.at === 'string' ? item.at : undefined,
      error: typeof item.error === 'string' ? item.error.slice(0, 100) : undefined,
    });
  }
  return updates;
}

export interface PresencePayload extends PresenceReport {
  online?: boolean;
  /** 'broker' when the embedded broker saw the connection change (not the phone's own publish). */
  source?: string;
}

export function readPresence(payload: unknown): PresencePayload {
  if (!isObject(payload)) return {};
  const num = (v: unknown, min: number, max: number) => (typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max ? v : undefined);
  return {
    online: typeof payload.online === 'boolean' ? payload.online : undefined,
    source: typeof payload.source === 'string' ? payload.source : undefined,
    battery: num(payload.battery, 0, 100),
    charging: typeof payload.charging === 'boolean' ? payload.charging : undefined,
    signal: num(payload.signal, 0, 5),
    appVersion: typeof payload.appVersion === 'string' ? payload.appVersion.slice(0, 50) : undefined,
  };
}

/** The inbox payload's SMS (device-protocol.md §3 InboundSms); malformed items are dropped. */
export function readInbound(payload: unknown, max = 1000): Array<{ from: string; body: string; receivedAt: string; simSlot: number | null }> {
  if (!isObject(payload) || !Array.isArray(payload.messages)) return [];
  const out: Array<{ from: string; body: string; receivedAt: string; simSlot: number | null }> = [];
  for (const item of payload.messages.slice(0, max)) {
    if (!isObject(item) || typeof item.from !== 'string' || typeof item.body !== 'string') continue;
    const receivedAt = typeof item.receivedAt === 'string' && !Number.isNaN(Date.parse(item.receivedAt)) ? new Date(item.receivedAt).toISOString() : new Date().toISOString();
    const simSlot = typeof item.simSlot === 'number' && Number.isInteger(item.simSlot) && item.simSlot >= 0 && item.simSlot <= 7 ? item.simSlot : null;
    out.push({ from: item.from.slice(0, 64), body: item.body.slice(0, 10_000), receivedAt, simSlot });
  }
  return out;
}
