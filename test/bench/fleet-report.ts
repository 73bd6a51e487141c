/** The fleet bench's output: one table per N on stdout and results/fleet-<timestamp>.json (and fleet-latest.json). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LogDigest } from './child-logs.js';
import { renderGoals, type GoalVerdict } from './fleet-goals.js';
import type { Traffic } from './fleet-traffic.js';
import type { IdleResult, StormResult } from './fleet-storm.js';
import type { RestartResult } from './fleet-restart.js';
import type { MachineInfo } from './machine.js';

export interface UnpacedStep {
  rate: number;
  traffic: Traffic;
  passed: boolean;
}

export interface FleetRun {
  n: number;
  schema: string;
  redisPrefix: string;
  link?: { tokensS: number; linksS: number; linked: number; errors: Record<string, number> };
  storm?: StormResult;
  idle?: IdleResult;
  reference?: Traffic;
  fanout?: Traffic;
  restart?: RestartResult;
  unpaced?: { p99LimitMs: number; steps: UnpacedStep[]; best: number | null; paceChangeFailures: number };
  failures: Array<{ phase: string; error: string }>;
  serverLogs?: LogDigest;
  /** From the bench's SIGTERM (its phones already gone) to SMX's exit; null when it had to be SIGKILLed. */
  shutdown?: { seconds: number; exitCode: number | null };
  cleanup?: { schemaDropped: boolean; redisKeysDeleted: number; error?: string };
  durationS?: number;
  /** Issue 12's goals judged from this run (fleet-goals.ts). */
  goals?: GoalVerdict[];
}

export interface FleetReport {
  startedAt: string;
  finishedAt?: string;
  machine: MachineInfo;
  layout: string;
  settings: Record<string, unknown>;
  runs: FleetRun[];
}

const RESULTS_DIR = fileURLToPath(new URL('../../../test/bench/results/', import.meta.url));

export function writeFleetJson(report: FleetReport): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const text = `${JSON.stringify(report, null, 2)}\n`;
  const path = `${RESULTS_DIR}fleet-${report.startedAt.replace(/[:.]/g, '-')}.json`;
  writeFileSync(path, text);
  writeFileSync(`${RESULTS_DIR}fleet-latest.json`, text);
  return path;
}

const num = (v: number | null | undefined, unit = '') =>
  v === null || v === undefined || Number.isNaN(v) ? '–' : `${v.toLocaleString('en-US')}${unit}`;
const cpu = (c: Record<string, number> | undefined) =>
  c
    ? Object.entries(c)
        .map(([k, v]) => `${k} ${v}%`)
        .join(', ')
    : '–';
const tally = (c: Record<string, number> | undefined) =>
  c && Object.keys(c).length
    ? Object.entries(c)
        .map(([k, v]) => `${k}×${v}`)
        .join(', ')
    : 'none';

function trafficRows(label: string, t: Traffic | undefined): Array<[string, string]> {
  if (!t) return [];
  const rows: Array<[string, string]> = [
    [
      `${label}: offered / accepted / delivered`,
      `${t.offeredRate}/s for ${t.durationS} s: ${num(t.accepted)} accepted (${t.load.okRps}/s), ${num(t.delivered)} delivered, ${num(t.lost)} not arrived${t.lost ? ` (SMX then: ${tally(t.lostByStatus)})` : ''}, ${num(t.duplicates)} duplicate copies${Object.keys(t.errorCodes).length ? `; refused ${tally(t.errorCodes)}` : ''}`,
    ],
    [
      `${label}: e2e p50 / p99 / max`,
      `${num(t.e2eMs.p50, ' ms')} / ${num(t.e2eMs.p99, ' ms')} / ${num(t.e2eMs.max, ' ms')}${t.abovePaceMs ? `; above the pacing wait ${num(t.abovePaceMs.p50, ' ms')} / ${num(t.abovePaceMs.p99, ' ms')}` : ''}; the API's answer p50 / p99 ${num(t.load.latencyMs.p50, ' ms')} / ${num(t.load.latencyMs.p99, ' ms')}`,
    ],
    [
      `${label}: per phone`,
      `${t.perPhone.phonesUsed} phones used, share ${t.perPhone.minShare}–${t.perPhone.maxShare}, smallest gap ${num(t.perPhone.minGapMs, ' ms')}, most in 60 s ${t.perPhone.maxIn60s}, gaps under the pace ${t.perPhone.overPace}`,
    ],
    [
      `${label}: SMX CPU per message`,
      `${num(t.smxCpuUsPerMessage, ' µs')} (CPU: ${cpu(t.cpuPercent)}); drained ${t.drainS} s after the load`,
    ],
  ];
  if (t.dbPool)
    rows.push([
      `${label}: database pool`,
      `${num(t.dbPool.acquires)} connections handed out, mean wait ${t.dbPool.meanWaitMs} ms, ${t.dbPool.timeouts} timeouts`,
    ]);
  return rows;
}

export function renderRun(run: FleetRun): string {
  const rows: Array<[string, string]> = [];
  if (run.link)
    rows.push([
      'link',
      `${num(run.link.linked)} linked; tokens ${run.link.tokensS} s, links ${run.link.linksS} s; non-201 answers: ${tally(run.link.errors)}`,
    ]);
  const s = run.storm;
  if (s) {
    rows.push([
      'connect storm: all CONNACKs',
      `${s.allConnackS === null ? `not all: ${num(s.withConnack)} of ${num(s.phones)}` : `${s.allConnackS} s`}; CONNACK p50 ${num(s.connackMs.p50, ' ms')}, p99 ${num(s.connackMs.p99, ' ms')}, max ${num(s.connackMs.max, ' ms')}`,
    ]);
    rows.push([
      'connect storm: CONNACK timeouts',
      `${num(s.connackTimeouts)}; other client errors: ${tally(s.errors)}`,
    ]);
    rows.push([
      'connect storm: all online in SMX',
      s.allOnlineInSmxS === null ? 'not within 30 s' : `${s.allOnlineInSmxS} s`,
    ]);
    rows.push(['connect storm: kernel TCP counters', tally(s.kernel)]);
    rows.push(['connect storm: CPU / SMX RSS peak', `${cpu(s.cpuPercent)}; ${num(s.smxRssPeakMiB, ' MiB')}`]);
  }
  if (run.idle)
    rows.push([
      `idle (${run.idle.windowS} s after the storm)`,
      `SMX RSS ${num(run.idle.smxRssMiB, ' MiB')}; CPU ${cpu(run.idle.cpuPercent)}; ${num(run.idle.connected)} connected`,
    ]);
  rows.push(...trafficRows('one phone (reference)', run.reference));
  rows.push(...trafficRows('fan-out, paced', run.fanout));
  if (run.fanout && run.reference?.smxCpuUsPerMessage && run.fanout.smxCpuUsPerMessage) {
    rows.push([
      'fan-out / one phone, SMX CPU per message',
      `${Math.round((run.fanout.smxCpuUsPerMessage / run.reference.smxCpuUsPerMessage) * 100) / 100}×`,
    ]);
  }
  const r = run.restart;
  if (r) {
    rows.push([
      'restart: kill -9, from the kill',
      `SMX ready ${num(r.smxReadyS, ' s')}, every phone back ${num(r.allPhonesBackS, ' s')}, every message received ${num(r.allReceivedS, ' s')}`,
    ]);
    rows.push([
      'restart: messages',
      `${num(r.queued)} queued (bulk ${r.bulkStatus}), ${num(r.receivedBeforeKill)} at the phones before the kill, ${num(r.received)} received, ${num(r.lost)} lost; CONNACK timeouts ${num(r.connackTimeouts)}`,
    ]);
    rows.push([
      'restart: duplicates',
      `${num(r.duplicates)} copies, ${num(r.duplicatesWithDup)} with DUP=1; ${num(r.duplicatesOfPreKill)} of a message first received before the kill, ${num(r.duplicatesOfAcked)} of one PUBACKed ≥ 100 ms before it`,
    ]);
  }
  const u = run.unpaced;
  if (u) {
    for (const step of u.steps) {
      const t = step.traffic;
      rows.push([
        `pacing off @${step.rate}/s`,
        `${step.passed ? 'ok' : 'over'}: accepted ${t.load.okRps}/s, e2e p50 ${num(t.e2eMs.p50, ' ms')}, p99 ${num(t.e2eMs.p99, ' ms')}, lost ${t.lost}, dup ${t.duplicates}, SMX ${num(t.smxCpuUsPerMessage, ' µs')}/msg (SMX ${t.cpuPercent.smx ?? '–'}%)`,
      ]);
    }
    rows.push([
      `pacing off: best rate with p99 ≤ ${u.p99LimitMs} ms`,
      u.best === null
        ? 'none of the steps'
        : `${u.best}/s${u.paceChangeFailures ? ` (${u.paceChangeFailures} pace changes failed)` : ''}`,
    ]);
  }
  if (run.shutdown)
    rows.push([
      'shutdown: SIGTERM to exit',
      `${num(run.shutdown.seconds, ' s')}, exit code ${String(run.shutdown.exitCode)}`,
    ]);
  for (const f of run.failures) rows.push([`FAILED ${f.phase}`, f.error.split('\n')[0]!]);
  if (run.serverLogs?.distinct.length)
    rows.push([
      'SMX warnings/errors',
      run.serverLogs.distinct
        .slice(0, 5)
        .map((d) => `${d.count}× ${d.text}`)
        .join(' | '),
    ]);
  if (run.cleanup)
    rows.push([
      'clean-up',
      run.cleanup.error
        ? `failed: ${run.cleanup.error}`
        : `schema dropped, ${run.cleanup.redisKeysDeleted} Redis keys deleted`,
    ]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return [
    `N = ${run.n.toLocaleString('en-US')} phones (${run.durationS ?? '?'} s)`,
    ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`),
    ...(run.goals?.length
      ? ['', `goals at N = ${run.n.toLocaleString('en-US')} (issue 12)`, ...renderGoals(run.goals)]
      : []),
  ].join('\n');
}
