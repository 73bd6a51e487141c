/**
 * A worker dies (SIGKILL) while it holds a device's dispatch lock, under a steady trickle of SMS
 * to that device: the other worker takes the device over once the lock runs out (2 s, see
 * core/delivery/device-lock.ts), so the phone's delivery stalls for at most 3 s, and every
 * accepted message arrives.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Redis } from 'ioredis';
import { linkDevice } from '../../device/link.js';
import { ReferenceDevice } from '../../device/reference-device.js';
import { exited, freePort, runSmx, type SmxProcess } from '../helpers/processes.js';
import { cleanupTestSmx, PG_URL, REDIS_URL } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const TRICKLE_EVERY_MS = 50;

test('a SIGKILLed worker holding a device: the other takes over within 3 s and every accepted message arrives', async (t) => {
  const id = randomBytes(4).toString('hex');
  const dataDir = await mkdtemp(join(tmpdir(), 'smx-worker-kill-'));
  const admin = `adm_${randomBytes(16).toString('hex')}`;
  const env = {
    DATABASE_URL: PG_URL,
    SMX_DATABASE_SCHEMA: `t_wkill_${id}`,
    REDIS_URL,
    SMX_REDIS_PREFIX: `smxt-wkill-${id}`,
    SMX_SECRET: `wkill-secret-${id}-0123456789`,
    SMX_ADMIN_TOKEN: admin,
    SMX_HOST: '127.0.0.1',
    SMX_HTTP_PORT: String(await freePort()),
    SMX_MQTT_PORT: String(await freePort()),
    SMX_MQTT_WS_PORT: String(await freePort()),
    SMX_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
  };
  const redis = new Redis(REDIS_URL);
  const children: SmxProcess[] = [];
  t.teardown(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(children.map(exited));
    await redis.quit();
    await cleanupTestSmx({
      redisPrefix: env.SMX_REDIS_PREFIX,
      smx: { config: { databaseUrl: PG_URL, databaseSchema: env.SMX_DATABASE_SCHEMA, dataDir } },
    } as never);
    await rm(dataDir, { recursive: true, force: true });
  });

  const migrate = runSmx(['migrate'], env);
  t.is(await exited(migrate), 0, migrate.output());
  const workers = [runSmx(['worker'], env), runSmx(['worker'], env)];
  children.push(runSmx(['broker'], env), runSmx(['api'], env), ...workers);
  const base = `http://127.0.0.1:${env.SMX_HTTP_PORT}`;
  await eventually(
    async () => (await fetch(`${base}/health/ready`).catch(() => null))?.status === 200,
    30_000,
    'the api to be ready',
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n${children.map((c) => c.output()).join('\n---\n')}`);
  });
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  const auth = { authorization: `Bearer ${admin}` };
  const projectId = (await call('POST', '/admin/projects', { name: 'worker kill' }, auth)).body.data.id as string;
  const key = {
    'x-smx-api-key': (await call('POST', `/admin/projects/${projectId}/api-keys`, { name: 'k' }, auth)).body.data
      .key as string,
  };
  const token = (await call('POST', `/admin/projects/${projectId}/link-tokens`, undefined, auth)).body.data
    .token as string;
  const credentials = await linkDevice({ server: base, token, name: 'worker kill phone' });
  // Unpaced: the phone's receipts show the dispatcher's own stalls, not the device's pace.
  t.is((await call('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 }, auth)).status, 200);

  const arrivals = new Map<string, number>();
  const phone = new ReferenceDevice({
    credentials,
    onSend: (m) => void (arrivals.has(m.id) || arrivals.set(m.id, Date.now())),
  });
  t.teardown(() => phone.stop());
  await phone.start();
  await eventually(
    async () => (await call('GET', '/v1/status', undefined, key)).body.data.ready,
    15_000,
    'the phone online',
  );

  const accepted: string[] = [];
  let trickling = true;
  const trickle = (async () => {
    for (let i = 0; trickling; i++) {
      const sent = await call(
        'POST',
        '/v1/send-sms',
        { to: `+1415555${String(1000 + (i % 9000)).padStart(4, '0')}`, message: `trickle ${i}` },
        key,
      );
      if (sent.status === 201) accepted.push(sent.body.data.messageId);
      else t.fail(`send-sms ${sent.status} ${JSON.stringify(sent.body)}`);
      await new Promise((r) => setTimeout(r, TRICKLE_EVERY_MS));
    }
  })();
  await eventually(async () => arrivals.size >= 20, 15_000, 'the trickle to reach the phone');

  // Catch a worker holding the device's lock: freeze it (SIGSTOP), and if the lock still bears its
  // token it held the lock when it stopped; then kill it. A frozen process renews nothing, like a dead one.
  const lockKey = `${env.SMX_REDIS_PREFIX}:dispatch-lock:${credentials.deviceId}`;
  let victim: SmxProcess | undefined;
  let killedAt = 0;
  const deadline = Date.now() + 20_000;
  while (!victim && Date.now() < deadline) {
    const held = await redis.get(lockKey);
    const candidate = held ? workers.find((w) => held.startsWith(`${w.pid}:`)) : undefined;
    if (!candidate) continue;
    candidate.kill('SIGSTOP');
    const stoppedAt = Date.now();
    if ((await redis.get(lockKey)) === held) {
      victim = candidate;
      killedAt = stoppedAt;
    } else candidate.kill('SIGCONT');
  }
  if (!victim) return t.fail('never caught a worker holding the lock');
  victim.kill('SIGKILL');
  await exited(victim);
  t.log(`killed worker ${victim.pid} while it held the lock`);

  await new Promise((r) => setTimeout(r, 6_000));
  trickling = false;
  await trickle;
  await eventually(
    async () => accepted.every((m) => arrivals.has(m)),
    20_000,
    `every accepted message at the phone (${accepted.length})`,
  ).catch((error: Error) => {
    throw new Error(
      `${error.message}; missing ${accepted.filter((m) => !arrivals.has(m)).length}\n${children.map((c) => c.output()).join('\n---\n')}`,
    );
  });

  const times = [...arrivals.values()].sort((a, b) => a - b);
  const before = times.filter((at) => at <= killedAt).at(-1)!;
  const after = times.find((at) => at > killedAt)!;
  // The stall: the longest silence at the phone from just before the kill to the end of the trickle.
  let stall = 0;
  for (let i = 1; i < times.length; i++)
    if (times[i]! > killedAt - 1_000) stall = Math.max(stall, times[i]! - times[i - 1]!);
  const resumed = times.find((at, i) => i > 0 && at > killedAt && at - times[i - 1]! === stall) ?? after;
  t.log(
    `accepted ${accepted.length}, all arrived; last before the kill ${killedAt - before} ms before it, first after ${after - killedAt} ms after it; longest silence ${stall} ms (delivery resumed ${resumed - killedAt} ms after the kill)`,
  );
  t.is(new Set(accepted).size, accepted.length);
  t.true(stall <= 3_000, `delivery stalled ${stall} ms`);
});
