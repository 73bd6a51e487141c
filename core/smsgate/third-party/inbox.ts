import type { Knex } from 'knex';
import { inject, injectable } from '../../di.js';
import { TOKENS } from '../../tokens.js';
import { invalid } from './errors.js';

/** `IncomingMessage` (contract §6). */
export interface IncomingMessage {
  id: string;
  type: 'SMS';
  sender: string;
  simNumber?: number;
  contentPreview: string;
  createdAt: string;
}

export interface InboxQuery {
  type?: string;
  limit: number;
  offset: number;
  from?: Date;
  to?: Date;
  deviceId?: string;
}

/**
 * `GET /inbox` from SMX's inbox (the SMS every phone of the project forwarded, stored once each
 * by InboxService): the original server answers 501 here. Offset pages with a total, newest first.
 */
@injectable()
export class SmsGateInbox {
  constructor(@inject(TOKENS.Knex) private readonly db: Knex) {}

  async list(projectId: string, query: InboxQuery): Promise<{ items: IncomingMessage[]; total: number }> {
    // SMX stores text SMS only: asking for data SMS or MMS finds none.
    if (query.type !== undefined && query.type !== 'SMS') return { items: [], total: 0 };
    const q = this.db('inbound_sms').where({ project_id: projectId });
    if (query.from) void q.where('received_at', '>=', query.from);
    if (query.to) void q.where('received_at', '<', query.to);
    if (query.deviceId) void q.where({ device_id: query.deviceId });
    const [count, rows] = await Promise.all([
      q.clone().count({ n: '*' }).first(),
      q
        .clone()
        .orderBy('seq', 'desc')
        .limit(query.limit)
        .offset(query.offset)
        .select('id', 'from', 'body', 'sim_slot', 'received_at'),
    ]);
    const items = (
      rows as Array<{ id: string; from: string; body: string; sim_slot: number | null; received_at: Date }>
    ).map((r) => ({
      id: r.id,
      type: 'SMS' as const,
      sender: r.from,
      ...(r.sim_slot !== null ? { simNumber: r.sim_slot + 1 } : {}),
      contentPreview: r.body,
      createdAt: new Date(r.received_at).toISOString(),
    }));
    return { items, total: Number((count as { n: string | number } | undefined)?.n ?? 0) };
  }
}

/** Reads `GET /inbox` query parameters (limit 1..500, default 50). */
export function readInboxQuery(q: Record<string, unknown>): InboxQuery {
  const str = (k: string) => (typeof q[k] === 'string' && q[k] !== '' ? (q[k] as string) : undefined);
  const int = (k: string, fallback: number, min: number, max: number) => {
    const v = str(k);
    if (v === undefined) return fallback;
    if (!/^\d{1,9}$/.test(v) || Number(v) < min || Number(v) > max)
      throw invalid(`${k} must be an integer from ${min} to ${max}`);
    return Number(v);
  };
  const time = (k: string) => {
    const v = str(k);
    if (v === undefined) return undefined;
    const t = Date.parse(v);
    if (Number.isNaN(t)) throw invalid(`${k} must be an RFC 3339 date-time`);
    return new Date(t);
  };
  const type = str('type');
  if (type !== undefined && !['SMS', 'DATA_SMS', 'MMS', 'MMS_DOWNLOADED'].includes(type))
    throw invalid('type must be SMS, DATA_SMS, MMS or MMS_DOWNLOADED');
  return {
    type,
    limit: int('limit', 50, 1, 500),
    offset: int('offset', 0, 0, 1_000_000_000),
    from: time('from'),
    to: time('to'),
    deviceId: str('deviceId'),
  };
}
