/**
 * Several broker nodes that really share phones (issue 12): two `smx broker` processes with
 * SMX_BROKER_CLUSTER=true, `smx api` and `smx worker` publishing through node A, the phone
 * connected to node B. OTPs and plain SMS (which have no lease to re-route them) reach it, its
 * presence is seen, and unlinking drops it although it is on the other node.
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

test('two clustered broker nodes: a phone on node B gets what the workers publish through node A, and is dropped on unlink', async (t) => {
  t.timeout(120_000);
  const id = randomBytes(4).toString('hex');
  const [httpPort, mqttA, wsA, mqttB, wsB] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const dataDir = await mkdtemp(join(tmpdir(), 'smx-cluster-'));
  const admin = `adm_${randomBytes(16).toString('hex')}`;
  const env = {
    DATABASE_URL: PG_URL,
    SMX_DATABASE_SCHEMA: `t_cluster_${id}`,
    REDIS_URL,
    SMX_REDIS_PREFIX: `smxt-cluster-${id}`,
    SMX_SECRET: `cluster-secret-${id}-0123456789`,
    SMX_ADMIN_TOKEN: admin,
    SMX_HOST: '127.0.0.1',
    SMX_HTTP_PORT: String(httpPort),
    SMX_DATA_DIR: dataDir,
    SMX_BROKER_CLUSTER: 'true',
    LOG_LEVEL: 'warn',
  };
  const nodeA = { ...env, SMX_MQTT_PORT: String(mqttA), SMX_MQTT_WS_PORT: String(wsA) };
  const nodeB = { ...env, SMX_MQTT_PORT: String(mqttB), SMX_MQTT_WS_PORT: String(wsB) };
  const children: SmxProcess[] = [];
  t.teardown(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await cleanupTestSmx({ redisPrefix: env.SMX_REDIS_PREFIX, smx: { config: { databaseUrl: PG_URL, databaseSchema: env.SMX_DATABASE_SCHEMA, dataDir } } } as never);
    await rm(dataDir, { recursive: true, force: true });
  });
  t.is(await exited(runSmx(['migrate'], env)), 0);
  for (const [role, roleEnv] of [['broker', nodeA], ['broker', nodeB], ['api', nodeA], ['worker', nodeA]] as const) children.push(runSmx([role], roleEnv));
  const base = `http://127.0.0.1:${httpPort}`;
  await eventually(async () => (await fetch(`${base}/health/ready`).catch(() => null))?.status === 200, 30_000, 'the api to be ready').catch((error: Error) => {
    throw new Error(`${error.message}\n${children.map((c) => c.output()).join('\n---\n')}`);
  });

  const call = async (method: string, path: string, body: unknown, headers: Record<string, string>) => {
    const response = await fetch(`${base}${path}`, { method, headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: response.status, body: (await response.json().catch(() => null)) as any };
  };
  const auth = { authorization: `Bearer ${admin}` };
  const project = (await call('POST', '/admin/projects', { name: 'cluster' }, auth)).body.data;
  const key = (await call('POST', `/admin/projects/${project.id}/api-keys`, { name: 'k' }, auth)).body.data.key as string;
  const token = (await call('POST', `/admin/projects/${project.id}/link-tokens`, undefined, auth)).body.data.token as string;
  const linked = await linkDevice({ server: base, token, name: 'phone on B' });
  // The phone reaches node B (behind a load balancer it could be either).
  const credentials = { ...linked, mqtt: { ...linked.mqtt, url: `mqtt://127.0.0.1:${mqttB}` } };
  const received: string[] = [];
  const phone = new ReferenceDevice({ credentials, reconnectPeriodMs: 250, report: { sent: true, delivered: true }, onSend: (m) => void received.push(m.id) });
  t.teardown(() => phone.stop());
  await phone.start();
  const headers = { 'x-smx-api-key': key };
  await eventually(async () => (await call('GET', '/v1/status', undefined, headers)).body.data.device.online === true, 10_000, 'the phone on node B online');

  const otp = await call('POST', '/v1/send-otp', { to: '+14155550142' }, headers);
  const sms = await call('POST', '/v1/send-sms', { to: '+14155550143', message: 'plain SMS, no lease to re-route it' }, headers);
  t.is(otp.status, 201);
  t.is(sms.status, 201);
  await eventually(async () => received.includes(otp.body.data.messageId) && received.includes(sms.body.data.messageId), 20_000, 'both at the phone on node B');
  await eventually(async () => (await call('GET', `/v1/messages/${sms.body.data.messageId}`, undefined, headers)).body.data.status === 'DELIVERED', 15_000, 'the SMS DELIVERED');

  // Unlink (the kick goes through node A's emitter): the phone on node B is dropped and cannot come back.
  const disconnected = new Promise<void>((resolve) => phone.once('unlinked', () => resolve()));
  t.is((await call('DELETE', `/admin/devices/${linked.deviceId}`, undefined, auth)).status, 200);
  await disconnected;
  await eventually(async () => !phone.connected, 10_000, 'the phone dropped');
  t.deepEqual(received.filter((id) => id === otp.body.data.messageId), [otp.body.data.messageId], 'the OTP once');
});
