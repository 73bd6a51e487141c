import type { Knex } from 'knex';
import { inject, injectable } from '../di.js';
import { apiError } from '../errors.js';
import { isId } from '../ids.js';
import type { RuntimeConfig } from '../secrets.js';
import { Sealer } from '../seal.js';
import { TOKENS } from '../tokens.js';

export const MESSAGE_STATUSES = ['QUEUED', 'DISPATCHED', 'SENT', 'DELIVERED', 'FAILED', 'EXPIRED'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];
export type MessageKind = 'otp' | 'sms';

/** A phone's report on one message (device-protocol.md §3 StatusUpdate). */
export interface StatusUpdate {
  id: string;
  state: 'sent' | 'delivered' | 'failed';
  at?: string;
  error?: string;
}

/** A message as /v1 shows it; an OTP message's body (it holds the code) is never shown. */
export interface MessageView {
  messageId: string;
  kind: MessageKind;
  status: MessageStatus;
  to: string;
  parts: number;
  deviceId: string | null;
  simSlot: number | null;
  verificationId: string | null;
  batchId: string | null;
  error: string | null;
  metadata: unknown;
  createdAt: string;
  expiresAt: string;
  dispatchedAt: string | null;
  sentAt: string | null;
  deliveredAt: string | null;
  failedAt: string | null;
}

/** What a worker hands to the phone. */
export interface OutboundMessage {
  id: string;
  projectId: string;
  kind: MessageKind;
  deviceId: string | null;
  simSlot: number | null;
  to: string;
  body: string;
  status: MessageStatus;
  priority: number;
  attempt: number;
  expiresAt: Date;
}

export interface NewMessage {
  id: string;
  projectId: string;
  kind: MessageKind;
  verificationId?: string | null;
  batchId?: string | null;
  deviceId: string | null;
  simSlot?: number | null;
  to: string;
  body: string;
  parts: number;
  priority?: number;
  callbackUrl?: string | null;
  metadata?: unknown;
  createdAt: Date;
  expiresAt: Date;
}

/**
 * Status order for "never backwards": a report applies only to a message that is not final and
 * only moves it forward; FAILED may follow SENT (a failed delivery report).
 * Shared by every statement below so PostgreSQL and PGlite agree.
 */
const RANK_SQL = `case %s when 'QUEUED' then 0 when 'DISPATCHED' then 1 when 'SENT' then 2 when 'DELIVERED' then 3 else 4 end`;
const rank = (column: string) => RANK_SQL.replace('%s', column);
const FINAL = `('DELIVERED', 'FAILED', 'EXPIRED')`;

interface MessageRow {
  id: string;
  project_id: string;
  kind: MessageKind;
  verification_id: string | null;
  batch_id: string | null;
  device_id: string | null;
  sim_slot: number | null;
  to: string;
  body: string | null;
  body_sealed: boolean;
  parts: number;
  priority: number;
  status: MessageStatus;
  error: string | null;
  attempt: number;
  metadata: unknown;
  created_at: Date;
  expires_at: Date;
  dispatched_at: Date | null;
  sent_at: Date | null;
  delivered_at: Date | null;
  failed_at: Date | null;
}

/** The message log: creation, the status machine, and what workers need to deliver. */
@injectable()
export class MessageService {
  private readonly sealer: Sealer;

  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    @inject(TOKENS.Config) config: RuntimeConfig,
  ) {
    this.sealer = new Sealer(config.secret);
  }

  /** Inserts messages in one statement; OTP bodies are sealed. */
  async insert(trx: Knex | Knex.Transaction, messages: NewMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await trx('messages').insert(
      messages.map((m) => ({
        id: m.id,
        project_id: m.projectId,
        kind: m.kind,
        verification_id: m.verificationId ?? null,
        batch_id: m.batchId ?? null,
        device_id: m.deviceId,
        sim_slot: m.simSlot ?? null,
        to: m.to,
        body: m.kind === 'otp' ? this.sealer.seal(m.body) : m.body,
        body_sealed: m.kind === 'otp',
        parts: m.parts,
        priority: m.priority ?? 0,
        status: 'QUEUED',
        callback_url: m.callbackUrl ?? null,
        metadata: m.metadata === undefined ? null : JSON.stringify(m.metadata),
        created_at: m.createdAt,
        expires_at: m.expiresAt,
        updated_at: m.createdAt,
      })),
    );
  }

  /** One message of a project; another project's id answers NOT_FOUND. */
  async get(projectId: string, messageId: string): Promise<MessageView> {
    // An id of another shape cannot exist (and a NUL byte in it would make PostgreSQL throw).
    if (!isId('msg', messageId)) throw apiError('NOT_FOUND', { message: 'No message with this id in this project.' });
    const row: MessageRow | undefined = await this.db('messages').where({ id: messageId, project_id: projectId }).first();
    if (!row) throw apiError('NOT_FOUND', { message: 'No message with this id in this project.' });
    return toView(row);
  }

  /** Messages by id, bodies opened; an empty body means it was wiped (already sent). */
  async loadOutbound(messageIds: string[]): Promise<OutboundMessage[]> {
    if (messageIds.length === 0) return [];
    const rows: MessageRow[] = await this.db('messages').whereIn('id', messageIds);
    return rows.map((r) => this.toOutbound(r));
  }

  /**
   * The device's next messages to hand over, in dispatch order: higher priority first, then the
   * order they were accepted in. Only QUEUED ones still within their TTL.
   */
  async nextForDevice(deviceId: string, limit: number, now = new Date()): Promise<OutboundMessage[]> {
    const rows: MessageRow[] = await this.db('messages')
      .where({ device_id: deviceId, status: 'QUEUED' })
      .where('expires_at', '>', now)
      .orderBy([{ column: 'priority', order: 'desc' }, { column: 'seq', order: 'asc' }])
      .limit(limit);
    return rows.map((r) => this.toOutbound(r));
  }

  /** Expires the device's QUEUED messages whose TTL passed (they are never handed over). */
  async expireQueuedFor(deviceId: string, now = new Date()): Promise<number> {
    return this.db('messages')
      .where({ device_id: deviceId, status: 'QUEUED' })
      .where('expires_at', '<=', now)
      .update({ status: 'EXPIRED', error: 'EXPIRED', updated_at: now, body: null });
  }

  /** Devices that have QUEUED messages (the recovery sweep signals each). */
  async devicesWithQueued(limit = 10_000): Promise<string[]> {
    const rows = await this.db('messages').distinct('device_id').where({ status: 'QUEUED' }).whereNotNull('device_id').limit(limit);
    return rows.map((r: { device_id: string }) => r.device_id);
  }

  /** Moves a device's QUEUED messages to another device (re-routing after an unlink). */
  async reassignQueued(fromDeviceId: string, toDeviceId: string): Promise<number> {
    return this.db('messages').where({ device_id: fromDeviceId, status: 'QUEUED' }).update({ device_id: toDeviceId, updated_at: new Date() });
  }

  private toOutbound(r: MessageRow): OutboundMessage {
    return {
      id: r.id,
      projectId: r.project_id,
      kind: r.kind,
      deviceId: r.device_id,
      simSlot: r.sim_slot,
      to: r.to,
      body: r.body === null ? '' : r.body_sealed ? this.sealer.open(r.body) : r.body,
      status: r.status,
      priority: r.priority,
      attempt: r.attempt,
      expiresAt: new Date(r.expires_at),
    };
  }

  /** Ids of the device's messages still QUEUED (oldest first, at most `limit`). */
  async queuedFor(deviceId: string, limit = 1000): Promise<string[]> {
    const rows = await this.db('messages').select('id').where({ device_id: deviceId, status: 'QUEUED' }).orderBy('created_at', 'asc').limit(limit);
    return rows.map((r: { id: string }) => r.id);
  }

  /** QUEUED → DISPATCHED for the given ids (handed to the broker). Returns how many moved. */
  async markDispatched(messageIds: string[], at = new Date()): Promise<number> {
    if (messageIds.length === 0) return 0;
    return this.db('messages').whereIn('id', messageIds).where({ status: 'QUEUED' }).update({ status: 'DISPATCHED', dispatched_at: at, updated_at: at });
  }

  /** Marks not-yet-final messages FAILED with an error code (no route, canceled, refused by a plugin). */
  async markFailed(messageIds: string[], error: string, at = new Date()): Promise<number> {
    if (messageIds.length === 0) return 0;
    return this.db('messages')
      .whereIn('id', messageIds)
      .whereRaw(`status not in ${FINAL}`)
      .update({ status: 'FAILED', error, failed_at: at, updated_at: at, body: null });
  }

  /**
   * Applies a phone's status updates in one statement, idempotently and never backwards: only
   * messages routed to that device move, duplicates and stale reports change nothing. A sealed
   * OTP body is wiped once the phone has sent it. Returns the ids that changed, with their new status.
   */
  async applyStatusUpdates(deviceId: string, updates: StatusUpdate[], receivedAt = new Date()): Promise<Array<{ id: string; status: MessageStatus }>> {
    // Keep the furthest report per id: a batch may carry sent and delivered for one message.
    const latest = new Map<string, { status: MessageStatus; at: Date; error: string | null }>();
    const order: Record<string, number> = { sent: 2, delivered: 3, failed: 4 };
    for (const u of updates) {
      const status = u.state.toUpperCase() as MessageStatus;
      const at = u.at && !Number.isNaN(Date.parse(u.at)) ? new Date(u.at) : receivedAt;
      const prev = latest.get(u.id);
      if (!prev || order[u.state]! > order[prev.status.toLowerCase()]!) latest.set(u.id, { status, at, error: u.state === 'failed' ? (u.error ?? 'UNKNOWN') : null });
    }
    if (latest.size === 0) return [];
    const values = [...latest].map(([id, v]) => [id, v.status, v.at.toISOString(), v.error]);
    const result = await this.db.raw(
      `update messages as m set
         status = v.status,
         error = coalesce(v.error, m.error),
         sent_at = case when v.status in ('SENT', 'DELIVERED') then coalesce(m.sent_at, v.at::timestamptz) else m.sent_at end,
         delivered_at = case when v.status = 'DELIVERED' then v.at::timestamptz else m.delivered_at end,
         failed_at = case when v.status = 'FAILED' then v.at::timestamptz else m.failed_at end,
         body = case when m.body_sealed then null else m.body end,
         updated_at = ?::timestamptz
       from (values ${values.map(() => '(?, ?, ?, ?)').join(', ')}) as v(id, status, at, error)
       where m.id = v.id and m.device_id = ? and m.status not in ${FINAL}
         and (v.status = 'FAILED' or ${rank('v.status')} > ${rank('m.status')})
       returning m.id, m.status`,
      [receivedAt.toISOString(), ...values.flat(), deviceId],
    );
    return (result.rows as Array<{ id: string; status: MessageStatus }>).map((r) => ({ id: r.id, status: r.status }));
  }

  /** QUEUED or DISPATCHED → EXPIRED for the given ids. */
  async expire(messageIds: string[], at = new Date()): Promise<number> {
    if (messageIds.length === 0) return 0;
    return this.db('messages').whereIn('id', messageIds).whereIn('status', ['QUEUED', 'DISPATCHED']).update({ status: 'EXPIRED', error: 'EXPIRED', updated_at: at, body: null });
  }

  /**
   * Expires messages whose TTL passed before the phone sent them. DISPATCHED ones get a grace
   * period: the phone may have sent at the last moment and its report be on the way.
   */
  async expireDue(now = new Date(), dispatchedGraceMs = 60_000): Promise<string[]> {
    const rows = await this.db('messages')
      .where((q) => q.where({ status: 'QUEUED' }).andWhere('expires_at', '<=', now))
      .orWhere((q) => q.where({ status: 'DISPATCHED' }).andWhere('expires_at', '<=', new Date(now.getTime() - dispatchedGraceMs)))
      .update({ status: 'EXPIRED', error: 'EXPIRED', updated_at: now, body: null })
      .returning(['id']);
    return rows.map((r: { id: string }) => r.id);
  }
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

function toView(r: MessageRow): MessageView {
  return {
    messageId: r.id,
    kind: r.kind,
    status: r.status,
    to: r.to,
    parts: r.parts,
    deviceId: r.device_id,
    simSlot: r.sim_slot,
    verificationId: r.verification_id,
    batchId: r.batch_id,
    error: r.error,
    metadata: r.metadata ?? null,
    createdAt: new Date(r.created_at).toISOString(),
    expiresAt: new Date(r.expires_at).toISOString(),
    dispatchedAt: iso(r.dispatched_at),
    sentAt: iso(r.sent_at),
    deliveredAt: iso(r.delivered_at),
    failedAt: iso(r.failed_at),
  };
}
