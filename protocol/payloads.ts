/**
 * The payloads of docs/device-protocol.md as they cross the wire, written once for both sides:
 * what the server publishes (outbox, control) and what a phone publishes (status, inbox,
 * presence), and the linking answer that hands a phone its credentials and topics.
 */
import type { Channel } from './topics.js';

/** A SIM of the phone (link request body and presence payload). */
export interface Sim {
  slot: number;
  number: string | null;
  carrier: string | null;
  rentable: boolean;
}

/** MQTT credentials of a linked device; the password is the device secret, shown once. */
export interface DeviceMqttCredentials {
  url: string;
  wsUrl: string;
  clientId: string;
  username: string;
  password: string;
}

/** The `data` of the 201 answer of `POST /v1/devices/link` (device-protocol.md §1). */
export interface LinkResult {
  deviceId: string;
  projectId: string;
  mqtt: DeviceMqttCredentials;
  topics: Record<Channel, string>;
}

/** One message to send, from `{ "messages": [...] }` on the outbox topic. Unknown fields are dropped. */
export interface OutboxMessage {
  id: string;
  to: string;
  body: string;
  simSlot: number | null;
  expiresAt: string | null;
  priority: number;
}

export type StatusState = 'sent' | 'delivered' | 'failed';

/** One entry of `{ "updates": [...] }` on the status topic. `error` is present for `failed` only. */
export interface StatusUpdate {
  id: string;
  state: StatusState;
  at: string;
  error?: string;
}

/** One received SMS forwarded on the inbox topic. */
export interface InboundSms {
  from: string;
  body: string;
  receivedAt: string;
  simSlot: number | null;
}

/** The retained presence payload while connected (the last will carries `{"online":false}`). */
export interface PresencePayload {
  online: true;
  battery: number;
  charging: boolean;
  signal: number;
  appVersion: string;
  sims: Sim[];
}

/** Control messages the device understands; other `type`s are ignored (forward compatible). */
export type ControlMessage =
  | { type: 'unlink' }
  | { type: 'ping' }
  | { type: 'cancel'; ids: string[] }
  | { type: 'config'; [field: string]: unknown };
