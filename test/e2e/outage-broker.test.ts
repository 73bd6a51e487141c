/**
 * A broker node outage in split roles (issue 17): `smx broker`, `smx api` and `smx worker` as
 * processes, send-otp at a steady rate, the broker killed (SIGKILL) for a few seconds and started
 * again. The broker is not on the accept path: every request is answered 201 within the bound,
 * and every accepted OTP reaches the phone exactly once after the broker is back.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { linkDevice } from '../../device/link.js';
import { ReferenceDevice } from '../../device/reference-device.js';
import { exited, freePort, runSmx, type SmxProcess } from '../helpers/processes.js';
import { cleanupTestSmx, eventually, PG_URL, REDIS_URL } from '../helpers/smx.js';

const RATE_PER_SECOND = 10;
const OUTAGE_MS = 4000;
const ANSWER_BOUND_MS = 3000;

test('the broker node killed for 4 s under steady send-otp: every answer a 201 within the bound, every OTP delivered once after it is back', async (t) => {
  t.timeout(120_000);
  const id = randomBytes(4).toString('hex');
  const [httpPort, mqttPort, wsPort] = [await freePort(), await freePort(), await freePort()];
  const dataDir = await mkdtemp(join(tmpdir(), 'smx-broker-outage-'));
  const admin = `adm_${randomBytes(16).toString('hex')}`;
  const env = {
    DATABASE_URL: PG_URL,
    SMX_DATABASE_SCHEMA: `t_brk_out_${id}`,
    REDIS_URL,
    SMX_REDIS_PREFIX: `smxt-brk-out-${id}`,
    SMX_SECRET: `broker-outage-${id}-0123456789`,
    SMX_ADMIN_TOKEN: admin,
    SMX_HOST: '127.0.0.1',
    SMX_HTTP_PORT: String(httpPort),
    SMX_MQTT_PORT: String(mqttPort),
    SMX_MQTT_WS_PORT: String(wsPort),
    SMX_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
  };
  const children: SmxProcess[] = [];
  t.teardown(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await cleanupTestSmx({ redisPrefix: env.SMX_REDIS_PREFIX, smx: { config: { databaseUrl: PG_URL, databaseSchema: env.SMX_DATABASE_SCHEMA, dataDir } } } as never);
    await rm(dataDir, { recursive: true, force: true });
  });
  const start = (role: string) => {
    const child = runSmx([role], env);
    children.push(child);
    return child;
  };
  t.is(await exited(runSmx(['migrate'], env)), 0);
  let broker = start('broker');
  start('api');
  start('worker');
  const base = `http://127.0.0.1:${httpPort}`;
  await eventually(async () => (await fetch(`${base}/health/ready`).catch(() => null))?.status === 200, 30_000, 'the api to be ready');

  const call = async (path: string, body: unknown, headers: Record<string, string>) => {
    const started = Date.now();
    const response = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
    return { status: response.status, body: (await response.json()) as any, ms: Date.now() - started };
  };
  const auth = { authorization: `Bearer ${admin}` };
  const project = (await call('/admin/projects', { name: 'broker outage' }, auth)).body.data;
  const key = (await call(`/admin/projects/${project.id}/api-keys`, { name: 'k' }, auth)).body.data.key as string;
  const token = (await call(`/admin/projects/${project.id}/link-tokens`, undefined, auth)).body.data.token as string;
  const credentials = await linkDevice({ server: base, token, name: 'phone' });
  await fetch(`${base}/admin/devices/${credentials.deviceId}`, { method: 'PATCH', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ sendRatePerMinute: 0 }) });
  const received = new Map<string, number>();
  let copies = 0;
  const phone = new ReferenceDevice({
    credentials,
    reconnectPeriodMs: 250,
    report: { sent: true, delivered: true },
    onSend: (m) => void received.set(m.id, (received.get(m.id) ?? 0) + 1),
    log: (line) => {
      if (line.startsWith('skipped ')) copies++;
    },
  });
  t.teardown(() => phone.stop());
  await phone.start();

  const total = Math.round((RATE_PER_SECOND * (OUTAGE_MS + 5000)) / 1000);
  const killAt = RATE_PER_SECOND * 2;
  const restartAt = killAt + Math.round((RATE_PER_SECOND * OUTAGE_MS) / 1000);
  const answers: Array<Promise<{ status: number; body: any; ms: number }>> = [];
  for (let i = 0; i < total; i++) {
    if (i === killAt) broker.kill('SIGKILL');
    if (i === restartAt) {
      await exited(broker);
      broker = start('broker');
    }
    answers.push(call('/v1/send-otp', { to: `+49151${String(40_000_000 + i)}` }, { 'x-smx-api-key': key }));
    await new Promise((resolve) => setTimeout(resolve, 1000 / RATE_PER_SECOND));
  }
  const outcomes = await Promise.all(answers);
  const accepted = outcomes.filter((o) => o.status === 201).map((o) => o.body.data.messageId as string);
  t.deepEqual(outcomes.filter((o) => o.status !== 201).map((o) => `${o.status} ${JSON.stringify(o.body)}`), [], 'the broker is not on the accept path: every request is accepted');
  t.deepEqual(outcomes.filter((o) => o.ms > ANSWER_BOUND_MS).map((o) => o.ms), [], `every answer within ${ANSWER_BOUND_MS} ms`);
  await eventually(async () => accepted.every((messageId) => received.has(messageId)), 60_000, 'every accepted OTP at the phone').catch((error: Error) => {
    throw new Error(`${error.message}: ${accepted.filter((m) => !received.has(m)).length} of ${accepted.length} missing`);
  });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const twice = [...received.values()].filter((n) => n > 1).length;
  t.log(`${outcomes.length} requests during a ${OUTAGE_MS} ms broker outage: ${accepted.length} × 201 (slowest ${Math.max(...outcomes.map((o) => o.ms))} ms); phone sent ${received.size}, ${twice} twice; ${copies} redelivered copies skipped by the phone`);
  t.is(twice, 0, 'no SMS sent twice');
  t.is(received.size, accepted.length);
});
