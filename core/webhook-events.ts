/**
 * The webhook events of docs/api.md "Webhooks" and the body every delivery carries, shaped as
 * Standard Webhooks payloads: `{ "type", "timestamp", "data" }`. The event id travels in the
 * `webhook-id` header. `data` is the public view of what changed: never an OTP code or the
 * text of an OTP message.
 */
export const WEBHOOK_EVENTS = [
  'verification.verified',
  'verification.failed',
  'verification.expired',
  'verification.canceled',
  'message.dispatched',
  'message.sent',
  'message.delivered',
  'message.failed',
  'message.expired',
  'sms.received',
  'device.online',
  'device.offline',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

/** What an endpoint subscribes to: event types, or `*` for all of them. */
export const ALL_EVENTS = '*';

export function isWebhookEventType(value: unknown): value is WebhookEventType {
  return typeof value === 'string' && (WEBHOOK_EVENTS as readonly string[]).includes(value);
}

/** `message.*` data: the message's public view at this change. */
export interface MessageEventData {
  messageId: string;
  kind: 'otp' | 'sms';
  status: string;
  to: string;
  error: string | null;
  verificationId: string | null;
  batchId: string | null;
  deviceId: string | null;
  metadata: Record<string, unknown> | null;
  /** When the change happened (the phone's report time for sent/delivered/failed). */
  at: string;
}

/** `device.*` data. */
export interface DeviceEventData {
  deviceId: string;
  online: boolean;
  at: string;
}

/** One event, before it is addressed to endpoints. */
export interface WebhookEvent {
  type: WebhookEventType;
  data: object;
  /** The event id (`webhook-id`); given when a retry must repeat it (the outbox relay), else a new one. */
  id?: string;
  /** The per-request callback URL of the message or verification it concerns, if any. */
  callbackUrl?: string | null;
}

/** The JSON body of a delivery (Standard Webhooks payload). */
export function webhookBody(event: WebhookEvent, timestamp: Date): string {
  return JSON.stringify({ type: event.type, timestamp: timestamp.toISOString(), data: event.data });
}
