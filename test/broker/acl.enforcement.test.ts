import test from 'ava';
import mqtt, { type MqttClient } from 'mqtt';
import { subscribeCodes } from '../../broker/suback.js';
import { deviceTopic, deviceTopics } from '../../protocol/topics.js';
import type { EmbeddedBroker } from '../../broker/embedded-broker.js';
import { KICK_TOPIC } from '../../broker/bridge.js';
import { internalCredentials } from '../../broker/internal-credentials.js';
import { sessionKeyPrefix } from '../../broker/session-store.js';
import { Harness, SECRET, closed, received, testPrefix } from './_helpers.js';
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

const suback = (client: MqttClient, filters: string | string[]) => subscribeCodes(client, filters);

test('a device may subscribe to its own outbox and control at QoS 1', async (t) => {
  const device = h.devices.add();
  const phone = await h.phone(broker, device);
  const topics = deviceTopics(device.deviceId);
  t.deepEqual(await suback(phone, topics.outbox), [1]);
  t.deepEqual(await suback(phone, topics.control), [1]);
});

test('every other filter gets SUBACK 128 and the connection stays up', async (t) => {
  const device = h.devices.add();
  const other = h.devices.add();
  const phone = await h.phone(broker, device);
  const refused = [
    deviceTopic(other.deviceId, 'outbox'),
    deviceTopic(device.deviceId, 'status'),
    '#',
    '+',
    '$SYS/#',
    'smx/v1/devices/+/outbox',
    'smx/v1/devices/#',
    `smx/v1/devices/${device.deviceId}/+`,
    `$share/g/${deviceTopic(device.deviceId, 'outbox')}`,
    KICK_TOPIC,
  ];
  for (const filter of refused) {
    t.deepEqual(await suback(phone, filter), [128], filter);
  }
  t.true(phone.connected);
});

test('refused filters of a mixed SUBSCRIBE are not stored in the persistent session', async (t) => {
  const device = h.devices.add();
  const other = h.devices.add();
  const phone = await h.phone(broker, device);
  const own = deviceTopic(device.deviceId, 'outbox');
  t.deepEqual(await suback(phone, [own, '#', deviceTopic(other.deviceId, 'outbox')]), [1, 128, 128]);
  const stored = await h.redis.hkeys(`${sessionKeyPrefix(h.prefix)}client:${encodeURIComponent(device.deviceId)}`);
  // Its own outbox and control (the broker subscribes a new session to both), none of the refused.
  t.deepEqual(stored.sort(), [deviceTopic(device.deviceId, 'control'), own].sort());

  // Nothing for the other device is queued for this phone while it is away.
  await phone.endAsync();
  await broker.publisher.publish(other.deviceId, 'outbox', { messages: [{ id: 'msg_not_yours' }] });
  await broker.publisher.publish(device.deviceId, 'outbox', { messages: [{ id: 'msg_yours' }] });
  const back = await h.phone(broker, device);
  // msg_yours was published after msg_not_yours: had the session kept the other one, it would have come first.
  await eventually(() => received(back, own).length === 1, 3000, 'own message');
  const all = received(back, own).concat(received(back, deviceTopic(other.deviceId, 'outbox')));
  t.deepEqual(all, [{ messages: [{ id: 'msg_yours' }] }]);
});

test("publishing to another device's status disconnects the device and bridges nothing", async (t) => {
  const device = h.devices.add();
  const victim = h.devices.add();
  const phone = await h.phone(broker, device, { will: undefined });
  const gone = closed(phone);
  phone.publish(
    deviceTopic(victim.deviceId, 'status'),
    JSON.stringify({ updates: [{ id: 'msg_forged', state: 'delivered' }] }),
    { qos: 1 },
  );
  await gone;
  // The victim's own status afterwards: its PUBACK comes once its job is in Redis, behind any job of the forged one.
  const victimPhone = await h.phone(broker, victim);
  const own = { updates: [{ id: 'msg_own', state: 'sent', at: '2025-01-01T00:00:00.000Z' }] };
  await victimPhone.publishAsync(deviceTopic(victim.deviceId, 'status'), JSON.stringify(own), { qos: 1 });
  t.deepEqual(
    (await h.jobsOf(victim.deviceId)).filter((job) => job.channel === 'status').map((job) => job.payload),
    [own],
  );
  // Only the broker's own presence events for the offender, nothing it sent.
  t.true(
    (await h.jobsOf(device.deviceId)).every(
      (job) => job.channel === 'presence' && (job.payload as { source?: string }).source === 'broker',
    ),
  );
});

test('publishing to its own outbox (a server topic) disconnects the device', async (t) => {
  const device = h.devices.add();
  const phone = await h.phone(broker, device, { will: undefined });
  const gone = closed(phone);
  phone.publish(deviceTopic(device.deviceId, 'outbox'), '{"messages":[]}', { qos: 1 });
  await gone;
  t.false(phone.connected);
});

test('a device cannot kick another device through the internal kick topic', async (t) => {
  const attacker = h.devices.add();
  const victim = h.devices.add();
  const victimPhone = await h.phone(broker, victim);
  const phone = await h.phone(broker, attacker, { will: undefined });
  const gone = closed(phone);
  phone.publish(KICK_TOPIC, JSON.stringify({ deviceId: victim.deviceId }), { qos: 1 });
  await gone;
  // A real kick through the same topic afterwards: once it took effect, a forged one would have too.
  const bystander = h.devices.add();
  const bystanderPhone = await h.phone(broker, bystander);
  const bystanderGone = closed(bystanderPhone);
  await broker.publisher.disconnect(bystander.deviceId);
  await bystanderGone;
  t.true(victimPhone.connected);
});

test('an internal client may subscribe to wildcards and sees device publishes; it may not publish to $SYS', async (t) => {
  const { username, password } = internalCredentials(SECRET);
  const internal = h.adopt(
    await mqtt.connectAsync(
      `mqtt://127.0.0.1:${broker.tcpPort}`,
      { clientId: 'smx-acl-internal', username, password, reconnectPeriod: 0 },
      false,
    ),
  );
  t.deepEqual(await suback(internal, 'smx/v1/devices/+/status'), [1]);
  const seen: string[] = [];
  internal.on('message', (topic) => seen.push(topic));
  const device = h.devices.add();
  const phone = await h.phone(broker, device);
  await phone.publishAsync(deviceTopic(device.deviceId, 'status'), '{"updates":[]}', { qos: 1 });
  await eventually(() => seen.includes(deviceTopic(device.deviceId, 'status')), 3000, 'internal delivery');

  const gone = closed(internal);
  internal.publish('$SYS/fake/heartbeat', 'x', { qos: 1 });
  await gone;
  t.pass();
});
