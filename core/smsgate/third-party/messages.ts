import type { Knex } from 'knex';
import { inject, injectable } from '../../di.js';
import { DispatchService } from '../../delivery/dispatch.js';
import { isApiError } from '../../errors.js';
import { SmsService, type BulkAccepted } from '../../sending/sms.js';
import { TOKENS } from '../../tokens.js';
import { nanoid } from './auth.js';
import { invalid, notFound, SmsGateError } from './errors.js';
import { readSendRequest, type SendContent } from './message-request.js';
import {
  aggregateState,
  aggregateStateSql,
  CANCELED_ERROR,
  isProcessState,
  RECIPIENT_STATE_SQL,
  recipientState,
  stateHistory,
  type ProcessState,
  type RecipientRow,
  type RecipientState,
} from './states.js';

/** `MessageState` (contract §3): the answer of send, get, list and cancel. */
export interface MessageState {
  id: string;
  deviceId: string;
  state: ProcessState;
  isHashed: false;
  /** The client encrypted the content: it is shown as it was given. */
  isEncrypted: boolean;
  recipients: RecipientState[];
  states: Partial<Record<ProcessState, string>>;
  textMessage?: { text: string };
  dataMessage?: { data: string; port: number };
}

/** What `smsgate_messages.content` holds: the content as given, and whether it is encrypted. */
type StoredContent = SendContent & { isEncrypted?: boolean };

export interface ListQuery {
  from?: Date;
  to?: Date;
  state?: ProcessState;
  deviceId?: string;
  limit: number;
  offset: number;
  includeContent: boolean;
  sort: 'created_at' | '-created_at';
}

/** A reservation left by a process that died between reserving the id and sending is taken over after this. */
const STALE_RESERVATION_MS = 5 * 60_000;
const MESSAGE_NOT_FOUND = 'message';

interface Row {
  id: string;
  content: StoredContent | string;
  created_at: Date;
  position: number;
  phone_number: string;
  refused: string | null;
  mid: string | null;
  status: string | null;
  error: string | null;
  device_id: string | null;
  m_created_at: Date | null;
  dispatched_at: Date | null;
  sent_at: Date | null;
  delivered_at: Date | null;
  failed_at: Date | null;
  updated_at: Date | null;
}

/**
 * SMSGate messages over SMX messages: one SMSGate message (an id unique in the project) goes to
 * up to 100 numbers as one SMX message per number, sent as a bulk batch through SmsService (so
 * routing, country rules, the project's send limit, stats and SMX webhooks behave as for
 * `/v1/send-sms/bulk`); the recipients are kept in the order given.
 */
@injectable()
export class SmsGateMessages {
  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    private readonly sms: SmsService,
    private readonly dispatch: DispatchService,
  ) {}

  /** `POST /messages`: 202 with the new message's state. */
  async send(projectId: string, body: unknown, options: { skipPhoneValidation?: boolean } = {}): Promise<MessageState> {
    const request = readSendRequest(body, options);
    const id = request.id ?? nanoid();
    const now = new Date();
    const content: StoredContent = request.isEncrypted ? { ...request.content, isEncrypted: true } : request.content;
    await this.reserve(projectId, id, content, request.withDeliveryReport, request.validUntil ?? null, now);
    const entry =
      'text' in request.content
        ? { message: request.content.text }
        : { data: request.content.data, dataPort: request.content.port };
    let accepted: BulkAccepted;
    try {
      // `validUntil` (from `ttl` too) is absolute, as SMSGate counts it from the request (SMX's
      // `ttl` would count from `scheduleAt`).
      accepted = await this.sms.sendBulk(projectId, {
        entries: request.phoneNumbers.map((to) => ({ to, ...entry })),
        validUntil: request.validUntil,
        scheduleAt: request.scheduleAt,
        simSlot: request.simSlot,
        deviceId: request.deviceId,
        priority: request.priority,
        encryptedContent: request.isEncrypted || undefined,
      });
      if (accepted.accepted === 0) {
        const first = accepted.rejected[0];
        throw new SmsGateError(
          400,
          `no recipient could be accepted: ${first ? `${first.code}: ${first.message}` : 'all refused'}`,
        );
      }
    } catch (error) {
      await this.db('smsgate_messages').where({ project_id: projectId, id }).whereNull('batch_id').delete();
      throw toSmsGateError(error, request.simSlot);
    }
    const batchId = accepted.batchId;
    const messages: Array<{ id: string; to: string }> = await this.db('messages')
      .where({ batch_id: batchId })
      .select('id', 'to');
    const byNumber = new Map(messages.map((m) => [m.to, m.id]));
    const refused = new Map(accepted.rejected.map((r) => [r.index, r.code]));
    const recipients = request.phoneNumbers.map((phone, position) => ({
      project_id: projectId,
      group_id: id,
      position,
      phone_number: phone,
      message_id: byNumber.get(phone) ?? null,
      error: byNumber.has(phone) ? null : (refused.get(position) ?? 'REFUSED'),
    }));
    // Should this fail (the database gone right now), the SMS still go; the id stays reserved
    // without recipients (invisible) and is free again after STALE_RESERVATION_MS.
    await this.db.transaction(async (trx) => {
      await trx('smsgate_message_recipients').insert(recipients);
      await trx('smsgate_messages').where({ project_id: projectId, id }).update({ batch_id: batchId });
    });
    return (await this.get(projectId, id, true))!;
  }

  /** One message of the project, or null. */
  async get(projectId: string, id: string, includeContent: boolean): Promise<MessageState | null> {
    if (id.length === 0 || id.length > 64) return null;
    const [state] = await this.load(projectId, [id], includeContent);
    return state ?? null;
  }

  /** `GET /messages/{id}`: 404 `message not found` for an id this project does not have. */
  async require(projectId: string, id: string): Promise<MessageState> {
    const state = await this.get(projectId, id, true);
    if (!state) throw notFound(MESSAGE_NOT_FOUND);
    return state;
  }

  /** `GET /messages`: a page and the total matching count (`X-Total-Count`). */
  async list(projectId: string, query: ListQuery): Promise<{ items: MessageState[]; total: number }> {
    const bindings: Knex.Value[] = [projectId];
    let where = '';
    if (query.from) {
      where += ' and g.created_at >= ?';
      bindings.push(query.from);
    }
    if (query.to) {
      where += ' and g.created_at < ?';
      bindings.push(query.to);
    }
    let having = '';
    if (query.deviceId) {
      having = 'having bool_or(rs.device_id = ?)';
      bindings.push(query.deviceId);
    }
    const filtered = `with f as (
        select g.id, g.created_at, ${aggregateStateSql('rs.s')} as state
        from smsgate_messages g
        join lateral (
          select ${RECIPIENT_STATE_SQL} as s, m.device_id
          from smsgate_message_recipients r left join messages m on m.id = r.message_id
          where r.project_id = g.project_id and r.group_id = g.id
        ) rs on true
        where g.project_id = ? and g.batch_id is not null${where}
        group by g.id, g.created_at
        ${having}
      )`;
    const stateWhere = query.state ? ' where state = ?' : '';
    const stateBindings = query.state ? [query.state] : [];
    const order = query.sort === 'created_at' ? 'created_at asc, id asc' : 'created_at desc, id desc';
    const [count, page] = await Promise.all([
      this.db.raw(`${filtered} select count(*) as n from f${stateWhere}`, [...bindings, ...stateBindings]),
      this.db.raw(`${filtered} select id from f${stateWhere} order by ${order} limit ? offset ?`, [
        ...bindings,
        ...stateBindings,
        query.limit,
        query.offset,
      ]),
    ]);
    const ids = (page.rows as Array<{ id: string }>).map((r) => r.id);
    const states = await this.load(projectId, ids, query.includeContent);
    const byId = new Map(states.map((s) => [s.id, s]));
    return {
      items: ids.flatMap((id) => byId.get(id) ?? []),
      total: Number((count.rows as Array<{ n: string | number }>)[0]?.n ?? 0),
    };
  }

  /**
   * `DELETE /messages/{id}`: a message still Pending (some recipient not yet handed to a phone)
   * is withdrawn through SMX's withdrawal (recipients a phone holds already get a cancel);
   * otherwise 409 `message is not pending`. Answers the state after it: Cancelled.
   */
  async cancel(projectId: string, id: string): Promise<MessageState> {
    const state = await this.require(projectId, id);
    if (state.state !== 'Pending') throw new SmsGateError(409, 'message is not pending');
    const rows: Array<{ message_id: string }> = await this.db('smsgate_message_recipients')
      .where({ project_id: projectId, group_id: id })
      .whereNotNull('message_id')
      .select('message_id');
    for (const r of rows) await this.dispatch.withdraw(r.message_id, CANCELED_ERROR);
    return this.require(projectId, id);
  }

  /** Reserves the id in the project (409 when taken); a reservation that never completed is taken over after a while. */
  private async reserve(
    projectId: string,
    id: string,
    content: StoredContent,
    withDeliveryReport: boolean,
    validUntil: Date | null,
    now: Date,
  ): Promise<void> {
    const row = {
      project_id: projectId,
      id,
      content: JSON.stringify(content),
      with_delivery_report: withDeliveryReport,
      valid_until: validUntil,
      created_at: now,
    };
    for (let attempt = 0; attempt < 2; attempt++) {
      const inserted = await this.db('smsgate_messages')
        .insert(row)
        .onConflict(['project_id', 'id'])
        .ignore()
        .returning('id');
      if (inserted.length > 0) return;
      const stale = await this.db('smsgate_messages')
        .where({ project_id: projectId, id })
        .whereNull('batch_id')
        .where('created_at', '<', new Date(now.getTime() - STALE_RESERVATION_MS))
        .delete();
      if (stale === 0) break;
    }
    throw new SmsGateError(409, 'message with the same ID already exists');
  }

  private async load(projectId: string, ids: string[], includeContent: boolean): Promise<MessageState[]> {
    if (ids.length === 0) return [];
    const rows: Row[] = await this.db('smsgate_messages as g')
      .join('smsgate_message_recipients as r', (j) => j.on('r.project_id', 'g.project_id').andOn('r.group_id', 'g.id'))
      .leftJoin('messages as m', 'm.id', 'r.message_id')
      .where('g.project_id', projectId)
      .whereIn('g.id', ids)
      .whereNotNull('g.batch_id')
      .orderBy([{ column: 'g.id' }, { column: 'r.position' }])
      .select(
        'g.id',
        'g.content',
        'g.created_at',
        'r.position',
        'r.phone_number',
        'r.error as refused',
        'm.id as mid',
        'm.status',
        'm.error',
        'm.device_id',
        'm.created_at as m_created_at',
        'm.dispatched_at',
        'm.sent_at',
        'm.delivered_at',
        'm.failed_at',
        'm.updated_at',
      );
    const groups = new Map<string, Row[]>();
    for (const r of rows) groups.set(r.id, [...(groups.get(r.id) ?? []), r]);
    return [...groups.values()].map((list) => toState(list, includeContent));
  }
}

function toState(rows: Row[], includeContent: boolean): MessageState {
  const first = rows[0]!;
  const recipients: RecipientRow[] = rows.map((r) => ({
    phoneNumber: r.phone_number,
    refused: r.refused,
    message:
      r.mid === null
        ? null
        : {
            status: r.status!,
            error: r.error,
            createdAt: new Date(r.m_created_at!),
            dispatchedAt: date(r.dispatched_at),
            sentAt: date(r.sent_at),
            deliveredAt: date(r.delivered_at),
            failedAt: date(r.failed_at),
            updatedAt: new Date(r.updated_at!),
          },
  }));
  const each = recipients.map(recipientState);
  const content = typeof first.content === 'string' ? (JSON.parse(first.content) as StoredContent) : first.content;
  return {
    id: first.id,
    deviceId: rows.find((r) => r.device_id)?.device_id ?? '',
    state: aggregateState(each.map((r) => r.state)),
    isHashed: false,
    isEncrypted: content.isEncrypted === true,
    recipients: each,
    states: stateHistory(new Date(first.created_at), recipients),
    ...(includeContent
      ? 'data' in content
        ? { dataMessage: { data: content.data, port: content.port } }
        : { textMessage: { text: content.text } }
      : {}),
  };
}

const date = (d: Date | null) => (d ? new Date(d) : null);

/** SMX's refusals in SMSGate's words and statuses. */
function toSmsGateError(error: unknown, simSlot: number | undefined): unknown {
  if (error instanceof SmsGateError || !isApiError(error)) return error;
  const detail = error.details[0]?.message ?? error.message;
  const field = error.details[0]?.field;
  // A `deviceId` SMX does not know in this project (another project's too): the original's words.
  if (field === 'deviceId' && (error.code === 'NOT_FOUND' || error.code === 'DEVICE_NOT_LINKED'))
    return new SmsGateError(400, 'failed to select device: record not found', { cause: error });
  if (field === 'deviceId') return new SmsGateError(400, `failed to select device: ${detail}`, { cause: error });
  if (field === 'simSlot')
    return new SmsGateError(400, `failed to validate: simNumber ${(simSlot ?? 0) + 1}: ${detail} (slot ${simSlot})`, {
      cause: error,
    });
  switch (error.code) {
    case 'DEVICE_NOT_LINKED':
      return new SmsGateError(
        400,
        field === 'encryptedContent'
          ? 'failed to select device: no phone of this project can decrypt encrypted content (SMSGate-app phones can; MQTT phones cannot)'
          : field === 'data'
            ? 'failed to select device: no phone of this project sends data SMS'
            : 'failed to select device: no phone of this project can take the message',
        { cause: error },
      );
    case 'RATE_LIMITED':
      return new SmsGateError(429, error.message, { cause: error, retryAfter: error.retryAfter });
    case 'UNAVAILABLE':
      return new SmsGateError(503, error.message, { cause: error, retryAfter: error.retryAfter });
    default:
      return error.status < 500 ? new SmsGateError(400, `${error.code}: ${detail}`, { cause: error }) : error;
  }
}

/** Reads `GET /messages` query parameters (limit clamped to 1..100, default 50). */
export function readListQuery(q: Record<string, unknown>): ListQuery {
  const str = (k: string) => (typeof q[k] === 'string' && q[k] !== '' ? (q[k] as string) : undefined);
  const time = (k: string) => {
    const v = str(k);
    if (v === undefined) return undefined;
    const t = Date.parse(v);
    if (Number.isNaN(t)) throw invalid(`${k} must be an RFC 3339 date-time`);
    return new Date(t);
  };
  const int = (k: string, fallback: number) => {
    const v = str(k);
    if (v === undefined) return fallback;
    if (!/^-?\d{1,9}$/.test(v)) throw invalid(`${k} must be an integer`);
    return Number(v);
  };
  const state = str('state');
  if (state !== undefined && !isProcessState(state))
    throw invalid('state must be one of Pending, Processed, Sent, Delivered, Failed, Cancelling, Cancelled');
  const sort = str('sort') ?? '-created_at';
  if (sort !== 'created_at' && sort !== '-created_at') throw invalid('sort must be created_at or -created_at');
  const offset = int('offset', 0);
  if (offset < 0) throw invalid('offset must be at least 0');
  const include = str('includeContent');
  if (include !== undefined && include !== 'true' && include !== 'false')
    throw invalid('includeContent must be true or false');
  return {
    from: time('from'),
    to: time('to'),
    state: state as ProcessState | undefined,
    deviceId: str('deviceId'),
    limit: Math.min(100, Math.max(1, int('limit', 50))),
    offset,
    includeContent: include === 'true',
    sort,
  };
}
