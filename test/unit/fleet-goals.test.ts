import test from 'ava';
import { judgeGoals } from '../bench/fleet-goals.js';
import type { FleetRun } from '../bench/fleet-report.js';
import type { Traffic } from '../bench/fleet-traffic.js';

const traffic = (over: Partial<Traffic>): Traffic =>
  ({
    offeredRate: 2000,
    durationS: 30,
    load: { okRps: 2000, latencyMs: {}, statusCodes: {}, errors: 0, timeouts: 0 },
    errorCodes: {},
    accepted: 60_000,
    delivered: 60_000,
    lost: 0,
    lostByStatus: {},
    duplicates: 0,
    drainS: 1,
    e2eMs: { count: 60_000, p50: 30, p90: 60, p99: 90, max: 120 },
    abovePaceMs: { count: 60_000, p50: 30, p90: 60, p99: 90, max: 120 },
    perPhone: { phonesUsed: 5000, minShare: 12, maxShare: 12, minGapMs: 2100, maxIn60s: 12, overPace: 0 },
    cpuPercent: { smx: 99, postgres: 70, redis: 10, machine: 196 },
    smxCpuUsPerMessage: 2100,
    ...over,
  }) as Traffic;

const run = (over: Partial<FleetRun>): FleetRun => ({ n: 5000, schema: 's', redisPrefix: 'p', failures: [], ...over });
const judge = (r: FleetRun) => judgeGoals(r, { cores: 2, p99LimitMs: 100 });
const verdict = (r: FleetRun, start: string) => judge(r).find((v) => v.goal.startsWith(start))!;

test('a fan-out that kept up meets its goals; one that fell behind says what the CPU did', (t) => {
  const kept = run({ fanout: traffic({}), reference: traffic({ smxCpuUsPerMessage: 1900 }) });
  t.true(verdict(kept, 'fan-out: e2e p99').met);
  t.true(verdict(kept, 'fan-out: accepted = delivered').met);
  t.true(verdict(kept, 'fan-out: SMX CPU per message').met);

  const behind = run({
    fanout: traffic({
      delivered: 43_200,
      lost: 16_800,
      abovePaceMs: { count: 43_200, p50: 9000, p90: 20_000, p99: 30_000, max: 40_000 },
    }),
    reference: traffic({ smxCpuUsPerMessage: 500 }),
  });
  const latency = verdict(behind, 'fan-out: e2e p99');
  t.false(latency.met);
  t.regex(latency.detail, /machine 196 % of 200 %/);
  t.regex(latency.detail, /420 % of a core needed by SMX alone at 2000\/s/);
  t.false(verdict(behind, 'fan-out: accepted = delivered').met);
  t.false(verdict(behind, 'fan-out: SMX CPU per message').met);
});

test('goals the issue sets for other fleet sizes are measured, not judged', (t) => {
  const small = run({
    n: 1000,
    restart: {
      queued: 2000,
      bulkStatus: 202,
      receivedBeforeKill: 10,
      smxReadyS: 5,
      allPhonesBackS: 40,
      allReceivedS: 41,
      received: 2000,
      lost: 0,
      duplicates: 0,
      duplicatesWithDup: 0,
      duplicatesOfPreKill: 0,
      duplicatesOfAcked: 0,
      connackTimeouts: 0,
    },
  });
  const restart = verdict(small, 'restart (kill -9)');
  t.is(restart.met, null);
  t.regex(restart.detail, /set for N = 5000/);
  t.false(verdict({ ...small, n: 5000 }, 'restart (kill -9)').met);
});

test('storm and idle are judged at every size', (t) => {
  const r = run({
    n: 10_000,
    storm: {
      phones: 10_000,
      allConnackS: 28.5,
      connackMs: { p50: 1, p90: 1, p99: 1, max: 1 },
      withConnack: 10_000,
      connackTimeouts: 0,
      errors: {},
      allOnlineInSmxS: 29,
      kernel: {},
      cpuPercent: {},
      smxRssPeakMiB: 500,
    },
    idle: { windowS: 60, cpuPercent: { smx: 6 }, smxRssMiB: 525, connected: 10_000 },
  });
  t.true(verdict(r, 'connect storm').met);
  t.false(verdict(r, 'idle').met);
});
