import type { Knex } from 'knex';
import { CacheBus, TtlCache } from '../../cache.js';
import { inject, injectable } from '../../di.js';
import type { Logger } from '../../logger.js';
import type { Queues, WebhookJob } from '../../queues.js';
import { DeviceService } from '../../services/devices.js';
import { TOKENS } from '../../tokens.js';
import { WebhookEndpoints } from '../../webhooks/endpoints.js';
import { BACKOFF_TYPE, WEBHOOK_ATTEMPTS } from '../../webhooks/retry.js';
import { invalid, SmsGateError } from './errors.js';
import { nanoid } from './auth.js';
import {
  isSmsGateWebhookEvent,
  smsgateBody,
  smsgateEventId,
  smsgateSigningKey,
  smsgateWebhookEvents,
  smsReceivedEvent,
  systemPingEvent,
  type MessageChangeLike,
  type ReceivedSmsLike,
  type RecipientFacts,
  type SmsGateEvent,
} from './webhook-payloads.js';

/** A registered webhook, as SMSGate shows it (`deviceId` null: every phone). */
export interface SmsGateWebhook {
  id: string;
  deviceId: string | null;
  url: string;
  event: string;
}

interface WebhookRow {
  id: string;
  device_id: string | null;
  url: string;
  event: string;
}

const MAX_ID = 36;

/**
 * The projects the SMSGate webhooks follow (a subquery of `project_id`s): the outbox keeps a
 * message change or an inbound SMS's event only if someone follows its project.
 */
export const SMSGATE_FOLLOWED_PROJECTS_SQL = 'select w.project_id from smsgate_webhooks w';

/**
 * SMSGate webhooks of a project: registration (an id the client may choose; the same id
 * replaces), and their delivery from the server — for MQTT and SMSGate-app phones alike — on
 * SMX's webhooks queue: its retry schedule, delivery log (`/v1/webhook-deliveries`, with the
 * SMSGate event name as the type) and SSRF guard, signed the SMSGate way (see webhook-payloads.ts).
 */
@injectable()
export class SmsGateWebhooks {
  private readonly log: Logger;
  /** Each project's webhooks: every phone's connect (`system:ping`) looks them up. Emptied on every change, in every process. */
  private readonly byProject = new TtlCache<WebhookRow[]>(30_000);

  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    @inject(TOKENS.Queues) private readonly queues: Queues,
    @inject(TOKENS.Logger) logger: Logger,
    private readonly endpoints: WebhookEndpoints,
    private readonly devices: DeviceService,
    private readonly bus: CacheBus,
  ) {
    this.log = logger.child({ component: 'smsgate-webhooks' });
    bus.on('webhooks', (projectId) => this.byProject.delete(projectId));
    bus.on('project', (projectId) => this.byProject.delete(projectId));
  }

  /** `POST /webhooks`: checks and stores (upserts by id) `{ id?, deviceId?, url, event }`. */
  async register(projectId: string, body: unknown): Promise<SmsGateWebhook> {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw invalid('the body must be a JSON object');
    const b = body as Record<string, unknown>;
    if (typeof b.url !== 'string' || b.url.length === 0 || b.url.length > 2048) throw invalid('url is required');
    if (!isSmsGateWebhookEvent(b.event)) throw invalid('validation failed: invalid event type');
    // SMSGate requires https; SMX's SSRF guard applies too (private targets only with SMX_WEBHOOK_ALLOW_PRIVATE, for development).
    const shape = this.endpoints.callbackProblem(b.url, 'url');
    if (shape) throw invalid(shape.message);
    let target;
    try {
      target = await this.endpoints.urlProblem(b.url, 'url', false);
    } catch (error) {
      throw new SmsGateError(400, 'failed to validate: url: its host cannot be resolved', { cause: error });
    }
    if (target) throw invalid(target.message);
    let id: string = nanoid();
    if (b.id !== undefined && b.id !== null && b.id !== '') {
      if (typeof b.id !== 'string' || b.id.length > MAX_ID || /[\u0000-\u001f\u007f]/.test(b.id))
        throw invalid(`id must be a string of at most ${MAX_ID} characters`);
      id = b.id;
    }
    let deviceId: string | null = null;
    if (b.deviceId !== undefined && b.deviceId !== null && b.deviceId !== '') {
      const device =
        typeof b.deviceId === 'string' && b.deviceId.length <= 64 ? await this.devices.find(b.deviceId) : null;
      if (!device || device.projectId !== projectId || device.status === 'unlinked')
        throw invalid('deviceId is not a phone of this project');
      deviceId = device.id;
    }
    const row = { project_id: projectId, id, device_id: deviceId, url: b.url, event: b.event, created_at: new Date() };
    await this.db('smsgate_webhooks').insert(row).onConflict(['project_id', 'id']).merge(['device_id', 'url', 'event']);
    await this.bus.invalidate('webhooks', projectId);
    return { id, deviceId, url: b.url, event: b.event };
  }

  async list(projectId: string): Promise<SmsGateWebhook[]> {
    const rows: WebhookRow[] = await this.db('smsgate_webhooks')
      .where({ project_id: projectId })
      .orderBy('created_at', 'asc')
      .select('id', 'device_id', 'url', 'event');
    return rows.map((r) => ({ id: r.id, deviceId: r.device_id, url: r.url, event: r.event }));
  }

  /** `DELETE /webhooks/{id}`: gone or never there, the same (204). Deliveries already queued still go. */
  async remove(projectId: string, id: string): Promise<void> {
    if (id.length > MAX_ID) return;
    await this.db('smsgate_webhooks').where({ project_id: projectId, id }).delete();
    await this.bus.invalidate('webhooks', projectId);
  }

  private async hooksOf(projectId: string): Promise<WebhookRow[]> {
    const hooks = await this.byProject.getOrLoad(projectId, async () => {
      const rows: WebhookRow[] = await this.db('smsgate_webhooks')
        .where({ project_id: projectId })
        .select('id', 'device_id', 'url', 'event');
      return rows;
    });
    return hooks ?? [];
  }

  /** The project's signing key (what a receiver checks `X-Signature` with), for the admin API. */
  async signingKey(projectId: string): Promise<string | undefined> {
    const secret = await this.endpoints.callbackSecret(projectId);
    return secret === undefined ? undefined : smsgateSigningKey(secret);
  }

  /**
   * Message status changes (from SMX's delivery core) → `sms:sent` / `sms:delivered` /
   * `sms:failed` / `sms:cancelled` for the SMSGate messages among them. Costs one indexed lookup
   * when none is. Rejects when the deliveries could not be queued (the caller may retry: the
   * delivery ids repeat, so a retry queues nothing twice).
   */
  async messagesChanged(changes: readonly MessageChangeLike[]): Promise<void> {
    if (changes.length === 0) return;
    const facts = new Map<string, RecipientFacts>();
    const ids = [...new Set(changes.map((c) => c.id))];
    for (let i = 0; i < ids.length; i += 1000) {
      const rows: Array<{
        message_id: string;
        group_id: string;
        phone_number: string;
        device_id: string | null;
        sim_slot: number | null;
        parts: number;
      }> = await this.db('smsgate_message_recipients as r')
        .join('messages as m', 'm.id', 'r.message_id')
        .whereIn('r.message_id', ids.slice(i, i + 1000))
        .select('r.message_id', 'r.group_id', 'r.phone_number', 'm.device_id', 'm.sim_slot', 'm.parts');
      for (const r of rows)
        facts.set(r.message_id, {
          messageId: r.group_id,
          phoneNumber: r.phone_number,
          deviceId: r.device_id,
          simSlot: r.sim_slot,
          parts: r.parts,
        });
    }
    if (facts.size === 0) return;
    await this.deliver(smsgateWebhookEvents(changes, facts));
  }

  /**
   * Stored inbound SMS of one project → `sms:received` (for a durable caller such as the outbox
   * relay's webhook events: rejects when the deliveries could not be queued; a retry repeats the
   * same delivery ids).
   */
  async inboundStored(projectId: string, sms: readonly ReceivedSmsLike[]): Promise<void> {
    await this.deliver(sms.map((s) => smsReceivedEvent(projectId, s)));
  }

  /** An SMS a phone received → `sms:received` (the `onInbound` hook). Never rejects. */
  async received(sms: ReceivedSmsLike): Promise<void> {
    try {
      const projectId = await this.devices.projectOf(sms.deviceId);
      if (projectId) await this.deliver([smsReceivedEvent(projectId, sms)]);
    } catch (error) {
      this.log.error({ err: error, deviceId: sms.deviceId }, 'sms:received webhooks not queued');
    }
  }

  /** A phone's connection went up (`system:ping`) or down (nothing: SMSGate has no such event). Never rejects. */
  async connection(deviceId: string, online: boolean, at: Date): Promise<void> {
    if (!online) return;
    try {
      const projectId = await this.devices.projectOf(deviceId);
      if (projectId) await this.deliver([systemPingEvent(projectId, deviceId, at)]);
    } catch (error) {
      this.log.error({ err: error, deviceId }, 'system:ping webhooks not queued');
    }
  }

  /** Queues one delivery per event and matching webhook (its event, and its phone or every phone). */
  async deliver(events: readonly SmsGateEvent[]): Promise<number> {
    const byProject = new Map<string, SmsGateEvent[]>();
    for (const e of events) byProject.set(e.projectId, [...(byProject.get(e.projectId) ?? []), e]);
    const jobs: Array<{
      name: string;
      data: WebhookJob;
      opts: { jobId: string; attempts: number; backoff: { type: string } };
    }> = [];
    for (const [projectId, list] of byProject) {
      const hooks = await this.hooksOf(projectId);
      for (const event of list) {
        for (const hook of hooks) {
          if (hook.event !== event.event || (hook.device_id !== null && hook.device_id !== event.deviceId)) continue;
          const eventId = smsgateEventId(event.key, hook.id);
          jobs.push({
            name: event.event,
            data: {
              eventId,
              type: event.event,
              projectId,
              endpointId: null,
              url: hook.url,
              body: smsgateBody(eventId, hook.id, event),
              signing: 'smsgate',
            },
            opts: { jobId: `${eventId}.callback`, attempts: WEBHOOK_ATTEMPTS, backoff: { type: BACKOFF_TYPE } },
          });
        }
      }
    }
    for (let i = 0; i < jobs.length; i += 1000) await this.queues.webhooks.addBulk(jobs.slice(i, i + 1000));
    if (jobs.length > 0) this.log.debug({ jobs: jobs.length }, 'smsgate webhook deliveries queued');
    return jobs.length;
  }
}
