import type { Knex } from 'knex';
import { columnInsert, type InsertColumn } from '../batching/column-insert.js';
import { MicroBatcher } from '../batching/micro-batcher.js';
import { inject, injectable } from '../di.js';
import type { Logger } from '../logger.js';
import { TOKENS } from '../tokens.js';
import { DispatchService } from './dispatch.js';
import { answersSql, type IdempotentAnswer } from '../services/idempotency.js';
import { MessageService, type NewMessage } from '../services/messages.js';
import { StatsService, type StatEvent } from '../services/stats.js';
import type { RuntimeConfig } from '../secrets.js';
import { isDependencyDown, withinDeadline } from '../unavailable.js';
import { SmxMetrics } from '../smx-metrics.js';

/** A message to accept, with the challenge row it belongs to (OTP) if any. */
export interface AcceptedMessage {
  message: NewMessage;
  verification?: Record<string, unknown>;
  /** The request's answer under its Idempotency-Key, committed with the message. */
  answer?: IdempotentAnswer;
}

export interface BatchRow {
  id: string;
  project_id: string;
  total: number;
  accepted: number;
  rejected: number;
  created_at: Date;
}

type Row = Record<string, unknown>;
const column = (name: string, type: InsertColumn<Row>['type'] = 'text'): InsertColumn<Row> => ({
  name,
  type,
  value: (r) => (r[name] ?? null) as string | number | boolean | Date | null,
});

/** The columns of a new challenge row (as ChallengeComposer builds it). */
const VERIFICATION_COLUMNS = [
  column('id'),
  column('project_id'),
  column('message_id'),
  column('device_id'),
  column('to'),
  column('country_iso'),
  column('number_valid', 'bool'),
  column('code_hash'),
  column('code_type'),
  column('code_length', 'int'),
  column('language'),
  column('test', 'bool'),
  column('status'),
  column('attempts', 'int'),
  column('max_attempts', 'int'),
  column('callback_url'),
  column('metadata', 'jsonb'),
  column('created_at', 'timestamptz'),
  column('expires_at', 'timestamptz'),
  column('updated_at', 'timestamptz'),
];
const BATCH_COLUMNS = [
  column('id'),
  column('project_id'),
  column('total', 'int'),
  column('accepted', 'int'),
  column('rejected', 'int'),
  column('created_at', 'timestamptz'),
];

/**
 * The accept path's one writer: messages (and their challenges, batch row and counters) are
 * inserted by ONE statement (data-modifying CTEs; a statement is atomic, so no BEGIN/COMMIT
 * round trips), then their devices are signalled. Single requests arriving
 * together are grouped (group commit); a group that fails is retried item by item, so a bad
 * request fails alone.
 */
@injectable()
export class MessageWriter {
  private readonly batcher = new MicroBatcher<AcceptedMessage, void>({
    flush: (items) => this.flushGroup(items),
    maxSize: 500,
    concurrency: 2,
  });

  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    @inject(TOKENS.Logger) private readonly log: Logger,
    @inject(TOKENS.Config) private readonly config: RuntimeConfig,
    private readonly messages: MessageService,
    private readonly stats: StatsService,
    private readonly dispatch: DispatchService,
    private readonly metrics: SmxMetrics,
  ) {}

  /** Accepts one message; resolves once it is committed and its device signalled. */
  accept(entry: AcceptedMessage): Promise<void> {
    return this.batcher.add(entry);
  }

  /** Accepts a bulk request's messages and its batch row (and its answer) in one statement (so all or none). */
  async acceptMany(entries: AcceptedMessage[], batch?: BatchRow, answer?: IdempotentAnswer): Promise<void> {
    await this.insert(entries, batch, answer);
    await this.signal(entries);
  }

  private async flushGroup(items: AcceptedMessage[]): Promise<Array<void | Error>> {
    try {
      await this.insert(items);
      await this.signal(items);
      return items.map(() => undefined);
    } catch (error) {
      // A dependency that is down fails every item alike: retrying them one by one would only make
      // each request wait for the outage again.
      if (items.length === 1 || isDependencyDown(error)) return items.map(() => error as Error);
      // Find the request(s) the failure concerns; the others still go ahead.
      const results: Array<void | Error> = [];
      for (const item of items) {
        try {
          await this.insert([item]);
          results.push(undefined);
        } catch (itemError) {
          results.push(itemError as Error);
        }
      }
      await this.signal(items.filter((_, i) => results[i] === undefined));
      return results;
    }
  }

  /** Writes everything in one statement: the last part is the main statement, the others its CTEs. */
  private async insert(entries: AcceptedMessage[], batch?: BatchRow, batchAnswer?: IdempotentAnswer): Promise<void> {
    const parts: Array<{ sql: string; bindings: readonly Knex.Value[] }> = [];
    const answers = entries.flatMap((e) => (e.answer ? [e.answer] : []));
    if (batchAnswer) answers.push(batchAnswer);
    if (answers.length > 0) parts.push(answersSql(answers));
    if (batch) parts.push(columnInsert<Row>('batches', BATCH_COLUMNS, [batch as unknown as Row]));
    const verifications = entries.flatMap((e) => (e.verification ? [e.verification] : []));
    if (verifications.length > 0) parts.push(columnInsert<Row>('verifications', VERIFICATION_COLUMNS, verifications));
    if (entries.length > 0) parts.push(this.messages.insertSql(entries.map((e) => e.message)));
    const counted = entries.flatMap((e): StatEvent[] => {
      const { projectId, createdAt: at } = e.message;
      if (e.message.kind === 'sms') return [{ projectId, metric: 'sms.queued', at }];
      return e.verification ? [{ projectId, metric: 'otp.requested', at }] : [];
    });
    const stats = this.stats.recordSql(this.db, counted);
    if (stats) parts.push(stats);
    if (parts.length === 0) return;
    const main = parts.pop()!;
    const sql =
      parts.length === 0 ? main.sql : `with ${parts.map((p, i) => `w${i} as (${p.sql})`).join(', ')} ${main.sql}`;
    await this.db.raw(sql, [...parts.flatMap((p) => p.bindings), ...main.bindings] as Knex.RawBinding[]);
    this.metrics.messagesMoved(
      entries.map((e) => e.message),
      'QUEUED',
    );
  }

  /**
   * The rows are committed: a failed or slow signal (Redis down) only delays them until the
   * recovery sweep, so the request's answer does not wait for it beyond the dependency timeout.
   */
  private async signal(entries: AcceptedMessage[]): Promise<void> {
    // A scheduled message is held until its time: its release (a delayed maintenance run) signals
    // its device then, and the release sweep stands in for a lost one.
    const devices: string[] = [];
    const times: Date[] = [];
    for (const { message } of entries) {
      if (message.scheduledAt) times.push(message.scheduledAt);
      else if (message.deviceId) devices.push(message.deviceId);
    }
    const signals = Promise.all([
      this.dispatch.signal(devices),
      times.length > 0 ? this.dispatch.signalRelease(times) : undefined,
    ]);
    await withinDeadline(signals, this.config.dependencyTimeoutMs, 'dispatch signal').catch((error) =>
      this.log.warn({ err: error }, 'dispatch signal failed; the recovery sweep will send these'),
    );
  }
}
