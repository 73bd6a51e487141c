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

/**
 * What a phone may declare it can do beyond texts, in its link request and presence
 * (`capabilities`): `data-sms` = it sends binary SMS to a port (outbox items with `data` + `port`).
 * A phone that does not declare one never gets what needs it.
 */
export const DEVICE_CAPABILITIES = ['data-sms'] as const;

/**
 * What only a phone of another transport has, given by the server at link and never taken from a
 * phone's declaration on MQTT: `encrypted-content` = it decrypts SMSGate's end-to-end encrypted
 * content (`isEncrypted`): SMSGate-app phones, which hold the user's passphrase. Messages with
 * such content go only to these phones.
 */
export const TRANSPORT_CAPABILITIES = ['encrypted-content'] as const;
export type DeviceCapability = (typeof DEVICE_CAPABILITIES)[number] | (typeof TRANSPORT_CAPABILITIES)[number];

/** What every outbox item carries beside its content. */
interface OutboxItemBase {
  id: string;
  to: string;
  simSlot: number | null;
  expiresAt: string | null;
  /** Send in the order given; 128 for an OTP, the request's -128..127 (default 0) for other SMS. */
  priority: number;
}

/** A text SMS on the wire. */
export interface OutboxTextItem extends OutboxItemBase {
  body: string;
}

/** A binary SMS on the wire (only to phones declaring `data-sms`): base64 `data` (1-133 bytes) to `port` (1-65535). */
export interface OutboxDataItem extends OutboxItemBase {
  data: string;
  port: number;
}

/** One item of `{ "messages": [...] }` on the outbox topic, as the server publishes it: exactly one of `body` and `data`. */
export type OutboxItem = OutboxTextItem | OutboxDataItem;

/**
 * One message to send, as a phone reads it from the outbox topic (unknown fields dropped): a text
 * has `body`; a binary SMS has `data` and `port`, and an empty `body`.
 */
export interface OutboxMessage extends OutboxItemBase {
  body: string;
  data?: string;
  port?: number;
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
  /** What the phone can do beyond texts ({@link DEVICE_CAPABILITIES}); the server keeps the last one announced. */
  capabilities?: string[];
}

/** Control messages the device understands; other `type`s are ignored (forward compatible). */
export type ControlMessage =
  | { type: 'unlink' }
  | { type: 'ping' }
  | { type: 'cancel'; ids: string[] }
  | { type: 'config'; [field: string]: unknown };
