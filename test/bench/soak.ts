/**
 * `npm run bench:soak`: steady single OTPs for minutes, counting at the phone every outbox copy it
 * gets of a message it already took (a publish the server sent twice). With no fault on the path
 * that count must be 0. Defaults: 200 OTP/s for 5 minutes (SOAK_RATE, SOAK_SECONDS).
 *
 * Layout as in `npm run bench`: this process runs autocannon, SMX is one `smx start` child, the
 * phone (reference device, reporting sent and delivered) a child of its own; PostgreSQL and Redis
 * are the machine's servers. Prints a table and exits 1 when a copy was duplicated or lost.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { deleteRedisPrefix, dropSchema } from './cleanup.js';
import { errorCodeOf, field, JSON_HEADERS, tally } from './context.js';
import { waitForPhones } from './drain.js';
import { SmxClient, waitFor } from './http-client.js';
import { runLoad } from './load.js';
import { NumberSource } from './numbers.js';
import { PhoneFleet } from './phone-fleet.js';
import { freePorts } from './ports.js';
import { note } from './progress.js';
import { SmxProcess } from './server-process.js';
import { setupProject } from './setup.js';
import { round, summarize } from './stats.js';

const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const RATE = Number(process.env.SOAK_RATE ?? 200);
const SECONDS = Number(process.env.SOAK_SECONDS ?? 300);

async function main(): Promise<number> {
  if (!(RATE >= 1 && RATE <= 5000)) throw new Error(`SOAK_RATE: expected 1..5000, got ${process.env.SOAK_RATE}`);
  if (!(SECONDS >= 5 && SECONDS <= 3600))
    throw new Error(`SOAK_SECONDS: expected 5..3600, got ${process.env.SOAK_SECONDS}`);
  const id = randomBytes(4).toString('hex');
  const schema = `soak_${id}`;
  const redisPrefix = `soak-${id}`;
  const [httpPort, mqttPort, mqttWsPort] = await freePorts(3);
  note(`starting SMX (schema ${schema}, Redis prefix ${redisPrefix})`);
  const smx = await SmxProcess.start({
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
  let phones: PhoneFleet | undefined;
  try {
    const client = new SmxClient(smx.url, smx.options.adminToken);
    const { apiKey, credentials } = await setupProject(client);
    phones = await PhoneFleet.start([credentials]);
    if (
      !(await waitFor(
        async () => (await client.api<{ ready: boolean }>(apiKey, 'GET', '/v1/status')).body?.data.ready === true,
        15_000,
      ))
    ) {
      throw new Error('the phone did not show as online within 15 s');
    }
    const numbers = new NumberSource();
    const acceptedAt = new Map<string, number>();
    const errors: Record<string, number> = {};
    const load = await runLoad({
      title: `soak @${RATE}/s for ${SECONDS} s`,
      url: smx.url,
      connections: Math.max(10, Math.ceil(RATE / 10)),
      durationS: SECONDS,
      overallRate: RATE,
      headers: { ...JSON_HEADERS, 'x-smx-api-key': apiKey },
      requests: [
        {
          method: 'POST',
          path: '/v1/send-otp',
          setupRequest: (request: object) => ({ ...request, body: JSON.stringify({ to: numbers.take() }) }),
          onResponse: (status: number, body: string) => {
            if (status !== 201) return tally(errors, `${status} ${errorCodeOf(body)}`);
            const messageId = field(body, 'messageId');
            const createdAt = Date.parse(field(body, 'createdAt') ?? '');
            if (messageId) acceptedAt.set(messageId, createdAt);
          },
        } as never,
      ],
    });
    await phones.expect([...acceptedAt.keys()]);
    const delivery = await waitForPhones(phones, acceptedAt.size, {
      title: 'soak → phone',
      timeoutMs: 60_000,
      pick: (c) => c.expectedReceived,
    });
    await new Promise((resolve) => setTimeout(resolve, 2000)); // late copies of a duplicate
    const count = await phones.count();
    const latencies: number[] = [];
    for (const [messageId, receivedAt] of await phones.dump()) {
      const accepted = acceptedAt.get(messageId);
      if (accepted !== undefined && !Number.isNaN(accepted)) latencies.push(receivedAt - accepted);
    }
    const e2e = summarize(latencies);
    const rows: Array<[string, string]> = [
      ['offered', `${RATE} OTP/s for ${SECONDS} s`],
      ['accepted (201)', String(acceptedAt.size)],
      ['other answers', JSON.stringify(errors)],
      [
        'received at the phone',
        `${count.expectedReceived} of ${acceptedAt.size}${delivery.complete ? '' : ' (timed out waiting)'}`,
      ],
      ['duplicate copies at the phone', String(count.copies)],
      ['e2e acceptance → phone, ms', `p50 ${round(e2e.p50)}, p99 ${round(e2e.p99)}, max ${round(e2e.max)}`],
      ['API latency, ms', `p50 ${load.latencyMs.p50}, p99 ${load.latencyMs.p99}`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write(`\n${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`);
    return count.copies === 0 && count.expectedReceived === acceptedAt.size ? 0 : 1;
  } finally {
    await phones?.stop().catch(() => undefined);
    await smx.stop();
    await dropSchema(DATABASE_URL, schema).catch(() => undefined);
    await deleteRedisPrefix(REDIS_URL, redisPrefix).catch(() => undefined);
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`soak: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
