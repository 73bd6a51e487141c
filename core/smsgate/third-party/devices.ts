import type { DeviceWithPresence } from '../../services/devices.js';

/** A phone as SMSGate shows it (contract §4). */
export interface SmsGateDevice {
  id: string;
  name: string;
  createdAt: string;
  updatedAt: string;
  lastSeen: string;
  simCards: Array<{ slotIndex: number; simNumber: number; phoneNumber?: string; carrierName?: string }>;
}

/**
 * SMX's device in SMSGate's shape, whatever its transport (MQTT or the SMSGate app). SMX keeps
 * no update time: `updatedAt` is the last time it was seen (or linked). Pure.
 */
export function toSmsGateDevice(d: DeviceWithPresence): SmsGateDevice {
  const seen = d.lastSeenAt ?? d.linkedAt;
  return {
    id: d.id,
    name: d.name,
    createdAt: d.linkedAt,
    updatedAt: seen,
    lastSeen: seen,
    simCards: d.sims.map((s) => ({
      slotIndex: s.slot,
      simNumber: s.slot + 1,
      ...(s.number ? { phoneNumber: s.number } : {}),
      ...(s.carrier ? { carrierName: s.carrier } : {}),
    })),
  };
}
