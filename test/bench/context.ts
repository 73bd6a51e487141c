/** What every phase gets: the running SMX, its API key, the phones, the samplers. */
import type autocannon from 'autocannon';
import { CpuWindow, type CpuSubject } from './cpu.js';
import { PgWaitSampler, type PgWaits } from './pg-waits.js';
import type { SmxClient } from './http-client.js';
import type { NumberSource } from './numbers.js';
import type { PhoneFleet } from './phone-fleet.js';
import type { RssSampler } from './rss.js';
import type { SmxProcess } from './server-process.js';
import { round } from './stats.js';

export interface BenchContext {
  smx: SmxProcess;
  client: SmxClient;
  apiKey: string;
  projectId: string;
  deviceId: string;
  phones: PhoneFleet;
  rss: RssSampler;
  numbers: NumberSource;
  /** verificationIds created during the run (max 10 attempts, 30 min TTL), for the verify phase. */
  challenges: string[];
  databaseUrl: string;
  redisUrl: string;
  schema: string;
  redisPrefix: string;
}

export const JSON_HEADERS = { 'content-type': 'application/json' };

/** The send-otp body used everywhere: a fresh number, 10 attempts (for the verify pool), 30 min TTL. */
export function sendOtpBody(ctx: BenchContext): string {
  return JSON.stringify({ to: ctx.numbers.take(), maxAttempts: 10, ttl: 1800 });
}

/** autocannon request that POSTs a fresh send-otp and hands each 201 (and error code) to `onAnswer`. */
export function sendOtpRequest(
  ctx: BenchContext,
  onAnswer: (status: number, body: string) => void,
): autocannon.Request {
  return {
    method: 'POST',
    path: '/v1/send-otp',
    setupRequest: (request: autocannon.Request) => ({ ...request, body: sendOtpBody(ctx) }),
    onResponse: (status: number, body: string) => onAnswer(status, body),
  } as autocannon.Request;
}

/** `"code":"X"` of an error envelope, without parsing the JSON (cheap on the load generator). */
export function errorCodeOf(body: string): string {
  return /"code":"([A-Z_]+)"/.exec(body)?.[1] ?? 'unparsed';
}

export function field(body: string, name: string): string | undefined {
  return new RegExp(`"${name}":"([^"]+)"`).exec(body)?.[1];
}

/** Counts per key. */
export function tally(into: Record<string, number>, key: string): void {
  into[key] = (into[key] ?? 0) + 1;
}

/** CPU use over a phase: the bench's processes, and the machine's PostgreSQL and Redis. */
export function cpuWindow(ctx: BenchContext, extra: Record<string, CpuSubject> = {}): CpuWindow {
  return new CpuWindow({
    smx: ctx.smx.pid,
    phones: ctx.phones.pid,
    bench: process.pid,
    ...extra,
    postgres: { name: 'postgres' },
    redis: { name: 'redis-server' },
  });
}

export interface Observation {
  /** % of one core per process (postgres and redis: the machine's servers, all their processes). */
  cpuPercent: Record<string, number>;
  pgWaits: PgWaits | undefined;
}

/** Starts watching a phase: CPU of every process involved and PostgreSQL wait events. */
export async function observe(
  ctx: BenchContext,
  extra: Record<string, CpuSubject> = {},
): Promise<{ end(): Promise<Observation> }> {
  const sampler = await new PgWaitSampler(ctx.databaseUrl).start().catch(() => undefined);
  const cpu = cpuWindow(ctx, extra);
  return {
    async end() {
      const cpuPercent = cpu.end();
      return { cpuPercent, pgWaits: await sampler?.stop() };
    },
  };
}

export function peakRss(ctx: BenchContext, from: number, to: number): number | undefined {
  const v = ctx.rss.peakBetween(from, to);
  return v === undefined ? undefined : round(v);
}
