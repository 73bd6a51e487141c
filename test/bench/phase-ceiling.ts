/**
 * 2. The naive ceiling: the same autocannon settings against ceiling-server.ts (one Redis SET and
 * one PostgreSQL INSERT per request) in a child process of its own, while SMX idles, after the
 * same warm-up as send-otp.
 */
import { JSON_HEADERS, observe, sendOtpRequest, type BenchContext } from './context.js';
import { IpcChild } from './ipc.js';
import type { PgWaits } from './pg-waits.js';
import { runLoad, type LoadResult } from './load.js';
import { SEND_OTP } from './phase-send-otp.js';
import { freePorts } from './ports.js';

export interface CeilingResult {
  load: LoadResult;
  rowsInserted: number;
  cpuPercent: Record<string, number>;
  pgWaits: PgWaits | undefined;
}

export async function ceilingPhase(ctx: BenchContext): Promise<CeilingResult> {
  const [port] = await freePorts(1);
  const child = IpcChild.fork(new URL('./ceiling-server.js', import.meta.url), 'ceiling', {
    CEILING_PORT: String(port),
    DATABASE_URL: ctx.databaseUrl,
    CEILING_SCHEMA: ctx.schema,
    REDIS_URL: ctx.redisUrl,
    CEILING_REDIS_PREFIX: ctx.redisPrefix,
  });
  try {
    await child.request('start');
    const request = {
      url: `http://127.0.0.1:${port}`,
      connections: SEND_OTP.connections,
      headers: { ...JSON_HEADERS, 'x-smx-api-key': ctx.apiKey },
    };
    if (SEND_OTP.warmUpS > 0)
      await runLoad({
        ...request,
        title: 'ceiling warm-up',
        durationS: SEND_OTP.warmUpS,
        requests: [sendOtpRequest(ctx, () => undefined)],
      });
    const watch = await observe(ctx, { ceiling: child.pid });
    const load = await runLoad({
      ...request,
      title: 'ceiling',
      durationS: SEND_OTP.durationS,
      // The same request builder as send-otp (fresh numbers), minus nothing: same body size.
      requests: [sendOtpRequest(ctx, () => undefined)],
    });
    const { cpuPercent, pgWaits } = await watch.end();
    const rowsInserted = await child.request<number>('rows');
    return { load, rowsInserted, cpuPercent, pgWaits };
  } finally {
    await child.stop();
  }
}
