/**
 * Measures what a user of `smx start` feels on this machine, on the embedded PGlite database and
 * on PostgreSQL: start to ready (a fresh data dir, then a second start on the existing data), the
 * resident set size after 20 s idle (after each start), and the peak RSS under send-otp load (autocannon, 50
 * connections, 20 s, a linked reference device reporting sent and delivered, pacing off).
 *
 *   npm run build && node dist/test/cli/measure-memory.js [pglite|postgres]...
 *
 * Not a test (nothing asserts); the README's performance section quotes its output. Knobs:
 * MEASURE_IDLE_S (20), MEASURE_LOAD_S (20), MEASURE_DATABASE_URL (postgres://postgres@127.0.0.1:5432/test),
 * MEASURE_SMX_ENV (JSON: more environment for smx start), MEASURE_NODE_ARGS (node flags for it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { ReferenceDevice } from '../../device/reference-device.js';
import { deleteRedisPrefix, dropSchema } from '../bench/cleanup.js';
import { setupProject } from '../bench/setup.js';
import { SmxClient } from '../bench/http-client.js';
import { NumberSource } from '../bench/numbers.js';
import { readRssMiB, RssSampler } from '../bench/rss.js';
import { freePort, SMX_BIN } from '../helpers/processes.js';

const IDLE_S = Number(process.env.MEASURE_IDLE_S ?? 20);
const LOAD_S = Number(process.env.MEASURE_LOAD_S ?? 20);
const DATABASE_URL = process.env.MEASURE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

interface Started {
  child: ChildProcess;
  url: string;
  readyMs: number;
}

/** `smx start` with `env`; resolves once /health/ready answers 200. */
async function start(env: Record<string, string>): Promise<Started> {
  const httpPort = await freePort();
  const began = Date.now();
  const child = spawn(
    process.execPath,
    [...(process.env.MEASURE_NODE_ARGS?.split(' ').filter(Boolean) ?? []), SMX_BIN, 'start'],
    {
      env: {
        PATH: process.env.PATH ?? '',
        LOG_LEVEL: 'warn',
        LOG_FORMAT: 'json',
        SMX_HTTP_PORT: String(httpPort),
        SMX_MQTT_PORT: String(await freePort()),
        SMX_MQTT_WS_PORT: String(await freePort()),
        ...env,
        ...(JSON.parse(process.env.MEASURE_SMX_ENV ?? '{}') as Record<string, string>),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${httpPort}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`smx start exited ${child.exitCode}:\n${output}`);
    const ok = await fetch(`${url}/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  return { child, url, readyMs: Date.now() - began };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function measure(kind: 'pglite' | 'postgres'): Promise<Record<string, number | string>> {
  const dataDir = await mkdtemp(join(tmpdir(), 'smx-measure-'));
  const tag = randomBytes(4).toString('hex');
  // The bench's naming, so its cleanup helpers (which refuse anything else) remove what this leaves.
  const env: Record<string, string> = { SMX_DATA_DIR: dataDir, SMX_REDIS_PREFIX: `bench-${tag}` };
  if (kind === 'postgres') Object.assign(env, { DATABASE_URL, SMX_DATABASE_SCHEMA: `bench_${tag}` });
  const result: Record<string, number | string> = { database: kind };
  try {
    const first = await start(env);
    result.firstStartMs = first.readyMs;
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    result.firstIdleRssMiB = Math.round(readRssMiB(first.child.pid!) ?? NaN);
    await stop(first.child);

    const second = await start(env);
    result.secondStartMs = second.readyMs;
    const rss = new RssSampler(second.child.pid!, 200).start();
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    result.idleRssMiB = Math.round(readRssMiB(second.child.pid!) ?? NaN);

    const admin = (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
    const { apiKey, credentials } = await setupProject(new SmxClient(second.url, admin));
    let received = 0;
    const phone = new ReferenceDevice({
      credentials,
      report: { sent: true, delivered: true, deliveredDelayMs: 0 },
      onSend: () => void received++,
      log: () => undefined,
    });
    await phone.start();
    const numbers = new NumberSource();
    let accepted = 0;
    const loadFrom = Date.now();
    const load = await autocannon({
      url: second.url,
      connections: 50,
      duration: LOAD_S,
      headers: { 'content-type': 'application/json', 'x-smx-api-key': apiKey },
      requests: [
        {
          method: 'POST',
          path: '/v1/send-otp',
          setupRequest: (request: autocannon.Request) => ({ ...request, body: JSON.stringify({ to: numbers.take() }) }),
          onResponse: (status: number) => void (status === 201 && accepted++),
        } as autocannon.Request,
      ],
    });
    result.loadRps = Math.round(load.requests.average);
    result.loadP99Ms = load.latency.p99;
    result.loadPeakRssMiB = Math.round(rss.peakBetween(loadFrom) ?? NaN);
    const drainFrom = Date.now();
    while (received < accepted && Date.now() - drainFrom < 60_000) await new Promise((r) => setTimeout(r, 200));
    result.delivered = `${received}/${accepted}`;
    result.afterLoadRssMiB = Math.round(readRssMiB(second.child.pid!) ?? NaN);
    rss.stop();
    await phone.stop();
    await stop(second.child);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
    await deleteRedisPrefix('redis://127.0.0.1:6379', `bench-${tag}`);
    if (kind === 'postgres') await dropSchema(DATABASE_URL, `bench_${tag}`);
  }
  return result;
}

const kinds = (process.argv.slice(2).length ? process.argv.slice(2) : ['pglite', 'postgres']) as Array<
  'pglite' | 'postgres'
>;
for (const kind of kinds) console.log(JSON.stringify(await measure(kind)));
