/**
 * send-sms `scheduleAt`, `ttlSeconds` and `validUntil` (docs/api.md "POST /v1/send-sms"): a
 * scheduled message is held in the database (not handed to any phone) until its time, also
 * across a restart of the whole SMX instance; it can be canceled while held; its TTL counts from
 * its time.
 */
import test, { type ExecutionContext } from 'ava';
import type { OutboxMessage } from '../../protocol/payloads.js';
import {
  cleanupTestSmx,
  createProject,
  linkNewDevice,
  phoneMarker,
  startPhone,
  startTestSmx,
  useSmx,
  type TestSmx,
} from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const NAME = 'sms-scheduling';
const current = useSmx(test, NAME);

/** A project whose one phone is online, unpaced, and records what it is handed and when. */
async function projectWithPhone(t: ExecutionContext, smx: TestSmx) {
  const { projectId, key } = await createProject(smx);
  const credentials = await linkNewDevice(smx, projectId);
  await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 });
  const received: Array<OutboxMessage & { at: number }> = [];
  await startPhone(t, credentials, { onSend: (m) => void received.push({ ...m, at: Date.now() }) });
  return { projectId, key, credentials, received };
}

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

test('a scheduled SMS is held until its time, then handed over once; the answer and the log show scheduleAt', async (t) => {
  const smx = current();
  const { key, received } = await projectWithPhone(t, smx);
  const scheduleAt = inMs(2_500);
  const sent = await smx.api(key, 'POST', '/v1/send-sms', {
    to: '+4915112345678',
    message: 'later',
    scheduleAt,
    ttlSeconds: 600,
  });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  const { messageId } = sent.body.data;
  t.is(sent.body.data.scheduleAt, scheduleAt);
  t.is(
    sent.body.data.expiresAt,
    new Date(Date.parse(scheduleAt) + 600_000).toISOString(),
    'the TTL counts from scheduleAt',
  );

  // A message sent after it, without a schedule, reaches the phone first: the held one did not go.
  await phoneMarker(smx, key, (id) => received.some((m) => m.id === id));
  t.false(
    received.some((m) => m.id === messageId),
    'not handed over before its time',
  );
  const held = await smx.api(key, 'GET', `/v1/messages/${messageId}`);
  t.is(held.body.data.status, 'QUEUED');
  t.is(held.body.data.scheduleAt, scheduleAt);
  const status = await smx.api(key, 'GET', '/v1/status');
  t.like(status.body.data.queue, { delayed: 1, waiting: 0 }, 'a scheduled message counts as delayed');

  const sms = await eventually(() => received.find((m) => m.id === messageId), 15_000, 'the scheduled SMS at its time');
  t.true(
    sms.at >= Date.parse(scheduleAt),
    `handed over at ${new Date(sms.at).toISOString()}, scheduled for ${scheduleAt}`,
  );
  t.is(sms.body, 'later');
  await eventually(
    async () => (await smx.api(key, 'GET', `/v1/messages/${messageId}`)).body.data.status === 'DELIVERED',
    10_000,
    'DELIVERED',
  );
  t.is(received.filter((m) => m.id === messageId).length, 1);
});

test('a scheduled SMS can be canceled while held: it ends FAILED CANCELED and never reaches the phone', async (t) => {
  const smx = current();
  const { key, received } = await projectWithPhone(t, smx);
  const scheduleAt = inMs(2_000);
  const [keep, drop] = await Promise.all(
    ['kept', 'dropped'].map((message) =>
      smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message, scheduleAt }),
    ),
  );
  const canceled = await smx.api(key, 'POST', `/v1/messages/${drop!.body.data.messageId}/cancel`);
  t.is(canceled.status, 200, JSON.stringify(canceled.body));
  t.is(canceled.body.data.status, 'FAILED');
  t.is(canceled.body.data.error, 'CANCELED');
  // Both were due at the same time and are released by the same statement: once the kept one
  // arrived, the canceled one would have too.
  await eventually(() => received.some((m) => m.id === keep!.body.data.messageId), 15_000, 'the kept scheduled SMS');
  t.false(received.some((m) => m.id === drop!.body.data.messageId));
});

test('bulk: scheduleAt and priority apply to every message; the batch waits QUEUED', async (t) => {
  const smx = current();
  const { key, received } = await projectWithPhone(t, smx);
  const scheduleAt = inMs(2_000);
  const bulk = await smx.api(key, 'POST', '/v1/send-sms/bulk', {
    to: ['+4915112345601', '+4915112345602'],
    message: 'bulk later',
    scheduleAt,
    priority: 5,
  });
  t.is(bulk.status, 202, JSON.stringify(bulk.body));
  t.is(bulk.body.data.accepted, 2);
  const batch = await smx.api(key, 'GET', `/v1/batches/${bulk.body.data.batchId}`);
  t.is(batch.body.data.counts.QUEUED, 2);
  await eventually(() => received.filter((m) => m.body === 'bulk later').length === 2, 15_000, 'both at their time');
  for (const m of received.filter((r) => r.body === 'bulk later')) {
    t.true(m.at >= Date.parse(scheduleAt));
    t.is(m.priority, 5);
  }
});

test('expiry options: ttlSeconds is ttl, validUntil is absolute, and the refused combinations name their field', async (t) => {
  const smx = current();
  const { key } = await projectWithPhone(t, smx);
  const send = (body: object) => smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message: 'x', ...body });

  const before = Date.now();
  const ttlSeconds = await send({ ttlSeconds: 120 });
  t.is(ttlSeconds.status, 201, JSON.stringify(ttlSeconds.body));
  const expires = Date.parse(ttlSeconds.body.data.expiresAt);
  t.true(expires >= before + 120_000 && expires <= Date.now() + 120_000);
  t.is(ttlSeconds.body.data.scheduleAt, null);

  const validUntil = new Date(Date.now() + 3_600_000).toISOString();
  const absolute = await send({ validUntil });
  t.is(absolute.status, 201);
  t.is(absolute.body.data.expiresAt, validUntil);

  const refused = async (body: object, field: string) => {
    const answer = await send(body);
    t.is(answer.status, 400, JSON.stringify(body));
    t.is(answer.body.error.code, 'VALIDATION_FAILED');
    t.true(
      answer.body.error.details.some((d) => d.field === field),
      `${JSON.stringify(body)} → ${JSON.stringify(answer.body.error.details)}`,
    );
  };
  await refused({ ttl: 120, ttlSeconds: 120 }, 'ttl');
  await refused({ ttl: 120, validUntil }, 'ttl');
  await refused({ ttlSeconds: 30 }, 'ttlSeconds');
  await refused({ scheduleAt: new Date(Date.now() - 60_000).toISOString() }, 'scheduleAt');
  await refused({ scheduleAt: '2030-01-01T10:00:00' }, 'scheduleAt'); // no zone
  await refused({ scheduleAt: new Date(Date.now() + 40 * 86_400_000).toISOString() }, 'scheduleAt');
  await refused({ scheduleAt: inMs(60_000), validUntil: inMs(30_000) }, 'validUntil');
  await refused({ validUntil: new Date(Date.now() - 1000).toISOString() }, 'validUntil');
  await refused({ validUntil: new Date(Date.now() + 4 * 86_400_000).toISOString() }, 'validUntil');
  await refused({ priority: 128 }, 'priority');
});

test('a scheduled SMS survives a restart of the whole SMX instance and goes out at its time after it', async (t) => {
  const first = await startTestSmx(`${NAME}-restart`, { db: 'postgres' });
  let last: TestSmx = first;
  t.teardown(async () => {
    await first.close();
    await last.close();
    await cleanupTestSmx(last);
  });
  const { projectId, key } = await createProject(first);
  const credentials = await linkNewDevice(first, projectId);
  await first.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 });
  const early: OutboxMessage[] = [];
  const phone = await startPhone(t, credentials, { onSend: (m) => void early.push(m) });
  const scheduleAt = inMs(4_000);
  const sent = await first.api(key, 'POST', '/v1/send-sms', {
    to: '+4915112345678',
    message: 'across a restart',
    scheduleAt,
  });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  const { messageId } = sent.body.data;
  await phone.stop();
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
  t.is(
    (await second.api(key, 'GET', `/v1/messages/${messageId}`)).body.data.status,
    'QUEUED',
    'still held after the restart',
  );
  const received: Array<OutboxMessage & { at: number }> = [];
  await startPhone(t, credentials, {
    url: `mqtt://127.0.0.1:${second.smx.broker!.tcpPort}`,
    onSend: (m) => void received.push({ ...m, at: Date.now() }),
  });
  const sms = await eventually(
    () => received.find((m) => m.id === messageId),
    20_000,
    'the scheduled SMS after the restart',
  );
  t.true(sms.at >= Date.parse(scheduleAt), 'not before its time');
  t.false(
    early.some((m) => m.id === messageId),
    'not handed to the phone before the restart',
  );
  await eventually(
    async () => (await second.api(key, 'GET', `/v1/messages/${messageId}`)).body.data.status === 'DELIVERED',
    10_000,
    'DELIVERED',
  );
});
