/**
 * The external-broker bridge against a real third-party broker: the Mosquitto of the test
 * machine (127.0.0.1:1883, anonymous; SMX_TEST_EXTERNAL_MQTT_URL overrides). We only connect to
 * it as clients; device ids are random, so other users of that broker do not disturb us.
 */
import { randomBytes } from 'node:crypto';
import test from 'ava';
import mqtt, { type MqttClient } from 'mqtt';
import { deviceTopic } from '../../protocol/topics.js';
import { startExternalBridge, type ExternalBridge, type ExternalBridgeOptions } from '../../broker/external-bridge.js';
import { Harness, SECRET, testPrefix } from './_helpers.js';
import { eventually } from '../helpers/eventually.js';

const EXTERNAL_URL = process.env.SMX_TEST_EXTERNAL_MQTT_URL ?? 'mqtt://127.0.0.1:1883';

let h: Harness;
const bridges: ExternalBridge[] = [];
const retainedTopics = new Set<string>();
const group = `smxt${randomBytes(4).toString('hex')}`;

test.before(async () => {
  h = await Harness.open(testPrefix(import.meta.url));
});

test.after.always(async () => {
  await Promise.all(bridges.map((b) => b.close()));
  if (retainedTopics.size > 0) {
    // Leave the shared broker as we found it: an empty retained payload deletes a retained message.
    const cleaner = await mqtt.connectAsync(EXTERNAL_URL, { reconnectPeriod: 0 }, false);
    for (const topic of retainedTopics) await cleaner.publishAsync(topic, '', { qos: 1, retain: true });
    await cleaner.endAsync();
  }
  await h?.close();
});

async function bridge(options: Partial<ExternalBridgeOptions> = {}): Promise<ExternalBridge> {
  const started = await startExternalBridge({
    url: EXTERNAL_URL,
    secret: SECRET,
    deviceEvents: h.queue,
    presence: h.presence,
    logger: h.logger,
    group,
    ...options,
  });
  bridges.push(started);
  return started;
}

/** A phone on the external broker (which does its own authentication; Mosquitto here is open). */
async function externalPhone(deviceId: string): Promise<MqttClient> {
  return h.adopt(await mqtt.connectAsync(EXTERNAL_URL, { clientId: deviceId, reconnectPeriod: 0 }, false));
}

/** Ids of jobs BullMQ refused to add again (a job with that id existed): its events stream says "duplicated". */
async function duplicatedJobIds(): Promise<string[]> {
  const entries = await h.redis.xrange(h.queue.keys.events!, '-', '+');
  return entries.filter(([, fields]) => fields[1] === 'duplicated').map(([, fields]) => fields[3]!);
}

async function publishRetained(phone: MqttClient, topic: string, payload: object): Promise<void> {
  retainedTopics.add(topic);
  await phone.publishAsync(topic, JSON.stringify(payload), { qos: 1, retain: true });
}

test.serial('shared subscriptions: device publishes become jobs and the online flag drives presence', async (t) => {
  const started = await bridge();
  t.true(started.shared());
  t.true(started.ready());
  const deviceId = `dev_${randomBytes(16).toString('base64url')}`;
  const phone = await externalPhone(deviceId);

  await phone.publishAsync(deviceTopic(deviceId, 'status'), '{"updates":[{"id":"msg_x","state":"sent"}]}', { qos: 1 });
  await phone.publishAsync(deviceTopic(deviceId, 'inbox'), '{not json', { qos: 1 });
  await publishRetained(phone, deviceTopic(deviceId, 'presence'), { online: true, battery: 50 });
  await eventually(async () => (await h.presence.get(deviceId)).online, 3000, 'online');
  await publishRetained(phone, deviceTopic(deviceId, 'presence'), { online: false });
  await eventually(async () => !(await h.presence.get(deviceId)).online, 3000, 'offline');

  const jobs = await h.jobsOf(deviceId);
  t.deepEqual(
    jobs.map((job) => [job.channel, job.payload]),
    [
      ['status', { updates: [{ id: 'msg_x', state: 'sent' }] }],
      ['presence', { online: true, battery: 50 }],
      ['presence', { online: true, source: 'broker' }],
      ['presence', { online: false }],
      ['presence', { online: false, source: 'broker' }],
    ],
  );
  await started.close();
  t.false(started.ready());
});

test.serial('plain subscriptions: retained state is not an event, and two bridges enqueue one job', async (t) => {
  const deviceId = `dev_${randomBytes(16).toString('base64url')}`;
  const phone = await externalPhone(deviceId);
  await publishRetained(phone, deviceTopic(deviceId, 'presence'), { online: true });

  const first = await bridge({ shared: false });
  const second = await bridge({ shared: false });
  t.false(first.shared());
  t.false(second.shared());
  // Both got the retained presence on subscribe; neither may enqueue it. The status published
  // afterwards reaches each bridge behind it, so the jobs below would show it.
  await phone.publishAsync(deviceTopic(deviceId, 'status'), '{"updates":[]}', { qos: 1 });
  await eventually(async () => (await h.jobsOf(deviceId)).length > 0, 3000, 'the job');
  // The second bridge's copy of the status was refused as a duplicate of the first one's job.
  const [job] = (await h.queue.getJobs(['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'])).filter(
    (j) => j.data.deviceId === deviceId,
  );
  await eventually(
    async () => (await duplicatedJobIds()).includes(job!.id!),
    3000,
    "the other bridge's copy refused as a duplicate",
  );
  t.deepEqual(
    (await h.jobsOf(deviceId)).map((job) => job.channel),
    ['status'],
  );
});
