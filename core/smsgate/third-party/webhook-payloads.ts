/**
 * SMSGate webhooks (contract §5) as SMX sends them, from the server for every kind of phone:
 * the event list, the envelope `{ id, webhookId, event, deviceId, payload }`, the payloads, and
 * the signature `X-Signature` = hex HMAC-SHA256(signing key, raw body + `X-Timestamp`). Pure.
 */
import { createHash } from 'node:crypto';
import { CANCELED_ERROR } from './states.js';

/** The events a webhook may be registered for (SMSGate server 1.47 and app 1.68). */
export const SMSGATE_WEBHOOK_EVENTS = [
  'sms:received',
  'sms:data-received',
  'sms:sent',
  'sms:delivered',
  'sms:failed',
  'sms:cancelled',
  'system:ping',
  'mms:received',
  'mms:downloaded',
  'app:started',
] as const;
export type SmsGateWebhookEvent = (typeof SMSGATE_WEBHOOK_EVENTS)[number];

export function isSmsGateWebhookEvent(value: unknown): value is SmsGateWebhookEvent {
  return typeof value === 'string' && (SMSGATE_WEBHOOK_EVENTS as readonly string[]).includes(value);
}

/** One event, before it is addressed to the project's webhooks. */
export interface SmsGateEvent {
  projectId: string;
  deviceId: string;
  event: SmsGateWebhookEvent;
  payload: Record<string, unknown>;
  /** Names what happened, the same each time it is derived again: the delivery ids come from it (duplicates collapse). */
  key: string;
}

export { smsgateHeaders, smsgateSigningKey, signSmsGate } from '../../webhooks/signature.js';

/** The delivery body: the envelope the app posts. */
export function smsgateBody(eventId: string, webhookId: string, event: SmsGateEvent): string {
  return JSON.stringify({
    id: eventId,
    webhookId,
    event: event.event,
    deviceId: event.deviceId,
    payload: event.payload,
  });
}

/** A delivery's event id, the same for the same event and webhook (the webhooks queue dedupes by it). */
export function smsgateEventId(key: string, webhookId: string): string {
  return `evt_${createHash('sha256').update(`smsgate:${key}:${webhookId}`).digest('base64url').slice(0, 22)}`;
}

/** A message status change, as SMX's delivery core reports it. */
export interface MessageChangeLike {
  id: string;
  projectId: string;
  status: string;
  error: string | null;
  at: Date;
}

/** What an SMX message is to SMSGate: the recipient of one SMSGate message. */
export interface RecipientFacts {
  /** The SMSGate message id. */
  messageId: string;
  phoneNumber: string;
  deviceId: string | null;
  /** SMX's 0-based SIM slot. */
  simSlot: number | null;
  parts: number;
}

/**
 * `sms:sent` / `sms:delivered` / `sms:failed` / `sms:cancelled` for SMX message changes of
 * SMSGate messages (one event per recipient, as the app sends them). `facts` holds the SMSGate
 * side of each SMX message id; changes of other messages, and states SMSGate has no event for
 * (DISPATCHED), give nothing. An expiry is `sms:failed` with reason `EXPIRED`.
 */
export function smsgateWebhookEvents(
  changes: readonly MessageChangeLike[],
  facts: ReadonlyMap<string, RecipientFacts>,
): SmsGateEvent[] {
  const events: SmsGateEvent[] = [];
  for (const change of changes) {
    const f = facts.get(change.id);
    if (!f || !f.deviceId) continue;
    const at = change.at.toISOString();
    const base: Record<string, unknown> = {
      messageId: f.messageId,
      recipient: f.phoneNumber,
      phoneNumber: f.phoneNumber,
    };
    if (f.simSlot !== null) base.simNumber = f.simSlot + 1;
    let event: SmsGateWebhookEvent;
    let payload: Record<string, unknown>;
    switch (change.status) {
      case 'SENT':
        event = 'sms:sent';
        payload = { ...base, partsCount: f.parts, sentAt: at };
        break;
      case 'DELIVERED':
        event = 'sms:delivered';
        payload = { ...base, deliveredAt: at };
        break;
      case 'FAILED':
        if (change.error === CANCELED_ERROR) {
          event = 'sms:cancelled';
          payload = { ...base, cancelledAt: at };
        } else {
          event = 'sms:failed';
          payload = { ...base, failedAt: at, reason: change.error ?? 'FAILED' };
        }
        break;
      case 'EXPIRED':
        event = 'sms:failed';
        payload = { ...base, failedAt: at, reason: change.error ?? 'EXPIRED' };
        break;
      default:
        continue;
    }
    events.push({
      projectId: change.projectId,
      deviceId: f.deviceId,
      event,
      payload,
      key: `${change.id}:${change.status}`,
    });
  }
  return events;
}

/** An SMS a phone received, as the `onInbound` hook reports it. */
export interface ReceivedSmsLike {
  deviceId: string;
  from: string;
  body: string;
  receivedAt: string;
  simSlot: number | null;
}

/** `sms:received` for one received SMS; its `messageId` is derived from what the phone reported (stable across re-deliveries). */
export function smsReceivedEvent(projectId: string, sms: ReceivedSmsLike): SmsGateEvent {
  const key = createHash('sha256')
    .update(JSON.stringify([sms.deviceId, sms.from, sms.body, sms.receivedAt]))
    .digest('base64url');
  const payload: Record<string, unknown> = {
    messageId: key.slice(0, 21),
    message: sms.body,
    sender: sms.from,
    phoneNumber: sms.from,
    receivedAt: new Date(sms.receivedAt).toISOString(),
  };
  if (sms.simSlot !== null) payload.simNumber = sms.simSlot + 1;
  return { projectId, deviceId: sms.deviceId, event: 'sms:received', payload, key: `in:${key}` };
}

/**
 * `system:ping` when a phone connects (an MQTT session or the SMSGate app's event stream opens):
 * the app sends it as its heartbeat; SMX's server-side equivalent is the connection coming up.
 * `key` names the connection event, so a re-delivered presence event pings once.
 */
export function systemPingEvent(projectId: string, deviceId: string, at: Date): SmsGateEvent {
  return {
    projectId,
    deviceId,
    event: 'system:ping',
    payload: {
      health: {
        status: 'pass',
        checks: {
          'connection:status': {
            description: 'The phone is connected to SMX',
            observedUnit: 'boolean',
            observedValue: 1,
            status: 'pass',
          },
        },
      },
    },
    key: `ping:${deviceId}:${at.toISOString()}`,
  };
}
