import test from 'ava';
import { deviceTopic } from '../../protocol/topics.js';
import { sessionKeyPrefix } from '../../broker/session-store.js';
import { Harness, closed, listKeys, received, testPrefix } from './_helpers.js';
import { eventually } from '../helpers/eventually.js';

// Serial: the restart test closes a broker other tests would otherwise share.
let h: Harness;

test.before(async () => {
  h = await Harness.open(testPrefix(import.meta.url));
});

test.after.always(async () => {
  await h?.close();
});

test.serial('a QoS 1 message published while the phone is away is delivered when it returns', async (t) => {
  const broker = await h.startBroker();
  const device = h.devices.add();
  const outbox = deviceTopic(device.deviceId, 'outbox');
  const phone = await h.phone(broker, device);
  await phone.subscribeAsync(outbox, { qos: 1 });
  await phone.endAsync();

  await broker.publisher.publish(device.deviceId, 'outbox', { messages: [{ id: 'msg_away' }] });
  const back = await h.phone(broker, device);
  await eventually(() => received(back, outbox).length === 1, 3000, 'the queued message');
  t.deepEqual(received(back, outbox), [{ messages: [{ id: 'msg_away' }] }]);

  // Acknowledged messages are not delivered again.
  await back.endAsync();
  const again = await h.phone(broker, device);
  // A message published after the reconnect is delivered behind anything the session still held.
  await broker.publisher.publish(device.deviceId, 'outbox', { messages: [{ id: 'msg_marker' }] });
  await eventually(() => received(again, outbox).length > 0, 3000, 'the marker');
  t.deepEqual(received(again, outbox), [{ messages: [{ id: 'msg_marker' }] }]);
  await again.endAsync();
  await broker.close();
});

test.serial('queued messages survive a broker restart on the same Redis prefix', async (t) => {
  const device = h.devices.add();
  const outbox = deviceTopic(device.deviceId, 'outbox');
  const first = await h.startBroker();
  const phone = await h.phone(first, device);
  await phone.subscribeAsync(outbox, { qos: 1 });
  await phone.endAsync();
  await first.publisher.publish(device.deviceId, 'outbox', { messages: [{ id: 'msg_before_restart' }] });
  await first.close();

  const second = await h.startBroker();
  // The new node rebuilt its subscription index from Redis: it queues for the absent phone too.
  await second.publisher.publish(device.deviceId, 'outbox', { messages: [{ id: 'msg_after_restart' }] });
  const back = await h.phone(second, device);
  await eventually(() => received(back, outbox).length === 2, 3000, 'both messages');
  t.deepEqual(received(back, outbox), [
    { messages: [{ id: 'msg_before_restart' }] },
    { messages: [{ id: 'msg_after_restart' }] },
  ]);
  await back.endAsync();
  await second.close();
});

test.serial('a phone gets every queued message in one connection, beyond the library default of 1000', async (t) => {
  const broker = await h.startBroker();
  const device = h.devices.add();
  const outbox = deviceTopic(device.deviceId, 'outbox');
  const phone = await h.phone(broker, device);
  await phone.subscribeAsync(outbox, { qos: 1 });
  await phone.endAsync();

  const count = 1500;
  for (let i = 0; i < count; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, j) =>
        broker.publisher.publish(device.deviceId, 'outbox', { messages: [{ id: `msg_${i + j}` }] }),
      ),
    );
  }
  const back = await h.phone(broker, device);
  await eventually(() => received(back, outbox).length >= count, 15_000, `${count} messages`);
  const ids = new Set(received(back, outbox).map((p) => (p as { messages: Array<{ id: string }> }).messages[0]!.id));
  t.is(ids.size, count);
  await back.endAsync();
  await broker.close();
});

test.serial('session state lives under {prefix}:mqtt: and a clean session forgets it', async (t) => {
  const broker = await h.startBroker();
  const device = h.devices.add();
  const phone = await h.phone(broker, device);
  await phone.subscribeAsync(deviceTopic(device.deviceId, 'outbox'), { qos: 1 });
  const keys = await listKeys(h.redis, `${h.prefix}:mqtt`);
  t.true(keys.includes(`${sessionKeyPrefix(h.prefix)}clients`));
  t.true(keys.includes(`${sessionKeyPrefix(h.prefix)}client:${device.deviceId}`));
  t.is(await h.redis.sismember(`${sessionKeyPrefix(h.prefix)}clients`, device.deviceId), 1);
  await phone.endAsync();

  const clean = await h.phone(broker, device, { clean: true });
  await clean.endAsync();
  t.is(await h.redis.exists(`${sessionKeyPrefix(h.prefix)}client:${device.deviceId}`), 0);
  await broker.close();
});

test.serial(
  'a delivered QoS 1 packet stays in the session until its PUBACK (redelivered after a reconnect), then leaves no key behind',
  async (t) => {
    const broker = await h.startBroker();
    const device = h.devices.add();
    const outbox = deviceTopic(device.deviceId, 'outbox');
    const keyPrefix = sessionKeyPrefix(h.prefix);
    const queued = () => h.redis.llen(`${keyPrefix}outgoing:${device.deviceId}`);
    const packetKeys = async () =>
      (await listKeys(h.redis, `${h.prefix}:mqtt`)).filter((key) => key.startsWith(`${keyPrefix}packet:`));

    // A phone that never acknowledges: the packet reaches it and stays queued.
    const silent = await h.phone(broker, device);
    const unacked: string[] = [];
    silent.handleMessage = (packet) => void unacked.push(packet.payload.toString());
    await silent.subscribeAsync(outbox, { qos: 1 });
    await broker.publisher.publish(device.deviceId, 'outbox', { messages: [{ id: 'msg_unacked' }] });
    await eventually(() => unacked.length === 1, 3000, 'the first delivery');
    t.is(await queued(), 1);
    t.is((await packetKeys()).length, 2); // the packet and its subscriber count
    silent.end(true);
    await closed(silent);

    // Back with an acknowledging client: redelivered, then cleared.
    const back = await h.phone(broker, device);
    await eventually(() => received(back, outbox).length === 1, 3000, 'the redelivery');
    t.deepEqual(received(back, outbox), [{ messages: [{ id: 'msg_unacked' }] }]);
    await eventually(
      async () => (await queued()) === 0 && (await packetKeys()).length === 0,
      3000,
      'the session to be empty',
    );

    // Live deliveries are cleared on PUBACK too, and arrive in publish order.
    await Promise.all(
      [1, 2, 3].map((n) =>
        broker.publisher.publish(device.deviceId, 'outbox', { messages: [{ id: `msg_live_${n}` }] }),
      ),
    );
    await eventually(() => received(back, outbox).length === 4, 3000, 'the live deliveries');
    t.deepEqual(
      received(back, outbox).slice(1),
      [1, 2, 3].map((n) => ({ messages: [{ id: `msg_live_${n}` }] })),
    );
    await eventually(
      async () => (await queued()) === 0 && (await packetKeys()).length === 0,
      3000,
      'the session to be empty again',
    );
    await back.endAsync();
    await broker.close();
  },
);

test.serial(
  'a QoS 1 message the phone did not acknowledge is resent on reconnect with DUP=1 and its original packet id',
  async (t) => {
    const broker = await h.startBroker();
    const device = h.devices.add();
    const outbox = deviceTopic(device.deviceId, 'outbox');
    // The first connection takes the publish and never answers PUBACK (mqtt.js acks after handleMessage's callback).
    const first = await h.phone(broker, device, { reconnectPeriod: 0 });
    const firstCopies: Array<{ messageId?: number; dup: boolean }> = [];
    first.handleMessage = (packet, _callback) => {
      if (packet.cmd === 'publish') firstCopies.push({ messageId: packet.messageId, dup: packet.dup });
    };
    await first.subscribeAsync(outbox, { qos: 1 });
    await broker.publisher.publish(device.deviceId, 'outbox', { messages: [{ id: 'msg_unacked' }] });
    await eventually(() => firstCopies.length === 1, 3000, 'the first copy');
    first.end(true);
    await closed(first);

    const second = await h.phone(broker, device, { reconnectPeriod: 0 });
    const copies: Array<{ messageId?: number; dup: boolean; payload: string }> = [];
    second.on('message', (_topic, payload, packet) =>
      copies.push({ messageId: packet.messageId, dup: packet.dup, payload: payload.toString() }),
    );
    await eventually(() => copies.length === 1, 3000, 'the redelivered copy');
    t.false(firstCopies[0]!.dup, 'the first delivery is not a duplicate');
    t.true(copies[0]!.dup, 'the redelivery carries DUP=1 [MQTT-3.3.1-1]');
    t.is(copies[0]!.messageId, firstCopies[0]!.messageId, 'with its original packet id');
    t.deepEqual(JSON.parse(copies[0]!.payload), { messages: [{ id: 'msg_unacked' }] });

    // Acknowledged now (mqtt.js acks the second copy): not delivered a third time.
    await second.endAsync();
    const third = await h.phone(broker, device, { reconnectPeriod: 0 });
    await broker.publisher.publish(device.deviceId, 'outbox', { messages: [{ id: 'msg_marker' }] });
    await eventually(() => received(third, outbox).length > 0, 3000, 'the marker');
    t.deepEqual(
      received(third, outbox),
      [{ messages: [{ id: 'msg_marker' }] }],
      'only the marker: the acknowledged copy was not delivered again',
    );
    await third.endAsync();
    await broker.close();
  },
);
