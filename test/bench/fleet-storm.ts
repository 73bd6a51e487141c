/**
 * The connect storm (every phone of the fleet connects in the same tick) and the idle window
 * after it. The storm reports the time until the last phone had its CONNACK, CONNACK timeouts,
 * when SMX showed every phone online, and the kernel's TCP counters of this network namespace
 * over the storm (accept-queue overflows, SYN-queue drops, SYN cookies, SYN retransmits): on one
 * machine they count both ends, which is the point — they show handshakes the listener dropped.
 */
import { readFileSync } from 'node:fs';
import { CpuWindow, type CpuSubject } from './cpu.js';
import type { FleetPool } from './fleet-pool.js';
import type { ConnectOptions } from './fleet-phones.js';
import type { SmxClient } from './http-client.js';
import { bar, note } from './progress.js';
import type { RssSampler } from './rss.js';
import { percentile, round } from './stats.js';

const KERNEL_COUNTERS = [
  'ListenOverflows',
  'ListenDrops',
  'TCPReqQFullDrop',
  'TCPReqQFullDoCookies',
  'SyncookiesSent',
  'TCPSynRetrans',
  'TCPTimeouts',
] as const;

/** TcpExt counters of /proc/net/netstat (empty off Linux). */
export function kernelCounters(): Record<string, number> {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const at = lines.findIndex((l) => l.startsWith('TcpExt:'));
    const names = lines[at]!.split(/\s+/).slice(1);
    const values = lines[at + 1]!.split(/\s+/).slice(1).map(Number);
    const out: Record<string, number> = {};
    for (const name of KERNEL_COUNTERS) {
      const i = names.indexOf(name);
      if (i >= 0) out[name] = values[i]!;
    }
    return out;
  } catch {
    return {};
  }
}

function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((k) => [k, after[k]! - (before[k] ?? 0)]));
}

export interface StormResult {
  phones: number;
  /** Start of the storm until the last phone's first CONNACK (null: not all within the bound). */
  allConnackS: number | null;
  connackMs: { p50: number; p90: number; p99: number; max: number };
  withConnack: number;
  connackTimeouts: number;
  errors: Record<string, number>;
  /** Start of the storm until SMX listed every device online (null: not within the bound). */
  allOnlineInSmxS: number | null;
  kernel: Record<string, number>;
  cpuPercent: Record<string, number>;
  smxRssPeakMiB: number | undefined;
}

/** Connects every phone at once; waits at most `timeoutS` for all CONNACKs, then up to 30 s for SMX to list them all online. */
export async function connectStorm(
  pool: FleetPool,
  options: {
    phones: number;
    connect: ConnectOptions;
    timeoutS: number;
    client: SmxClient;
    projectId: string;
    cpu: Record<string, CpuSubject>;
    rss: RssSampler;
  },
): Promise<StormResult> {
  const kernelBefore = kernelCounters();
  const cpu = new CpuWindow(options.cpu);
  const started = await pool.connect(options.connect);
  const progress = bar('connect storm', options.phones, 'phones');
  let count = await pool.count();
  try {
    while (count.everConnected < options.phones && Date.now() - started < options.timeoutS * 1000) {
      await new Promise((r) => setTimeout(r, 250));
      count = await pool.count();
      progress.update(
        count.everConnected,
        `${round((Date.now() - started) / 1000)} s, ${count.connackTimeouts} CONNACK timeouts`,
      );
    }
  } finally {
    progress.stop();
  }
  const cpuPercent = cpu.end();
  const kernel = delta(kernelBefore, kernelCounters());
  const smxRssPeakMiB = options.rss.peakBetween(started);
  const times = (await pool.connackTimes())
    .map(([first]) => (first === null ? null : first - started))
    .filter((t): t is number => t !== null)
    .sort((a, b) => a - b);

  let allOnlineInSmxS: number | null = null;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const answer = await options.client
      .admin<{ devices: Array<{ online: boolean }> }>('GET', `/admin/projects/${options.projectId}/devices`)
      .catch(() => undefined);
    const online = answer?.body?.data.devices.filter((d) => d.online).length ?? 0;
    if (online >= options.phones) {
      allOnlineInSmxS = round((Date.now() - started) / 1000);
      break;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  if (allOnlineInSmxS === null) note('storm: SMX did not list every device online within 30 s of the last CONNACK');
  return {
    phones: options.phones,
    allConnackS: count.lastFirstConnackAt === null ? null : round((count.lastFirstConnackAt - started) / 1000, 2),
    connackMs: {
      p50: percentile(times, 50),
      p90: percentile(times, 90),
      p99: percentile(times, 99),
      max: times.at(-1) ?? Number.NaN,
    },
    withConnack: count.everConnected,
    connackTimeouts: count.connackTimeouts,
    errors: count.errors,
    allOnlineInSmxS,
    kernel,
    cpuPercent,
    smxRssPeakMiB: smxRssPeakMiB === undefined ? undefined : round(smxRssPeakMiB),
  };
}

export interface IdleResult {
  windowS: number;
  /** Measured over the second half of the window (the first half lets the storm's tail settle). */
  cpuPercent: Record<string, number>;
  smxRssMiB: number | undefined;
  connected: number;
}

/** Waits `seconds` with every phone connected and idle (keepalives only). */
export async function idleWindow(
  pool: FleetPool,
  options: { seconds: number; cpu: Record<string, CpuSubject>; rss: RssSampler },
): Promise<IdleResult> {
  const half = (options.seconds * 1000) / 2;
  const started = Date.now();
  const progress = bar('idle', options.seconds, 's');
  const tick = setInterval(() => progress.update(Math.round((Date.now() - started) / 1000)), 1000);
  try {
    await new Promise((r) => setTimeout(r, half));
    const from = Date.now();
    const cpu = new CpuWindow(options.cpu);
    await new Promise((r) => setTimeout(r, half));
    const rss = options.rss.medianBetween(from);
    return {
      windowS: options.seconds,
      cpuPercent: cpu.end(),
      smxRssMiB: rss === undefined ? undefined : round(rss),
      connected: (await pool.count()).connected,
    };
  } finally {
    clearInterval(tick);
    progress.stop();
  }
}
