import type { Knex } from 'knex';
import { inject, injectable } from '../di.js';
import { apiError, isApiError, type ErrorCode } from '../errors.js';
import { isId, newId } from '../ids.js';
import { parsePhone, type ParsedPhone } from '../phone.js';
import { AbuseLimits } from '../services/abuse-limits.js';
import type { RoutingMessage } from '../delivery/router.js';
import { TOKENS } from '../tokens.js';
import { answerOnAccept } from '../services/idempotency.js';
import { MessageWriter, type AcceptedMessage } from '../delivery/message-writer.js';
import { MESSAGE_STATUSES, MessageService, type MessageStatus, type MessageView } from '../services/messages.js';
import { DispatchService } from '../delivery/dispatch.js';
import { ProjectService } from '../services/projects.js';
import type { RouteDecision } from '../delivery/router.js';
import { needsOf, SmsRouting, unroutedMessage } from './sms-routing.js';
import { deliveryWindow, SMS_LIMITS, type SmsOptions } from './sms-options.js';
import { contentOf, prepareEntry, type BulkEntry, type PreparedEntry } from './sms-content.js';

export { SMS_LIMITS, OTP_MESSAGE_PRIORITY, type SmsOptions } from './sms-options.js';

/** One SMS: a text (`message`), or a binary SMS (`data`, base64, to `dataPort`). */
export interface SendSmsInput extends SmsOptions {
  to: string;
  message?: string;
  data?: string;
  dataPort?: number;
  metadata?: Record<string, unknown>;
}

export interface SmsAccepted {
  messageId: string;
  status: 'QUEUED';
  to: string;
  parts: number;
  deviceId: string;
  /** When it will be handed to the phone, if scheduled; else null. */
  scheduleAt: string | null;
  createdAt: string;
  expiresAt: string;
}

export type { BulkEntry } from './sms-content.js';

export interface BulkInput extends SmsOptions {
  entries: BulkEntry[];
}

export interface BulkRejection {
  index: number;
  code: ErrorCode;
  message: string;
}

export interface BulkAccepted {
  batchId: string;
  accepted: number;
  rejected: BulkRejection[];
}

export interface BatchView {
  batchId: string;
  createdAt: string;
  total: number;
  accepted: number;
  rejected: number;
  counts: Record<MessageStatus, number>;
}

/** Custom one-off and bulk SMS, and batch progress. */
@injectable()
export class SmsService {
  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    private readonly projects: ProjectService,
    private readonly routing: SmsRouting,
    private readonly writer: MessageWriter,
    private readonly limits: AbuseLimits,
    private readonly messages: MessageService,
    private readonly dispatch: DispatchService,
  ) {}

  /**
   * `POST /v1/messages/:id/cancel`: a message the phone has not reported sent (QUEUED, scheduled
   * or not, or DISPATCHED: then the phone gets a `cancel`) ends FAILED with `CANCELED`; the
   * message as it is now is answered. Sent or ended: 409 MESSAGE_NOT_CANCELABLE. Another
   * project's id: NOT_FOUND.
   */
  async cancel(projectId: string, messageId: string): Promise<MessageView> {
    const before = await this.messages.get(projectId, messageId);
    if (!['QUEUED', 'DISPATCHED'].includes(before.status) || !(await this.dispatch.cancel(messageId))) {
      const now = await this.messages.get(projectId, messageId);
      throw apiError('MESSAGE_NOT_CANCELABLE', {
        message: `The message is ${now.status}${now.error ? ` (${now.error})` : ''}: it can no longer be canceled.`,
        details: [{ message: `the message is ${now.status}` }],
      });
    }
    return this.messages.get(projectId, messageId);
  }

  /** One SMS; no device to route to: DEVICE_NOT_LINKED and nothing is created. */
  async send(projectId: string, input: SendSmsInput): Promise<SmsAccepted> {
    const project = await this.projects.get(projectId);
    const phone = parsePhone(input.to, input.countryCode);
    const content = contentOf(input, '');
    const now = new Date();
    const window = deliveryWindow(now, input);
    const id = newId('msg');
    this.limits.checkCountry(project.settings, phone.countryIso);
    const route = await this.routing.routeOne(
      { id, projectId, to: phone.e164, body: content.body, kind: 'sms', attempt: 1 },
      project.settings.routing,
      needsOf(input, content.dataPort !== null),
    );
    const ticket = await this.limits.take(projectId, phone.e164, 'sms', project.settings);
    const accepted: SmsAccepted = {
      messageId: id,
      status: 'QUEUED',
      to: phone.e164,
      parts: content.parts,
      deviceId: route.deviceId,
      scheduleAt: window.scheduledAt?.toISOString() ?? null,
      createdAt: now.toISOString(),
      expiresAt: window.expiresAt.toISOString(),
    };
    await this.writer
      .accept({
        answer: answerOnAccept(accepted),
        message: {
          id,
          projectId,
          kind: 'sms',
          deviceId: route.deviceId,
          simSlot: route.simSlot ?? null,
          to: phone.e164,
          body: content.body,
          dataPort: content.dataPort,
          parts: content.parts,
          priority: input.priority ?? SMS_LIMITS.priority.default,
          pinned: input.deviceId !== undefined || input.encryptedContent === true,
          scheduledAt: window.scheduledAt,
          callbackUrl: input.callbackUrl ?? null,
          metadata: input.metadata,
          createdAt: now,
          expiresAt: window.expiresAt,
        },
      })
      .catch(async (error: unknown) => {
        await ticket.release().catch(() => undefined);
        throw error;
      });
    return accepted;
  }

  /**
   * Up to 10,000 recipients. Each invalid entry is rejected by its index with its own code;
   * the valid ones are written with multi-row inserts in one transaction and go ahead. The
   * request's options (schedule, expiry, SIM, device, priority) apply to every message, and an
   * entry may set its own; a request whose own options are wrong fails whole, an entry whose
   * options are wrong is rejected by its index.
   */
  async sendBulk(projectId: string, input: BulkInput): Promise<BulkAccepted> {
    const project = await this.projects.get(projectId);
    const now = new Date();
    const window = deliveryWindow(now, input);
    const rejected: BulkRejection[] = [];
    const prepared: PreparedEntry[] = [];
    // Each distinct number is parsed once (libphonenumber costs ~10 µs a number).
    const parsed = new Map<string, ParsedPhone>();
    const parse = (to: string, field: string): ParsedPhone => {
      let phone = parsed.get(to);
      if (phone === undefined) parsed.set(to, (phone = parsePhone(to, input.countryCode, field)));
      return phone;
    };
    input.entries.forEach((entry, index) => {
      try {
        const p = prepareEntry(entry, index, parse, input, window, now);
        this.limits.checkCountry(project.settings, p.countryIso, `messages[${index}].to`);
        prepared.push(p);
      } catch (error) {
        const e = isApiError(error) ? error : apiError('VALIDATION_FAILED', { message: (error as Error).message });
        rejected.push({ index, code: e.code, message: e.details[0]?.message ?? e.message });
      }
    });

    const routing: RoutingMessage[] = prepared.map((p) => ({
      id: newId('msg'),
      projectId,
      to: p.to,
      body: p.body,
      kind: 'sms',
      attempt: 1,
    }));
    const { decisions, refused } = await this.routing.routeBulk(
      projectId,
      input.deviceId,
      prepared,
      routing,
      project.settings.routing,
    );
    if (prepared.length > 0 && refused.size === 0 && decisions.every((d) => !('deviceId' in d)))
      throw await this.routing.noRoute(projectId, decisions[0] as RouteDecision & { reason: string });

    const batchId = newId('bat');
    const accepted: AcceptedMessage[] = [];
    const acceptedIndexes: number[] = [];
    prepared.forEach((p, i) => {
      const decision = decisions[i]!;
      const refusal = refused.get(i);
      if (refusal) {
        rejected.push({ index: p.index, code: refusal.code, message: refusal.details[0]?.message ?? refusal.message });
        return;
      }
      if (!('deviceId' in decision)) {
        rejected.push({ index: p.index, code: 'DEVICE_NOT_LINKED', message: unroutedMessage(decision.reason) });
        return;
      }
      acceptedIndexes.push(p.index);
      accepted.push({ message: this.bulkMessage(projectId, batchId, p, routing[i]!.id, decision, input, now) });
    });
    // The project's per-minute limit counts every message: those over it are rejected by index.
    const quota = await this.limits.takeMany(projectId, accepted.length, project.settings);
    if (quota.taken < accepted.length) {
      const message = `Over this project's per-minute send limit; retry in ${quota.retryAfter} s.`;
      if (quota.taken === 0) throw apiError('RATE_LIMITED', { message, retryAfter: quota.retryAfter });
      accepted.splice(quota.taken);
      for (const index of acceptedIndexes.splice(quota.taken)) rejected.push({ index, code: 'RATE_LIMITED', message });
    }
    rejected.sort((a, b) => a.index - b.index);
    const result: BulkAccepted = { batchId, accepted: accepted.length, rejected };
    await this.writer
      .acceptMany(
        accepted,
        {
          id: batchId,
          project_id: projectId,
          total: input.entries.length,
          accepted: accepted.length,
          rejected: rejected.length,
          created_at: now,
        },
        answerOnAccept(result),
      )
      .catch(async (error: unknown) => {
        await quota.release().catch(() => undefined);
        throw error;
      });
    return result;
  }

  private bulkMessage(
    projectId: string,
    batchId: string,
    p: PreparedEntry,
    id: string,
    decision: { deviceId: string; simSlot?: number | null },
    input: BulkInput,
    now: Date,
  ): AcceptedMessage['message'] {
    return {
      id,
      projectId,
      kind: 'sms',
      batchId,
      deviceId: decision.deviceId,
      simSlot: decision.simSlot ?? null,
      to: p.to,
      body: p.body,
      dataPort: p.dataPort,
      parts: p.parts,
      priority: p.options.priority ?? SMS_LIMITS.priority.default,
      pinned: p.options.deviceId !== undefined || p.options.encryptedContent === true,
      scheduledAt: p.window.scheduledAt,
      callbackUrl: input.callbackUrl ?? null,
      metadata: p.metadata,
      createdAt: now,
      expiresAt: p.window.expiresAt,
    };
  }

  /** A batch's counts per status; another project's batch answers NOT_FOUND. */
  async batch(projectId: string, batchId: string): Promise<BatchView> {
    const notFound = () => apiError('NOT_FOUND', { message: 'No batch with this id in this project.' });
    if (!isId('bat', batchId)) throw notFound();
    const row = await this.db('batches').where({ id: batchId, project_id: projectId }).first();
    if (!row) throw notFound();
    const counts = Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, 0])) as Record<MessageStatus, number>;
    const rows: Array<{ status: MessageStatus; n: number | string }> = await this.db('messages')
      .where({ batch_id: batchId })
      .select('status')
      .count({ n: '*' })
      .groupBy('status');
    for (const r of rows) counts[r.status] = Number(r.n);
    return {
      batchId,
      createdAt: new Date(row.created_at).toISOString(),
      total: row.total,
      accepted: row.accepted,
      rejected: row.rejected,
      counts,
    };
  }
}
