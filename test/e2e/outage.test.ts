/**
 * Honest answers during an outage (SMX_DEPENDENCY_TIMEOUT_MS): send-otp runs at a steady rate
 * while Redis, then PostgreSQL, goes down for a few seconds and comes back. Every request gets an
 * answer within the bound: 201 (durably accepted; delivered exactly once) or 503 UNAVAILABLE with
 * Retry-After. After recovery each 503 is retried with its Idempotency-Key; in the end the phone
 * holds exactly one SMS per key — nothing answered 503 was sent behind the caller's back twice.
 * The dependencies are cut through TCP proxies (FaultProxy), so the shared services stay up.
 */
import test, { type ExecutionContext } from 'ava';
import { FaultProxy } from '../helpers/fault-proxy.js';
import {
  createProject,
  linkNewDevice,
  phoneMarker,
  startPhone,
  startTestSmx,
  cleanupTestSmx,
  PG_URL,
  REDIS_URL,
  type TestSmx,
} from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const DEPENDENCY_TIMEOUT_MS = 1500;
/** What a request may take at most: the dependency timeout plus the work around it. */
const ANSWER_BOUND_MS = DEPENDENCY_TIMEOUT_MS + 1000;
const RATE_PER_SECOND = 20;
const OUTAGE_MS = 3000;

interface Outcome {
  key: string;
  status: number;
  ms: number;
  retryAfter: string | null;
  messageId?: string;
}

function viaProxy(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.port = String(port);
  return parsed.toString();
}

async function withProxiedSmx(
  t: ExecutionContext,
  name: string,
  run: (smx: TestSmx, proxies: { redis: FaultProxy; db: FaultProxy }) => Promise<void>,
) {
  const redis = await FaultProxy.start(Number(new URL(REDIS_URL).port || 6379));
  const db = await FaultProxy.start(Number(new URL(PG_URL).port || 5432));
  const smx = await startTestSmx(name, {
    env: {
      REDIS_URL: viaProxy(REDIS_URL, redis.port).replace(/\/$/, ''),
      DATABASE_URL: viaProxy(PG_URL, db.port),
      SMX_DEPENDENCY_TIMEOUT_MS: String(DEPENDENCY_TIMEOUT_MS),
    },
  });
  try {
    await run(smx, { redis, db });
  } finally {
    redis.up();
    db.up();
    await smx.close();
    await cleanupTestSmx(smx);
    await redis.close();
    await db.close();
  }
}

async function sendOtp(smx: TestSmx, apiKey: string, key: string, to: string): Promise<Outcome> {
  const started = Date.now();
  const response = await fetch(`${smx.url}/v1/send-otp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-smx-api-key': apiKey, 'idempotency-key': key },
    body: JSON.stringify({ to }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await response.json()) as { data?: { messageId?: string }; error?: { code: string } };
  return {
    key,
    status: response.status,
    ms: Date.now() - started,
    retryAfter: response.headers.get('retry-after'),
    messageId: body.data?.messageId,
  };
}

/** Milliseconds until /health/ready answers `status`. */
async function timeUntil(smx: TestSmx, status: number): Promise<number> {
  const started = Date.now();
  await eventually(
    async () => (await fetch(`${smx.url}/health/ready`, { signal: AbortSignal.timeout(5000) })).status === status,
    15_000,
    `/health/ready ${status}`,
  );
  return Date.now() - started;
}

/** Steady load with an outage of one dependency in the middle; then retries of the 503s; then the phone's count. */
async function outageRun(
  t: ExecutionContext,
  name: string,
  cut: (proxies: { redis: FaultProxy; db: FaultProxy }) => void,
) {
  await withProxiedSmx(t, name, async (smx, proxies) => {
    const { projectId, key: apiKey } = await createProject(smx, name);
    const credentials = await linkNewDevice(smx, projectId, 'Phone');
    await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 });
    const phone = await startPhone(t, credentials);
    await smx.admin('PATCH', `/admin/projects/${projectId}`, { rateLimits: { perNumber: 100 } });
    const received = new Map<string, number>();
    phone.on('sms', (m: { id: string }) => received.set(m.id, (received.get(m.id) ?? 0) + 1));

    const outcomes: Array<Promise<Outcome>> = [];
    const readiness: Array<Promise<number>> = [];
    const total = Math.round((RATE_PER_SECOND * (OUTAGE_MS + 4000)) / 1000);
    const cutAt = Math.round((RATE_PER_SECOND * 2000) / 1000);
    const restoreAt = cutAt + Math.round((RATE_PER_SECOND * OUTAGE_MS) / 1000);
    for (let i = 0; i < total; i++) {
      if (i === cutAt) {
        cut(proxies);
        readiness.push(timeUntil(smx, 503));
      }
      if (i === restoreAt) {
        await readiness[0];
        proxies.redis.up();
        proxies.db.up();
        readiness.push(timeUntil(smx, 200));
      }
      outcomes.push(sendOtp(smx, apiKey, `${name}-${i}`, `+49151${String(20_000_000 + i)}`));
      await new Promise((resolve) => setTimeout(resolve, 1000 / RATE_PER_SECOND));
    }
    const first = await Promise.all(outcomes);
    const [notReadyMs, readyAgainMs] = await Promise.all(readiness);
    t.true(notReadyMs! <= 2500, `/health/ready turned 503 ${notReadyMs} ms into the outage`);
    t.true(readyAgainMs! <= 5000, `/health/ready turned 200 ${readyAgainMs} ms after recovery`);
    const slow = first.filter((o) => o.ms > ANSWER_BOUND_MS);
    const unexpected = first.filter((o) => o.status !== 201 && o.status !== 503);
    const unavailable = first.filter((o) => o.status === 503);
    t.deepEqual(
      unexpected.map((o) => `${o.key}: ${o.status}`),
      [],
      'every answer is 201 or 503',
    );
    t.deepEqual(
      slow.map((o) => `${o.key}: ${o.ms} ms`),
      [],
      `every answer within ${ANSWER_BOUND_MS} ms`,
    );
    t.true(
      unavailable.every((o) => o.retryAfter !== null),
      'every 503 says when to retry',
    );
    t.true(unavailable.length > 0, 'the outage was felt (some requests were refused)');

    // Each refused request is retried with its key once the dependency is back.
    const retried = await Promise.all(
      unavailable.map((o, i) =>
        eventually(
          async () => {
            const r = await sendOtp(smx, apiKey, o.key, `+49151${String(20_000_000 + Number(o.key.split('-').pop()))}`);
            return r.status === 201 ? r : undefined;
          },
          30_000,
          `retry of ${o.key} (${i})`,
        ),
      ),
    );
    const byKey = new Map(first.filter((o) => o.status === 201).map((o) => [o.key, o.messageId!]));
    for (const r of retried) byKey.set(r.key, r.messageId!);
    await eventually(
      async () => [...byKey.values()].every((id) => received.has(id)),
      30_000,
      'every accepted OTP at the phone',
    ).catch(async (error: Error) => {
      const missing = [...byKey.values()].filter((id) => !received.has(id));
      const states = await Promise.all(
        missing.slice(0, 5).map(async (id) => (await smx.api(apiKey, 'GET', `/v1/messages/${id}`)).body.data?.status),
      );
      const status = await smx.api(apiKey, 'GET', '/v1/status');
      const lines = smx
        .logs()
        .split('\n')
        .filter((l) => /"level":(40|50)/.test(l))
        .slice(-8)
        .map((l) => l.slice(0, 300));
      throw new Error(
        `${error.message}: status ${JSON.stringify(status.body.data)}; phone connected ${phone.connected}; logs:\n${lines.join('\n')}\n ${missing.length} missing, e.g. ${missing
          .slice(0, 5)
          .map((id, i) => `${id} ${states[i]}`)
          .join(', ')}`,
      );
    });
    // An SMS handed to the phone after every OTP: a second copy of any of them would have arrived before it.
    received.delete(await phoneMarker(smx, apiKey, (id) => received.has(id), 30_000));

    const duplicates = [...received.values()].filter((n) => n > 1).length;
    const extra = [...received.keys()].filter((id) => ![...byKey.values()].includes(id));
    t.log(
      `${name}: /health/ready 503 after ${notReadyMs} ms, 200 again ${readyAgainMs} ms after recovery; ${first.length} requests, ${first.length - unavailable.length} × 201, ${unavailable.length} × 503 (slowest answer ${Math.max(...first.map((o) => o.ms))} ms, bound ${ANSWER_BOUND_MS} ms); after retries: ${byKey.size} keys, phone got ${received.size} SMS, ${duplicates} twice, ${extra.length} not belonging to a 201`,
    );
    t.is(byKey.size, first.length, 'every key ends accepted');
    t.is(duplicates, 0, 'no SMS twice');
    t.deepEqual(extra, [], 'no SMS the caller was not told about (a 503 sent anyway, then again on retry)');
  });
}

test('Redis down for 3 s under steady send-otp: fast 503s with Retry-After, then exactly one SMS per key', async (t) => {
  t.timeout(120_000);
  await outageRun(t, 'outage-redis', ({ redis }) => redis.down());
});

test('PostgreSQL down for 3 s under steady send-otp: fast 503s with Retry-After, then exactly one SMS per key', async (t) => {
  t.timeout(120_000);
  await outageRun(t, 'outage-postgres', ({ db }) => db.down());
});
