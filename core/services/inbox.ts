import type { Knex } from 'knex';
import { sha256 } from '../crypto.js';
import { inject, injectable } from '../di.js';
import { newId } from '../ids.js';
import { seqPage } from '../pagination.js';
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
    const { rows, nextCursor } = await seqPage<InboundRow>(this.db('inbound_sms').where({ project_id: projectId }), query, 'i');
    return { messages: rows.map(toView), nextCursor };
  }
}

function toView(r: InboundRow): InboundSms {
  return { id: r.id, deviceId: r.device_id, simSlot: r.sim_slot, from: r.from, body: r.body, receivedAt: new Date(r.received_at).toISOString() };
}
