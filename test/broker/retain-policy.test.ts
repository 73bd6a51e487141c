/**
 * Retained messages (issue 10: a 5 MB retained status was kept): only a device's presence up to
 * 4 KiB is retained. Elsewhere, and above the cap, the retain flag is cleared: the publish is
 * acknowledged and bridged as usual, the connection stays up, and nothing is stored.
 */
import test from 'ava';
import mqtt, { type MqttClient } from 'mqtt';
import { deviceTopic } from '../../protocol/topics.js';
import type { EmbeddedBroker } from '../../broker/embedded-broker.js';
import { INTERNAL_CLIENT_ID_PREFIX, internalCredentials } from '../../broker/internal-credentials.js';
import { MAX_RETAINED_PAYLOAD_BYTES, mayRetain, purgeRetained } from '../../broker/retain-policy.js';
import { sessionKeyPrefix } from '../../broker/session-store.js';
import { connectRedis } from '../../core/redis.js';
import { Harness, REDIS_URL, SECRET, testPrefix } from './_helpers.js';
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

const retainedKey = () => `${sessionKeyPrefix(h.prefix)}retained`;
const retainedTopics = async () => (await h.redis.hkeys(retainedKey())).sort();

/** An internal client that records what it receives (retained deliveries on subscribe included). */
async function observer(
  name: string,
): Promise<{ client: MqttClient; seen: Array<{ topic: string; retain: boolean; bytes: number }> }> {
  const { username, password } = internalCredentials(SECRET);
  const client = h.adopt(
    await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.tcpPort}`, {
      clientId: `${INTERNAL_CLIENT_ID_PREFIX}${name}`,
      username,
      password,
      reconnectPeriod: 0,
    }),
  );
  const seen: Array<{ topic: string; retain: boolean; bytes: number }> = [];
  client.on(
    'message',
    (topic, payload, packet) => void seen.push({ topic, retain: packet.retain, bytes: payload.length }),
  );
  return { client, seen };
}

test('mayRetain: presence topics only, up to 4 KiB', (t) => {
  const id = 'dev_AAAAAAAAAAAAAAAAAAAAAA';
  t.true(mayRetain(deviceTopic(id, 'presence'), 0));
  t.true(mayRetain(deviceTopic(id, 'presence'), MAX_RETAINED_PAYLOAD_BYTES));
  t.false(mayRetain(deviceTopic(id, 'presence'), MAX_RETAINED_PAYLOAD_BYTES + 1));
  for (const channel of ['status', 'inbox', 'outbox', 'control'] as const)
    t.false(mayRetain(deviceTopic(id, channel), 10));
  t.false(mayRetain('anything/else', 10));
});

test('a retained status or inbox publish is acknowledged and bridged, but not stored', async (t) => {
  const device = h.devices.add();
  const phone = await h.phone(broker, device);
  const status = deviceTopic(device.deviceId, 'status');
  const big = JSON.stringify({ updates: [], pad: 'x'.repeat(200 * 1024) });
  await phone.publishAsync(status, big, { qos: 1, retain: true });
  await phone.publishAsync(deviceTopic(device.deviceId, 'inbox'), '{"messages":[]}', { qos: 1, retain: true });
  t.true(phone.connected, 'the connection stays up');
  // aedes acknowledges a QoS 1 publish before it stores a retained copy: a retained presence
  // sent behind them and seen stored means the two before it were stored, or never will be.
  const presence = deviceTopic(device.deviceId, 'presence');
  await phone.publishAsync(presence, '{"online":true}', { qos: 1, retain: true });
  await eventually(async () => (await retainedTopics()).includes(presence), 3000, 'the presence behind them retained');
  const jobs = (await h.jobsOf(device.deviceId)).filter((job) => job.channel !== 'presence');
  t.deepEqual(
    jobs.map((job) => job.channel),
    ['status', 'inbox'],
    'both were bridged',
  );
  t.deepEqual(
    (await retainedTopics()).filter((topic) => topic.includes(device.deviceId)),
    [presence],
    'neither the status nor the inbox retained',
  );

  const { client, seen } = await observer('retain-status');
  await client.subscribeAsync([status, deviceTopic(device.deviceId, 'inbox')], { qos: 1 });
  // A live status after the SUBACK is delivered behind anything retained the subscription got.
  await phone.publishAsync(status, '{"updates":[]}', { qos: 1 });
  await eventually(() => seen.length > 0, 3000, 'the live status');
  t.deepEqual(
    seen,
    [{ topic: status, retain: false, bytes: '{"updates":[]}'.length }],
    'a new subscriber gets no retained status',
  );
});

test('a retained presence is stored up to 4 KiB; a larger one is bridged but not stored; an empty one clears it', async (t) => {
  const device = h.devices.add();
  const phone = await h.phone(broker, device);
  const presence = deviceTopic(device.deviceId, 'presence');
  await phone.publishAsync(presence, JSON.stringify({ online: true, battery: 80 }), { qos: 1, retain: true });
  await eventually(async () => (await retainedTopics()).includes(presence), 3000, 'the presence retained');

  const large = JSON.stringify({ online: true, pad: 'p'.repeat(MAX_RETAINED_PAYLOAD_BYTES) });
  await phone.publishAsync(presence, large, { qos: 1, retain: true });
  t.true(phone.connected);
  const { client, seen } = await observer('retain-presence');
  await client.subscribeAsync(presence, { qos: 1 });
  await eventually(() => seen.length > 0, 3000, 'the retained presence');
  // A live (not retained) presence behind it: anything else retained would have come before it.
  await phone.publishAsync(presence, '{"online":true}', { qos: 1 });
  await eventually(() => seen.length > 1, 3000, 'the live presence');
  t.deepEqual(
    seen,
    [
      { topic: presence, retain: true, bytes: JSON.stringify({ online: true, battery: 80 }).length },
      { topic: presence, retain: false, bytes: '{"online":true}'.length },
    ],
    'the small one stayed retained',
  );
  t.true(
    (await h.jobsOf(device.deviceId)).some((job) => (job.payload as { pad?: string }).pad !== undefined),
    'the large one was bridged',
  );

  await phone.publishAsync(presence, '', { qos: 1, retain: true });
  await eventually(
    async () => !(await retainedTopics()).includes(presence),
    3000,
    'an empty retained publish clears it',
  );
  t.pass();
});

test('retained messages stored before the policy are purged at start', async (t) => {
  const id = 'dev_PURGEPURGEPURGEPURGE00';
  const key = retainedKey();
  await h.redis.hset(key, deviceTopic(id, 'status'), Buffer.alloc(5 * 1024 * 1024, 1));
  await h.redis.hset(key, deviceTopic(id, 'inbox'), Buffer.alloc(10, 1));
  await h.redis.hset(key, deviceTopic(id, 'presence'), Buffer.alloc(200, 1));
  await h.redis.hset(key, `${deviceTopic(id, 'presence')}x`, Buffer.alloc(10, 1));
  // A connection with the session store's key prefix, as the broker runs it at start.
  const redis = await connectRedis(REDIS_URL, { keyPrefix: sessionKeyPrefix(h.prefix) });
  t.teardown(() => redis.disconnect());
  const removed = await purgeRetained(redis, h.logger);
  t.true(removed >= 3);
  const left = await h.redis.hkeys(key);
  t.true(left.includes(deviceTopic(id, 'presence')));
  t.false(
    left.some(
      (topic) =>
        topic.startsWith(deviceTopic(id, 'status')) ||
        topic.startsWith(deviceTopic(id, 'inbox')) ||
        topic.endsWith('presencex'),
    ),
  );
});
