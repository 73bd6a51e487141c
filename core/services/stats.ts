import type { Knex } from 'knex';
import { inject, injectable } from '../di.js';
import { apiError } from '../errors.js';
import { statsRangeProblems } from '../stats-range.js';
import { TOKENS } from '../tokens.js';

/** What is counted, per project and hour. */
export const METRICS = [
  'otp.requested',
  'otp.sent',
  'otp.delivered',
  'otp.failed',
  'otp.verified',
  'otp.expired',
  'sms.queued',
  'sms.sent',
  'sms.delivered',
  'sms.failed',
  'sms.expired',
] as const;
export type Metric = (typeof METRICS)[number];

export interface StatEvent {
  projectId: string;
  metric: Metric;
  at: Date;
  count?: number;
}

export type Interval = 'hour' | 'day';

export interface OtpFigures {
  /** Challenges created (send-otp, compat surfaces, test numbers). */
  requested: number;
  sent: number;
  delivered: number;
  failed: number;
  verified: number;
  expired: number;
  /**
   * verified / requested (0 when none was requested; at most 1 — a challenge created before the
   * range may be verified in it).
   */
  conversionRate: number;
}

export interface SmsFigures {
  queued: number;
  sent: number;
  delivered: number;
  failed: number;
  expired: number;
}

export interface StatsReport {
  from: string;
  to: string;
  interval: Interval;
  totals: { otp: OtpFigures; sms: SmsFigures };
  series: Array<{ start: string; otp: OtpFigures; sms: SmsFigures }>;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Rows each counter is spread over (see migrations/009-stats-shards.ts). */
const STATS_SHARDS = 8;

function hourOf(at: Date): Date {
  return new Date(Math.floor(at.getTime() / HOUR) * HOUR);
}

/**
 * Per-project hourly counters, written in the same transaction as the change they count, so
 * they always add up to the message log; /v1/stats reads a few rows instead of scanning it.
 */
@injectable()
export class StatsService {
  constructor(@inject(TOKENS.Knex) private readonly db: Knex) {}

  /**
   * Adds events in one statement, to one shard picked at random (concurrent writers rarely
   * wait on each other's counter rows); rows sorted, so writers lock in one order.
   */
  async record(trx: Knex | Knex.Transaction, events: StatEvent[]): Promise<void> {
    const upsert = this.recordSql(trx, events);
    if (upsert) await trx.raw(upsert.sql, upsert.bindings);
  }

  /**
   * record() for events a statement computes itself: SQL with `?` bindings for a data-modifying
   * CTE that adds up the rows of `events` (a CTE of project_id, metric, at) into the counters, to
   * one random shard, locking counter rows in record()'s order (project, hour, metric).
   */
  countEventsSql(events: string): { sql: string; bindings: readonly Knex.Value[] } {
    return {
      sql: `insert into stats_hourly (project_id, hour, metric, shard, count)
        select project_id, to_timestamp(floor(extract(epoch from at) / 3600) * 3600), metric, ?::int, count(*) from ${events}
        group by 1, 2, 3 order by project_id collate "C", 2, metric collate "C"
        on conflict (project_id, hour, metric, shard) do update set count = stats_hourly.count + excluded.count`,
      bindings: [Math.floor(Math.random() * STATS_SHARDS)],
    };
  }

  /** record()'s statement as SQL with `?` bindings (to embed in a larger statement), or undefined for no events. */
  recordSql(
    db: Knex | Knex.Transaction,
    events: StatEvent[],
  ): { sql: string; bindings: readonly Knex.Value[] } | undefined {
    if (events.length === 0) return undefined;
    const shard = Math.floor(Math.random() * STATS_SHARDS);
    const sums = new Map<string, { project_id: string; hour: Date; metric: Metric; shard: number; count: number }>();
    for (const e of events) {
      // Keyed by the hour's epoch ms (all 13 digits, so the keys sort like the times they are).
      const hourMs = Math.floor(e.at.getTime() / HOUR) * HOUR;
      const key = `${e.projectId}|${hourMs}|${e.metric}`;
      const row = sums.get(key);
      if (row) row.count += e.count ?? 1;
      else
        sums.set(key, {
          project_id: e.projectId,
          hour: new Date(hourMs),
          metric: e.metric,
          shard,
          count: e.count ?? 1,
        });
    }
    const rows = [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, row]) => row);
    return db('stats_hourly')
      .insert(rows)
      .onConflict(['project_id', 'hour', 'metric', 'shard'])
      .merge({ count: db.raw('stats_hourly.count + excluded.count') })
      .toSQL();
  }

  /**
   * Totals and a series over [from, to) in hourly or daily buckets (UTC). The counters are kept
   * per hour, so the window counted is [from, to) widened to whole hours; the answer's `from` and
   * `to` are that window, never the bounds as given.
   */
  async report(projectId: string, from: Date, to: Date, interval: Interval): Promise<StatsReport> {
    // The route reports these with the other fields' problems; a direct caller gets them here.
    const problems = statsRangeProblems(from, to, interval);
    if (problems.length > 0) throw apiError('VALIDATION_FAILED', { details: problems });
    const windowFrom = hourOf(from);
    const windowTo = new Date(Math.ceil(to.getTime() / HOUR) * HOUR);
    const step = interval === 'hour' ? HOUR : DAY;
    const start = new Date(Math.floor(from.getTime() / step) * step);
    const buckets = Math.ceil((windowTo.getTime() - start.getTime()) / step);
    const rows: Array<{ hour: Date; metric: Metric; count: number | string }> = await this.db('stats_hourly')
      .select('hour', 'metric', 'count')
      .where({ project_id: projectId })
      .where('hour', '>=', windowFrom)
      .where('hour', '<', windowTo);
    const series = Array.from({ length: buckets }, (_, i) => ({
      start: new Date(start.getTime() + i * step),
      counts: new Map<Metric, number>(),
    }));
    const totals = new Map<Metric, number>();
    for (const row of rows) {
      const at = new Date(row.hour).getTime();
      const index = Math.floor((at - start.getTime()) / step);
      const n = Number(row.count);
      totals.set(row.metric, (totals.get(row.metric) ?? 0) + n);
      const bucket = series[index];
      if (bucket) bucket.counts.set(row.metric, (bucket.counts.get(row.metric) ?? 0) + n);
    }
    return {
      from: windowFrom.toISOString(),
      to: windowTo.toISOString(),
      interval,
      totals: figures(totals),
      series: series.map((b) => ({ start: b.start.toISOString(), ...figures(b.counts) })),
    };
  }
}

function figures(counts: Map<Metric, number>): { otp: OtpFigures; sms: SmsFigures } {
  const n = (m: Metric) => counts.get(m) ?? 0;
  const requested = n('otp.requested');
  return {
    otp: {
      requested,
      sent: n('otp.sent'),
      delivered: n('otp.delivered'),
      failed: n('otp.failed'),
      verified: n('otp.verified'),
      expired: n('otp.expired'),
      conversionRate: requested === 0 ? 0 : Math.min(1, Math.round((n('otp.verified') / requested) * 10_000) / 10_000),
    },
    sms: {
      queued: n('sms.queued'),
      sent: n('sms.sent'),
      delivered: n('sms.delivered'),
      failed: n('sms.failed'),
      expired: n('sms.expired'),
    },
  };
}
