import test from 'ava';
import type { EmbeddedBroker } from '../../broker/embedded-broker.js';
import { Harness, closed, sleep, testPrefix } from './_helpers.js';
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
  const firstClosed = closed(first);
  const second = await h.phone(broker, device);
  await firstClosed; // [MQTT-3.1.4-2]: the broker closed the old connection
  await sleep(150);
  t.true(await online(device.deviceId)());
  await second.endAsync();
  await eventually(offline(device.deviceId), 3000, 'offline');
});

test('a new connection before the old one ends keeps the device online (reconnect race)', async (t) => {
  const device = h.devices.add();
  const old = await h.phone(broker, device);
  await eventually(online(device.deviceId), 3000, 'online');
  // The phone reconnects through another node while its old connection still looks alive...
  const fresh = await h.phone(otherNode, device);
  await sleep(100);
  // ...and the old one only now goes away: its late disconnect must not mark the device offline.
  old.stream.destroy();
  await closed(old);
  await sleep(200);
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
  await sleep(100);
  t.false((await h.presence.get(device.deviceId)).online);
  t.deepEqual(await h.jobsOf(device.deviceId), []);
});
