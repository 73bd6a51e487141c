import test from 'ava';
import type { EmbeddedBroker } from '../../broker/embedded-broker.js';
import { Harness, closed, received, testPrefix } from './_helpers.js';
import { deviceTopic } from '../../protocol/index.js';
import { eventually } from '../helpers/eventually.js';

let h: Harness;
let broker: EmbeddedBroker;
let otherNode: EmbeddedBroker;

test.before(async () => {
  h = await Harness.open(testPrefix(import.meta.url));
  broker = await h.startBroker();
  // A second node on the same Redis (no cluster emitter, so no session takeover between them):
  // the phone can hold a connection on each, like a reconnect racing a dead TCP connection.
  otherNode = await h.startBroker();
});

test.after.always(async () => {
  await h?.close();
});

/** The broker's presence events `{ online, source: 'broker' }` of a device, oldest first. */
async function presenceEvents(deviceId: string): Promise<boolean[]> {
  return (await h.jobsOf(deviceId))
    .filter((job) => job.channel === 'presence' && (job.payload as { source?: string }).source === 'broker')
    .map((job) => (job.payload as { online: boolean }).online);
}

const online = (deviceId: string) => async () => (await h.presence.get(deviceId)).online;
/** The connection id the device's presence is recorded under (null when offline). */
const connectionOf = (deviceId: string) => h.redis.hget(`${h.prefix}:presence:${deviceId}`, 'conn');
/** Resolves once the device's presence is recorded under another connection than `previous`. */
const recordedOtherThan = (deviceId: string, previous: string | null) =>
  eventually(
    async () => {
      const current = await connectionOf(deviceId);
      return current !== null && current !== previous;
    },
    3000,
    'the new connection recorded',
  );
const offline = (deviceId: string) => async () => !(await h.presence.get(deviceId)).online;

test('a connection marks the device online and its end marks it offline, with an event each', async (t) => {
  const device = h.devices.add();
  const phone = await h.phone(broker, device);
  await eventually(online(device.deviceId), 3000, 'online');
  const seen = await h.presence.get(device.deviceId);
  t.truthy(seen.lastSeenAt);
  t.true((await h.redis.sismember(`${h.prefix}:presence:online`, device.deviceId)) === 1);

  await phone.endAsync();
  await eventually(offline(device.deviceId), 3000, 'offline');
  await eventually(async () => (await presenceEvents(device.deviceId)).length === 2, 3000, 'two events');
  t.deepEqual(await presenceEvents(device.deviceId), [true, false]);
});

test('a new session counts as online only once it can receive: what is published then reaches the phone before its own SUBSCRIBE', async (t) => {
  const device = h.devices.add();
  // A phone that has connected (new session) and not subscribed yet, as every phone is for a moment.
  const phone = await h.phone(broker, device);
  await eventually(online(device.deviceId), 3000, 'online');
  await broker.publisher.publish(device.deviceId, 'outbox', { messages: [{ id: 'msg_first' }] });
  const outbox = deviceTopic(device.deviceId, 'outbox');
  await eventually(async () => received(phone, outbox).length === 1, 3000, 'the outbox publish at the phone');
  t.deepEqual(received(phone, outbox), [{ messages: [{ id: 'msg_first' }] }]);
  // Its own SUBSCRIBE afterwards is granted as usual.
  const grants = await phone.subscribeAsync({
    [outbox]: { qos: 1 },
    [deviceTopic(device.deviceId, 'control')]: { qos: 1 },
  });
  t.deepEqual(
    grants.map((g) => g.qos),
    [1, 1],
  );
  await phone.endAsync();
});

test('a dropped connection (no DISCONNECT) marks the device offline', async (t) => {
  const device = h.devices.add();
  const phone = await h.phone(broker, device);
  await eventually(online(device.deviceId), 3000, 'online');
  phone.stream.destroy();
  await eventually(offline(device.deviceId), 3000, 'offline');
  t.pass();
});

test('a takeover on the same node (same client id) ends online', async (t) => {
  const device = h.devices.add();
  const first = await h.phone(broker, device);
  await eventually(online(device.deviceId), 3000, 'online');
  const firstConnection = await connectionOf(device.deviceId);
  const firstClosed = closed(first);
  const second = await h.phone(broker, device);
  await firstClosed; // [MQTT-3.1.4-2]: the broker closed the old connection
  // The node issues its presence writes in event order on one Redis connection, the old
  // connection's end before the new one's start: once the new one is recorded, both ran.
  await recordedOtherThan(device.deviceId, firstConnection);
  t.true(await online(device.deviceId)());
  await second.endAsync();
  await eventually(offline(device.deviceId), 3000, 'offline');
});

test('a new connection before the old one ends keeps the device online (reconnect race)', async (t) => {
  const device = h.devices.add();
  const old = await h.phone(broker, device);
  await eventually(online(device.deviceId), 3000, 'online');
  const oldConnection = (await connectionOf(device.deviceId))!;
  // The phone reconnects through another node while its old connection still looks alive...
  const fresh = await h.phone(otherNode, device);
  await recordedOtherThan(device.deviceId, oldConnection);
  // ...and the old one only now goes away: its late disconnect must not mark the device offline.
  old.stream.destroy();
  await closed(old);
  // The old node has handled that end once it no longer holds the device (see PresenceStore.markOffline).
  const oldHolder = oldConnection.slice(0, oldConnection.indexOf(':'));
  await eventually(
    async () => (await h.redis.hget(`${h.prefix}:presence:held-by:${oldHolder}`, device.deviceId)) === null,
    3000,
    "the old connection's end handled",
  );
  t.true(await online(device.deviceId)());
  t.deepEqual(await presenceEvents(device.deviceId), [true]);

  await fresh.endAsync();
  await eventually(offline(device.deviceId), 3000, 'offline');
  await eventually(async () => (await presenceEvents(device.deviceId)).length === 2, 3000, 'offline event');
  t.deepEqual(await presenceEvents(device.deviceId), [true, false]);
});

test('a refused connection leaves no presence', async (t) => {
  const device = h.devices.add();
  await t.throwsAsync(h.phone(broker, { ...device, secret: 'wrong-secret' }));
  // Another device connecting afterwards: the node writes presence and its events in order, so
  // once that one's online event is queued, anything the refused attempt caused would be too.
  const later = h.devices.add();
  const laterPhone = await h.phone(broker, later);
  await eventually(
    async () => (await presenceEvents(later.deviceId)).length > 0,
    3000,
    "the later device's online event",
  );
  await laterPhone.endAsync();
  t.false((await h.presence.get(device.deviceId)).online);
  t.deepEqual(await h.jobsOf(device.deviceId), []);
});
