/**
 * `npm run bench`: SMX's performance on this machine, end to end over real sockets.
 *
 * Process layout (the machine has 2 cores; nothing is pinned, the OS schedules):
 *   - this process: orchestration and the load generator (autocannon, main thread);
 *   - SMX: `node dist/bin/smx.js start` (API + embedded MQTT broker + workers in one process);
 *   - phones: a child process running the reference device(s), stamping each receipt;
 *   - ceiling: a bare Fastify child, started only for its phase.
 *   Redis and PostgreSQL are the machine's own servers. Each phase reports the CPU each process
 *   used (% of one core), so it shows who was the bottleneck.
 *
 * Phases, all bounded: send-otp (15 s) → ceiling (15 s) → e2e at 1,000/s (10 s) → bulk 10×10,000
 * (≤ 45 s after accepting) → verify-otp (10 s), with bounded waits for the phone in between.
 * Cleans up: children stopped, the bench schema dropped, the bench Redis keys deleted.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { deleteRedisPrefix, dropSchema } from './cleanup.js';
import type { BenchContext } from './context.js';
import { SmxClient, waitFor } from './http-client.js';
import { setupProject } from './setup.js';
import { machineInfo } from './machine.js';
import { NumberSource } from './numbers.js';
import { BULK, bulkPhase } from './phase-bulk.js';
import { ceilingPhase } from './phase-ceiling.js';
import { E2E, e2ePhase } from './phase-e2e.js';
import { SEND_OTP, sendOtpPhase } from './phase-send-otp.js';
import { VERIFY, verifyPhase } from './phase-verify.js';
import { PhoneFleet } from './phone-fleet.js';
import { freePorts } from './ports.js';
import { note } from './progress.js';
import { renderTable, writeJson, type BenchReport } from './report.js';
import { RssSampler } from './rss.js';
import { SmxProcess } from './server-process.js';
import { round } from './stats.js';

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const LAYOUT =
  'bench process = orchestration + autocannon; SMX = one `smx start` process (API, broker, workers); ' +
  'phones = one child process with the reference device; ceiling = a Fastify child during its phase; ' +
  'Redis and PostgreSQL are local servers; 2 cores shared by all, unpinned';

/** All phases, in order; BENCH_PHASES=send-otp,bulk runs a subset (for investigating one number). */
const ALL_PHASES = ['send-otp', 'ceiling', 'e2e', 'bulk', 'verify-otp'];
const PHASES = process.env.BENCH_PHASES ? process.env.BENCH_PHASES.split(',').map((p) => p.trim()) : ALL_PHASES;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  const unknown = PHASES.filter((p) => !ALL_PHASES.includes(p));
  if (!(E2E.rate >= 1 && E2E.rate <= 20_000))
    throw new Error(`BENCH_E2E_RATE: expected 1..20000, got ${process.env.BENCH_E2E_RATE}`);
  if (unknown.length)
    throw new Error(`BENCH_PHASES: unknown phase ${unknown.join(', ')} (known: ${ALL_PHASES.join(', ')})`);
  const started = Date.now();
  const id = randomBytes(4).toString('hex');
  const schema = `bench_${id}`;
  const redisPrefix = `bench-${id}`;
  const report: BenchReport = {
    startedAt: new Date(started).toISOString(),
    machine: machineInfo(),
    layout: LAYOUT,
    settings: {
      phases: PHASES,
      sendOtp: SEND_OTP,
      e2e: E2E,
      bulk: BULK,
      verify: VERIFY,
      schema,
      redisPrefix,
      logLevel: 'warn',
    },
    rss: {},
    failures: [],
  };
  let smx: SmxProcess | undefined;
  let phones: PhoneFleet | undefined;
  let rss: RssSampler | undefined;

  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      note('cleaning up');
      await phones?.stop().catch((err: Error) => note(`phones stop: ${err.message}`));
      if (smx) {
        report.rss.endMiB = rss?.sample() === undefined ? undefined : round(rss.sample()!);
        const code = await smx.stop();
        if (code !== 0)
          report.failures.push({ phase: 'shutdown', error: `SMX exited with ${String(code)} on SIGTERM` });
        report.serverLogs = smx.logDigest();
      }
      rss?.stop();
      report.cleanup = { schemaDropped: false, redisKeysDeleted: 0 };
      try {
        await dropSchema(DATABASE_URL, schema);
        report.cleanup.schemaDropped = true;
        report.cleanup.redisKeysDeleted = await deleteRedisPrefix(REDIS_URL, redisPrefix);
      } catch (err) {
        report.cleanup.error = (err as Error).message;
      }
    })());
  process.once('SIGINT', () => {
    note('interrupted: stopping children and cleaning up');
    void cleanup().finally(() => process.exit(130));
  });

  try {
    const [httpPort, mqttPort, mqttWsPort] = await freePorts(3);
    note(`starting SMX (schema ${schema}, Redis prefix ${redisPrefix}, HTTP ${httpPort}, MQTT ${mqttPort})`);
    smx = await SmxProcess.start({
      databaseUrl: DATABASE_URL,
      schema,
      redisUrl: REDIS_URL,
      redisPrefix,
      adminToken: `adm_${randomBytes(24).toString('hex')}`,
      secret: randomBytes(32).toString('hex'),
      httpPort: httpPort!,
      mqttPort: mqttPort!,
      mqttWsPort: mqttWsPort!,
    });
    rss = new RssSampler(smx.pid, 200).start();
    const idleFrom = Date.now();
    await sleep(2000);
    report.rss.idleAfterStartMiB = round(rss.medianBetween(idleFrom) ?? Number.NaN);

    const client = new SmxClient(smx.url, smx.options.adminToken);
    const { projectId, apiKey, credentials } = await setupProject(client);
    phones = await PhoneFleet.start([credentials]);
    const online = await waitFor(
      async () => (await client.api<{ ready: boolean }>(apiKey, 'GET', '/v1/status')).body?.data.ready === true,
      15_000,
    );
    if (!online) throw new Error('the phone did not show as online in /v1/status within 15 s');
    await sleep(1000);
    report.rss.idleAfterSetupMiB = round(rss.sample() ?? Number.NaN);

    const ctx: BenchContext = {
      smx,
      client,
      apiKey,
      projectId,
      deviceId: credentials.deviceId,
      phones,
      rss,
      numbers: new NumberSource(),
      challenges: [],
      databaseUrl: DATABASE_URL,
      redisUrl: REDIS_URL,
      schema,
      redisPrefix,
    };
    const phase = async <T>(name: string, run: () => Promise<T>): Promise<T | undefined> => {
      if (!PHASES.includes(name)) return undefined;
      if (!smx?.running) {
        report.failures.push({ phase: name, error: 'skipped: SMX is not running' });
        return undefined;
      }
      note(`phase ${name}`);
      try {
        return await run();
      } catch (err) {
        note(`phase ${name} failed: ${(err as Error).message}`);
        report.failures.push({ phase: name, error: (err as Error).stack ?? String(err) });
        return undefined;
      }
    };

    report.sendOtp = await phase('send-otp', () => sendOtpPhase(ctx));
    report.rss.peakSendOtpMiB = report.sendOtp?.rssPeakMiB;
    report.ceiling = await phase('ceiling', () => ceilingPhase(ctx));
    if (report.sendOtp && report.ceiling && report.ceiling.load.okRps > 0) {
      report.sendOtpToCeiling = round(report.sendOtp.load.okRps / report.ceiling.load.okRps, 3);
    }
    report.e2e = await phase('e2e', () => e2ePhase(ctx));
    report.bulk = await phase('bulk', () => bulkPhase(ctx));
    if (report.bulk && !report.bulk.available) note('bulk: endpoint not available');
    report.verify = await phase('verify-otp', () => verifyPhase(ctx));
    report.rss.peakWholeRunMiB = round(rss.peakBetween(started) ?? Number.NaN);
    report.phoneLog = (await phones.log().catch(() => [])).slice(-20);
  } catch (err) {
    report.failures.push({ phase: 'setup', error: (err as Error).stack ?? String(err) });
  } finally {
    await cleanup();
  }

  report.finishedAt = new Date().toISOString();
  report.durationS = round((Date.now() - started) / 1000);
  const path = writeJson(report);
  process.stdout.write(`\n${renderTable(report)}\n\nresults: ${path} (and results/latest.json)\n`);
  if (report.cleanup?.error) process.stdout.write(`cleanup failed: ${report.cleanup.error}\n`);
  return report.failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
