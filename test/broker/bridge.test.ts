import test from 'ava';
import mqtt from 'mqtt';
import { deviceTopic } from '../../protocol/topics.js';
import type { DeviceEventJob } from '../../core/queues.js';
import type { PublishPacket } from 'aedes';
import { createAcl } from '../../broker/acl.js';
import { ClientRoles } from '../../broker/auth.js';
import { bridgePublishes } from '../../broker/bridge.js';
import type { EmbeddedBroker } from '../../broker/embedded-broker.js';
import { internalCredentials } from '../../broker/internal-credentials.js';
import { Harness, SECRET, closed, testPrefix } from './_helpers.js';
import { eventually } from '../helpers/eventually.js';

let h: Harness;
let broker: EmbeddedBroker;

test.before(async () => {
  h = await Harness.open(testPrefix(import.meta.url));
  broker = await h.startBroker();
});

test.after.always(async () => {
  await h?.close();
});

/** The jobs of a device that the phone sent (not the broker's own presence events). */
async function deviceJobs(deviceId: string): Promise<DeviceEventJob[]> {
  return (await h.jobsOf(deviceId)).filter((job) => (job.payload as { source?: string }).source !== 'broker');
}

test('status, inbox and presence publishes become device-events jobs', async (t) => {
  const device = h.devices.add();
  const phone = await h.phone(broker, device);
  const status = { updates: [{ id: 'msg_1', state: 'sent', at: '2025-01-01T00:00:00.000Z' }] };
  const inbox = {
    messages: [{ from: '+14155550123', body: 'hello', receivedAt: '2025-01-01T00:00:00.000Z', simSlot: 0 }],
  };
  const presence = { online: true, battery: 87, charging: false, signal: 3, appVersion: '1.0.0' };
  const before = Date.now();
  // QoS 1 resolves on PUBACK, which the broker sends only after the job is in Redis.
  await phone.publishAsync(deviceTopic(device.deviceId, 'status'), JSON.stringify(status), { qos: 1 });
  await phone.publishAsync(deviceTopic(device.deviceId, 'inbox'), JSON.stringify(inbox), { qos: 1 });
  await phone.publishAsync(deviceTopic(device.deviceId, 'presence'), JSON.stringify(presence), {
    qos: 1,
    retain: true,
  });
  const jobs = await deviceJobs(device.deviceId);
  t.deepEqual(
    jobs.map(({ deviceId, channel, payload }) => ({ deviceId, channel, payload })),
    [
      { deviceId: device.deviceId, channel: 'status', payload: status },
      { deviceId: device.deviceId, channel: 'inbox', payload: inbox },
      { deviceId: device.deviceId, channel: 'presence', payload: presence },
    ],
  );
  for (const job of jobs) {
    const at = Date.parse(job.receivedAt);
    t.true(at >= before - 5 && at <= Date.now());
  }
  const [job] = await h.queue.getJobs(['waiting']);
  t.true(['status', 'inbox', 'presence'].includes(job!.name));
});

test('a QoS 0 publish is bridged too', async (t) => {
  const device = h.devices.add();
  const phone = await h.phone(broker, device);
  phone.publish(deviceTopic(device.deviceId, 'status'), '{"updates":[]}', { qos: 0 });
  const jobs = await eventually(
    async () => {
      const found = await deviceJobs(device.deviceId);
      return found.length > 0 ? found : null;
    },
    3000,
    'the job',
  );
  t.is(jobs[0]!.channel, 'status');
});

/** Resolves with the publish's outcome: 'acked' on PUBACK, 'closed' when the connection went first, 'timeout'. */
function acked(phone: mqtt.MqttClient, topic: string, payload: string): Promise<'acked' | 'closed' | 'timeout'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), 5000);
    const done = (outcome: 'acked' | 'closed') => {
      clearTimeout(timer);
      phone.off('close', onClose);
      resolve(outcome);
    };
    const onClose = () => done('closed');
    phone.once('close', onClose);
    phone.publish(topic, payload, { qos: 1 }, (error) => done(error ? 'closed' : 'acked'));
  });
}

test('a status nested 5,000 levels deep is acknowledged and dropped; the connection stays up and the next publish is bridged', async (t) => {
  const device = h.devices.add();
  const phone = await h.phone(broker, device);
  const status = deviceTopic(device.deviceId, 'status');
  const deep = `{"updates":[${'{"a":['.repeat(5000)}${']}'.repeat(5000)}]}`;
  t.is(await acked(phone, status, deep), 'acked', 'PUBACK, so a real phone does not resend it on every reconnect');
  t.true(phone.connected);
  const valid = { updates: [{ id: 'msg_after_deep', state: 'sent', at: '2025-01-01T00:00:00.000Z' }] };
  t.is(await acked(phone, status, JSON.stringify(valid)), 'acked');
  t.deepEqual(
    (await deviceJobs(device.deviceId)).map((job) => job.payload),
    [valid],
    'only the valid publish became a job',
  );
});

test('invalid JSON and non-object payloads are dropped without closing the connection', async (t) => {
  const device = h.devices.add();
  const phone = await h.phone(broker, device);
  await phone.publishAsync(deviceTopic(device.deviceId, 'status'), '{not json', { qos: 1 });
  await phone.publishAsync(deviceTopic(device.deviceId, 'status'), '[1,2,3]', { qos: 1 });
  await phone.publishAsync(deviceTopic(device.deviceId, 'status'), '"text"', { qos: 1 });
  await phone.publishAsync(deviceTopic(device.deviceId, 'inbox'), Buffer.from([0xff, 0xfe, 0x00]), { qos: 1 });
  t.true(phone.connected);
  await phone.publishAsync(deviceTopic(device.deviceId, 'status'), '{"updates":[]}', { qos: 1 });
  const jobs = await deviceJobs(device.deviceId);
  t.deepEqual(
    jobs.map((job) => [job.channel, job.payload]),
    [['status', { updates: [] }]],
  );
});

test("the will of a phone that drops is bridged as the device's presence", async (t) => {
  const device = h.devices.add();
  const phone = await h.phone(broker, device);
  phone.stream.destroy(); // the network goes away: no DISCONNECT, so the will fires
  const will = await eventually(
    async () => (await deviceJobs(device.deviceId)).find((job) => job.channel === 'presence'),
    3000,
    'the will job',
  );
  t.deepEqual(will.payload, { online: false });
  await closed(phone);
});

test('a clean DISCONNECT publishes no will', async (t) => {
  const device = h.devices.add();
  const phone = await h.phone(broker, device);
  await phone.endAsync();
  // Back again, a status: its PUBACK comes once its job is in Redis, behind any will job of the first connection.
  const back = await h.phone(broker, device);
  await back.publishAsync(deviceTopic(device.deviceId, 'status'), '{"updates":[]}', { qos: 1 });
  t.deepEqual(
    (await deviceJobs(device.deviceId)).map((job) => job.channel),
    ['status'],
  );
});

test("an internal client publishing on a device's status topic is not bridged", async (t) => {
  const device = h.devices.add();
  const { username, password } = internalCredentials(SECRET);
  const internal = h.adopt(
    await mqtt.connectAsync(
      `mqtt://127.0.0.1:${broker.tcpPort}`,
      { clientId: 'smx-bridge-test', username, password, reconnectPeriod: 0 },
      false,
    ),
  );
  // The PUBACK comes after the bridge's decision (a bridged publish is in Redis by then): no wait needed.
  await internal.publishAsync(deviceTopic(device.deviceId, 'status'), '{"updates":[]}', { qos: 1 });
  t.deepEqual(await h.jobsOf(device.deviceId), []);
});

test('the broker does not crash on a flood of bad payloads', async (t) => {
  const device = h.devices.add();
  const phone = await h.phone(broker, device);
  await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      phone.publishAsync(deviceTopic(device.deviceId, 'inbox'), `{"broken":${i}`, { qos: 1 }),
    ),
  );
  await phone.publishAsync(deviceTopic(device.deviceId, 'inbox'), '{"messages":[]}', { qos: 1 });
  t.is((await deviceJobs(device.deviceId)).length, 1);
  t.true(broker.ready());
});

test("the will of a dead node's phone (no client) is bridged only for the device that stored it", async (t) => {
  // aedes publishes the wills of a broker node that stopped beating with client = null.
  const roles = new ClientRoles();
  const authorize = bridgePublishes(createAcl((client) => roles.get(client)).authorizePublish, {
    queue: h.queue,
    roles,
    log: h.logger,
  });
  const device = h.devices.add();
  const forger = h.devices.add();
  const will = (clientId: string) =>
    ({
      cmd: 'publish',
      topic: deviceTopic(device.deviceId, 'presence'),
      payload: Buffer.from('{"online":false}'),
      qos: 1,
      retain: true,
      dup: false,
      clientId,
    }) as PublishPacket;
  const run = (packet: PublishPacket) =>
    new Promise<Error | null | undefined>((resolve) => authorize(null, packet, resolve));

  t.is(await run(will(device.deviceId)), null);
  t.truthy(await run(will(forger.deviceId)));
  const jobs = await h.jobsOf(device.deviceId);
  t.deepEqual(
    jobs.map((job) => [job.channel, job.payload]),
    [['presence', { online: false }]],
  );
});
