import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { inject, injectable } from '../di.js';
import { newId } from '../ids.js';
import type { Logger } from '../logger.js';
import type { Queues, WebhookJob } from '../queues.js';
import { TOKENS } from '../tokens.js';
import type { MessageChanged } from '../message-changed.js';
import { DeviceService } from '../services/devices.js';
import { WebhookEndpoints } from './endpoints.js';
import {
  webhookBody,
  type DeviceEventData,
  type MessageEventData,
  type WebhookEvent,
  type WebhookEventType,
} from '../webhook-events.js';
import { BACKOFF_TYPE, WEBHOOK_ATTEMPTS } from './retry.js';

const MESSAGE_EVENT: Record<string, WebhookEventType | undefined> = {
  DISPATCHED: 'message.dispatched',
  SENT: 'message.sent',
  DELIVERED: 'message.delivered',
  FAILED: 'message.failed',
  EXPIRED: 'message.expired',
};

interface MessageFacts {
  id: string;
  kind: 'otp' | 'sms';
  to: string;
  verification_id: string | null;
  batch_id: string | null;
  device_id: string | null;
  metadata: Record<string, unknown> | string | null;
}

/**
 * Turns what happened into webhook deliveries: one job per event and receiver (the project's
 * subscribed endpoints, and the callback URL of the message or challenge it concerns) on the
 * `webhooks` queue, whose job ids (event id + receiver) dedupe a repeat. Message changes and the
 * other events come through the outbox (core/outbox.ts: written by the transaction that makes
 * the change, relayed after it, each event's id the same on every relay); device connection
 * events come from their device-events job (ids derived from the change, retried with the job).
 * A project with no endpoint and an event with no callback URL cost a cached lookup and nothing else.
 */
@injectable()
export class WebhookEmitter {
  private readonly log: Logger;

  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    @inject(TOKENS.Queues) private readonly queues: Queues,
    @inject(TOKENS.Logger) logger: Logger,
    private readonly endpoints: WebhookEndpoints,
    private readonly devices: DeviceService,
  ) {
    this.log = logger.child({ component: 'webhooks' });
  }

  /**
   * Message status changes (any projects), as the outbox relay hands them over: each event's id
   * is derived from the change, so relaying the same outbox row again repeats the same
   * `webhook-id` (and the queue's job ids dedupe it). Reads the messages' fixed facts only when
   * someone listens. Rejects when the events could not be queued (the relay retries).
   */
  async messagesChanged(changes: MessageChanged[], eventIdOf: (change: MessageChanged) => string): Promise<void> {
    if (changes.length === 0) return;
    await this.messageEvents(changes, eventIdOf);
  }

  /** One project's events as the outbox relay hands them over (their ids fixed); rejects when they could not be queued (the relay retries). */
  queue(projectId: string, events: WebhookEvent[]): Promise<void> {
    return this.enqueue(projectId, events);
  }

  /**
   * A device's connection went up or down (MQTT session or SMSGate event stream). Called from the
   * device-events job that carries the change: the event id is derived from that change, so a
   * retried job repeats it (and the queue dedupes it); rejects when it could not be queued.
   */
  async deviceConnection(deviceId: string, online: boolean, at: Date): Promise<void> {
    const projectId = await this.devices.projectOf(deviceId);
    if (!projectId) return;
    const data: DeviceEventData = { deviceId, online, at: at.toISOString() };
    const id = `evt_${createHash('sha256').update(`device:${deviceId}:${online}:${data.at}`).digest('base64url').slice(0, 22)}`;
    await this.enqueue(projectId, [{ id, type: online ? 'device.online' : 'device.offline', data }]);
  }

  private async messageEvents(changes: MessageChanged[], eventIdOf: (change: MessageChanged) => string): Promise<void> {
    const byProject = new Map<string, MessageChanged[]>();
    for (const c of changes) {
      const list = byProject.get(c.projectId);
      if (list) list.push(c);
      else byProject.set(c.projectId, [c]);
    }
    for (const [projectId, list] of byProject) {
      const subscribers = await this.endpoints.subscribers(projectId);
      const wanted = list.filter((c) => {
        const type = MESSAGE_EVENT[c.status];
        return type !== undefined && (c.callbackUrl || subscribers.some((s) => s.wants(type)));
      });
      if (wanted.length === 0) continue;
      const facts = new Map<string, MessageFacts>();
      for (let i = 0; i < wanted.length; i += 1000) {
        const ids = wanted.slice(i, i + 1000).map((c) => c.id);
        const rows: MessageFacts[] = await this.db('messages')
          .whereIn('id', ids)
          .select('id', 'kind', 'to', 'verification_id', 'batch_id', 'device_id', 'metadata');
        for (const r of rows) facts.set(r.id, r);
      }
      const events: WebhookEvent[] = [];
      for (const c of wanted) {
        const m = facts.get(c.id);
        if (!m) continue;
        const data: MessageEventData = {
          messageId: c.id,
          kind: m.kind,
          status: c.status,
          to: m.to,
          error: c.error,
          verificationId: m.verification_id,
          batchId: m.batch_id,
          deviceId: m.device_id,
          metadata: typeof m.metadata === 'string' ? (JSON.parse(m.metadata) as Record<string, unknown>) : m.metadata,
          at: c.at.toISOString(),
        };
        events.push({ id: eventIdOf(c), type: MESSAGE_EVENT[c.status]!, data, callbackUrl: c.callbackUrl });
      }
      await this.enqueue(projectId, events, subscribers);
    }
  }

  private async enqueue(
    projectId: string,
    events: WebhookEvent[],
    known?: Awaited<ReturnType<WebhookEndpoints['subscribers']>>,
  ): Promise<void> {
    if (events.length === 0) return;
    const subscribers = known ?? (await this.endpoints.subscribers(projectId));
    const now = new Date();
    const jobs: Array<{
      name: string;
      data: WebhookJob;
      opts: { jobId: string; attempts: number; backoff: { type: string } };
    }> = [];
    for (const event of events) {
      const receivers = subscribers
        .filter((s) => s.wants(event.type))
        .map((s) => ({ endpointId: s.id as string | null, url: s.url }));
      if (event.callbackUrl) receivers.push({ endpointId: null, url: event.callbackUrl });
      if (receivers.length === 0) continue;
      const eventId = event.id ?? newId('evt');
      const body = webhookBody(event, now);
      for (const r of receivers) {
        jobs.push({
          name: event.type,
          data: { eventId, type: event.type, projectId, endpointId: r.endpointId, url: r.url, body },
          opts: {
            jobId: `${eventId}.${r.endpointId ?? 'callback'}`,
            attempts: WEBHOOK_ATTEMPTS,
            backoff: { type: BACKOFF_TYPE },
          },
        });
      }
    }
    for (let i = 0; i < jobs.length; i += 1000) await this.queues.webhooks.addBulk(jobs.slice(i, i + 1000));
    if (jobs.length > 0) this.log.debug({ projectId, jobs: jobs.length }, 'webhook deliveries queued');
  }
}
