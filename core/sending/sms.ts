import type { Knex } from 'knex';
import { inject, injectable } from '../di.js';
import { ApiError, apiError, isApiError, type ErrorCode } from '../errors.js';
import { isId, newId } from '../ids.js';
import { parsePhone, type ParsedPhone } from '../phone.js';
import { AbuseLimits } from '../services/abuse-limits.js';
import { Router, type RoutingMessage } from '../delivery/router.js';
import { countParts } from '../sms-parts.js';
import { TOKENS } from '../tokens.js';
import { answerOnAccept } from '../services/idempotency.js';
import { MessageWriter, type AcceptedMessage } from '../delivery/message-writer.js';
import { MESSAGE_STATUSES, type MessageStatus } from '../services/messages.js';
import { ProjectService } from '../services/projects.js';

/** Custom SMS limits (docs/api.md "Custom SMS"). */
export const SMS_LIMITS = {
  maxLength: 1600,
  maxRecipients: 10_000,
  /** Seconds a custom SMS may wait for its phone. */
  ttl: { min: 60, max: 259_200, default: 86_400 },
  metadataBytes: 1024,
} as const;

export interface SendSmsInput {
  to: string;
  message: string;
  countryCode?: string;
  ttl?: number;
  callbackUrl?: string;
  metadata?: Record<string, unknown>;
}

export interface SmsAccepted {
  messageId: string;
  status: 'QUEUED';
  to: string;
  parts: number;
  deviceId: string;
  createdAt: string;
  expiresAt: string;
}

/** One recipient of a bulk request, as sent (validated here, item by item). */
export interface BulkEntry {
  to: unknown;
  message: unknown;
  metadata?: unknown;
}

export interface BulkInput {
  entries: BulkEntry[];
  countryCode?: string;
  ttl?: number;
  callbackUrl?: string;
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

interface Prepared {
  index: number;
  to: string;
  countryIso: string | null;
  body: string;
  parts: number;
  metadata?: unknown;
}

/** Custom one-off and bulk SMS, and batch progress. */
@injectable()
export class SmsService {
  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    private readonly projects: ProjectService,
    private readonly router: Router,
    private readonly writer: MessageWriter,
    private readonly limits: AbuseLimits,
  ) {}

  /** One SMS; no device to route to: DEVICE_NOT_LINKED and nothing is created. */
  async send(projectId: string, input: SendSmsInput): Promise<SmsAccepted> {
    const project = await this.projects.get(projectId);
    const phone = parsePhone(input.to, input.countryCode);
    const parts = countParts(input.message).parts;
    const now = new Date();
    const expiresAt = new Date(now.getTime() + (input.ttl ?? SMS_LIMITS.ttl.default) * 1000);
    const id = newId('msg');
    this.limits.checkCountry(project.settings, phone.countryIso);
    const route = await this.router.route(
      { id, projectId, to: phone.e164, body: input.message, kind: 'sms', attempt: 1 },
      project.settings.routing,
    );
    if (!('deviceId' in route)) throw apiError('DEVICE_NOT_LINKED');
    const ticket = await this.limits.take(projectId, phone.e164, 'sms', project.settings);
    const accepted: SmsAccepted = {
      messageId: id,
      status: 'QUEUED',
      to: phone.e164,
      parts,
      deviceId: route.deviceId,
      createdAt: now.toISOString(),
      expiresAt: expiresAt.toISOString(),
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
          body: input.message,
          parts,
          callbackUrl: input.callbackUrl ?? null,
          metadata: input.metadata,
          createdAt: now,
          expiresAt,
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
   * the valid ones are written with multi-row inserts in one transaction and go ahead.
   */
  async sendBulk(projectId: string, input: BulkInput): Promise<BulkAccepted> {
    const project = await this.projects.get(projectId);
    const rejected: BulkRejection[] = [];
    const prepared: Prepared[] = [];
    // Each distinct number is parsed once (libphonenumber costs ~10 µs a number).
    const parsed = new Map<string, ParsedPhone>();
    const parse = (to: string, field: string): ParsedPhone => {
      let phone = parsed.get(to);
      if (phone === undefined) parsed.set(to, (phone = parsePhone(to, input.countryCode, field)));
      return phone;
    };
    input.entries.forEach((entry, index) => {
      try {
        const p = prepareEntry(entry, index, parse);
        this.limits.checkCountry(project.settings, p.countryIso, `messages[${index}].to`);
        prepared.push(p);
      } catch (error) {
        const e = isApiError(error) ? error : apiError('VALIDATION_FAILED', { message: (error as Error).message });
        rejected.push({ index, code: e.code, message: e.details[0]?.message ?? e.message });
      }
    });

    const now = new Date();
    const expiresAt = new Date(now.getTime() + (input.ttl ?? SMS_LIMITS.ttl.default) * 1000);
    const routing: RoutingMessage[] = prepared.map((p) => ({
      id: newId('msg'),
      projectId,
      to: p.to,
      body: p.body,
      kind: 'sms',
      attempt: 1,
    }));
    const decisions = await this.router.routeMany(projectId, routing, project.settings.routing);
    if (prepared.length > 0 && decisions.every((d) => !('deviceId' in d))) throw apiError('DEVICE_NOT_LINKED');

    const batchId = newId('bat');
    const accepted: AcceptedMessage[] = [];
    const acceptedIndexes: number[] = [];
    prepared.forEach((p, i) => {
      const decision = decisions[i]!;
      if (!('deviceId' in decision)) {
        rejected.push({
          index: p.index,
          code: 'DEVICE_NOT_LINKED',
          message: `No device could take this message (${decision.reason}).`,
        });
        return;
      }
      acceptedIndexes.push(p.index);
      accepted.push({
        message: {
          id: routing[i]!.id,
          projectId,
          kind: 'sms',
          batchId,
          deviceId: decision.deviceId,
          simSlot: decision.simSlot ?? null,
          to: p.to,
          body: p.body,
          parts: p.parts,
          callbackUrl: input.callbackUrl ?? null,
          metadata: p.metadata,
          createdAt: now,
          expiresAt,
        },
      });
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

/** Validates one bulk entry; throws the catalogue error that rejects it. */
function prepareEntry(entry: BulkEntry, index: number, parse: (to: string, field: string) => ParsedPhone): Prepared {
  const invalid = (field: string, message: string) =>
    new ApiError('VALIDATION_FAILED', { details: [{ field: `messages[${index}].${field}`, message }] });
  if (typeof entry !== 'object' || entry === null)
    throw invalid('', 'each entry must be an object with to and message');
  if (typeof entry.to !== 'string' || entry.to.trim() === '') throw invalid('to', 'to must be a phone number string');
  if (typeof entry.message !== 'string' || entry.message.length === 0)
    throw invalid('message', 'message must be a non-empty string');
  if (entry.message.length > SMS_LIMITS.maxLength)
    throw invalid('message', `message must be at most ${SMS_LIMITS.maxLength} characters`);
  if (entry.message.includes('\u0000') || entry.to.includes('\u0000'))
    throw invalid('message', 'message must not contain NUL characters');
  if (entry.metadata !== undefined) {
    if (typeof entry.metadata !== 'object' || entry.metadata === null || Array.isArray(entry.metadata))
      throw invalid('metadata', 'metadata must be an object');
    const json = JSON.stringify(entry.metadata);
    if (Buffer.byteLength(json, 'utf8') > SMS_LIMITS.metadataBytes || json.includes('\\u0000'))
      throw invalid('metadata', `metadata must serialize to at most ${SMS_LIMITS.metadataBytes} bytes of JSON`);
  }
  const phone = parse(entry.to, `messages[${index}].to`);
  return {
    index,
    to: phone.e164,
    countryIso: phone.countryIso,
    body: entry.message,
    parts: countParts(entry.message).parts,
    metadata: entry.metadata,
  };
}
