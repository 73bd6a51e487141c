import type { Knex } from 'knex';
import { sha256 } from '../crypto.js';
import { inject, injectable } from '../di.js';
import { apiError } from '../errors.js';
import { newId } from '../ids.js';
import { TOKENS } from '../tokens.js';

/** An SMS a phone received, as /v1/inbox shows it. */
export interface InboundSms {
  id: string;
  deviceId: string;
  simSlot: number | null;
  from: string;
  body: string;
  receivedAt: string;
}

export interface ReceivedSms {
  from: string;
  body: string;
  receivedAt: string;
  simSlot: number | null;
}

interface InboundRow {
  id: string;
  device_id: string;
  sim_slot: number | null;
  from: string;
  body: string;
  received_at: Date;
  seq: number | string;
}

/** The SMS the project's phones received: stored once each, listed newest first. */
@injectable()
export class InboxService {
  constructor(@inject(TOKENS.Knex) private readonly db: Knex) {}

  /**
   * Stores what a phone forwarded, for the project the device belongs to. Returns only the SMS
   * that were new (a re-published SMS is stored once), so observers fire once per SMS.
   */
  async store(deviceId: string, received: ReceivedSms[], now = new Date()): Promise<InboundSms[]> {
    if (received.length === 0) return [];
    const device = await this.db('devices').select('project_id').where({ id: deviceId }).first();
    if (!device) return [];
    const rows = received.map((sms) => {
      // PostgreSQL text cannot hold NUL; a phone's SMS text is kept without it.
      const body = sms.body.replace(/\u0000/g, '');
      const from = sms.from.replace(/\u0000/g, '');
      return {
        id: newId('sms'),
        project_id: device.project_id,
        device_id: deviceId,
        sim_slot: sms.simSlot,
        from,
        body,
        received_at: new Date(sms.receivedAt),
        created_at: now,
        digest: sha256(JSON.stringify([deviceId, from, body, sms.receivedAt])),
      };
    });
    const stored: InboundRow[] = await this.db('inbound_sms').insert(rows).onConflict(['project_id', 'digest']).ignore().returning(['id', 'device_id', 'sim_slot', 'from', 'body', 'received_at', 'seq']);
    return stored.map(toView);
  }

  /** The project's received SMS, newest first; the cursor is the last item's position. */
  async list(projectId: string, query: { cursor?: string; limit?: number }): Promise<{ messages: InboundSms[]; nextCursor: string | null }> {
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 200);
    const q = this.db('inbound_sms').where({ project_id: projectId }).orderBy('seq', 'desc').limit(limit + 1);
    if (query.cursor !== undefined) {
      const text = Buffer.from(query.cursor, 'base64url').toString('utf8');
      if (!/^i\d{1,19}$/.test(text)) throw apiError('VALIDATION_FAILED', { details: [{ field: 'cursor', message: 'cursor is not one this API returned' }] });
      void q.where('seq', '<', text.slice(1));
    }
    const rows: InboundRow[] = await q;
    const page = rows.slice(0, limit);
    const next = rows.length > limit ? page[page.length - 1] : undefined;
    return { messages: page.map(toView), nextCursor: next ? Buffer.from(`i${next.seq}`).toString('base64url') : null };
  }
}

function toView(r: InboundRow): InboundSms {
  return { id: r.id, deviceId: r.device_id, simSlot: r.sim_slot, from: r.from, body: r.body, receivedAt: new Date(r.received_at).toISOString() };
}
