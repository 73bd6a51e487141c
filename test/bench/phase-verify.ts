/**
 * 5. verify-otp throughput: autocannon, 50 connections, 10 s, over a pool of at least 5,000
 * challenges (max 10 attempts each), rotating through it with a wrong code. The pool is the
 * challenges the earlier phases created, topped up with fresh send-otp calls when short.
 * A wrong code answers 200 (verified: false) until the 10th try; after that 409
 * VERIFICATION_FAILED, which is still a verify request served. The mix is reported.
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
import type { PgWaits } from './pg-waits.js';
import { runLoad, type LoadResult } from './load.js';
import { note } from './progress.js';

export const VERIFY = { connections: 50, durationS: 10, pool: 5000, wrongCode: '000000' };

export interface VerifyResult {
  pool: number;
  toppedUp: number;
  load: LoadResult;
  /** "200 verified:false", "409 VERIFICATION_FAILED", ... */
  answers: Record<string, number>;
  rssPeakMiB: number | undefined;
  cpuPercent: Record<string, number>;
  pgWaits: PgWaits | undefined;
}

async function topUp(ctx: BenchContext): Promise<number> {
  const missing = VERIFY.pool - ctx.challenges.length;
  if (missing <= 0) return 0;
  note(`verify pool: ${ctx.challenges.length} challenges, creating ${missing} more`);
  await runLoad({
    title: 'verify pool',
    url: ctx.smx.url,
    connections: 20,
    amount: missing,
    headers: { ...JSON_HEADERS, 'x-smx-api-key': ctx.apiKey },
    requests: [
      sendOtpRequest(ctx, (status, body) => {
        const id = status === 201 ? field(body, 'verificationId') : undefined;
        if (id) ctx.challenges.push(id);
      }),
    ],
  });
  return missing;
}

export async function verifyPhase(ctx: BenchContext): Promise<VerifyResult> {
  const toppedUp = await topUp(ctx);
  const pool = [...ctx.challenges];
  let next = 0;
  const answers: Record<string, number> = {};
  const watch = await observe(ctx);
  const load = await runLoad({
    title: 'verify-otp',
    url: ctx.smx.url,
    connections: VERIFY.connections,
    durationS: VERIFY.durationS,
    headers: { ...JSON_HEADERS, 'x-smx-api-key': ctx.apiKey },
    requests: [
      {
        method: 'POST',
        path: '/v1/verify-otp',
        setupRequest: (request: object) => ({
          ...request,
          body: JSON.stringify({ verificationId: pool[next++ % pool.length], otp: VERIFY.wrongCode }),
        }),
        onResponse: (status: number, body: string) => {
          if (status === 200) tally(answers, `200 verified:${body.includes('"verified":true') ? 'true' : 'false'}`);
          else tally(answers, `${status} ${errorCodeOf(body)}`);
        },
      } as never,
    ],
  });
  const { cpuPercent, pgWaits } = await watch.end();
  return {
    pool: pool.length,
    toppedUp,
    load,
    answers,
    rssPeakMiB: peakRss(ctx, load.startedAt, load.finishedAt),
    cpuPercent,
    pgWaits,
  };
}
