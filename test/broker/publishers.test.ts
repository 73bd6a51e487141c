import test from 'ava';
import type { Client } from 'aedes';
import { deviceTopic } from '../../protocol/topics.js';
import type { EmbeddedBroker } from '../../broker/embedded-broker.js';
import { MqttPublisher } from '../../broker/mqtt-publisher.js';
import { Harness, SECRET, closed, received, testPrefix } from './_helpers.js';
import { eventually } from '../helpers/eventually.js';

let h: Harness;
let broker: EmbeddedBroker;
let nodeA: EmbeddedBroker;
let nodeB: EmbeddedBroker;
const publishers: MqttPublisher[] = [];

test.before(async () => {
  h = await Harness.open(testPrefix(import.meta.url));
  broker = await h.startBroker();
  // Two clustered nodes (mqemitter-redis) sharing sessions and messages.
  nodeA = await h.startBroker({ cluster: true });
  nodeB = await h.startBroker({ cluster: true });
});

test.after.always(async () => {
  await Promise.all(publishers.map((p) => p.close()));
  await h?.close();
});

function mqttPublisher(
  target: EmbeddedBroker,
  options: Partial<ConstructorParameters<typeof MqttPublisher>[0]> = {},
): MqttPublisher {
  const publisher = new MqttPublisher({
    url: `mqtt://127.0.0.1:${target.tcpPort}`,
    secret: SECRET,
    logger: h.logger,
    ...options,
  });
  publishers.push(publisher);
  return publisher;
}

async function subscribedPhone(target: EmbeddedBroker) {
  const device = h.devices.add();
  const phone = await h.phone(target, device);
  await phone.subscribeAsync([deviceTopic(device.deviceId, 'outbox'), deviceTopic(device.deviceId, 'control')], {
    qos: 1,
  });
  return { device, phone };
}

test('the embedded publisher delivers to outbox and control', async (t) => {
  const { device, phone } = await subscribedPhone(broker);
  await broker.publisher.publish(device.deviceId, 'outbox', { messages: [{ id: 'msg_1' }] });
  await broker.publisher.publish(device.deviceId, 'control', { type: 'ping' });
  await eventually(() => received(phone, deviceTopic(device.deviceId, 'control')).length === 1, 3000, 'control');
  t.deepEqual(received(phone, deviceTopic(device.deviceId, 'outbox')), [{ messages: [{ id: 'msg_1' }] }]);
  t.deepEqual(received(phone, deviceTopic(device.deviceId, 'control')), [{ type: 'ping' }]);
  t.true(broker.publisher.ready());
});

test('publisher.disconnect kicks the device and no other', async (t) => {
  const { device, phone } = await subscribedPhone(broker);
  const { phone: bystander } = await subscribedPhone(broker);
  const gone = closed(phone);
  await broker.publisher.disconnect(device.deviceId);
  await gone;
  // A second kick afterwards: once it took effect, any stray effect of the first had too.
  const { device: later, phone: laterPhone } = await subscribedPhone(broker);
  const laterGone = closed(laterPhone);
  await broker.publisher.disconnect(later.deviceId);
  await laterGone;
  t.false(phone.connected);
  t.true(bystander.connected);
});

test('the MQTT publisher (internal credentials) publishes and kicks through a broker node', async (t) => {
  const publisher = mqttPublisher(broker);
  t.false(publisher.ready());
  await publisher.start();
  t.true(publisher.ready());
  const { device, phone } = await subscribedPhone(broker);
  await publisher.publish(device.deviceId, 'outbox', { messages: [{ id: 'msg_over_mqtt' }] });
  await eventually(() => received(phone, deviceTopic(device.deviceId, 'outbox')).length === 1, 3000, 'delivery');
  t.deepEqual(received(phone, deviceTopic(device.deviceId, 'outbox')), [{ messages: [{ id: 'msg_over_mqtt' }] }]);

  const gone = closed(phone);
  await publisher.disconnect(device.deviceId);
  await gone;
  await publisher.close();
  t.false(publisher.ready());
  await t.throwsAsync(publisher.publish(device.deviceId, 'outbox', {}), { message: /not connected/ });
});

test('the MQTT publisher with a wrong password never becomes ready', async (t) => {
  const publisher = mqttPublisher(broker, {
    secret: undefined,
    credentials: { username: 'smx-internal', password: 'wrong' },
    reconnectPeriodMs: 200,
  });
  await t.throwsAsync(publisher.start(600), { message: /timed out/ });
  t.false(publisher.ready());
});

test('clustered nodes: a publish on one node reaches a phone on the other, and so does a kick', async (t) => {
  const { device, phone } = await subscribedPhone(nodeA);
  await nodeB.publisher.publish(device.deviceId, 'outbox', { messages: [{ id: 'msg_cross_node' }] });
  await eventually(
    () => received(phone, deviceTopic(device.deviceId, 'outbox')).length === 1,
    3000,
    'cross-node delivery',
  );
  t.deepEqual(received(phone, deviceTopic(device.deviceId, 'outbox')), [{ messages: [{ id: 'msg_cross_node' }] }]);

  const gone = closed(phone);
  await nodeB.publisher.disconnect(device.deviceId);
  await gone;
  t.false(phone.connected);
});

test('clustered nodes: connecting to another node takes the session over', async (t) => {
  const { device, phone } = await subscribedPhone(nodeA);
  const gone = closed(phone);
  const moved = await h.phone(nodeB, device);
  await gone; // node A closed its connection when node B registered the same client id
  await nodeA.publisher.publish(device.deviceId, 'outbox', { messages: [{ id: 'msg_after_move' }] });
  await eventually(
    () => received(moved, deviceTopic(device.deviceId, 'outbox')).length === 1,
    3000,
    'delivery after the move',
  );
  t.true(nodeA.ready() && nodeB.ready());
});

test('clustered node: two overlapping subscriptions of one client to the same topics both complete', async (t) => {
  // The broker subscribes a new session to outbox + control (presence.ts) while the phone's own
  // SUBSCRIBE of the same topics comes in. The library's broadcast waits for its echo under
  // client id + first topic, so through the Redis emitter one of two overlapping calls used to
  // wait forever: a SUBACK that never came, or a phone never marked online.
  const { device } = await subscribedPhone(nodeB);
  const client = (nodeB.aedes as unknown as { clients: Record<string, Client> }).clients[device.deviceId]!;
  const topics = [deviceTopic(device.deviceId, 'outbox'), deviceTopic(device.deviceId, 'control')];
  const subscribe = () =>
    new Promise<void>((resolve, reject) =>
      client.subscribe(
        topics.map((topic) => ({ topic, qos: 1 as const })),
        (error?: Error | null) => (error ? reject(error) : resolve()),
      ),
    );
  let finished = 0;
  const both = Promise.all([subscribe(), subscribe()].map((done) => done.then(() => finished++)));
  await Promise.race([both, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
  t.is(finished, 2, 'both subscriptions completed');
});

// DeviceService.unlink: tell the phone on its control topic, then drop its connection.
for (const [name, from, to] of [
  ['the embedded publisher', () => broker, () => broker],
  ['a clustered node for a phone on the other node', () => nodeB, () => nodeA],
] as const) {
  test(`unlink through ${name}: the notice arrives before the connection is dropped`, async (t) => {
    const { device, phone } = await subscribedPhone(to());
    const gone = closed(phone);
    await from().publisher.publish(device.deviceId, 'control', { type: 'unlink' });
    await from().publisher.disconnect(device.deviceId);
    await gone;
    t.deepEqual(received(phone, deviceTopic(device.deviceId, 'control')), [{ type: 'unlink' }]);
  });
}
