/**
 * A linked but offline phone (docs/api.md "POST /v1/send-otp": "A linked but offline device does
 * not fail the call: the message waits for the device"; device-protocol.md §2: persistent session,
 * QoS 1). The message reaches the phone when it comes back, also across a restart of the whole
 * SMX instance (broker included): the MQTT session lives in Redis, the message log in PostgreSQL.
 */
import test, { type ExecutionContext } from 'ava';
import type { Queues } from '../../core/queues.js';
import type { LinkResult, OutboxMessage } from '../../protocol/payloads.js';
import {
  cleanupTestSmx,
  createProject,
  linkNewDevice,
  startPhone,
  startTestSmx,
  useSmx,
  type TestSmx,
} from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const NAME = 'offline-delivery';
const current = useSmx(test, NAME);

async function messageStatus(smx: TestSmx, key: string, messageId: string): Promise<string> {
  const read = await smx.api(key, 'GET', `/v1/messages/${messageId}`);
  return read.body.data.status as string;
}

/**
 * Waits until the dispatcher has handled what was signalled (no dispatch job waiting or running).
 * Where an offline phone's message then rests (held in the database, or in the broker's session)
 * is the dispatcher's choice; these tests only ask that it arrives when the phone is back.
 */
async function dispatchSettled(smx: TestSmx): Promise<void> {
  const queue = smx.smx.container.resolve<Queues>(Symbol.for('smx.Queues')).dispatch;
  await eventually(
    async () => {
      const counts = await queue.getJobCounts('waiting', 'active', 'prioritized');
      return Object.values(counts).every((n) => n === 0);
    },
    10_000,
    'the dispatch queue to settle',
  );
}

/** Links a phone, lets it connect once (so the broker holds its persistent session), then stops it. */
async function phoneThatWasOnline(
  t: ExecutionContext,
  smx: TestSmx,
): Promise<{ projectId: string; key: string; credentials: LinkResult }> {
  const { projectId, key } = await createProject(smx);
  const credentials = await linkNewDevice(smx, projectId);
  const first = await startPhone(t, credentials);
  await eventually(async () => (await smx.api(key, 'GET', '/v1/status')).body.data.device.online, 10_000, 'online');
  await first.stop();
  await eventually(
    async () => (await smx.api(key, 'GET', '/v1/status')).body.data.device.online === false,
    10_000,
    'offline',
  );
  return { projectId, key, credentials };
}

test('send-otp to an offline phone is 201; the phone gets the SMS when it is back, and it is DELIVERED', async (t) => {
  const smx = current();
  const { key, credentials } = await phoneThatWasOnline(t, smx);

  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550141', code: '7531' });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  t.is(sent.body.data.status, 'PENDING');
  t.is(sent.body.data.deviceId, credentials.deviceId);
  const { messageId, verificationId } = sent.body.data;
  await dispatchSettled(smx);
  t.true(
    ['QUEUED', 'DISPATCHED'].includes(await messageStatus(smx, key, messageId)),
    'waiting for the phone, not failed or expired',
  );

  const received: OutboxMessage[] = [];
  await startPhone(t, credentials, { onSend: (m) => void received.push(m) });
  const sms = await eventually(
    async () => received.find((m) => m.id === messageId),
    10_000,
    'the queued SMS on the returning phone',
  );
  t.is(sms.to, '+14155550141');
  t.true(sms.body.endsWith('7531'));
  await eventually(async () => (await messageStatus(smx, key, messageId)) === 'DELIVERED', 10_000, 'DELIVERED');
  const verified = await smx.api(key, 'POST', '/v1/verify-otp', { verificationId, otp: '7531' });
  t.true(verified.body.data.verified);
});

test('a phone that never connected yet: send-otp is 201 and the SMS waits for its first connection', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const credentials = await linkNewDevice(smx, projectId);
  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550142' });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  const { messageId } = sent.body.data;
  t.is(await messageStatus(smx, key, messageId), 'QUEUED');

  const received: OutboxMessage[] = [];
  await startPhone(t, credentials, { onSend: (m) => void received.push(m) });
  // The phone's connection wakes the dispatcher; the long wait only covers a fallback re-check.
  await eventually(async () => received.find((m) => m.id === messageId), 40_000, 'the SMS once the phone connected');
  await eventually(async () => (await messageStatus(smx, key, messageId)) === 'DELIVERED', 10_000, 'DELIVERED');
  t.is(received.filter((m) => m.id === messageId).length, 1);
});

test('a message queued for an offline phone survives a restart of the whole SMX instance', async (t) => {
  const first = await startTestSmx(`${NAME}-restart`, { db: 'postgres' });
  let last: TestSmx = first;
  // Registered first, so it runs after the phones' teardowns (ava runs them in reverse order).
  t.teardown(async () => {
    await first.close();
    await last.close();
    await cleanupTestSmx(last);
  });

  const { key, credentials } = await phoneThatWasOnline(t, first);
  const sent = await first.api(key, 'POST', '/v1/send-otp', { to: '+14155550143', code: '8642' });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  const { messageId, verificationId } = sent.body.data;
  await dispatchSettled(first);
  const before = await messageStatus(first, key, messageId);
  t.true(['QUEUED', 'DISPATCHED'].includes(before), before);

  // Stop everything (HTTP, workers, broker, connections) but keep Redis and the schema.
  await first.close();
  const second = await startTestSmx(`${NAME}-restart`, {
    db: 'postgres',
    reuse: {
      redisPrefix: first.redisPrefix,
      schema: first.smx.config.databaseSchema,
      dataDir: first.smx.config.dataDir,
      adminToken: first.adminToken,
    },
  });
  last = second;
  t.not(second.smx.broker!.tcpPort, 0);
  t.is(await messageStatus(second, key, messageId), before, 'the message log survived');

  // The phone comes back with the credentials it linked with; only the broker's port moved.
  const received: OutboxMessage[] = [];
  await startPhone(t, credentials, {
    url: `mqtt://127.0.0.1:${second.smx.broker!.tcpPort}`,
    onSend: (m) => void received.push(m),
  });
  const sms = await eventually(
    async () => received.find((m) => m.id === messageId),
    10_000,
    'the SMS queued before the restart',
  );
  t.true(sms.body.endsWith('8642'));
  await eventually(
    async () => (await messageStatus(second, key, messageId)) === 'DELIVERED',
    10_000,
    'DELIVERED after the restart',
  );
  const verified = await second.api(key, 'POST', '/v1/verify-otp', { verificationId, otp: '8642' });
  t.true(verified.body.data.verified, 'the code hash is keyed with the same server secret');
  t.is(
    (await second.admin('GET', `/admin/devices/${credentials.deviceId}`)).status,
    200,
    'the admin token carried over',
  );
});
