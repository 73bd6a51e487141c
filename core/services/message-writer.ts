import type { Knex } from 'knex';
import { MicroBatcher } from '../batching/micro-batcher.js';
import { inject, injectable } from '../di.js';
import type { Logger } from '../logger.js';
import { TOKENS } from '../tokens.js';
import { DispatchService } from './dispatch.js';
import { MessageService, type NewMessage } from './messages.js';
import { StatsService } from './stats.js';

/** A message to accept, with the challenge row it belongs to (OTP) if any. */
export interface AcceptedMessage {
  message: NewMessage;
  verification?: Record<string, unknown>;
}

export interface BatchRow {
  id: string;
  project_id: string;
  total: number;
  accepted: number;
  rejected: number;
  created_at: Date;
}

/** Challenge rows per INSERT statement (VALUES lists: 20 columns each stays below 65,535 parameters). */
const ROWS_PER_STATEMENT = 1000;

/**
 * The accept path's one writer: messages (and their challenges) are inserted with multi-row
 * statements in one transaction, then their devices are signalled. Single requests arriving
 * together are grouped (group commit); a group that fails is retried item by item, so a bad
 * request fails alone.
 */
@injectable()
export class MessageWriter {
  private readonly batcher = new MicroBatcher<AcceptedMessage, void>({ flush: (items) => this.flushGroup(items), maxSize: 500, concurrency: 2 });

  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    @inject(TOKENS.Logger) private readonly log: Logger,
    private readonly messages: MessageService,
    private readonly stats: StatsService,
    private readonly dispatch: DispatchService,
  ) {}

  /** Accepts one message; resolves once it is committed and its device signalled. */
  accept(entry: AcceptedMessage): Promise<void> {
    return this.batcher.add(entry);
  }

  /** Accepts a bulk request's messages and its batch row in one transaction. */
  async acceptMany(entries: AcceptedMessage[], batch?: BatchRow): Promise<void> {
    await this.db.transaction(async (trx) => {
      if (batch) await trx('batches').insert(batch);
      await this.insert(trx, entries);
    });
    await this.signal(entries);
  }

  private async flushGroup(items: AcceptedMessage[]): Promise<Array<void | Error>> {
    try {
      await this.db.transaction((trx) => this.insert(trx, items));
      await this.signal(items);
      return items.map(() => undefined);
    } catch (error) {
      if (items.length === 1) return [error as Error];
      // Find the request(s) the failure concerns; the others still go ahead.
      const results: Array<void | Error> = [];
      for (const item of items) {
        try {
          await this.db.transaction((trx) => this.insert(trx, [item]));
          results.push(undefined);
        } catch (itemError) {
          results.push(itemError as Error);
        }
      }
      await this.signal(items.filter((_, i) => results[i] === undefined));
      return results;
    }
  }

  private async insert(trx: Knex.Transaction, entries: AcceptedMessage[]): Promise<void> {
    const verifications = entries.flatMap((e) => (e.verification ? [e.verification] : []));
    for (let i = 0; i < verifications.length; i += ROWS_PER_STATEMENT) await trx('verifications').insert(verifications.slice(i, i + ROWS_PER_STATEMENT));
    await this.messages.insert(trx, entries.map((e) => e.message));
    await this.stats.record(
      trx,
      entries.filter((e) => e.message.kind === 'sms').map((e) => ({ projectId: e.message.projectId, metric: 'sms.queued' as const, at: e.message.createdAt })),
    );
  }

  /** The rows are committed: a failed signal only delays them until the recovery sweep. */
  private async signal(entries: AcceptedMessage[]): Promise<void> {
    const devices = entries.flatMap((e) => (e.message.deviceId ? [e.message.deviceId] : []));
    await this.dispatch.signal(devices).catch((error) => this.log.warn({ err: error }, 'dispatch signal failed; the recovery sweep will send these'));
  }
}
