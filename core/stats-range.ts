import type { ErrorDetail } from './errors.js';

export type StatsInterval = 'hour' | 'day';

const HOUR = 3_600_000;
const STEP = { hour: HOUR, day: 24 * HOUR } as const;
/** Longest range per interval, so a series stays a readable size. */
export const STATS_MAX_BUCKETS = { hour: 24 * 31, day: 366 } as const;
/** The range when `from` is not given: this long before `to`. */
export const STATS_DEFAULT_SPAN = { hour: 24 * HOUR, day: 30 * 24 * HOUR } as const;

/** The range /v1/stats reports: given bounds, else `to` = now and `from` a default span before it. */
export function statsRange(
  q: { from?: string; to?: string; interval?: StatsInterval },
  now = new Date(),
): { from: Date; to: Date; interval: StatsInterval } {
  const interval = q.interval ?? 'hour';
  const to = q.to ? new Date(q.to) : now;
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - STATS_DEFAULT_SPAN[interval]);
  return { from, to, interval };
}

/** What is wrong with a stats range (order; size, when the interval is known), as VALIDATION_FAILED details. */
export function statsRangeProblems(from: Date, to: Date, interval: StatsInterval | undefined): ErrorDetail[] {
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) return [];
  if (!(to > from)) return [{ field: 'to', message: 'to must be after from' }];
  if (interval === undefined) return [];
  const step = STEP[interval];
  const buckets = Math.ceil((to.getTime() - Math.floor(from.getTime() / step) * step) / step);
  if (buckets > STATS_MAX_BUCKETS[interval]) {
    return [
      {
        field: 'from',
        message: `at most ${STATS_MAX_BUCKETS[interval]} ${interval}s per request; use interval=day or a shorter range`,
      },
    ];
  }
  return [];
}
