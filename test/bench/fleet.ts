/**
 * `npm run bench:fleet`: many phones on one `smx start` (issue 12, "Fleets, not one phone").
 *
 * Process layout (2 cores, nothing pinned): this process orchestrates and runs the load
 * generator (autocannon); SMX is one `smx start` child (API, embedded broker, workers); the phones
 * are plain mqtt.js clients in FLEET_PHONES_PER_CHILD-sized forked children (fleet-phones.ts);
 * PostgreSQL and Redis are the machine's servers. For each N of FLEET_N, with a fresh SMX, schema
 * and Redis prefix, every phase bounded in time:
 *   link     N link tokens and N links, 16 requests at a time; non-201 answers counted;
 *   storm    every phone connects in the same tick (clean: false, QoS 1, keepalive 60 s, 30 s
 *            CONNACK timeout); time to the last CONNACK, timeouts, kernel TCP counters;
 *   idle     60 s with all connected: SMX CPU and RSS over the second half;
 *   reference one phone of its own project, unpaced, at the fan-out's rate: SMX CPU per message;
 *   fanout   round-robin over the N phones at their pace (30/min), offered 80 % of the fleet's
 *            capacity for 30 s: lost, duplicates, per-phone pace, e2e and e2e above the pacing wait;
 *   restart  a 2,000-message bulk, kill -9 at the 202, start again: phones back, all received,
 *            duplicates and their DUP flag;
 *   unpaced  pacing off for every phone, rates stepped up (FLEET_UNPACED_RATES, 10 s each) until e2e
 *            p99 exceeds 100 ms, anything is lost or SMX takes < 95 % of the rate; when the first
 *            rate already fails, halved up to three times.
 * `link` and `storm` always run (the other phases need a connected fleet).
 *
 * Knobs (environment): FLEET_N (comma list, default 1000), FLEET_PHASES (subset of idle,
 * reference, fanout, restart, unpaced; default all), FLEET_PARALLEL (16), FLEET_LINK_FROM
 * (spread | single), FLEET_PHONES_PER_CHILD (2500), FLEET_STORM_TIMEOUT_S (120), FLEET_IDLE_S (60),
 * FLEET_PACE (per minute, 30), FLEET_LOAD_PERCENT (80), FLEET_LOAD (even | bursts: how send-otp is offered,
 * see fleet-traffic.ts), FLEET_FANOUT_S (30), FLEET_REFERENCE_S (15),
 * FLEET_UNPACED_RATES (250,500,1000,1500,2000,3000), FLEET_STEP_S (10), FLEET_P99_MS (100),
 * FLEET_RESTART_QUEUED (2000), FLEET_RESTART_KILL_DELAY_MS (0), FLEET_RESTART_TIMEOUT_S (90),
 * BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_SMX_NODE_ARGS (as `npm run bench`). Output: a table
 * per N on stdout, test/bench/results/fleet-<timestamp>.json and fleet-latest.json. Clean-up per
 * N: phones stopped, SMX stopped, schema `bench_fleet_<id>` dropped, Redis keys `bench-f<id>:*`
 * deleted (also after a failed phase).
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { deleteRedisPrefix, dropSchema } from './cleanup.js';
import type { CpuSubject } from './cpu.js';
import { linkFleet, setPace } from './fleet-link.js';
import { FleetPool } from './fleet-pool.js';
import type { ConnectOptions } from './fleet-phones.js';
import { renderRun, writeFleetJson, type FleetReport, type FleetRun, type UnpacedStep } from './fleet-report.js';
import { restartUnderFleet } from './fleet-restart.js';
import { connectStorm, idleWindow } from './fleet-storm.js';
import { offerAndCollect, type LoadShape } from './fleet-traffic.js';
import { SmxClient } from './http-client.js';
import { judgeGoals } from './fleet-goals.js';
import { machineInfo } from './machine.js';
import { NumberSource } from './numbers.js';
import { freePorts } from './ports.js';
import { note } from './progress.js';
import { RssSampler } from './rss.js';
import { SmxProcess } from './server-process.js';
import { round } from './stats.js';

const env = process.env;
const DATABASE_URL = env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ALL_PHASES = ['idle', 'reference', 'fanout', 'restart', 'unpaced'];

const list = (name: string, fallback: string) =>
  (env[name] ?? fallback)
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
function int(name: string, fallback: number, min: number, max: number): number {
  const value = Number(env[name] ?? fallback);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`${name}: expected a whole number ${min}..${max}, got ${env[name]}`);
  return value;
}

function loadShape(value: string): LoadShape {
  if (value !== 'even' && value !== 'bursts') throw new Error(`FLEET_LOAD: expected even or bursts, got ${value}`);
  return value;
}

const SETTINGS = {
  ns: list('FLEET_N', '1000').map(Number),
  phases: list('FLEET_PHASES', ALL_PHASES.join(',')),
  parallel: int('FLEET_PARALLEL', 16, 1, 256),
  linkFrom: env.FLEET_LINK_FROM ?? 'spread',
  perChild: int('FLEET_PHONES_PER_CHILD', 2500, 1, 20_000),
  connect: { keepaliveS: 60, connectTimeoutMs: 30_000, reconnectBaseMs: 2000 } satisfies ConnectOptions,
  stormTimeoutS: int('FLEET_STORM_TIMEOUT_S', 120, 10, 600),
  idleS: int('FLEET_IDLE_S', 60, 2, 600),
  pacePerMinute: int('FLEET_PACE', 30, 1, 6000),
  loadPercent: int('FLEET_LOAD_PERCENT', 80, 1, 100),
  fanoutS: int('FLEET_FANOUT_S', 30, 5, 600),
  load: loadShape(env.FLEET_LOAD ?? 'even'),
  referenceS: int('FLEET_REFERENCE_S', 15, 5, 600),
  unpacedRates: list('FLEET_UNPACED_RATES', '250,500,1000,1500,2000,3000').map(Number),
  stepS: int('FLEET_STEP_S', 10, 3, 120),
  p99LimitMs: int('FLEET_P99_MS', 100, 1, 60_000),
  restartQueued: int('FLEET_RESTART_QUEUED', 2000, 1, 10_000),
  killDelayMs: int('FLEET_RESTART_KILL_DELAY_MS', 0, 0, 60_000),
  restartTimeoutS: int('FLEET_RESTART_TIMEOUT_S', 90, 10, 600),
};

// Every phone connects from 127.0.0.1: the per-source limits (64 pending, 200/s by default) would
// refuse most of the fleet. Raised for the SMX child (SmxProcess passes the environment on).
env.SMX_MQTT_MAX_PENDING_PER_SOURCE ??= '1000000';
env.SMX_MQTT_CONNECT_RATE_PER_SOURCE ??= '1000000';
const SOURCE_LIMITS = `SMX_MQTT_MAX_PENDING_PER_SOURCE=${env.SMX_MQTT_MAX_PENDING_PER_SOURCE}, SMX_MQTT_CONNECT_RATE_PER_SOURCE=${env.SMX_MQTT_CONNECT_RATE_PER_SOURCE} (all phones connect from 127.0.0.1)`;
const LAYOUT =
  'bench process = orchestration + autocannon; SMX = one `smx start` child (API, embedded broker, workers); ' +
  `phones = mqtt.js clients in forked children of ≤ ${SETTINGS.perChild}; PostgreSQL and Redis are local servers; 2 cores shared, unpinned`;

async function runOne(n: number, report: FleetReport): Promise<FleetRun> {
  const started = Date.now();
  const id = randomBytes(4).toString('hex');
  const run: FleetRun = { n, schema: `bench_fleet_${id}`, redisPrefix: `bench-f${id}`, failures: [] };
  report.runs.push(run);
  const has = (phase: string) => SETTINGS.phases.includes(phase);
  let smx: SmxProcess | undefined;
  let pool: FleetPool | undefined;
  let rss: RssSampler | undefined;
  const numbers = new NumberSource();
  const cpu = (extra: Record<string, CpuSubject> = {}): Record<string, CpuSubject> => ({
    smx: smx?.pid,
    bench: process.pid,
    ...Object.fromEntries((pool?.pids ?? []).map((pid, i) => [`phones${i + 1}`, pid])),
    ...extra,
    postgres: { name: 'postgres' },
    redis: { name: 'redis-server' },
  });
  const phase = async <T>(name: string, work: () => Promise<T>): Promise<T | undefined> => {
    if (!smx?.running) return void run.failures.push({ phase: name, error: 'skipped: SMX is not running' });
    note(`N=${n}: ${name}`);
    try {
      return await work();
    } catch (err) {
      note(`N=${n}: ${name} failed: ${(err as Error).message}`);
      run.failures.push({ phase: name, error: (err as Error).stack ?? String(err) });
      return undefined;
    }
  };

  try {
    const [httpPort, mqttPort, mqttWsPort] = await freePorts(3);
    note(`N=${n}: starting SMX (schema ${run.schema}, Redis prefix ${run.redisPrefix}); ${SOURCE_LIMITS}`);
    smx = await SmxProcess.start({
      databaseUrl: DATABASE_URL,
      schema: run.schema,
      redisUrl: REDIS_URL,
      redisPrefix: run.redisPrefix,
      adminToken: `adm_${randomBytes(24).toString('hex')}`,
      secret: randomBytes(32).toString('hex'),
      httpPort: httpPort!,
      mqttPort: mqttPort!,
      mqttWsPort: mqttWsPort!,
    });
    rss = new RssSampler(smx.pid, 500).start();
    const client = new SmxClient(smx.url, smx.options.adminToken);

    const fleet = await phase('link', () => linkFleet(client, n, SETTINGS.parallel));
    if (!fleet) return run;
    run.link = {
      tokensS: round(fleet.tokensS),
      linksS: round(fleet.linksS),
      linked: fleet.devices.length,
      errors: fleet.errors,
    };
    if (SETTINGS.pacePerMinute !== 30)
      await setPace(
        client,
        fleet.devices.map((d) => d.deviceId),
        SETTINGS.pacePerMinute,
        SETTINGS.parallel,
      );
    pool = await FleetPool.start(fleet.devices, SETTINGS.perChild);
    const phones = fleet.devices.length;
    run.storm = await phase('storm', () =>
      connectStorm(pool!, {
        phones,
        connect: SETTINGS.connect,
        timeoutS: SETTINGS.stormTimeoutS,
        client,
        projectId: fleet.projectId,
        cpu: cpu(),
        rss: rss!,
      }),
    );
    if (!run.storm) return run;
    if (has('idle'))
      run.idle = await phase('idle', () => idleWindow(pool!, { seconds: SETTINGS.idleS, cpu: cpu(), rss: rss! }));

    const fanoutRate = Math.max(1, Math.round((phones * SETTINGS.pacePerMinute * SETTINGS.loadPercent) / 100 / 60));
    if (has('reference')) {
      run.reference = await phase('reference', async () => {
        const one = await linkFleet(client, 1, 1, 'reference');
        if (one.devices.length !== 1)
          throw new Error(`the reference phone did not link: ${JSON.stringify(one.errors)}`);
        await setPace(client, [one.devices[0]!.deviceId], 0, 1);
        const single = await FleetPool.start(one.devices, 1);
        try {
          await single.connect(SETTINGS.connect);
          const deadline = Date.now() + 30_000;
          while ((await single.count()).connected < 1 && Date.now() < deadline)
            await new Promise((r) => setTimeout(r, 200));
          await new Promise((r) => setTimeout(r, 1000)); // presence settles: routing sees it online
          const title = `one phone @${fanoutRate}/s`;
          return await offerAndCollect(
            {
              title,
              url: smx!.url,
              apiKey: one.apiKey,
              rate: fanoutRate,
              durationS: SETTINGS.referenceS,
              numbers,
              shape: SETTINGS.load,
            },
            single,
            {
              paceIntervalMs: 0,
              drainTimeoutMs: 60_000,
              cpu: cpu(Object.fromEntries(single.pids.map((pid) => ['reference', pid]))),
              smxPid: smx!.pid,
              adminToken: smx!.options.adminToken,
            },
          );
        } finally {
          await single.stop();
        }
      });
    }
    if (has('fanout')) {
      const title = `fan-out @${fanoutRate}/s`;
      run.fanout = await phase('fanout', () =>
        offerAndCollect(
          {
            title,
            url: smx!.url,
            apiKey: fleet.apiKey,
            rate: fanoutRate,
            durationS: SETTINGS.fanoutS,
            numbers,
            shape: SETTINGS.load,
          },
          pool!,
          {
            paceIntervalMs: 60_000 / SETTINGS.pacePerMinute,
            drainTimeoutMs: 60_000 + SETTINGS.fanoutS * 1000,
            cpu: cpu(),
            smxPid: smx!.pid,
            adminToken: smx!.options.adminToken,
          },
        ),
      );
    }
    if (has('restart')) {
      const restarted = await phase('restart', () =>
        restartUnderFleet(smx!, pool!, {
          phones,
          apiKey: fleet.apiKey,
          queued: SETTINGS.restartQueued,
          killDelayMs: SETTINGS.killDelayMs,
          timeoutS: SETTINGS.restartTimeoutS,
          numbers: () => numbers.take(),
        }),
      );
      if (restarted) {
        run.restart = restarted.result;
        smx = restarted.smx;
        rss.stop();
        if (smx) rss = new RssSampler(smx.pid, 500).start();
      }
    }
    if (has('unpaced')) {
      run.unpaced = await phase('unpaced', async () => {
        const live = new SmxClient(smx!.url, smx!.options.adminToken);
        note(`N=${n}: pacing off for ${phones} phones`);
        const paceChangeFailures = await setPace(
          live,
          fleet.devices.map((d) => d.deviceId),
          0,
          SETTINGS.parallel,
        );
        const steps: UnpacedStep[] = [];
        let best: number | null = null;
        const step = async (rate: number) => {
          const traffic = await offerAndCollect(
            {
              title: `pacing off @${rate}/s`,
              url: smx!.url,
              apiKey: fleet.apiKey,
              rate,
              durationS: SETTINGS.stepS,
              numbers,
              shape: SETTINGS.load,
            },
            pool!,
            {
              paceIntervalMs: 0,
              drainTimeoutMs: 30_000,
              cpu: cpu(),
              smxPid: smx!.pid,
              adminToken: smx!.options.adminToken,
            },
          );
          // Passed: SMX answered (nearly) the offered rate as it came, nothing was lost and p99
          // (from each request's planned start) stayed under the limit.
          const passed =
            traffic.e2eMs.p99 <= SETTINGS.p99LimitMs &&
            traffic.lost === 0 &&
            traffic.accepted >= 0.95 * rate * SETTINGS.stepS &&
            traffic.load.okRps >= 0.95 * rate;
          steps.push({ rate, traffic, passed });
          return passed;
        };
        for (const rate of SETTINGS.unpacedRates) {
          if (!(await step(rate))) break;
          best = rate;
        }
        // Even the first rate was too much: halve it (at most three times, not below 10/s) to find one that holds.
        for (
          let rate = Math.floor(SETTINGS.unpacedRates[0]! / 2), tries = 0;
          best === null && rate >= 10 && tries < 3;
          rate = Math.floor(rate / 2), tries++
        ) {
          if (await step(rate)) best = rate;
        }
        return { p99LimitMs: SETTINGS.p99LimitMs, steps, best, paceChangeFailures };
      });
    }
  } catch (err) {
    run.failures.push({ phase: 'setup', error: (err as Error).stack ?? String(err) });
  } finally {
    await pool?.stop().catch((err: Error) => note(`phones stop: ${err.message}`));
    if (smx) {
      const stopping = Date.now();
      const code = await smx.stop();
      run.shutdown = { seconds: round((Date.now() - stopping) / 1000), exitCode: code };
      if (code !== 0) run.failures.push({ phase: 'shutdown', error: `SMX exited with ${String(code)} on SIGTERM` });
      run.serverLogs = smx.logDigest();
    }
    rss?.stop();
    run.cleanup = { schemaDropped: false, redisKeysDeleted: 0 };
    try {
      await dropSchema(DATABASE_URL, run.schema);
      run.cleanup.schemaDropped = true;
      run.cleanup.redisKeysDeleted = await deleteRedisPrefix(REDIS_URL, run.redisPrefix);
    } catch (err) {
      run.cleanup.error = (err as Error).message;
    }
    run.durationS = round((Date.now() - started) / 1000);
  }
  return run;
}

async function main(): Promise<number> {
  const unknown = SETTINGS.phases.filter((p) => !ALL_PHASES.includes(p) && p !== 'link' && p !== 'storm');
  if (unknown.length)
    throw new Error(
      `FLEET_PHASES: unknown phase ${unknown.join(', ')} (known: ${ALL_PHASES.join(', ')}; link and storm always run)`,
    );
  if (!SETTINGS.ns.every((v) => Number.isInteger(v) && v >= 1 && v <= 50_000))
    throw new Error(`FLEET_N: expected a comma list of 1..50000, got ${env.FLEET_N}`);
  if (!SETTINGS.unpacedRates.every((v) => Number.isInteger(v) && v >= 1 && v <= 50_000))
    throw new Error(`FLEET_UNPACED_RATES: expected a comma list of rates, got ${env.FLEET_UNPACED_RATES}`);
  const report: FleetReport = {
    startedAt: new Date().toISOString(),
    machine: machineInfo(),
    layout: LAYOUT,
    settings: { ...SETTINGS, sourceLimits: SOURCE_LIMITS },
    runs: [],
  };
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    note('interrupted: finishing the current step, then cleaning up (Ctrl-C again to abandon clean-up)');
    process.once('SIGINT', () => process.exit(130));
  });
  for (const n of SETTINGS.ns) {
    if (interrupted) break;
    const run = await runOne(n, report);
    run.goals = judgeGoals(run, { cores: report.machine.cpuCount, p99LimitMs: SETTINGS.p99LimitMs });
    process.stdout.write(`\n${renderRun(run)}\n`);
  }
  report.finishedAt = new Date().toISOString();
  const path = writeFleetJson(report);
  process.stdout.write(`\n${SOURCE_LIMITS}\nresults: ${path} (and results/fleet-latest.json)\n`);
  return report.runs.some((r) => r.failures.length > 0 || r.cleanup?.error) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench:fleet: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
