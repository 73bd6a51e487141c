/**
 * A broker node dies without a word (SIGKILL) under split roles: its phone must read offline on
 * `/v1/status` (`device.online: false`, `ready: false`) within seconds, and `device.offline` must
 * fire, although no disconnect was ever recorded (the node's liveness runs out; see core/presence/store.ts).
 * A node that only stalled past its liveness is taken for dead too, and re-asserts its phones
 * when it comes back.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { linkDevice } from '../../device/link.js';
import { ReferenceDevice } from '../../device/reference-device.js';
import { HOLDER_TTL_MS } from '../../core/presence/store.js';
import { exited, freePort, runSmx, type SmxProcess } from '../helpers/processes.js';
import { cleanupTestSmx, PG_URL, REDIS_URL } from '../helpers/smx.js';
import { startReceiver } from '../helpers/webhook-receiver.js';
import { eventually } from '../helpers/eventually.js';

/** Split roles as child processes (migrate, broker, api, worker), a project with a webhook receiver and a connected phone. */
async function splitWithPhone(t: ExecutionContext, name: string) {
  const id = randomBytes(4).toString('hex');
  const dataDir = await mkdtemp(join(tmpdir(), 'smx-broker-kill-'));
  const admin = `adm_${randomBytes(16).toString('hex')}`;
  const env = {
    DATABASE_URL: PG_URL,
    SMX_DATABASE_SCHEMA: `t_bkill_${id}`,
    REDIS_URL,
    SMX_REDIS_PREFIX: `smxt-bkill-${id}`,
    SMX_SECRET: `bkill-secret-${id}-0123456789`,
    SMX_ADMIN_TOKEN: admin,
    SMX_HOST: '127.0.0.1',
    SMX_HTTP_PORT: String(await freePort()),
    SMX_MQTT_PORT: String(await freePort()),
    SMX_MQTT_WS_PORT: String(await freePort()),
    SMX_DATA_DIR: dataDir,
    SMX_WEBHOOK_ALLOW_PRIVATE: 'true',
    LOG_LEVEL: 'warn',
  };
  const children: SmxProcess[] = [];
  const hooks = await startReceiver();
  t.teardown(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(children.map(exited));
    await hooks.close();
    await cleanupTestSmx({
      redisPrefix: env.SMX_REDIS_PREFIX,
      smx: { config: { databaseUrl: PG_URL, databaseSchema: env.SMX_DATABASE_SCHEMA, dataDir } },
    } as never);
    await rm(dataDir, { recursive: true, force: true });
  });

  const migrate = runSmx(['migrate'], env);
  t.is(await exited(migrate), 0, migrate.output());
  const broker = runSmx(['broker'], env);
  children.push(broker, runSmx(['api'], env), runSmx(['worker'], env));
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
  const projectId = (await call('POST', '/admin/projects', { name }, auth)).body.data.id as string;
  const key = {
    'x-smx-api-key': (await call('POST', `/admin/projects/${projectId}/api-keys`, { name: 'k' }, auth)).body.data
      .key as string,
  };
  t.is(
    (
      await call(
        'POST',
        `/admin/projects/${projectId}/webhooks`,
        { url: `${hooks.url}/hooks`, events: ['device.online', 'device.offline'] },
        auth,
      )
    ).status,
    201,
  );
  const token = (await call('POST', `/admin/projects/${projectId}/link-tokens`, undefined, auth)).body.data
    .token as string;
  const credentials = await linkDevice({ server: base, token, name: 'broker kill phone' });
  const hookAt = new Map<string, number>();
  hooks.respond = (request) => {
    if (request.json.data.deviceId === credentials.deviceId && !hookAt.has(request.json.type))
      hookAt.set(request.json.type, Date.now());
    return { status: 200 };
  };

  // A long reconnect period: the phone does not hammer the dead port (nothing would answer anyway).
  const phone = new ReferenceDevice({ credentials, reconnectPeriodMs: 60_000 });
  t.teardown(() => phone.stop());
  await phone.start();
  const status = async () =>
    (await call('GET', '/v1/status', undefined, key)).body.data as { ready: boolean; device: { online: boolean } };
  await eventually(async () => (await status()).ready, 15_000, '/v1/status ready');
  await eventually(async () => hookAt.has('device.online'), 15_000, 'device.online');

  return {
    base,
    broker,
    status,
    hookAt,
    seen: (type: string) =>
      hooks.received.filter((r) => r.json.type === type && r.json.data.deviceId === credentials.deviceId).length,
  };
}

test.serial(
  'a SIGKILLed broker node: its phone reads offline on /v1/status within 5 s and device.offline fires',
  async (t) => {
    const { base, broker, status, hookAt } = await splitWithPhone(t, 'broker kill');
    // Healthy for longer than a holder's TTL: the short liveness must not flap a live node's phone.
    const steadyUntil = Date.now() + HOLDER_TTL_MS + 1_500;
    while (Date.now() < steadyUntil) {
      const s = await status();
      t.true(s.ready && s.device.online, 'a live node keeps its phone online');
      await new Promise((r) => setTimeout(r, 250));
    }

    const killedAt = Date.now();
    broker.kill('SIGKILL');
    await exited(broker);
    const offline = await eventually(
      async () => {
        const s = await status();
        return !s.ready && !s.device.online ? Date.now() : undefined;
      },
      10_000,
      '/v1/status to show the phone offline',
    );
    await eventually(async () => hookAt.has('device.offline'), 15_000, 'device.offline');
    const statusMs = offline - killedAt;
    const webhookMs = hookAt.get('device.offline')! - killedAt;
    t.log(
      `broker SIGKILL -> /v1/status offline and not ready: ${statusMs} ms; -> device.offline received: ${webhookMs} ms`,
    );
    t.true(statusMs <= 5_000, `status offline after ${statusMs} ms`);
    t.true(webhookMs <= 8_000, `device.offline after ${webhookMs} ms`);
    const health = await fetch(`${base}/health/ready`);
    t.log(`/health/ready with the broker dead: ${health.status}`);
  },
);

test.serial(
  'a broker node that stalls past its liveness is reaped, then re-asserts its phone when it comes back',
  async (t) => {
    const { broker, status, hookAt, seen } = await splitWithPhone(t, 'broker stall');
    broker.kill('SIGSTOP');
    const stoppedAt = Date.now();
    await eventually(async () => !(await status()).device.online, 10_000, "the stalled node's phone read offline");
    await eventually(async () => hookAt.has('device.offline'), 15_000, 'device.offline');
    t.log(`broker SIGSTOP -> device.offline received: ${hookAt.get('device.offline')! - stoppedAt} ms`);
    // The phone's TCP connection outlives the stall (keepalive 30 s): the node still serves it.
    broker.kill('SIGCONT');
    const resumedAt = Date.now();
    await eventually(async () => (await status()).ready, 10_000, 'the phone online again');
    await eventually(async () => seen('device.online') === 2, 15_000, 'a second device.online');
    t.log(`broker SIGCONT -> /v1/status ready again: within ${Date.now() - resumedAt} ms`);
  },
);
