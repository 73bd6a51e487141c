/**
 * The broker's access control end to end (device-protocol.md §2 and §4 "Access control"), with
 * devices linked through the real API and talking to the real embedded broker: a device reads and
 * writes its own topics only, a forged status for another device is dropped (and costs the forger
 * its connection) before it reaches the device-events queue, bad passwords are refused, and
 * MQTT over WebSocket works for a linked phone.
 */
import test, { type ExecutionContext } from 'ava';
import type { Queue } from 'bullmq';
import type { DeviceEventJob, Queues } from '../../core/queues.js';
import type { LinkResult, OutboxMessage } from '../../protocol/payloads.js';
import { closed, connectRaw, deviceOptions, subscribeGrants, type ConnackRefusal } from '../helpers/mqtt.js';
import { createProject, linkNewDevice, startPhone, useSmx, type TestSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'broker-acl');

function tcpUrl(smx: TestSmx): string {
  return `mqtt://127.0.0.1:${smx.smx.broker!.tcpPort}`;
}

function deviceEvents(smx: TestSmx): Queue<DeviceEventJob> {
  return smx.smx.container.resolve<Queues>(Symbol.for('smx.Queues')).deviceEvents;
}

/** Two devices of one project, linked through the API (the second is active). */
async function twoDevices(smx: TestSmx): Promise<{ key: string; a: LinkResult; b: LinkResult }> {
  const { projectId, key } = await createProject(smx);
  const a = await linkNewDevice(smx, projectId, 'Phone A');
  const b = await linkNewDevice(smx, projectId, 'Phone B');
  return { key, a, b };
}

async function refusal(
  t: ExecutionContext,
  url: string,
  options: Parameters<typeof connectRaw>[2],
): Promise<ConnackRefusal | null> {
  return connectRaw(t, url, options).then(
    () => null,
    (error: ConnackRefusal) => error,
  );
}

test("a device cannot subscribe to another device's topics, wildcards or $SYS (SUBACK 128), only to its own", async (t) => {
  const smx = current();
  const { key, a, b } = await twoDevices(smx);
  const client = await connectRaw(t, tcpUrl(smx), deviceOptions(a));

  const refused = [
    b.topics.outbox,
    b.topics.control,
    '#',
    'smx/v1/devices/+/outbox',
    'smx/#',
    '$SYS/#',
    `smx/v1/devices/${a.deviceId}/#`,
    a.topics.status,
  ];
  for (const topic of refused) t.deepEqual(await subscribeGrants(client, topic), [128], `SUBACK for ${topic}`);
  t.true(client.connected, 'a refused subscription does not cost the connection');
  t.deepEqual(
    await subscribeGrants(client, [a.topics.outbox, a.topics.control]),
    [1, 1],
    'its own outbox and control are granted',
  );
  // In one SUBSCRIBE, each filter gets its own answer.
  t.deepEqual(await subscribeGrants(client, [a.topics.outbox, '#', b.topics.outbox]), [1, 128, 128]);

  // Nothing meant for B reaches A: B's OTP goes to B's outbox only.
  const seen: string[] = [];
  client.on('message', (topic) => void seen.push(topic));
  const received: OutboxMessage[] = [];
  await startPhone(t, b, { onSend: (m) => void received.push(m) });
  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550161' });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  await eventually(async () => received.some((m) => m.id === sent.body.data.messageId), 10_000, "B's SMS on B");
  await eventually(
    async () =>
      (await smx.api(key, 'GET', `/v1/messages/${sent.body.data.messageId}`)).body.data.status === 'DELIVERED',
    10_000,
    'DELIVERED',
  );
  t.false(
    seen.some((topic) => topic.includes(b.deviceId)),
    `A saw: ${seen.join(', ')}`,
  );
});

test("publishing to another device's status disconnects the forger and changes nothing", async (t) => {
  const smx = current();
  const { key, a, b } = await twoDevices(smx);
  // B sends and reports `sent` but never `delivered`: the message rests at SENT.
  await startPhone(t, b, { report: { sent: true, delivered: false } });
  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550162' });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  const messageId = sent.body.data.messageId as string;
  await eventually(
    async () => (await smx.api(key, 'GET', `/v1/messages/${messageId}`)).body.data.status === 'SENT',
    10_000,
    'SENT',
  );

  const forger = await connectRaw(t, tcpUrl(smx), deviceOptions(a));
  const pubacks: number[] = [];
  forger.on('packetreceive', (packet) => {
    if (packet.cmd === 'puback') pubacks.push(packet.messageId ?? -1);
  });
  const gone = closed(forger);
  const forged = JSON.stringify({ updates: [{ id: messageId, state: 'delivered', at: new Date().toISOString() }] });
  forger.publish(b.topics.status, forged, { qos: 1 });
  await gone;
  t.false(forger.connected, 'the forger was disconnected');
  t.deepEqual(pubacks, [], 'the forged publish was not acknowledged');

  // The bridge enqueues a device publish before it acknowledges it, so a forged update that got
  // through would be a job by now. Let the queue drain, then look at every job and the message.
  const queue = deviceEvents(smx);
  await eventually(
    async () => {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      return Object.values(counts).every((n) => n === 0);
    },
    10_000,
    'the device-events queue to drain',
  );
  const jobs = await queue.getJobs(['completed', 'failed', 'waiting', 'active', 'delayed']);
  t.false(
    jobs.some(
      (job) =>
        JSON.stringify(job.data.payload).includes('"delivered"') &&
        JSON.stringify(job.data.payload).includes(messageId),
    ),
    'no job carries the forged update',
  );
  t.false(
    jobs.some((job) => job.data.deviceId === a.deviceId && job.data.channel === 'status'),
    'no status job in the name of the forger',
  );
  const message = await smx.api(key, 'GET', `/v1/messages/${messageId}`);
  t.is(message.body.data.status, 'SENT');
  t.is(message.body.data.deliveredAt, null);

  // The forger's credentials still work (it was disconnected, not unlinked) and its own topics are fine.
  const back = await connectRaw(t, tcpUrl(smx), deviceOptions(a));
  await back.publishAsync(a.topics.status, JSON.stringify({ updates: [] }), { qos: 1 });
  t.true(back.connected);
});

test('a device may publish only to its own status, inbox and presence', async (t) => {
  const smx = current();
  const { a, b } = await twoDevices(smx);
  for (const topic of [
    a.topics.outbox,
    a.topics.control,
    b.topics.presence,
    b.topics.inbox,
    'smx/internal/kick',
    '$SYS/x',
    'anything',
  ]) {
    const client = await connectRaw(t, tcpUrl(smx), deviceOptions(a));
    const gone = closed(client);
    client.publish(topic, JSON.stringify({ deviceId: b.deviceId, online: false }), { qos: 1 });
    await gone;
    t.false(client.connected, `publishing to ${topic} cost the connection`);
  }
  const client = await connectRaw(t, tcpUrl(smx), deviceOptions(a));
  for (const topic of [a.topics.status, a.topics.inbox, a.topics.presence]) {
    await client.publishAsync(
      topic,
      JSON.stringify(
        topic === a.topics.presence
          ? { online: true, battery: 50 }
          : topic === a.topics.inbox
            ? { messages: [] }
            : { updates: [] },
      ),
      { qos: 1 },
    );
  }
  t.true(client.connected, 'its own device topics are allowed');
});

test('wrong passwords and identities are refused with "bad user name or password"', async (t) => {
  const smx = current();
  const { a, b } = await twoDevices(smx);
  const wrongSecret = await refusal(t, tcpUrl(smx), deviceOptions(a, { password: `${a.mqtt.password}x` }));
  t.is(wrongSecret?.code, 4, wrongSecret?.message);
  const othersSecret = await refusal(t, tcpUrl(smx), deviceOptions(a, { password: b.mqtt.password }));
  t.is(othersSecret?.code, 4, "B's secret does not open A");
  const noPassword = await refusal(t, tcpUrl(smx), { clientId: a.deviceId, username: a.deviceId });
  t.is(noPassword?.code, 4);
  // clientId must equal the user name: A's credentials under B's client id would take over B's session.
  const mismatched = await refusal(t, tcpUrl(smx), deviceOptions(a, { clientId: b.deviceId }));
  t.truthy(mismatched, 'A cannot connect as client B');
  t.true([2, 4, 5].includes(mismatched?.code ?? -1), `refused: ${mismatched?.message}`);
  const unknown = await refusal(t, tcpUrl(smx), {
    clientId: 'dev_AAAAAAAAAAAAAAAAAAAAAA',
    username: 'dev_AAAAAAAAAAAAAAAAAAAAAA',
    password: a.mqtt.password,
  });
  t.is(unknown?.code, 4);
  // Over WebSocket too.
  const overWs = await refusal(
    t,
    a.mqtt.wsUrl.replace('localhost', '127.0.0.1'),
    deviceOptions(a, { password: 'wrong-wrong-wrong' }),
  );
  t.is(overWs?.code, 4);
  // And the right one works.
  const ok = await connectRaw(t, tcpUrl(smx), deviceOptions(a));
  t.true(ok.connected);
});

test('a linked phone works over MQTT-over-WebSocket: connects, shows online, receives and reports an OTP', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const credentials = await linkNewDevice(smx, projectId);
  t.regex(credentials.mqtt.wsUrl, /^ws:\/\/[^/]+:\d+\/mqtt$/);
  const received: OutboxMessage[] = [];
  const phone = await startPhone(t, credentials, { transport: 'ws', onSend: (m) => void received.push(m) });
  t.true(phone.connected);
  await eventually(async () => (await smx.api(key, 'GET', '/v1/status')).body.data.device.online, 10_000, 'online');
  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550163', code: '5566' });
  t.is(sent.status, 201);
  const sms = await eventually(
    async () => received.find((m) => m.id === sent.body.data.messageId),
    10_000,
    'the SMS over WebSocket',
  );
  t.true(sms.body.endsWith('5566'));
  await eventually(
    async () =>
      (await smx.api(key, 'GET', `/v1/messages/${sent.body.data.messageId}`)).body.data.status === 'DELIVERED',
    10_000,
    'DELIVERED',
  );
  // The ACL is the same over WebSocket (another device, so the phone's session is left alone).
  const other = await linkNewDevice(smx, projectId, 'Raw WebSocket client');
  const raw = await connectRaw(t, other.mqtt.wsUrl, deviceOptions(other));
  t.deepEqual(await subscribeGrants(raw, ['#', credentials.topics.outbox, other.topics.outbox]), [128, 128, 1]);
});
