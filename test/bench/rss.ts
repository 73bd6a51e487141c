/** Samples a process's resident set size from /proc/<pid>/status (VmRSS) at a fixed interval. */
import { readFileSync } from 'node:fs';

/** VmRSS of `pid` in MiB, or undefined when the process is gone (or not on Linux). */
export function readRssMiB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export class RssSampler {
  private readonly samples: Array<[at: number, mib: number]> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly pid: number,
    readonly intervalMs = 200,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Takes one sample now and returns it. */
  sample(): number | undefined {
    const mib = readRssMiB(this.pid);
    if (mib !== undefined) this.samples.push([Date.now(), mib]);
    return mib;
  }

  /** Highest sample taken in [from, to] (ms since epoch); undefined when none. */
  peakBetween(from: number, to = Date.now()): number | undefined {
    let peak: number | undefined;
    for (const [at, mib] of this.samples) if (at >= from && at <= to && (peak === undefined || mib > peak)) peak = mib;
    return peak;
  }

  /** Median of the samples in [from, to]: the steady value of an idle window. */
  medianBetween(from: number, to = Date.now()): number | undefined {
    const values = this.samples
      .filter(([at]) => at >= from && at <= to)
      .map(([, mib]) => mib)
      .sort((a, b) => a - b);
    return values.length ? values[Math.floor(values.length / 2)] : undefined;
  }
}
