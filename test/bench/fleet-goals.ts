/**
 * Issue 12's goals, judged from one run's figures: each one met or not, with the figure, and for a
 * miss the measured reason the run itself shows (where the CPU went, what SMX sustained). Printed
 * under each N's table and kept in the JSON, so a run answers "which goals, and why not" by itself.
 */
import type { FleetRun } from './fleet-report.js';
import type { Traffic } from './fleet-traffic.js';

export interface GoalVerdict {
  goal: string;
  /** null: the phase did not run (or the goal is not set for this N). */
  met: boolean | null;
  detail: string;
}

export interface GoalSettings {
  /** Cores of the machine (its CPU figures are percent of one core). */
  cores: number;
  /** The unpaced p99 limit (ms). */
  p99LimitMs: number;
}

/** The goals' bounds, as issue 12 states them. */
export const GOALS = {
  stormS: 30,
  idleCpuPercent: 5,
  idleRssMiB: 1024,
  fanoutAbovePaceP99Ms: 1000,
  fanoutCpuRatio: 2,
  unpacedRate: 1000,
  restartS: 30,
} as const;

/** The fleet sizes the issue sets a goal for (the others are measured, not judged). */
const SET_FOR: Record<string, readonly number[]> = {
  fanoutLatency: [1000, 5000],
  restart: [5000],
  unpaced: [5000],
};

export function judgeGoals(run: FleetRun, settings: GoalSettings): GoalVerdict[] {
  const verdicts: GoalVerdict[] = [];
  const add = (goal: string, met: boolean | null, detail: string, setFor?: readonly number[]) =>
    verdicts.push(
      setFor && !setFor.includes(run.n)
        ? { goal, met: null, detail: `${detail}; the goal is set for N = ${setFor.join(' and ')}` }
        : { goal, met, detail },
    );

  if (run.link) {
    const errors = Object.values(run.link.errors).reduce((a, b) => a + b, 0);
    add('linking in parallel: 0 errors', errors === 0, `${errors} non-201 answers for ${run.link.linked} links`);
  }
  if (run.storm) {
    const s = run.storm;
    const met = s.allConnackS !== null && s.allConnackS <= GOALS.stormS && s.connackTimeouts === 0;
    add(
      `connect storm: every CONNACK ≤ ${GOALS.stormS} s, 0 timeouts`,
      met,
      `${s.allConnackS === null ? 'not all' : `${s.allConnackS} s`}, ${s.connackTimeouts} timeouts` +
        (met ? '' : `; ${capacity(s.cpuPercent, settings)}`),
    );
  }
  if (run.idle) {
    const cpu = run.idle.cpuPercent.smx ?? null;
    const rss = run.idle.smxRssMiB ?? null;
    add(
      `idle: SMX CPU ≤ ${GOALS.idleCpuPercent} %, RSS ≤ 1 GB`,
      cpu !== null && rss !== null ? cpu <= GOALS.idleCpuPercent && rss <= GOALS.idleRssMiB : null,
      `CPU ${cpu ?? '–'} %, RSS ${rss ?? '–'} MiB with ${run.idle.connected} connected`,
    );
  }
  if (run.fanout) {
    const t = run.fanout;
    const clean = t.lost === 0 && t.duplicates === 0 && t.perPhone.overPace === 0;
    add(
      'fan-out: accepted = delivered, 0 lost, 0 duplicates, no phone over its pace',
      clean,
      `${t.accepted} accepted, ${t.delivered} delivered within the drain, ${t.duplicates} duplicates, ${t.perPhone.overPace} gaps under the pace` +
        (clean ? '' : `; ${sustained(t, settings)}`),
    );
    const p99 = t.abovePaceMs?.p99 ?? null;
    const latencyMet = p99 !== null && p99 <= GOALS.fanoutAbovePaceP99Ms && t.lost === 0;
    add(
      `fan-out: e2e p99 ≤ ${GOALS.fanoutAbovePaceP99Ms / 1000} s above the pacing wait`,
      p99 === null ? null : latencyMet,
      `p99 ${p99 ?? '–'} ms over the ${t.delivered} delivered` + (latencyMet ? '' : `; ${sustained(t, settings)}`),
      SET_FOR.fanoutLatency,
    );
    const one = run.reference?.smxCpuUsPerMessage ?? null;
    const many = t.smxCpuUsPerMessage;
    if (one !== null && many !== null) {
      const ratio = Math.round((many / one) * 100) / 100;
      add(
        `fan-out: SMX CPU per message ≤ ${GOALS.fanoutCpuRatio}× one phone's`,
        ratio <= GOALS.fanoutCpuRatio,
        `${ratio}× (${many} µs against ${one} µs)`,
      );
    }
  }
  if (run.restart) {
    const r = run.restart;
    const slowest = Math.max(r.allPhonesBackS ?? Infinity, r.allReceivedS ?? Infinity);
    const dupOk = r.duplicatesWithDup === r.duplicates && r.duplicatesOfAcked === 0;
    add(
      `restart (kill -9): every phone back and every message received ≤ ${GOALS.restartS} s, 0 lost`,
      slowest <= GOALS.restartS && r.lost === 0,
      `phones back ${r.allPhonesBackS ?? 'not all'} s, messages ${r.allReceivedS ?? 'not all'} s, ${r.lost} lost` +
        (slowest <= GOALS.restartS ? '' : `; SMX itself was ready after ${r.smxReadyS ?? '–'} s`),
      SET_FOR.restart,
    );
    add(
      'restart: duplicates only of messages never PUBACKed, each with DUP=1',
      dupOk,
      `${r.duplicates} copies, ${r.duplicatesWithDup} with DUP=1, ${r.duplicatesOfAcked} of a PUBACKed message`,
      SET_FOR.restart,
    );
  }
  if (run.unpaced) {
    const u = run.unpaced;
    const failed = u.steps.find((step) => !step.passed && step.rate > (u.best ?? 0));
    add(
      `pacing off: p99 ≤ ${settings.p99LimitMs} ms at ≥ ${GOALS.unpacedRate}/s`,
      (u.best ?? 0) >= GOALS.unpacedRate,
      `best ${u.best ?? 'none'}/s` +
        (failed
          ? `; at ${failed.rate}/s: p99 ${failed.traffic.e2eMs.p99} ms, ${sustained(failed.traffic, settings)}`
          : ''),
      SET_FOR.unpaced,
    );
  }
  return verdicts;
}

/** What SMX kept up with, and what the CPU did meanwhile. */
function sustained(t: Traffic, settings: GoalSettings): string {
  const perMessageMs = t.smxCpuUsPerMessage === null ? null : t.smxCpuUsPerMessage / 1000;
  const needed =
    perMessageMs === null
      ? ''
      : `, ${Math.round(perMessageMs * t.offeredRate) / 10} % of a core needed by SMX alone at ${t.offeredRate}/s (${Math.round(perMessageMs * 100) / 100} ms a message)`;
  return `${capacity(t.cpuPercent, settings)}${needed}`;
}

function capacity(cpu: Record<string, number>, settings: GoalSettings): string {
  const machine = cpu.machine;
  const parts = ['smx', 'postgres', 'redis']
    .filter((k) => cpu[k] !== undefined)
    .map((k) => `${k} ${cpu[k]} %`)
    .join(', ');
  return `CPU ${parts}; machine ${machine ?? '–'} % of ${settings.cores * 100} %`;
}

export function renderGoals(verdicts: GoalVerdict[]): string[] {
  return verdicts.map(
    (v) =>
      `  ${v.met === null ? '·' : v.met ? '✓' : '✗'} ${v.goal}: ${v.met === null ? 'measured' : v.met ? 'met' : 'NOT met'} (${v.detail})`,
  );
}
