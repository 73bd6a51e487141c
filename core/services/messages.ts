import type { Knex } from 'knex';
import { inject, injectable } from '../di.js';
import { apiError } from '../errors.js';
import { isId } from '../ids.js';
import { PAGE_TAGS, seqPage } from '../pagination.js';
import type { MessageStatus, StatusUpdate } from '../plugin-api.js';
import type { RuntimeConfig } from '../secrets.js';
import { Sealer } from '../seal.js';
import { TOKENS } from '../tokens.js';
import { columnInsert, type InsertColumn, type SqlPart } from '../batching/column-insert.js';

// A message's status and a phone's report on it are the plugin contract's types (`afterStatus`).
export type { MessageStatus, StatusUpdate };

/** Every status, in lifecycle order (the `satisfies` and the check below keep it equal to `MessageStatus`). */
export const MESSAGE_STATUSES = [
  'QUEUED',
  'DISPATCHED',
  'SENT',
  'DELIVERED',
  'FAILED',
  'EXPIRED',
] as const satisfies readonly MessageStatus[];
true satisfies MessageStatus extends (typeof MESSAGE_STATUSES)[number] ? true : never;
import type { MessageKind } from '../message-changed.js';

export type { MessageKind };

/** A message as /v1 shows it; an OTP message's body (it holds the code) is never shown. */
export interface MessageView {
  messageId: string;
  kind: MessageKind;
  status: MessageStatus;
  to: string;
  /** Custom SMS only (a text). */
  message?: string;
  /** A binary SMS: its payload (base64) and destination port, instead of `message`. */
  data?: string;
  dataPort?: number;
  parts: number;
  deviceId: string | null;
  simSlot: number | null;
  verificationId: string | null;
  batchId: string | null;
  error: string | null;
  metadata: unknown;
  /** Dispatch order among the device's messages: higher first (OTPs 128, SMS -128..127). */
  priority: number;
  /** The time it was held until, if it was scheduled. */
  scheduleAt: string | null;
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
  /** The text, or a data SMS's base64 payload (then `dataPort` is set). */
  body: string;
  /** A binary SMS to this port; null for a text. */
  dataPort: number | null;
  status: MessageStatus;
  priority: number;
  attempt: number;
  expiresAt: Date;
}

export interface MessageQuery {
  limit?: number;
  cursor?: string;
  status?: MessageStatus;
  kind?: MessageKind;
  from?: Date;
  to?: Date;
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
  /** The text, or a data SMS's base64 payload (with `dataPort`). */
  body: string;
  parts: number;
  priority?: number;
  /** A binary SMS to this port. */
  dataPort?: number | null;
  /** Held until this time (scheduled); undefined or null: at once. */
  scheduledAt?: Date | null;
  /** The caller chose the device: never moved to another. */
  pinned?: boolean;
  callbackUrl?: string | null;
  metadata?: unknown;
  createdAt: Date;
  expiresAt: Date;
}

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
  data_port: number | null;
  scheduled_at: Date | null;
  held: boolean;
  pinned: boolean;
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

/** The columns of a new QUEUED message, but its body (sealed when it is an OTP). */
const MESSAGE_COLUMNS: ReadonlyArray<InsertColumn<NewMessage>> = [
  { name: 'id', type: 'text', value: (m) => m.id },
  { name: 'project_id', type: 'text', value: (m) => m.projectId },
  { name: 'kind', type: 'text', value: (m) => m.kind },
  { name: 'verification_id', type: 'text', value: (m) => m.verificationId ?? null },
  { name: 'batch_id', type: 'text', value: (m) => m.batchId ?? null },
  { name: 'device_id', type: 'text', value: (m) => m.deviceId },
  { name: 'sim_slot', type: 'int', value: (m) => m.simSlot ?? null },
  { name: 'to', type: 'text', value: (m) => m.to },
  { name: 'body_sealed', type: 'bool', value: (m) => m.kind === 'otp' },
  { name: 'parts', type: 'int', value: (m) => m.parts },
  { name: 'priority', type: 'int', value: (m) => m.priority ?? 0 },
  { name: 'data_port', type: 'int', value: (m) => m.dataPort ?? null },
  { name: 'scheduled_at', type: 'timestamptz', value: (m) => m.scheduledAt ?? null },
  { name: 'held', type: 'bool', value: (m) => Boolean(m.scheduledAt) },
  { name: 'pinned', type: 'bool', value: (m) => m.pinned === true },
  { name: 'status', type: 'text', value: () => 'QUEUED' },
  { name: 'callback_url', type: 'text', value: (m) => m.callbackUrl ?? null },
  { name: 'metadata', type: 'jsonb', value: (m) => (m.metadata === undefined ? null : JSON.stringify(m.metadata)) },
  { name: 'created_at', type: 'timestamptz', value: (m) => m.createdAt },
  { name: 'expires_at', type: 'timestamptz', value: (m) => m.expiresAt },
  { name: 'updated_at', type: 'timestamptz', value: (m) => m.createdAt },
];

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

  /** Inserts messages in one statement, OTP bodies sealed (see insertSql). */
  async insert(trx: Knex | Knex.Transaction, messages: NewMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const { sql, bindings } = this.insertSql(messages);
    await trx.raw(sql, bindings);
  }

  /**
   * The INSERT of new QUEUED messages, OTP bodies sealed, as SQL to run alone or inside a larger
   * statement (the accept path writes a group's challenges and messages in one statement).
   */
  insertSql(messages: NewMessage[]): SqlPart {
    const sealed = messages.map((m) => (m.kind === 'otp' ? this.sealer.seal(m.body) : m.body));
    return columnInsert<NewMessage>(
      'messages',
      [...MESSAGE_COLUMNS, { name: 'body', type: 'text', value: (_, i) => sealed[i]! }],
      messages,
    );
  }

  /** One message of a project; another project's id answers NOT_FOUND. */
  async get(projectId: string, messageId: string): Promise<MessageView> {
    // An id of another shape cannot exist (and a NUL byte in it would make PostgreSQL throw).
    if (!isId('msg', messageId)) throw apiError('NOT_FOUND', { message: 'No message with this id in this project.' });
    const row: MessageRow | undefined = await this.db('messages')
      .where({ id: messageId, project_id: projectId })
      .first();
    if (!row) throw apiError('NOT_FOUND', { message: 'No message with this id in this project.' });
    return toView(row);
  }

  /** The project's log, newest first, in stable cursor pages (see seqPage). */
  async list(projectId: string, query: MessageQuery): Promise<{ messages: MessageView[]; nextCursor: string | null }> {
    const q = this.db('messages').where({ project_id: projectId });
    if (query.status) void q.where({ status: query.status });
    if (query.kind) void q.where({ kind: query.kind });
    if (query.from) void q.where('created_at', '>=', query.from);
    if (query.to) void q.where('created_at', '<', query.to);
    const { rows, nextCursor } = await seqPage<MessageRow & { seq: number | string }>(q, query, PAGE_TAGS.messages);
    return { messages: rows.map(toView), nextCursor };
  }

  /** Messages by id, bodies opened; an empty body means it was wiped (already sent). */
  async loadOutbound(messageIds: string[]): Promise<OutboundMessage[]> {
    if (messageIds.length === 0) return [];
    const rows: MessageRow[] = await this.db('messages').whereIn('id', messageIds);
    return rows.map((r) => this.toOutbound(r));
  }

  /**
   * The device's next messages to hand over, in dispatch order: higher priority first, then the
   * order they were accepted in. Only QUEUED ones still within their TTL and not held for a
   * later time (scheduled; `not held` is the dispatch-order index's own condition).
   */
  async nextForDevice(
    deviceId: string,
    limit: number,
    except: string[] = [],
    now = new Date(),
  ): Promise<OutboundMessage[]> {
    return (await this.nextForDevices([{ deviceId, limit }], except, now))[0]!;
  }

  /**
   * {@link nextForDevice} for many devices in one statement (dispatchers of a fleet read
   * together): one list per want, in order. `except` holds ids of any of them (ids are unique).
   */
  async nextForDevices(
    wants: ReadonlyArray<{ deviceId: string; limit: number }>,
    except: string[] = [],
    now = new Date(),
  ): Promise<OutboundMessage[][]> {
    const lists: OutboundMessage[][] = wants.map(() => []);
    if (wants.length === 0) return lists;
    const { rows } = (await this.db.raw(
      `select w.n, m.* from unnest(?::text[], ?::int[]) with ordinality as w(device_id, lim, n)
       cross join lateral (
         select * from messages
         where device_id = w.device_id and status = 'QUEUED' and not held and expires_at > ? and id <> all(?::text[])
         order by priority desc, seq asc
         limit w.lim
       ) m
       order by w.n, m.priority desc, m.seq asc`,
      [wants.map((w) => w.deviceId), wants.map((w) => w.limit), now, except],
    )) as { rows: Array<MessageRow & { n: number | string }> };
    for (const row of rows) lists[Number(row.n) - 1]!.push(this.toOutbound(row));
    return lists;
  }

  /** Devices that have QUEUED messages not held for later (the recovery sweep signals each). */
  async devicesWithQueued(limit = 10_000): Promise<string[]> {
    const rows = await this.db('messages')
      .distinct('device_id')
      .where({ status: 'QUEUED' })
      .whereRaw('not held')
      .whereNotNull('device_id')
      .limit(limit);
    return rows.map((r: { device_id: string }) => r.device_id);
  }

  /**
   * Moves a device's QUEUED messages to another device (re-routing after an unlink), but those
   * pinned to it and, when the new device cannot send them, its data SMS: their ids are returned
   * to be failed.
   */
  async reassignQueued(
    fromDeviceId: string,
    toDeviceId: string,
    targetSendsData: boolean,
  ): Promise<{ moved: number; stranded: string[] }> {
    const moved = await this.db('messages')
      .where({ device_id: fromDeviceId, status: 'QUEUED', pinned: false })
      .modify((q) => (targetSendsData ? q : q.whereNull('data_port')))
      .update({ device_id: toDeviceId, updated_at: new Date() });
    return { moved, stranded: await this.queuedFor(fromDeviceId, 100_000) };
  }

  /**
   * Scheduled messages whose time has come stop being held (the dispatcher reads them from now
   * on). Returns their devices, to be signalled. Committed first, so a signal lost after it is
   * caught by the recovery sweep like any other.
   */
  async releaseDue(now = new Date(), limit = 10_000): Promise<string[]> {
    const result = await this.db.raw(
      `with due as (select id from messages where status = 'QUEUED' and held and scheduled_at <= ? order by scheduled_at limit ? for update skip locked),
       released as (update messages m set held = false, updated_at = ? from due where m.id = due.id returning m.device_id)
       select distinct device_id from released where device_id is not null`,
      [now, limit, now],
    );
    return (result.rows as Array<{ device_id: string }>).map((r) => r.device_id);
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
      dataPort: r.data_port ?? null,
      status: r.status,
      priority: r.priority,
      attempt: r.attempt,
      expiresAt: new Date(r.expires_at),
    };
  }

  /** Ids of the device's messages still QUEUED (oldest first, at most `limit`). */
  async queuedFor(deviceId: string, limit = 1000): Promise<string[]> {
    const rows = await this.db('messages')
      .select('id')
      .where({ device_id: deviceId, status: 'QUEUED' })
      .orderBy('created_at', 'asc')
      .limit(limit);
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
    // A custom SMS shows its text (or data); an OTP message never does (it holds the code).
    ...(r.kind === 'sms' && !r.body_sealed && r.body !== null
      ? r.data_port === null || r.data_port === undefined
        ? { message: r.body }
        : { data: r.body, dataPort: r.data_port }
      : {}),
    parts: r.parts,
    deviceId: r.device_id,
    simSlot: r.sim_slot,
    verificationId: r.verification_id,
    batchId: r.batch_id,
    error: r.error,
    metadata: r.metadata ?? null,
    priority: r.priority,
    scheduleAt: iso(r.scheduled_at),
    createdAt: new Date(r.created_at).toISOString(),
    expiresAt: new Date(r.expires_at).toISOString(),
    dispatchedAt: iso(r.dispatched_at),
    sentAt: iso(r.sent_at),
    deliveredAt: iso(r.delivered_at),
    failedAt: iso(r.failed_at),
  };
}
