import type { Knex } from 'knex';
import { inject, injectable } from '../di.js';
import { TOKENS } from '../tokens.js';
import type { MessageStatus, StatusUpdate } from '../services/messages.js';
import { StatsService, type Metric } from '../services/stats.js';
import { SmxMetrics } from '../smx-metrics.js';
import { OUTBOXED_COLUMN, OutboxRelay, outboxInsertSql, writeOutbox } from '../outbox.js';
import {
  CHANGED_COLUMNS,
  changedFromRow,
  changedReturning,
  type ChangedRow,
  type MessageChanged,
} from '../message-changed.js';

/**
 * Status order for "never backwards": a report applies only to a message that is not final and
 * only moves it forward; FAILED may follow SENT (a failed delivery report).
 */
const RANK_SQL = `case %s when 'QUEUED' then 0 when 'DISPATCHED' then 1 when 'SENT' then 2 when 'DELIVERED' then 3 else 4 end`;
const rank = (column: string) => RANK_SQL.replace('%s', column);
const FINAL = `('DELIVERED', 'FAILED', 'EXPIRED')`;

/** What each status-changing UPDATE returns: enough for the counters and the {@link MessageChanged} events. */
const RETURNING = [...CHANGED_COLUMNS];

/**
 * Every change of a message's status after it was queued, each in one statement and atomic with
 * the hourly counters it moves (so /v1/stats always adds up to the log) and with its
 * {@link MessageChanged} events (written to the outbox by the same statement or transaction;
 * relayed once committed). Each returns the changes it committed.
 */
@injectable()
export class MessageTransitions {
  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    private readonly stats: StatsService,
    private readonly outbox: OutboxRelay,
    private readonly metrics: SmxMetrics,
  ) {}

  /**
   * QUEUED → DISPATCHED (handed to the phone's broker session). Returns the messages that moved;
   * the others were skipped (see below) and the caller must not hand them out again while it runs.
   */
  async dispatched(messageIds: string[], at = new Date()): Promise<MessageChanged[]> {
    if (messageIds.length === 0) return [];
    // Rows are locked in id order, as every multi-row status change here does. A row another
    // statement holds is skipped, not waited for: the phone's report that holds it moves it past
    // DISPATCHED itself (its dispatched_at included). Until that report commits the row still
    // reads QUEUED, so the dispatcher keeps skipped ids out of its next reads, and out of the
    // device's next runs in this process for a while (DispatchPipeline, LeftQueued); a row left
    // QUEUED by anything else is handed over again by a later run, which the phone de-duplicates by id.
    const result = await this.db.raw(
      `with moved as (
         update messages set status = 'DISPATCHED', dispatched_at = ?, updated_at = ?
         where id in (select id from messages where id = any(?) and status = 'QUEUED' order by id for update skip locked)
         returning ${RETURNING.join(', ')}
       ),
       outboxed as (${outboxInsertSql(`(select *, 'DISPATCHED' as status, null::text as error, ?::timestamptz as at, 'smx' as origin from moved)`)})
       select *, ${OUTBOXED_COLUMN} from moved`,
      [at, at, messageIds, at.toISOString()],
    );
    const rows = result.rows as Array<ChangedRow & Outboxed>;
    this.metrics.dispatchBatchSize.observe(messageIds.length);
    this.metrics.messagesMoved(rows, 'DISPATCHED');
    if (rows[0]?.outboxed) this.outbox.poke();
    return rows.map((r) => changedFromRow(r, 'DISPATCHED', at, 'smx'));
  }

  /** Not-yet-final messages → FAILED with an error code (no route, canceled, refused). */
  async failed(messageIds: string[], error: string, at = new Date()): Promise<MessageChanged[]> {
    if (messageIds.length === 0) return [];
    return this.moved(
      'failed',
      at,
      (q) =>
        q
          .whereIn('id', messageIds)
          .whereRaw(`status not in ${FINAL}`)
          .update({ status: 'FAILED', error, failed_at: at, updated_at: at, body: null }, RETURNING),
      error,
    );
  }

  /**
   * Withdrawn messages (not needed any more: the challenge was canceled, verified or failed, or
   * resent) → FAILED with `reason`, if the phone has not sent them yet (QUEUED or DISPATCHED).
   * Not counted as failed in the stats: nothing went wrong with the delivery. Returns the changes
   * with the status each had before: the phone of one that was DISPATCHED should be told to cancel it.
   */
  async withdrawn(
    messageIds: string[],
    reason: string,
    at = new Date(),
  ): Promise<Array<MessageChanged & { was: MessageStatus }>> {
    if (messageIds.length === 0) return [];
    const rows: Array<ChangedRow & Outboxed & { was: MessageStatus }> = await this.db
      .raw(
        `with withdrawn as (
         update messages as m set status = 'FAILED', error = ?, failed_at = ?, updated_at = ?, body = null
         from (select id, status from messages where id = any(?) and status in ('QUEUED', 'DISPATCHED') order by id for update) as old
         where m.id = old.id
         returning m.id, m.project_id, m.kind, m.callback_url, m.device_id, old.status as was
       ),
       outboxed as (${outboxInsertSql(`(select id, project_id, kind, device_id, callback_url, 'FAILED' as status, ?::text as error, ?::timestamptz as at, 'smx' as origin from withdrawn)`)})
       select *, ${OUTBOXED_COLUMN} from withdrawn`,
        [reason, at, at, messageIds, reason, at.toISOString()],
      )
      .then((result: { rows: Array<ChangedRow & Outboxed & { was: MessageStatus }> }) => result.rows);
    if (rows[0]?.outboxed) this.outbox.poke();
    return rows.map((r) => ({ ...changedFromRow(r, 'FAILED', at, 'smx', reason), was: r.was }));
  }

  /** QUEUED or DISPATCHED → EXPIRED for the given ids. */
  async expired(messageIds: string[], at = new Date()): Promise<MessageChanged[]> {
    if (messageIds.length === 0) return [];
    return this.moved('expired', at, (q) =>
      q.whereIn('id', messageIds).whereIn('status', ['QUEUED', 'DISPATCHED']).update(expiredColumns(at), RETURNING),
    );
  }

  /**
   * Expires messages whose TTL passed before the phone sent them (maintenance). DISPATCHED ones
   * get a grace period: the phone may have sent at the last moment and its report be on the way.
   */
  async expiredDue(now = new Date(), dispatchedGraceMs = 60_000): Promise<MessageChanged[]> {
    return this.moved('expired', now, (q) =>
      q
        .where((w) => w.where({ status: 'QUEUED' }).andWhere('expires_at', '<=', now))
        .orWhere((w) =>
          w.where({ status: 'DISPATCHED' }).andWhere('expires_at', '<=', new Date(now.getTime() - dispatchedGraceMs)),
        )
        .update(expiredColumns(now), RETURNING),
    );
  }

  /**
   * Applies a phone's status updates in one statement, idempotently and never backwards: only
   * messages routed to that device move; duplicates and stale reports change nothing. A sealed
   * OTP body is wiped once the phone has sent it. Returns the changes (a jump to DELIVERED is one
   * change, to DELIVERED).
   */
  async reported(deviceId: string, updates: StatusUpdate[], receivedAt = new Date()): Promise<MessageChanged[]> {
    return this.reportedByDevices([{ deviceId, updates, receivedAt }]);
  }

  /**
   * {@link reported} for the reports of many phones in one statement (a fleet reports together):
   * each update moves only a message routed to the device that reported it.
   */
  async reportedByDevices(reports: readonly DeviceReport[]): Promise<MessageChanged[]> {
    // Fold the updates per device and id in the order given, as if each came in its own publish:
    // `sent` moves on to `delivered` or `failed`, and the first of those is final (a `failed`
    // after a `delivered` is backwards, like one in a later publish). A batch may carry sent and
    // delivered for one message, and then the time it was sent.
    const latest = new Map<
      string,
      {
        deviceId: string;
        id: string;
        state: StatusUpdate['state'];
        at: Date;
        error: string | null;
        sentAt: Date | null;
      }
    >();
    for (const { deviceId, updates, receivedAt } of reports) {
      for (const u of updates) {
        const key = `${deviceId}\n${u.id}`;
        const at = phoneTime(u.at, receivedAt);
        const prev = latest.get(key);
        const sentAt = u.state === 'sent' ? at : (prev?.sentAt ?? null);
        if (!prev || (prev.state === 'sent' && u.state !== 'sent'))
          latest.set(key, {
            deviceId,
            id: u.id,
            state: u.state,
            at,
            error: u.state === 'failed' ? (u.error ?? 'UNKNOWN') : null,
            sentAt,
          });
        else if (u.state === 'sent') prev.sentAt ??= at; // a later `sent` repeats; the first time stands
      }
    }
    if (latest.size === 0) return [];
    const rows = [...latest.values()];
    const receivedAt = new Date(Math.max(...reports.map((r) => r.receivedAt.getTime())));
    // Columns as arrays: six bindings however many updates (a statement takes at most 65,535).
    const columns = [
      rows.map((r) => r.deviceId),
      rows.map((r) => r.id),
      rows.map((r) => r.state.toUpperCase()),
      rows.map((r) => r.at.toISOString()),
      // (nulls inside an array binding are SQL NULLs; knex's binding types do not say so)
      rows.map((r) => r.error) as string[],
      rows.map((r) => r.sentAt?.toISOString() ?? null) as string[],
    ];
    // One statement, so atomic without a transaction: the update, and the counters it moves
    // (a jump to DELIVERED counts the message sent too, at the time it was sent).
    const counters = this.stats.countEventsSql('events');
    const result = await this.db.raw(
      `with v as (
         select * from unnest(?::text[], ?::text[], ?::text[], ?::timestamptz[], ?::text[], ?::timestamptz[])
           as v(device_id, id, status, at, error, sent_at)
       ),
       prev as (
         select m.id, m.sent_at as old_sent_at from messages m join v on v.id = m.id and v.device_id = m.device_id
         where m.status not in ${FINAL} and (v.status = 'FAILED' or ${rank('v.status')} > ${rank('m.status')})
         order by m.id
         for update of m
       ),
       changed as (
         update messages as m set
           status = v.status,
           error = coalesce(v.error, m.error),
           -- A message's times never run backwards (created <= dispatched <= sent <= delivered/failed),
           -- whatever the phone's clock says: a report can overtake the dispatcher's own mark (it was
           -- handed over by the time it was sent, at the latest, and not before it was created), and
           -- a phone clock a little behind the server's would put sent before dispatched, or before
           -- created when the report came first. (greatest/least ignore NULLs; m.* are the old values.)
           dispatched_at = coalesce(m.dispatched_at, greatest(least(v.sent_at, v.at), m.created_at)),
           sent_at = case when v.status in ('SENT', 'DELIVERED') then coalesce(m.sent_at, greatest(coalesce(v.sent_at, v.at), m.dispatched_at, m.created_at)) else m.sent_at end,
           delivered_at = case when v.status = 'DELIVERED' then greatest(v.at, m.sent_at, v.sent_at, m.dispatched_at, m.created_at) else m.delivered_at end,
           failed_at = case when v.status = 'FAILED' then greatest(v.at, m.sent_at, m.dispatched_at, m.created_at) else m.failed_at end,
           body = case when m.body_sealed then null else m.body end,
           updated_at = ?::timestamptz
         from v, prev
         where m.id = v.id and v.device_id = m.device_id and prev.id = m.id
         returning ${changedReturning('m')}, m.status, m.error, prev.old_sent_at is null as newly_sent, v.at, m.sent_at, m.created_at
       ),
       events(project_id, metric, at) as (
         select c.project_id, e.metric, e.at from changed c cross join lateral (values
           (case when c.newly_sent and c.status in ('SENT', 'DELIVERED') then c.kind || '.sent' end, coalesce(c.sent_at, c.at)),
           (case when c.status = 'DELIVERED' then c.kind || '.delivered' end, c.at),
           (case when c.status = 'FAILED' then c.kind || '.failed' end, c.at)
         ) as e(metric, at)
         where e.metric is not null
       ),
       counted as (${counters.sql}),
       -- Its webhook events, as the counters count them: a jump to DELIVERED is also a message.sent.
       outboxed as (${outboxInsertSql(`(
         select id, project_id, kind, device_id, callback_url, 'SENT' as status, null::text as error, at, 'phone' as origin from changed where newly_sent and status = 'DELIVERED'
         union all
         select id, project_id, kind, device_id, callback_url, status, case when status = 'FAILED' then error end, at, 'phone' as origin from changed
       )`)})
       select *, ${OUTBOXED_COLUMN} from changed`,
      [...columns, receivedAt.toISOString(), ...counters.bindings],
    );
    const changed = result.rows as Array<
      ChangedRow &
        Outboxed & {
          status: MessageStatus;
          error: string | null;
          newly_sent: boolean;
          at: Date | string;
          sent_at: Date | string | null;
          created_at: Date | string;
        }
    >;
    for (const r of changed) {
      // As the counters above: a jump to DELIVERED is also the message's `sent`.
      if (r.newly_sent && (r.status === 'SENT' || r.status === 'DELIVERED')) {
        this.metrics.messages.inc({ kind: r.kind, status: 'SENT' });
        this.metrics.sent(r.kind, r.created_at, r.sent_at ?? r.at);
      }
      if (r.status !== 'SENT') this.metrics.messages.inc({ kind: r.kind, status: r.status });
    }
    if (changed[0]?.outboxed) this.outbox.poke();
    return changed.map((r) => changedFromRow(r, r.status, r.at, 'phone', r.status === 'FAILED' ? r.error : null));
  }

  /** Runs one status-changing UPDATE (returning {@link RETURNING}) with the counters and events it moves, in one transaction. */
  private async moved(
    what: 'failed' | 'expired',
    at: Date,
    update: (q: Knex.QueryBuilder) => Knex.QueryBuilder | Promise<unknown>,
    error: string = 'EXPIRED',
  ): Promise<MessageChanged[]> {
    const status = what === 'failed' ? 'FAILED' : 'EXPIRED';
    let outboxed = false;
    const changes = await this.db.transaction(async (trx) => {
      const rows = (await update(trx('messages'))) as ChangedRow[];
      // An OTP's expiry is counted once, as its verification's (ChallengeService.expireDue), not per message.
      const counted = what === 'expired' ? rows.filter((r) => r.kind === 'sms') : rows;
      await this.stats.record(
        trx,
        counted.map((r) => ({ projectId: r.project_id, metric: `${r.kind}.${what}` as Metric, at })),
      );
      const changes = rows.map((r) => changedFromRow(r, status, at, 'smx', error));
      outboxed = await writeOutbox(trx, changes);
      return changes;
    });
    this.metrics.messagesMoved(changes, status);
    if (outboxed) this.outbox.poke();
    return changes;
  }
}

/** The flag {@link OUTBOXED_COLUMN} adds to every row: the statement wrote an outbox row. */
interface Outboxed {
  outboxed: boolean;
}

/** One phone's status updates, as received. */
export interface DeviceReport {
  deviceId: string;
  updates: StatusUpdate[];
  /** When SMX received them: the time of an update without its own, and the bound on the phone's clock. */
  receivedAt: Date;
}

function expiredColumns(at: Date) {
  return { status: 'EXPIRED', error: 'EXPIRED', updated_at: at, body: null };
}

/** How far a phone's own clock may be from the receipt time before its time is not believed. */
const PHONE_CLOCK_AHEAD_MS = 5 * 60_000;
const PHONE_REPORT_LATE_MS = 24 * 3_600_000;

/**
 * The time a phone gives for a report, if it is believable: a wrong phone clock (or a report
 * claiming the future) would put the message's times and the hourly counters out of place.
 */
function phoneTime(at: string | undefined, receivedAt: Date): Date {
  const t = at === undefined ? Number.NaN : Date.parse(at);
  if (
    Number.isNaN(t) ||
    t > receivedAt.getTime() + PHONE_CLOCK_AHEAD_MS ||
    t < receivedAt.getTime() - PHONE_REPORT_LATE_MS
  )
    return receivedAt;
  return new Date(t);
}
