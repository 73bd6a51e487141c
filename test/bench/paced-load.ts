/**
 * An open-loop load at an even rate: request i leaves at start + i / rate, whatever the answers
 * before it took. autocannon's `overallRate` lets each connection send its share of a second as
 * fast as it can when the second starts, so every second begins with a burst of the whole
 * second's requests: the latency it reports is mostly the server working through that burst.
 * Phones' traffic comes spread out, so the fleet bench offers it spread out. Latency counts from
 * each request's planned start (a request that waited for a free connection waited in the
 * client, not on the wire, and still counts), so a slow server cannot lower the load it is
 * measured at (no coordinated omission).
 */
import { Agent, request } from 'node:http';
import { bar } from './progress.js';
import type { LoadResult } from './load.js';
import { percentile, round } from './stats.js';

export interface PacedLoadOptions {
  title: string;
  url: string;
  /** Requests per second, evenly spaced. */
  rate: number;
  durationS: number;
  /** Connections at most (kept alive); a request finding none free waits for one. */
  connections: number;
  method: 'POST';
  path: string;
  headers: Record<string, string>;
  /** The body of each request (called when it leaves). */
  body: () => string;
  /** Each answer, with its request's planned start (epoch ms: end-to-end latencies count from it). */
  onResponse: (status: number, body: string, plannedAtMs: number) => void;
}

/** A request without an answer after this counts as a timeout. */
const TIMEOUT_MS = 30_000;
/** How often the planned requests due by now are sent. */
const TICK_MS = 2;

export async function runPacedLoad(options: PacedLoadOptions): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const target = new URL(options.path, options.url);
  const total = Math.round(options.rate * options.durationS);
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  let errors = 0;
  let timeouts = 0;
  let answered = 0;
  let sentThisSecond = 0;
  const progress = bar(options.title, options.durationS, 's');

  const send = (plannedAt: number) =>
    new Promise<void>((resolve) => {
      const req = request(
        target,
        { method: options.method, agent, headers: options.headers, timeout: TIMEOUT_MS },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            latencies.push(performance.now() - plannedAt);
            const status = res.statusCode ?? 0;
            statusCodes[status] = (statusCodes[status] ?? 0) + 1;
            answered++;
            options.onResponse(status, Buffer.concat(chunks).toString('utf8'), startedAt + (plannedAt - start));
            resolve();
          });
        },
      );
      req.on('timeout', () => {
        timeouts++;
        req.destroy(new Error('timeout'));
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(options.body());
    });

  const startedAt = Date.now();
  const start = performance.now();
  const inFlight: Array<Promise<void>> = [];
  let next = 0;
  let second = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - start;
      // Every request planned up to now leaves now (a late tick catches up at once).
      while (next < total && (next * 1000) / options.rate <= elapsed) {
        inFlight.push(send(start + (next * 1000) / options.rate));
        next++;
        sentThisSecond++;
      }
      if (elapsed >= (second + 1) * 1000) {
        second++;
        progress.update(Math.min(second, options.durationS), `${sentThisSecond} req/s`);
        sentThisSecond = 0;
      }
      if (next >= total) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  await Promise.all(inFlight);
  const answeredWithinS = (performance.now() - start) / 1000;
  progress.stop();
  agent.destroy();
  const finishedAt = Date.now();
  const durationS = options.durationS;
  const ok = Object.entries(statusCodes).reduce((sum, [code, n]) => (code.startsWith('2') ? sum + n : sum), 0);
  latencies.sort((a, b) => a - b);
  return {
    title: options.title,
    connections: options.connections,
    durationS,
    responses: answered,
    // Over the time until the last answer: a server that falls behind answers the planned load
    // more slowly than it was offered, and that shows here.
    rps: round(answered / Math.max(durationS, answeredWithinS)),
    okRps: round(ok / Math.max(durationS, answeredWithinS)),
    latencyMs: {
      p50: round(percentile(latencies, 50)),
      p90: round(percentile(latencies, 90)),
      p99: round(percentile(latencies, 99)),
      mean: round(latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length), 2),
      max: round(latencies[latencies.length - 1] ?? 0),
    },
    statusCodes,
    errors,
    timeouts,
    startedAt,
    finishedAt,
  };
}
