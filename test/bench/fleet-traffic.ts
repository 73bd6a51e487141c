/**
 * Traffic through the fleet: send-otp offered at a fixed rate (evenly spaced, or autocannon's bursts), a
 * bounded wait until the phones hold every accepted message, and what the phones saw: lost,
 * duplicate copies, each phone's share and pace, end-to-end latency (phone receipt − the request's
 * planned start under the even load, the API's `createdAt` in bursts; one machine, one clock) and
 * that latency above the pacing wait.
 */
import { errorCodeOf, field, JSON_HEADERS, tally } from './context.js';
import { cpuSeconds, CpuWindow, type CpuSubject } from './cpu.js';
import { inParallel } from './fleet-link.js';
import type { FleetPool } from './fleet-pool.js';
import type { Receipt } from './fleet-phones.js';
import { runLoad, type LoadResult } from './load.js';
import type { NumberSource } from './numbers.js';
import { runPacedLoad } from './paced-load.js';
import { bar } from './progress.js';
import { round, summarize, type Summary } from './stats.js';

export interface Offer {
  title: string;
  url: string;
  apiKey: string;
  rate: number;
  durationS: number;
  numbers: NumberSource;
  /**
   * `even`: evenly spaced, open loop (paced-load.ts). `bursts`: autocannon's `overallRate` (each
   * second's requests sent at the start of the second; how the fleet figures before session 7
   * were taken).
   */
  shape: LoadShape;
}

export type LoadShape = 'even' | 'bursts';

export interface Traffic {
  offeredRate: number;
  durationS: number;
  load: Pick<LoadResult, 'okRps' | 'latencyMs' | 'statusCodes' | 'errors' | 'timeouts'>;
  errorCodes: Record<string, number>;
  accepted: number;
  delivered: number;
  /** Accepted and not at a phone when the bench stopped waiting. */
  lost: number;
  /** Those by the status SMX gives them then (QUEUED or DISPATCHED: late, not lost). */
  lostByStatus: Record<string, number>;
  /** Copies of a message the phone already had (any DUP flag). */
  duplicates: number;
  /** Seconds from the end of the load until the last accepted message was at a phone (or the wait gave up). */
  drainS: number;
  e2eMs: Rounded;
  /** Phone receipt − max(acceptance, the phone's previous receipt + one pacing interval): the wait pacing does not explain. */
  abovePaceMs?: Rounded;
  perPhone: {
    phonesUsed: number;
    minShare: number;
    maxShare: number;
    minGapMs: number | null;
    maxIn60s: number;
    overPace: number;
  };
  cpuPercent: Record<string, number>;
  /** SMX CPU time over the load and the drain, per delivered message. */
  smxCpuUsPerMessage: number | null;
  /** SMX's database pool over the phase (from /metrics): connections handed out, their mean wait, and none in time. */
  dbPool?: { acquires: number; meanWaitMs: number; timeouts: number };
}

type Rounded = Pick<Summary, 'count' | 'p50' | 'p90' | 'p99' | 'max'>;

const roundSummary = (values: number[]): Rounded => {
  const s = summarize(values);
  return { count: s.count, p50: round(s.p50), p90: round(s.p90), p99: round(s.p99), max: round(s.max) };
};

/**
 * Offers `offer.rate` OTP/s for `offer.durationS`, then waits (at most `drainTimeoutMs`, or until
 * nothing arrived for 15 s) for the phones. `paceIntervalMs` (60 000 / per-minute pace; 0 = unpaced)
 * drives the pace checks: a gap shorter than the interval minus 250 ms counts as over pace.
 */
export async function offerAndCollect(
  offer: Offer,
  pool: FleetPool,
  options: {
    paceIntervalMs: number;
    drainTimeoutMs: number;
    cpu: Record<string, CpuSubject>;
    smxPid: number;
    /** SMX's admin token: the phase reads the database pool's figures from /metrics. */
    adminToken?: string;
  },
): Promise<Traffic> {
  await pool.quiesce();
  await pool.reset();
  const poolBefore = options.adminToken ? await poolFigures(offer.url, options.adminToken) : undefined;
  const acceptedAt = new Map<string, number>();
  const errorCodes: Record<string, number> = {};
  const cpu = new CpuWindow(options.cpu);
  const smxCpuFrom = cpuSeconds(options.smxPid) ?? 0;
  const headers = { ...JSON_HEADERS, 'x-smx-api-key': offer.apiKey };
  const body = () => JSON.stringify({ to: offer.numbers.take() });
  // End to end counts from the request's planned start where the load knows it (even): time the
  // request waited for SMX to take it up counts too. In bursts, from SMX's createdAt (when the
  // API took it up), as before session 8.
  const onResponse = (status: number, text: string, plannedAtMs?: number) => {
    if (status !== 201) return tally(errorCodes, `${status} ${errorCodeOf(text)}`);
    const id = field(text, 'messageId');
    const from = plannedAtMs ?? Date.parse(field(text, 'createdAt') ?? '');
    if (id && !Number.isNaN(from)) acceptedAt.set(id, from);
  };
  const { title, url, rate, durationS } = offer;
  const load =
    offer.shape === 'even'
      ? await runPacedLoad({
          title,
          url,
          rate,
          durationS,
          connections: 200,
          method: 'POST',
          path: '/v1/send-otp',
          headers,
          body,
          onResponse,
        })
      : await runLoad({
          title,
          url,
          connections: Math.min(200, Math.max(10, Math.ceil(rate / 10))),
          durationS,
          overallRate: rate,
          headers,
          requests: [
            {
              method: 'POST',
              path: '/v1/send-otp',
              setupRequest: (request: object) => ({ ...request, body: body() }),
              // autocannon's third argument is its context, not a time.
              onResponse: (status: number, text: string) => onResponse(status, text),
            } as never,
          ],
        });
  await pool.expect([...acceptedAt.keys()]);
  const drain = await waitForReceipts(pool, acceptedAt.size, `${offer.title} → phones`, options.drainTimeoutMs);
  const cpuPercent = cpu.end();
  const smxCpu = (cpuSeconds(options.smxPid) ?? 0) - smxCpuFrom;
  const { receipts, copies } = await pool.dump();
  const arrived = new Set(receipts.map(([id]) => id));
  const lostByStatus = await statusesOf(
    offer,
    [...acceptedAt.keys()].filter((id) => !arrived.has(id)),
  );

  const e2e: number[] = [];
  const abovePace: number[] = [];
  const byPhone = new Map<number, Array<[at: number, accepted: number]>>();
  let delivered = 0;
  for (const [id, at, phone] of receipts) {
    const accepted = acceptedAt.get(id);
    if (accepted === undefined) continue;
    delivered++;
    e2e.push(at - accepted);
    let list = byPhone.get(phone);
    if (!list) byPhone.set(phone, (list = []));
    list.push([at, accepted]);
  }
  let minShare = Infinity;
  let maxShare = 0;
  let minGapMs = Infinity;
  let maxIn60s = 0;
  let overPace = 0;
  for (const list of byPhone.values()) {
    list.sort((a, b) => a[0] - b[0]);
    minShare = Math.min(minShare, list.length);
    maxShare = Math.max(maxShare, list.length);
    let windowStart = 0;
    for (let i = 0; i < list.length; i++) {
      const [at, accepted] = list[i]!;
      while (list[windowStart]![0] <= at - 60_000) windowStart++;
      maxIn60s = Math.max(maxIn60s, i - windowStart + 1);
      const previousAt = i === 0 ? null : list[i - 1]![0];
      abovePace.push(aboveThePace(at, accepted, previousAt, options.paceIntervalMs));
      if (previousAt === null) continue;
      const gap = at - previousAt;
      minGapMs = Math.min(minGapMs, gap);
      if (options.paceIntervalMs > 0 && gap < options.paceIntervalMs - 250) overPace++;
    }
  }
  if (process.env.FLEET_RECEIPTS_DUMP) await dumpReceipts(offer, receipts, acceptedAt, options.paceIntervalMs);
  const poolAfter = poolBefore && options.adminToken ? await poolFigures(offer.url, options.adminToken) : undefined;
  return {
    offeredRate: offer.rate,
    durationS: offer.durationS,
    load: {
      okRps: load.okRps,
      latencyMs: load.latencyMs,
      statusCodes: load.statusCodes,
      errors: load.errors,
      timeouts: load.timeouts,
    },
    errorCodes,
    accepted: acceptedAt.size,
    delivered,
    lost: acceptedAt.size - delivered,
    lostByStatus,
    duplicates: copies.filter(([id]) => acceptedAt.has(id)).length,
    drainS: round(drain.waitedMs / 1000),
    e2eMs: roundSummary(e2e),
    abovePaceMs: options.paceIntervalMs > 0 ? roundSummary(abovePace) : undefined,
    perPhone: {
      phonesUsed: byPhone.size,
      minShare: byPhone.size ? minShare : 0,
      maxShare,
      minGapMs: Number.isFinite(minGapMs) ? minGapMs : null,
      maxIn60s,
      overPace,
    },
    cpuPercent,
    smxCpuUsPerMessage: delivered > 0 ? round((smxCpu * 1e6) / delivered) : null,
    dbPool: poolBefore && poolAfter ? poolDelta(poolBefore, poolAfter) : undefined,
  };
}

/**
 * A receipt's latency above the pacing wait: from its acceptance, or from when the phone's pace
 * let it go after the phone's previous receipt, whichever is later.
 */
function aboveThePace(at: number, accepted: number, previousAt: number | null, paceIntervalMs: number): number {
  return at - Math.max(accepted, previousAt === null ? accepted : previousAt + paceIntervalMs);
}

/** Polls the pool every 250 ms until `target` expected ids arrived, `timeoutMs` passed or nothing came for 15 s. */
export async function waitForReceipts(
  pool: FleetPool,
  target: number,
  title: string,
  timeoutMs: number,
): Promise<{ complete: boolean; waitedMs: number }> {
  const started = Date.now();
  const progress = bar(title, target, 'msgs');
  let received = 0;
  let lastChange = Date.now();
  try {
    while (received < target && Date.now() - started < timeoutMs && Date.now() - lastChange < 15_000) {
      await new Promise((r) => setTimeout(r, 250));
      const now = (await pool.count()).expectedReceived;
      if (now !== received) lastChange = Date.now();
      received = now;
      progress.update(received, `${Math.round((Date.now() - started) / 1000)} s`);
    }
  } finally {
    progress.stop();
  }
  return { complete: received >= target, waitedMs: Date.now() - started };
}

/** The status SMX gives each message (`GET /v1/messages/:id`), counted; 16 requests at a time. */
async function statusesOf(offer: Offer, ids: string[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  await inParallel(ids, 16, async (id) => {
    const status = await fetch(`${offer.url}/v1/messages/${id}`, { headers: { 'x-smx-api-key': offer.apiKey } })
      .then(async (r) => (r.ok ? ((await r.json()) as { data: { status: string } }).data.status : `HTTP ${r.status}`))
      .catch(() => 'unreachable');
    tally(counts, status);
  });
  return counts;
}

/**
 * FLEET_RECEIPTS_DUMP=<path>: writes every receipt (id, accepted, at the phone, phone, the phone's
 * previous receipt) as JSON lines to `<path>-<phase>.jsonl`, and the message records SMX keeps
 * (GET /v1/messages/:id: dispatchedAt, ...) of the 300 latest above their pacing wait, to find
 * where a tail comes from.
 */
async function dumpReceipts(
  offer: Offer,
  receipts: Receipt[],
  acceptedAt: Map<string, number>,
  paceIntervalMs: number,
): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  const previous = new Map<number, number>();
  const rows = receipts
    .filter(([id]) => acceptedAt.has(id))
    .sort((a, b) => a[1] - b[1])
    .map(([id, at, phone, ackedAt]) => {
      const prev = previous.get(phone) ?? null;
      previous.set(phone, at);
      const accepted = acceptedAt.get(id)!;
      const above = aboveThePace(at, accepted, prev, paceIntervalMs);
      return { id, accepted, at, phone, prev, above, ackedAt };
    });
  const slowest = [...rows].sort((a, b) => b.above - a.above).slice(0, 300);
  const records: Record<string, unknown> = {};
  await inParallel(slowest, 16, async ({ id }) => {
    const r = await fetch(`${offer.url}/v1/messages/${id}`, { headers: { 'x-smx-api-key': offer.apiKey } });
    if (r.ok) records[id] = ((await r.json()) as { data: unknown }).data;
  });
  const name = `${process.env.FLEET_RECEIPTS_DUMP}-${offer.title.replace(/[^a-z0-9]+/gi, '_')}.jsonl`;
  await writeFile(name, rows.map((row) => JSON.stringify({ ...row, record: records[row.id] })).join('\n') + '\n');
}

interface PoolFigures {
  waitSum: number;
  waitCount: number;
  timeouts: number;
}

/** The database pool's counters from SMX's /metrics (undefined when it does not answer). */
async function poolFigures(url: string, adminToken: string): Promise<PoolFigures | undefined> {
  const text = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } })
    .then((r) => (r.ok ? r.text() : ''))
    .catch(() => '');
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  const figures = {
    waitSum: value('smx_db_pool_acquire_wait_seconds_sum'),
    waitCount: value('smx_db_pool_acquire_wait_seconds_count'),
    timeouts: value('smx_db_pool_acquire_timeouts_total'),
  };
  return Object.values(figures).every(Number.isFinite) ? figures : undefined;
}

function poolDelta(before: PoolFigures, after: PoolFigures): Traffic['dbPool'] {
  const acquires = after.waitCount - before.waitCount;
  return {
    acquires,
    meanWaitMs: acquires > 0 ? round(((after.waitSum - before.waitSum) * 1000) / acquires, 2) : 0,
    timeouts: after.timeouts - before.timeouts,
  };
}
