/**
 * Several broker nodes that really share phones (issue 12): two `smx broker` processes with
 * SMX_BROKER_CLUSTER=true, `smx api` and `smx worker` publishing through node A, the phone
 * connected to node B. OTPs and plain SMS (which have no lease to re-route them) reach it, its
 * presence is seen, and unlinking drops it although it is on the other node.
 */
import test from 'ava';
import { ReferenceDevice } from '../../device/reference-device.js';
import { Deployment } from '../helpers/deployment.js';
import { freePort } from '../helpers/processes.js';
import { eventually } from '../helpers/eventually.js';

test('two clustered broker nodes: a phone on node B gets what the workers publish through node A, and is dropped on unlink', async (t) => {
  t.timeout(120_000);
  const deployment = await Deployment.create(t, 'cluster', { SMX_BROKER_CLUSTER: 'true' });
  const [mqttB, wsB] = [await freePort(), await freePort()];
  await deployment.migrate();
  deployment.start('broker'); // node A, on the deployment's MQTT port
  deployment.start('broker', { SMX_MQTT_PORT: String(mqttB), SMX_MQTT_WS_PORT: String(wsB) });
  deployment.start('api');
  deployment.start('worker');
  await deployment.ready();
  const call = (method: string, path: string, body: unknown, headers: Record<string, string>) =>
    deployment.call(method, path, body, headers);
  const { projectId, key } = await deployment.project('cluster');
  const linked = await deployment.linkPhone(projectId, 'phone on B');
  // The phone reaches node B (behind a load balancer it could be either).
  const credentials = { ...linked, mqtt: { ...linked.mqtt, url: `mqtt://127.0.0.1:${mqttB}` } };
  const received: string[] = [];
  const phone = new ReferenceDevice({
    credentials,
    reconnectPeriodMs: 250,
    report: { sent: true, delivered: true },
    onSend: (m) => void received.push(m.id),
  });
  t.teardown(() => phone.stop());
  await phone.start();
  const headers = { 'x-smx-api-key': key };
  await eventually(
    async () => (await call('GET', '/v1/status', undefined, headers)).body.data.device.online === true,
    10_000,
    'the phone on node B online',
  );

  const otp = await call('POST', '/v1/send-otp', { to: '+14155550142' }, headers);
  const sms = await call(
    'POST',
    '/v1/send-sms',
    { to: '+14155550143', message: 'plain SMS, no lease to re-route it' },
    headers,
  );
  t.is(otp.status, 201);
  t.is(sms.status, 201);
  await eventually(
    async () => received.includes(otp.body.data.messageId) && received.includes(sms.body.data.messageId),
    20_000,
    'both at the phone on node B',
  );
  await eventually(
    async () =>
      (await call('GET', `/v1/messages/${sms.body.data.messageId}`, undefined, headers)).body.data.status ===
      'DELIVERED',
    15_000,
    'the SMS DELIVERED',
  );

  // Unlink (the kick goes through node A's emitter): the phone on node B is dropped and cannot come back.
  const disconnected = new Promise<void>((resolve) => phone.once('unlinked', () => resolve()));
  t.is((await deployment.admin('DELETE', `/admin/devices/${linked.deviceId}`)).status, 200);
  await disconnected;
  await eventually(async () => !phone.connected, 10_000, 'the phone dropped');
  t.deepEqual(
    received.filter((id) => id === otp.body.data.messageId),
    [otp.body.data.messageId],
    'the OTP once',
  );
});
