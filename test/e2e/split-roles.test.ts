/**
 * The process model: `smx migrate`, then `smx broker`, `smx api` and `smx worker` as separate
 * processes against one PostgreSQL schema and one Redis prefix, driven only over HTTP and MQTT.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { OutboxMessage } from '../../protocol/payloads.js';
import { linkDevice } from '../../device/link.js';
import { ReferenceDevice } from '../../device/reference-device.js';
import { exited, freePort, runSmx as run } from '../helpers/processes.js';
import { cleanupTestSmx, PG_URL, REDIS_URL } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

test('broker, api and worker in separate processes deliver and verify an OTP, and stop gracefully', async (t) => {
  const id = randomBytes(4).toString('hex');
  const [httpPort, mqttPort, wsPort] = [await freePort(), await freePort(), await freePort()];
  const dataDir = await mkdtemp(join(tmpdir(), 'smx-split-'));
  const admin = `adm_${randomBytes(16).toString('hex')}`;
  const env = {
    DATABASE_URL: PG_URL,
    SMX_DATABASE_SCHEMA: `t_split_${id}`,
    REDIS_URL,
    SMX_REDIS_PREFIX: `smxt-split-${id}`,
    SMX_SECRET: `split-secret-${id}-0123456789`,
    SMX_ADMIN_TOKEN: admin,
    SMX_HOST: '127.0.0.1',
    SMX_HTTP_PORT: String(httpPort),
    SMX_MQTT_PORT: String(mqttPort),
    SMX_MQTT_WS_PORT: String(wsPort),
    SMX_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
  };
  const children: Array<ReturnType<typeof run>> = [];
  t.teardown(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await cleanupTestSmx({
      redisPrefix: env.SMX_REDIS_PREFIX,
      smx: { config: { databaseUrl: PG_URL, databaseSchema: env.SMX_DATABASE_SCHEMA, dataDir } },
    } as never);
    await rm(dataDir, { recursive: true, force: true });
  });

  const migrate = run(['migrate'], env);
  t.is(await exited(migrate), 0, migrate.output());
  t.regex(migrate.output(), /applied: 001-foundation/);

  children.push(run(['broker'], env));
  const api = run(['api'], env);
  const worker = run(['worker'], env);
  children.push(api, worker);
  const base = `http://127.0.0.1:${httpPort}`;
  await eventually(
    async () => (await fetch(`${base}/health/ready`).catch(() => null))?.status === 200,
    20_000,
    'the api to be ready',
  );

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  const auth = { authorization: `Bearer ${admin}` };
  const project = await call('POST', '/admin/projects', { name: 'split' }, auth);
  const key = await call('POST', `/admin/projects/${project.body.data.id}/api-keys`, { name: 'k' }, auth);
  const token = await call('POST', `/admin/projects/${project.body.data.id}/link-tokens`, undefined, auth);
  const credentials = await linkDevice({ server: base, token: token.body.data.token, name: 'split phone' });
  t.is(credentials.mqtt.url, `mqtt://localhost:${mqttPort}`, "the api hands phones the broker node's address");

  const received: OutboxMessage[] = [];
  const phone = new ReferenceDevice({
    credentials,
    report: { sent: true, delivered: true },
    onSend: (m) => void received.push(m),
  });
  t.teardown(() => phone.stop());
  await phone.start();

  const headers = { 'x-smx-api-key': key.body.data.key };
  const sent = await call('POST', '/v1/send-otp', { to: '+14155550142', code: '552211' }, headers);
  t.is(sent.status, 201, JSON.stringify(sent.body));
  const sms = await eventually(
    async () => received.find((m) => m.id === sent.body.data.messageId),
    15_000,
    'the phone to get the OTP',
  );
  t.regex(sms.body, /552211/);
  await eventually(
    async () =>
      (await call('GET', `/v1/messages/${sent.body.data.messageId}`, undefined, headers)).body.data.status ===
      'DELIVERED',
    15_000,
    'DELIVERED',
  );
  const verified = await call(
    'POST',
    '/v1/verify-otp',
    { verificationId: sent.body.data.verificationId, otp: '552211' },
    headers,
  );
  t.true(verified.body.data.verified);

  await phone.stop();
  for (const child of children) child.kill('SIGTERM');
  const codes = await Promise.all(children.map(exited));
  t.deepEqual(codes, [0, 0, 0], children.map((c) => c.output()).join('\n---\n'));
});
