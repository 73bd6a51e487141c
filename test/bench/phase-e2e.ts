/**
 * 3. End-to-end latency at a fixed rate: send-otp paced at 1,000/s (autocannon overallRate over
 * 100 connections, so a slow answer does not stall the pace) for 10 s. The phones child notes
 * Date.now() when the phone's onSend fired. Latency = that - the time the API accepted the OTP,
 * which is its `createdAt` (SMX stamps it when the request is taken up, before the write). The
 * bench also notes when the 201 arrived: a slow answer makes "201 → phone" short or negative,
 * so it is shown beside, not instead. All on the same machine's wall clock.
 */
import {
  errorCodeOf,
  field,
  JSON_HEADERS,
  observe,
  peakRss,
  sendOtpRequest,
  tally,
  type BenchContext,
} from './context.js';
import { waitForPhones, type DrainResult } from './drain.js';
import type { PgWaits } from './pg-waits.js';
import { runLoad, type LoadResult } from './load.js';
import { round, summarize, type Summary } from './stats.js';

/** BENCH_E2E_RATE changes the pace (e.g. to a rate SMX sustains, for unsaturated latencies). */
export const E2E = { rate: Number(process.env.BENCH_E2E_RATE ?? 1000), durationS: 10, connections: 100 };

export interface E2eResult {
  targetRate: number;
  load: LoadResult;
  errorCodes: Record<string, number>;
  accepted: number;
  received: number;
  /** received - createdAt (the API's acceptance), ms, over the messages that arrived. */
  latencyMs: Summary;
  /** received - arrival of the 201 at the bench, ms. */
  fromAnswerMs: Summary;
  /** Messages whose phone receipt was stamped before the 201 arrived (dispatch raced the answer). */
  receivedBeforeAnswer: number;
  delivery: DrainResult;
  rssPeakMiB: number | undefined;
  cpuPercent: Record<string, number>;
  pgWaits: PgWaits | undefined;
}

export async function e2ePhase(ctx: BenchContext): Promise<E2eResult> {
  await ctx.phones.reset();
  const acceptedAt = new Map<string, number>();
  const answeredAt = new Map<string, number>();
  const errorCodes: Record<string, number> = {};
  const watch = await observe(ctx);
  const load = await runLoad({
    title: `e2e @${E2E.rate}/s`,
    url: ctx.smx.url,
    connections: E2E.connections,
    durationS: E2E.durationS,
    overallRate: E2E.rate,
    headers: { ...JSON_HEADERS, 'x-smx-api-key': ctx.apiKey },
    requests: [
      sendOtpRequest(ctx, (status, body) => {
        const now = Date.now();
        if (status !== 201) return tally(errorCodes, `${status} ${errorCodeOf(body)}`);
        const messageId = field(body, 'messageId');
        const createdAt = Date.parse(field(body, 'createdAt') ?? '');
        if (messageId && !Number.isNaN(createdAt)) {
          acceptedAt.set(messageId, createdAt);
          answeredAt.set(messageId, now);
        }
        const id = field(body, 'verificationId');
        if (id) ctx.challenges.push(id);
      }),
    ],
  });
  await ctx.phones.expect([...acceptedAt.keys()]);
  const delivery = await waitForPhones(ctx.phones, acceptedAt.size, {
    title: 'e2e → phone',
    timeoutMs: 30_000,
    pick: (c) => c.expectedReceived,
  });
  const { cpuPercent, pgWaits } = await watch.end();
  const rssPeakMiB = peakRss(ctx, load.startedAt, Date.now());
  const latencies: number[] = [];
  const fromAnswer: number[] = [];
  let receivedBeforeAnswer = 0;
  for (const [id, receivedAt] of await ctx.phones.dump()) {
    const accepted = acceptedAt.get(id);
    const answered = answeredAt.get(id);
    if (accepted === undefined || answered === undefined) continue;
    latencies.push(receivedAt - accepted);
    fromAnswer.push(receivedAt - answered);
    if (receivedAt < answered) receivedBeforeAnswer++;
  }
  const rounded = (values: number[]) => {
    const summary = summarize(values);
    for (const key of ['min', 'p50', 'p90', 'p99', 'max', 'mean'] as const) summary[key] = round(summary[key]);
    return summary;
  };
  return {
    targetRate: E2E.rate,
    load,
    errorCodes,
    accepted: acceptedAt.size,
    received: latencies.length,
    latencyMs: rounded(latencies),
    fromAnswerMs: rounded(fromAnswer),
    receivedBeforeAnswer,
    delivery,
    rssPeakMiB,
    cpuPercent,
    pgWaits,
  };
}
