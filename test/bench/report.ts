/** The bench's output: a table on stdout and a JSON file (results/<timestamp>.json and results/latest.json). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LogDigest } from './child-logs.js';
import type { MachineInfo } from './machine.js';
import type { PgWaits } from './pg-waits.js';
import type { BulkResult } from './phase-bulk.js';
import type { CeilingResult } from './phase-ceiling.js';
import type { E2eResult } from './phase-e2e.js';
import type { SendOtpResult } from './phase-send-otp.js';
import type { VerifyResult } from './phase-verify.js';

export interface BenchReport {
  startedAt: string;
  finishedAt?: string;
  durationS?: number;
  machine: MachineInfo;
  layout: string;
  settings: Record<string, unknown>;
  rss: {
    idleAfterStartMiB?: number;
    idleAfterSetupMiB?: number;
    peakSendOtpMiB?: number;
    peakWholeRunMiB?: number;
    endMiB?: number;
  };
  sendOtp?: SendOtpResult;
  ceiling?: CeilingResult;
  /** send-otp req/s divided by the ceiling's req/s. */
  sendOtpToCeiling?: number;
  e2e?: E2eResult;
  bulk?: BulkResult;
  verify?: VerifyResult;
  /** Phases that threw, with the message. */
  failures: Array<{ phase: string; error: string }>;
  serverLogs?: LogDigest;
  phoneLog?: string[];
  cleanup?: { schemaDropped: boolean; redisKeysDeleted: number; error?: string };
}

/** `other` CPU (not SMX, the phones, the bench, PostgreSQL or Redis) above this marks a phase as skewed. */
const NOISY_OTHER_PERCENT = 25;

const RESULTS_DIR = fileURLToPath(new URL('../../../test/bench/results/', import.meta.url));

/** Writes results/<timestamp>.json and results/latest.json; returns the first path. */
export function writeJson(report: BenchReport): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  const text = `${JSON.stringify(report, null, 2)}\n`;
  const path = `${RESULTS_DIR}${stamp}.json`;
  writeFileSync(path, text);
  writeFileSync(`${RESULTS_DIR}latest.json`, text);
  return path;
}

const n = (v: number | undefined, unit = '') =>
  v === undefined || Number.isNaN(v) ? '–' : `${Math.round(v).toLocaleString('en-US')}${unit}`;
const ms = (v: number | undefined) =>
  v === undefined || Number.isNaN(v) ? '–' : `${v >= 100 ? Math.round(v) : Math.round(v * 10) / 10} ms`;
const codes = (c: Record<string, number>) =>
  Object.entries(c)
    .map(([k, v]) => `${k}×${v}`)
    .join(', ') || 'none';
const cpu = (c: Record<string, number> | undefined) =>
  c
    ? Object.entries(c)
        .map(([k, v]) => `${k} ${v}%`)
        .join(' · ')
    : '';

/**
 * CPU time per answered request, in µs, per process and for the whole machine ("smx 537 · postgres 290 ·
 * … · machine 1,024"): what one send-otp costs against one ceiling request, wherever it is spent.
 */
const perRequest = (c: Record<string, number> | undefined, okRps: number) =>
  c && okRps > 0
    ? Object.entries(c)
        .filter(([k, v]) => v > 0 && k !== 'other')
        .map(([k, v]) => `${k} ${n(Math.round((v / 100) * (1e6 / okRps)))}`)
        .join(' · ')
    : '';

/** "avg 9.8 active: Lock:transactionid 61% · CPU 25% · …" */
const waits = (w: PgWaits | undefined) => {
  if (!w || w.samples === 0) return 'not sampled';
  const total = w.events.reduce((a, e) => a + e.count, 0) || 1;
  return `avg ${w.meanActive} active: ${w.events
    .slice(0, 4)
    .map((e) => `${e.event} ${Math.round((e.count / total) * 100)}%`)
    .join(' · ')}`;
};

export function renderTable(r: BenchReport): string {
  const rows: Array<[string, string]> = [];
  const m = r.machine;
  rows.push([
    'machine',
    `${m.cpuModel} × ${m.cpuCount} · ${(m.totalMemoryMiB / 1024).toFixed(1)} GiB · node ${m.node} · ${m.os} · load ${m.loadAverageAtStart} at start`,
  ]);
  if (r.sendOtp) {
    const s = r.sendOtp;
    rows.push([
      `send-otp (${s.load.connections} conn, ${s.load.durationS} s)`,
      `${n(s.load.okRps)} req/s (201) · p50 ${ms(s.load.latencyMs.p50)} · p99 ${ms(s.load.latencyMs.p99)} · ${n(s.load.responses)} answers`,
    ]);
    rows.push([
      '  non-201 answers',
      `${codes(s.errorCodes)}${s.load.errors ? ` · connection errors ${s.load.errors}` : ''}`,
    ]);
    // The phone may get a few more than autocannon counted: requests in flight when it stopped were still accepted.
    rows.push([
      '  phone received',
      `${n(s.delivery.received)} messages for ${n(s.accepted)} counted 201s, all within ${(s.delivery.waitedMs / 1000).toFixed(1)} s after the load${s.delivery.complete ? '' : ' (INCOMPLETE)'}`,
    ]);
    rows.push(['  cpu (1 core = 100%)', cpu(s.cpuPercent)]);
    rows.push(['  cpu µs per request', perRequest(s.cpuPercent, s.load.okRps)]);
    rows.push(['  postgres backends', waits(s.pgWaits)]);
  }
  if (r.ceiling) {
    const c = r.ceiling;
    rows.push([
      `ceiling SET+INSERT (${c.load.connections} conn)`,
      `${n(c.load.okRps)} req/s · p50 ${ms(c.load.latencyMs.p50)} · p99 ${ms(c.load.latencyMs.p99)} · ${n(c.rowsInserted)} rows`,
    ]);
    rows.push(['  cpu (1 core = 100%)', cpu(c.cpuPercent)]);
    rows.push(['  cpu µs per request', perRequest(c.cpuPercent, c.load.okRps)]);
    rows.push(['  postgres backends', waits(c.pgWaits)]);
  }
  if (r.sendOtpToCeiling !== undefined) rows.push(['send-otp / ceiling', `${(r.sendOtpToCeiling * 100).toFixed(1)} %`]);
  if (r.e2e) {
    const e = r.e2e;
    rows.push([
      `e2e @${e.targetRate}/s (${e.load.durationS} s)`,
      `p50 ${ms(e.latencyMs.p50)} · p99 ${ms(e.latencyMs.p99)} · max ${ms(e.latencyMs.max)} (accepted, i.e. createdAt → phone onSend)`,
    ]);
    rows.push([
      '  201 → phone',
      `p50 ${ms(e.fromAnswerMs.p50)} · p99 ${ms(e.fromAnswerMs.p99)}${e.receivedBeforeAnswer ? ` · ${n(e.receivedBeforeAnswer)} messages reached the phone before their 201 reached the bench` : ''}`,
    ]);
    rows.push([
      '  received / accepted',
      `${n(e.received)} / ${n(e.accepted)} · achieved ${n(e.load.okRps)} req/s · API p99 ${ms(e.load.latencyMs.p99)}${Object.keys(e.errorCodes).length ? ` · non-201: ${codes(e.errorCodes)}` : ''}`,
    ]);
    rows.push(['  cpu (1 core = 100%)', cpu(e.cpuPercent)]);
    rows.push(['  postgres backends', waits(e.pgWaits)]);
  }
  if (r.bulk) {
    const b = r.bulk;
    if (!b.available)
      rows.push(['bulk', `endpoint not available (${b.status}${b.errorCode ? ` ${b.errorCode}` : ''})`]);
    else {
      rows.push([
        `bulk ${b.requests.length}×10,000 (${b.mode})`,
        `accepted ${n(b.accepted)} in ${(b.acceptMs / 1000).toFixed(2)} s = ${n(b.acceptRate)} msg/s · rejected ${n(b.rejected)}`,
      ]);
      rows.push([
        '  to ONE phone',
        `received ${n(b.received)} in ${(b.deliverMs / 1000).toFixed(2)} s = ${n(b.deliverRate)} msg/s end to end · ${n(b.phoneRate)} msg/s first→last receipt${b.delivery.complete ? '' : ' (INCOMPLETE)'}`,
      ]);
      const bad = b.requests.filter((q) => q.status !== 202);
      if (bad.length) rows.push(['  failed requests', bad.map((q) => `${q.status} ${q.errorCode}`).join(', ')]);
      rows.push(['  cpu (1 core = 100%)', cpu(b.cpuPercent)]);
      rows.push(['  postgres backends', waits(b.pgWaits)]);
    }
  }
  if (r.verify) {
    const v = r.verify;
    rows.push([
      `verify-otp (${v.load.connections} conn, ${v.load.durationS} s)`,
      `${n(v.load.rps)} req/s · p50 ${ms(v.load.latencyMs.p50)} · p99 ${ms(v.load.latencyMs.p99)} · pool ${n(v.pool)}`,
    ]);
    rows.push(['  answers', codes(v.answers)]);
    rows.push(['  cpu (1 core = 100%)', cpu(v.cpuPercent)]);
    rows.push(['  postgres backends', waits(v.pgWaits)]);
  }
  rows.push([
    'server RSS',
    `idle ${n(r.rss.idleAfterStartMiB, ' MiB')} (after start) · ${n(r.rss.idleAfterSetupMiB, ' MiB')} (phone linked) · peak send-otp ${n(r.rss.peakSendOtpMiB, ' MiB')} · peak run ${n(r.rss.peakWholeRunMiB, ' MiB')}`,
  ]);
  if (r.serverLogs)
    rows.push([
      'server log (warn+)',
      Object.entries(r.serverLogs.byLevel)
        .map(([k, v]) => `${k} ${v}`)
        .join(' · ') || 'nothing',
    ]);
  const noisy = (
    [
      ['send-otp', r.sendOtp?.cpuPercent],
      ['ceiling', r.ceiling?.cpuPercent],
      ['e2e', r.e2e?.cpuPercent],
      ['bulk', r.bulk?.available ? r.bulk.cpuPercent : undefined],
      ['verify-otp', r.verify?.cpuPercent],
    ] as const
  ).filter(([, c]) => (c?.other ?? 0) >= NOISY_OTHER_PERCENT);
  if (noisy.length)
    rows.push([
      'WARNING',
      `other processes on the machine used CPU during ${noisy.map(([p, c]) => `${p} (${c!.other}%)`).join(', ')}: those numbers are low`,
    ]);
  for (const f of r.failures) rows.push([`FAILED ${f.phase}`, f.error.split('\n')[0]!]);
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  const title = `SMX bench · ${r.startedAt}${r.durationS ? ` · ${r.durationS} s` : ''}`;
  return [
    title,
    '─'.repeat(title.length),
    ...rows.map(([k, v]) => `${k.padEnd(width)}${v}`),
    '',
    `layout: ${r.layout}`,
  ].join('\n');
}
