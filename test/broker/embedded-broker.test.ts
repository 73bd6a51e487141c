import { createServer, type AddressInfo } from 'node:net';
import test from 'ava';
import { deviceTopic } from '../../protocol/topics.js';
import { MQTT_WS_PATH, type EmbeddedBroker } from '../../broker/embedded-broker.js';
import { Harness, received, testPrefix } from './_helpers.js';
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

test('listens on free TCP and WebSocket ports when given port 0', (t) => {
  t.true(broker.tcpPort > 0);
  t.true((broker.wsPort ?? 0) > 0);
  t.not(broker.tcpPort, 1883);
  t.true(broker.ready());
});

test('a phone connects over WebSocket, is authenticated, bridged and served', async (t) => {
  const device = h.devices.add();
  const phone = await h.phone(`ws://127.0.0.1:${broker.wsPort}${MQTT_WS_PATH}`, device);
  const outbox = deviceTopic(device.deviceId, 'outbox');
  await phone.subscribeAsync(outbox, { qos: 1 });
  await phone.publishAsync(deviceTopic(device.deviceId, 'status'), '{"updates":[]}', { qos: 1 });
  t.true((await h.jobsOf(device.deviceId)).some((job) => job.channel === 'status'));
  await broker.publisher.publish(device.deviceId, 'outbox', { messages: [{ id: 'msg_ws' }] });
  await eventually(() => received(phone, outbox).length === 1, 3000, 'delivery over WebSocket');
  await eventually(async () => (await h.presence.get(device.deviceId)).online, 3000, 'online');
  t.pass();
});

test('a wrong password over WebSocket is refused too', async (t) => {
  const device = h.devices.add();
  const error = await h.phone(`ws://127.0.0.1:${broker.wsPort}${MQTT_WS_PATH}`, { ...device, secret: 'nope' }).then(
    () => null,
    (e: { code?: number }) => e,
  );
  t.is(error?.code, 4);
});

test('close() disconnects phones, marks them offline, and is idempotent', async (t) => {
  const own = await h.startBroker();
  const device = h.devices.add();
  const phone = await h.phone(own, device);
  await eventually(async () => (await h.presence.get(device.deviceId)).online, 3000, 'online');
  const closing = own.close();
  t.is(own.close(), closing);
  await closing;
  t.false(own.ready());
  await eventually(() => !phone.connected, 3000, 'phone disconnected');
  t.false((await h.presence.get(device.deviceId)).online);
  await t.throwsAsync(own.publisher.publish(device.deviceId, 'outbox', {}), { message: /closed/ });
});

test('a port already in use fails start and leaves nothing open', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as AddressInfo).port;
  try {
    await t.throwsAsync(h.startBroker({ config: { ...h.config(), mqttPort: port } }), { code: 'EADDRINUSE' });
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }
});

test('an unreachable Redis fails start with a message naming REDIS_URL', async (t) => {
  await t.throwsAsync(h.startBroker({ config: { ...h.config(), redisUrl: 'redis://127.0.0.1:1' } }), {
    message: /REDIS_URL/,
  });
});
