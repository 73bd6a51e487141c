import { Counter, Histogram, type Registry } from 'prom-client';
import { inject, injectable } from './di.js';
import { TOKENS } from './tokens.js';

/** The statuses a message moves through (`smx_messages_total{status}`), as the API names them. */
export const MESSAGE_STATUS_LABELS = ['QUEUED', 'DISPATCHED', 'SENT', 'DELIVERED', 'FAILED', 'EXPIRED'] as const;
export const MESSAGE_KIND_LABELS = ['otp', 'sms'] as const;
/** `smx_otp_verifications_total{result}`: a right code, a wrong one with attempts left, the wrong one that used the last attempt, or no attempt taken at all (expired, canceled, already settled, unknown). */
export const VERIFICATION_RESULTS = ['verified', 'wrong_code', 'failed', 'refused'] as const;
/** `smx_webhook_deliveries_total{result}`: a 2xx; any other answer or no answer; not sent (the URL or the project was refused). */
export const WEBHOOK_RESULTS = ['delivered', 'failed', 'refused'] as const;
/** Device transports (`devices.transport`). */
export const TRANSPORT_LABELS = ['mqtt', 'smsgate'] as const;

export type MessageStatusLabel = (typeof MESSAGE_STATUS_LABELS)[number];
export type VerificationResult = (typeof VERIFICATION_RESULTS)[number];
export type WebhookResult = (typeof WEBHOOK_RESULTS)[number];
export type TransportLabel = (typeof TRANSPORT_LABELS)[number];

/** Seconds from acceptance to the phone's `sent`: an OTP is usually seconds, a paced bulk send can be an hour. */
const SEND_SECONDS_BUCKETS = [0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 900, 3600];
/** Messages per hand-over to a phone (an MQTT dispatcher round is at most 500; an SMSGate pull is what the pace allows). */
const BATCH_SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500];

/**
 * SMX's own counters and histograms: what it did, counted where it happens (never read back from
 * the database on a scrape). Per process: in split roles each process exposes its own, and
 * Prometheus adds them up (`sum(rate(...))`).
 *
 * The metrics are created in the container's registry on first use and found there afterwards
 * (`getSingleMetric`), so building this class twice for one registry never registers a name twice.
 */
@injectable()
export class SmxMetrics {
  readonly otpRequests: Counter;
  readonly otpVerifications: Counter<'result'>;
  readonly messages: Counter<'kind' | 'status'>;
  readonly webhookDeliveries: Counter<'result'>;
  readonly deviceConnections: Counter<'transport'>;
  readonly acceptedToSent: Histogram<'kind'>;
  readonly dispatchBatchSize: Histogram;

  constructor(@inject(TOKENS.Metrics) registry: Registry) {
    const once = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
    const registers = [registry];
    this.otpRequests = once(
      'smx_otp_requests_total',
      () =>
        new Counter({
          name: 'smx_otp_requests_total',
          help: 'OTP challenges created (test numbers included)',
          registers,
        }),
    );
    this.otpVerifications = once('smx_otp_verifications_total', () => {
      const c = new Counter({
        name: 'smx_otp_verifications_total',
        help: 'Verify calls by result: verified, wrong_code, failed (the last attempt was wrong), refused (expired, canceled, settled or unknown)',
        labelNames: ['result'],
        registers,
      });
      for (const result of VERIFICATION_RESULTS) c.inc({ result }, 0);
      return c;
    });
    this.messages = once('smx_messages_total', () => {
      const c = new Counter({
        name: 'smx_messages_total',
        help: 'Messages that reached a status (QUEUED on acceptance); withdrawn ones (no longer needed) are not counted',
        labelNames: ['kind', 'status'],
        registers,
      });
      for (const kind of MESSAGE_KIND_LABELS) for (const status of MESSAGE_STATUS_LABELS) c.inc({ kind, status }, 0);
      return c;
    });
    this.webhookDeliveries = once('smx_webhook_deliveries_total', () => {
      const c = new Counter({
        name: 'smx_webhook_deliveries_total',
        help: 'Webhook delivery attempts by result: delivered (2xx), failed (another answer or none), refused (not sent)',
        labelNames: ['result'],
        registers,
      });
      for (const result of WEBHOOK_RESULTS) c.inc({ result }, 0);
      return c;
    });
    this.deviceConnections = once('smx_device_connections_total', () => {
      const c = new Counter({
        name: 'smx_device_connections_total',
        help: 'Phone connections accepted by this process (MQTT sessions, SMSGate event streams)',
        labelNames: ['transport'],
        registers,
      });
      for (const transport of TRANSPORT_LABELS) c.inc({ transport }, 0);
      return c;
    });
    this.acceptedToSent = once('smx_message_accepted_to_sent_seconds', () => {
      const h = new Histogram({
        name: 'smx_message_accepted_to_sent_seconds',
        help: "Time from acceptance to the phone reporting the SMS sent (the phone's time)",
        labelNames: ['kind'],
        buckets: SEND_SECONDS_BUCKETS,
        registers,
      });
      for (const kind of MESSAGE_KIND_LABELS) h.zero({ kind });
      return h;
    });
    this.dispatchBatchSize = once(
      'smx_dispatch_batch_size',
      () =>
        new Histogram({
          name: 'smx_dispatch_batch_size',
          help: 'Messages handed to a phone at once (marked DISPATCHED together)',
          buckets: BATCH_SIZE_BUCKETS,
          registers,
        }),
    );
  }

  /** Counts rows that moved to `status`, by their kind. */
  messagesMoved(rows: ReadonlyArray<{ kind: string }>, status: MessageStatusLabel): void {
    for (const row of rows) this.messages.inc({ kind: row.kind, status });
  }

  /** A message the phone reported sent: the time since it was accepted (never negative: the phone's clock may lag). */
  sent(kind: string, createdAt: Date | string, sentAt: Date | string): void {
    const seconds = (new Date(sentAt).getTime() - new Date(createdAt).getTime()) / 1000;
    if (Number.isFinite(seconds)) this.acceptedToSent.observe({ kind }, Math.max(0, seconds));
  }
}
