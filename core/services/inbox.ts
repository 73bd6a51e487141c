import type { Knex } from 'knex';
import { sha256 } from '../crypto.js';
import { inject, injectable } from '../di.js';
import { newId } from '../ids.js';
import { PAGE_TAGS, seqPage } from '../pagination.js';
import { extractCode } from '../sms-code.js';
import { TOKENS } from '../tokens.js';
import { OutboxRelay, writeWebhookEvents } from '../outbox.js';
import { DeviceService } from './devices.js';
import { RentalService } from './rentals.js';

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
  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    private readonly rentals: RentalService,
    private readonly outbox: OutboxRelay,
    private readonly devices: DeviceService,
  ) {}

  /**
   * Stores what a phone forwarded, for the project the device belongs to. Returns only the SMS
   * that were new (a re-published SMS is stored once), so observers fire once per SMS. An SMS
   * received on a rented number is attached to that rental here, for every transport, with the
   * verification code found in its text.
   */
  async store(deviceId: string, received: ReceivedSms[], now = new Date()): Promise<InboundSms[]> {
    if (received.length === 0) return [];
    const projectId = await this.devices.projectOf(deviceId);
    if (!projectId) return [];
    const rentalIds = await this.rentals.rentalsFor(projectId, deviceId, received);
    const rows = received.map((sms, i) => {
      // PostgreSQL text cannot hold NUL; a phone's SMS text is kept without it.
      const body = sms.body.replace(/\u0000/g, '');
      const from = sms.from.replace(/\u0000/g, '');
      return {
        id: newId('sms'),
        project_id: projectId,
        device_id: deviceId,
        sim_slot: sms.simSlot,
        from,
        body,
        received_at: new Date(sms.receivedAt),
        created_at: now,
        digest: sha256(JSON.stringify([deviceId, from, body, sms.receivedAt])),
        rental_id: rentalIds[i] ?? null,
        code: extractCode(body),
      };
    });
    // The new ones and their `sms.received` webhooks commit together (the outbox relays them).
    const views = await this.db.transaction(async (trx) => {
      const stored: InboundRow[] = await trx('inbound_sms')
        .insert(rows)
        .onConflict(['project_id', 'digest'])
        .ignore()
        .returning(['id', 'device_id', 'sim_slot', 'from', 'body', 'received_at', 'seq']);
      const views = stored.map(toView);
      await writeWebhookEvents(
        trx,
        projectId,
        views.map((sms) => ({ id: newId('evt'), type: 'sms.received' as const, data: sms })),
      );
      return views;
    });
    if (views.length > 0) this.outbox.poke();
    return views;
  }

  /** The project's received SMS, newest first; the cursor is the last item's position. */
  async list(
    projectId: string,
    query: { cursor?: string; limit?: number },
  ): Promise<{ messages: InboundSms[]; nextCursor: string | null }> {
    const { rows, nextCursor } = await seqPage<InboundRow>(
      this.db('inbound_sms').where({ project_id: projectId }),
      query,
      PAGE_TAGS.inbox,
    );
    return { messages: rows.map(toView), nextCursor };
  }
}

function toView(r: InboundRow): InboundSms {
  return {
    id: r.id,
    deviceId: r.device_id,
    simSlot: r.sim_slot,
    from: r.from,
    body: r.body,
    receivedAt: new Date(r.received_at).toISOString(),
  };
}
