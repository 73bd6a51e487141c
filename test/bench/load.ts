/** One autocannon run (in the bench process's main thread) with a progress bar, reduced to what the report needs. */
import autocannon from 'autocannon';
import { bar } from './progress.js';
import { round } from './stats.js';

export interface LoadOptions {
  title: string;
  url: string;
  connections: number;
  /** Seconds to run (or `amount` requests in total). */
  durationS?: number;
  amount?: number;
  /** Requests per second over all connections (paced load). */
  overallRate?: number;
  requests: autocannon.Request[];
  /** Sent with every request (the API key). */
  headers?: Record<string, string>;
}

export interface LoadResult {
  title: string;
  connections: number;
  durationS: number;
  /** Responses received (any status). */
  responses: number;
  /** Responses per second (responses / duration). */
  rps: number;
  /** 2xx per second. */
  okRps: number;
  latencyMs: { p50: number; p90: number; p99: number; mean: number; max: number };
  statusCodes: Record<string, number>;
  /** Connection errors and timeouts (no HTTP answer). */
  errors: number;
  timeouts: number;
  startedAt: number;
  finishedAt: number;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const startedAt = Date.now();
  let settle: { resolve: (r: autocannon.Result) => void; reject: (e: Error) => void } | undefined;
  const finished = new Promise<autocannon.Result>((resolve, reject) => (settle = { resolve, reject }));
  // autocannon validates keys that are present, even when undefined: pass only the ones in use.
  const config: autocannon.Options = {
    url: options.url,
    connections: options.connections,
    requests: options.requests,
    timeout: 30,
  };
  if (options.durationS !== undefined) config.duration = options.durationS;
  if (options.amount !== undefined) config.amount = options.amount;
  if (options.overallRate !== undefined) config.overallRate = options.overallRate;
  if (options.headers !== undefined) config.headers = options.headers;
  const instance = autocannon(config, (err, result) => (err ? settle!.reject(err) : settle!.resolve(result)));
  const total = options.amount ?? options.durationS ?? 0;
  const progress = bar(options.title, total, options.amount ? 'req' : 's');
  let seconds = 0;
  let done = 0;
  instance.on('tick', ((tick: { counter: number }) => {
    seconds++;
    done += tick.counter;
    progress.update(options.amount ? done : seconds, `${tick.counter} req/s`);
  }) as () => void);
  const result = await finished.finally(() => progress.stop());
  const finishedAt = Date.now();
  const statusCodes: Record<string, number> = {};
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stats.count ?? 0;
  const responses = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  const ok = Object.entries(statusCodes).reduce((sum, [code, n]) => (code.startsWith('2') ? sum + n : sum), 0);
  const durationS = result.duration;
  return {
    title: options.title,
    connections: result.connections,
    durationS: round(durationS, 2),
    responses,
    rps: round(responses / durationS),
    okRps: round(ok / durationS),
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      mean: round(result.latency.mean, 2),
      max: result.latency.max,
    },
    statusCodes,
    errors: result.errors,
    timeouts: result.timeouts,
    startedAt,
    finishedAt,
  };
}
