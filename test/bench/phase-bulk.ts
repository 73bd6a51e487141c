/**
 * 4. Bulk: 100,000 recipients as 10 POST /v1/send-sms/bulk requests of 10,000 messages each,
 * sent one after the other (sequentially), all routed to the project's ONE phone (the target is
 * dispatch >= 8,000 messages/s to a single device). Measured from the first request's start:
 * the time until the 10th 202 arrived, and the time until the phone received the last message.
 * A 404 on the first request means the endpoint does not exist yet: reported, not fatal.
 */
import { JSON_HEADERS, observe, peakRss, type BenchContext } from './context.js';
import type { PgWaits } from './pg-waits.js';
import { waitForPhones, type DrainResult } from './drain.js';
import { note } from './progress.js';
import { round } from './stats.js';

// receiveTimeoutMs counts from the last 202.
export const BULK = { requests: 10, perRequest: 10_000, receiveTimeoutMs: 45_000 } as const;

export interface BulkRequestResult {
  status: number;
  ms: number;
  accepted: number;
  rejected: number;
  batchId?: string;
  errorCode?: string;
}

export type BulkResult =
  | { available: false; status: number; errorCode?: string }
  | {
      available: true;
      mode: 'sequential';
      recipients: number;
      requests: BulkRequestResult[];
      accepted: number;
      rejected: number;
      /** First request sent -> last 202 received. */
      acceptMs: number;
      acceptRate: number;
      /** First request sent -> phone received the last accepted message (or the timeout). */
      deliverMs: number;
      /** received / deliverMs: the end-to-end rate of the whole bulk. */
      deliverRate: number;
      /** received / (last receipt - first receipt): the dispatch rate as the phone saw it. */
      phoneRate: number;
      received: number;
      delivery: DrainResult;
      rssPeakMiB: number | undefined;
      cpuPercent: Record<string, number>;
      pgWaits: PgWaits | undefined;
    };

function bulkBody(ctx: BenchContext, batch: number): string {
  const messages = Array.from({ length: BULK.perRequest }, (_, i) => ({
    to: ctx.numbers.take(),
    message: `SMX bench ${batch}-${i}`,
  }));
  return JSON.stringify({ messages });
}

async function post(ctx: BenchContext, body: string): Promise<BulkRequestResult> {
  const started = performance.now();
  const response = await fetch(`${ctx.smx.url}/v1/send-sms/bulk`, {
    method: 'POST',
    headers: { ...JSON_HEADERS, 'x-smx-api-key': ctx.apiKey },
    body,
  });
  const text = await response.text();
  const ms = round(performance.now() - started);
  let parsed: {
    success?: boolean;
    data?: { batchId?: string; accepted?: number; rejected?: unknown[] };
    error?: { code?: string };
  } = {};
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: reported as unparsed below
  }
  return {
    status: response.status,
    ms,
    accepted: parsed.data?.accepted ?? 0,
    rejected: Array.isArray(parsed.data?.rejected) ? parsed.data.rejected.length : 0,
    batchId: parsed.data?.batchId,
    errorCode: response.status === 202 ? undefined : (parsed.error?.code ?? 'unparsed'),
  };
}

export async function bulkPhase(ctx: BenchContext): Promise<BulkResult> {
  const bodies = Array.from({ length: BULK.requests }, (_, i) => bulkBody(ctx, i)); // built before the clock starts
  await ctx.phones.reset();
  const watch = await observe(ctx);
  const t0 = Date.now();
  const requests: BulkRequestResult[] = [];
  for (const [i, body] of bodies.entries()) {
    const result = await post(ctx, body);
    requests.push(result);
    note(
      `bulk request ${i + 1}/${BULK.requests}: ${result.status} in ${result.ms} ms, accepted ${result.accepted}, rejected ${result.rejected}${result.errorCode ? ` (${result.errorCode})` : ''}`,
    );
    if (i === 0 && result.status === 404) {
      await watch.end(); // stops the PostgreSQL sampler
      return { available: false, status: 404, errorCode: result.errorCode };
    }
    if (result.status !== 202) break; // a failing endpoint: report what happened, send no more
  }
  const acceptedAt = Date.now();
  const accepted = requests.reduce((n, r) => n + r.accepted, 0);
  const rejected = requests.reduce((n, r) => n + r.rejected, 0);
  const delivery = await waitForPhones(ctx.phones, accepted, {
    title: 'bulk → phone',
    timeoutMs: BULK.receiveTimeoutMs,
  });
  const { cpuPercent, pgWaits } = await watch.end();
  const last = delivery.last;
  const received = last.count;
  const deliverMs = (delivery.complete && last.lastAt ? last.lastAt : Date.now()) - t0;
  const phoneSpanMs = last.firstAt && last.lastAt ? last.lastAt - last.firstAt : 0;
  return {
    available: true,
    mode: 'sequential',
    recipients: BULK.requests * BULK.perRequest,
    requests,
    accepted,
    rejected,
    acceptMs: acceptedAt - t0,
    acceptRate: round(accepted / ((acceptedAt - t0) / 1000)),
    deliverMs,
    deliverRate: round(received / (deliverMs / 1000)),
    phoneRate: phoneSpanMs > 0 ? round(received / (phoneSpanMs / 1000)) : 0,
    received,
    delivery,
    rssPeakMiB: peakRss(ctx, t0, Date.now()),
    cpuPercent,
    pgWaits,
  };
}
