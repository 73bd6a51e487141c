/**
 * 1. send-otp throughput: autocannon, 50 connections, 15 s, every request a fresh number, after
 * a warm-up run with the same settings (the ceiling gets the same), so both are measured with
 * their code compiled by the JIT rather than while it compiles.
 * The server's RSS is sampled throughout (peak = "under load"); afterwards the bench waits
 * (bounded) for the phone to receive every accepted OTP, so the next phase starts quiet.
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

export const SEND_OTP = { connections: 50, durationS: 15, warmUpS: Number(process.env.BENCH_WARMUP_S ?? 5) };

export interface SendOtpResult {
  load: LoadResult;
  /** Error codes of the non-201 answers. */
  errorCodes: Record<string, number>;
  accepted: number;
  rssPeakMiB: number | undefined;
  cpuPercent: Record<string, number>;
  pgWaits: PgWaits | undefined;
  /** The phone receiving what was accepted, after the load stopped. */
  delivery: DrainResult;
}

export async function sendOtpPhase(ctx: BenchContext): Promise<SendOtpResult> {
  await warmUp(ctx);
  await ctx.phones.reset();
  const errorCodes: Record<string, number> = {};
  let accepted = 0;
  const watch = await observe(ctx);
  const load = await runLoad({
    title: 'send-otp',
    url: ctx.smx.url,
    connections: SEND_OTP.connections,
    durationS: SEND_OTP.durationS,
    headers: { ...JSON_HEADERS, 'x-smx-api-key': ctx.apiKey },
    requests: [
      sendOtpRequest(ctx, (status, body) => {
        if (status !== 201) return tally(errorCodes, `${status} ${errorCodeOf(body)}`);
        accepted++;
        const id = field(body, 'verificationId');
        if (id) ctx.challenges.push(id);
      }),
    ],
  });
  const { cpuPercent, pgWaits } = await watch.end();
  const rssPeakMiB = peakRss(ctx, load.startedAt, load.finishedAt);
  const delivery = await waitForPhones(ctx.phones, accepted, { title: 'send-otp → phone', timeoutMs: 45_000 });
  return { load, errorCodes, accepted, rssPeakMiB, cpuPercent, pgWaits, delivery };
}

/** The same load for SEND_OTP.warmUpS, then a (bounded) wait until the phone has all of it. */
async function warmUp(ctx: BenchContext): Promise<void> {
  if (SEND_OTP.warmUpS <= 0) return;
  await ctx.phones.reset();
  let accepted = 0;
  await runLoad({
    title: 'send-otp warm-up',
    url: ctx.smx.url,
    connections: SEND_OTP.connections,
    durationS: SEND_OTP.warmUpS,
    headers: { ...JSON_HEADERS, 'x-smx-api-key': ctx.apiKey },
    requests: [sendOtpRequest(ctx, (status) => void (status === 201 && accepted++))],
  });
  await waitForPhones(ctx.phones, accepted, { title: 'warm-up → phone', timeoutMs: 45_000 });
}
