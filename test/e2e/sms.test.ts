/** Custom SMS: one-off and bulk, batches, the message log and its pagination. */
import test, { type ExecutionContext } from 'ava';
import type { OutboxMessage } from '../../protocol/payloads.js';
import { createProject, linkNewDevice, startPhone, useSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'sms');

async function projectWithFastPhone(t: ExecutionContext) {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const credentials = await linkNewDevice(smx, projectId);
  await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 });
  const received: OutboxMessage[] = [];
  const phone = await startPhone(t, credentials, { onSend: (m) => void received.push(m) });
  return { projectId, key, credentials, received, phone };
}

test('send-sms: 201 with the spec fields, the phone sends it, the log shows its text and progress', async (t) => {
  const smx = current();
  const { key, credentials, received } = await projectWithFastPhone(t);
  const sent = await smx.api(key, 'POST', '/v1/send-sms', {
    to: '+4915112345678',
    message: 'Hello from SMX €',
    metadata: { order: 42 },
  });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  const d = sent.body.data;
  t.deepEqual(
    Object.keys(d).sort(),
    ['createdAt', 'deviceId', 'expiresAt', 'messageId', 'parts', 'scheduleAt', 'status', 'to'].sort(),
  );
  t.is(d.status, 'QUEUED');
  t.is(d.parts, 1);
  t.is(d.deviceId, credentials.deviceId);
  const sms = await eventually(async () => received.find((m) => m.id === d.messageId));
  t.is(sms.body, 'Hello from SMX €');
  const read = await eventually(async () => {
    const m = await smx.api(key, 'GET', `/v1/messages/${d.messageId}`);
    return m.body.data.status === 'DELIVERED' ? m.body.data : null;
  });
  t.is(read.kind, 'sms');
  t.is(read.message, 'Hello from SMX €');
  t.deepEqual(read.metadata, { order: 42 });
});

test('send-sms: parts counted as a phone does; too long, empty and invalid inputs are refused', async (t) => {
  const smx = current();
  const { key } = await projectWithFastPhone(t);
  const long = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message: 'a'.repeat(161) });
  t.is(long.body.data.parts, 2);
  const cyrillic = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message: 'ж'.repeat(71) });
  t.is(cyrillic.body.data.parts, 2);
  const tooLong = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message: 'a'.repeat(1601) });
  t.is(tooLong.status, 400);
  t.is(tooLong.body.error.details[0]!.field, 'message');
  const empty = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message: '' });
  t.is(empty.status, 400);
  const badNumber = await smx.api(key, 'POST', '/v1/send-sms', { to: '+1', message: 'x' });
  t.is(badNumber.status, 422);
  t.is(badNumber.body.error.code, 'INVALID_PHONE_NUMBER');
});

test('bulk: invalid entries are rejected by index, valid ones reach the phone exactly once', async (t) => {
  const smx = current();
  const { key, received } = await projectWithFastPhone(t);
  const messages = Array.from({ length: 300 }, (_, i) => ({
    to: `+1415555${String(1000 + i).padStart(4, '0')}`,
    message: `bulk ${i}`,
  }));
  messages[7] = { to: 'not a number', message: 'x' };
  messages[99] = { to: '+14155551099', message: '' };
  (messages as unknown[])[150] = 'oops';
  const bulk = await smx.api(key, 'POST', '/v1/send-sms/bulk', { messages });
  t.is(bulk.status, 202, JSON.stringify(bulk.body).slice(0, 500));
  t.true(bulk.body.data.batchId.startsWith('bat_'));
  t.is(bulk.body.data.accepted, 297);
  t.deepEqual(
    bulk.body.data.rejected.map((r: { index: number; code: string }) => [r.index, r.code]),
    [
      [7, 'INVALID_PHONE_NUMBER'],
      [99, 'VALIDATION_FAILED'],
      [150, 'VALIDATION_FAILED'],
    ],
  );
  await eventually(async () => received.length >= 297, 20_000, 'all valid messages on the phone');
  const texts = received.map((m) => m.body);
  t.is(new Set(received.map((m) => m.id)).size, received.length, 'no message sent twice');
  t.deepEqual(
    texts,
    messages.filter((_, i) => ![7, 99, 150].includes(i)).map((m) => m.message),
    'in the order they were given',
  );
  const batch = await eventually(
    async () => {
      const b = await smx.api(key, 'GET', `/v1/batches/${bulk.body.data.batchId}`);
      return b.body.data.counts.DELIVERED === 297 ? b.body.data : null;
    },
    20_000,
    'all delivered',
  );
  t.deepEqual([batch.total, batch.accepted, batch.rejected], [300, 297, 3]);
});

test('bulk: the to[] form, and a project without a device is DEVICE_NOT_LINKED', async (t) => {
  const smx = current();
  const { key, received } = await projectWithFastPhone(t);
  const bulk = await smx.api(key, 'POST', '/v1/send-sms/bulk', {
    to: ['+14155550001', '+14155550002', 'x'],
    message: 'same text',
  });
  t.is(bulk.status, 202);
  t.is(bulk.body.data.accepted, 2);
  t.deepEqual(
    bulk.body.data.rejected.map((r: { index: number }) => r.index),
    [2],
  );
  await eventually(async () => received.filter((m) => m.body === 'same text').length === 2);
  const lonely = await createProject(smx, 'no device');
  const none = await smx.api(lonely.key, 'POST', '/v1/send-sms/bulk', { to: ['+14155550001'], message: 'x' });
  t.is(none.status, 409);
  t.is(none.body.error.code, 'DEVICE_NOT_LINKED');
  const neither = await smx.api(key, 'POST', '/v1/send-sms/bulk', { message: 'x' });
  t.is(neither.status, 400);
  const tooMany = await smx.api(key, 'POST', '/v1/send-sms/bulk', {
    to: Array.from({ length: 10_001 }, () => '+14155550001'),
    message: 'x',
  });
  t.is(tooMany.status, 400);
  t.is(tooMany.body.error.details[0]!.field, 'to');
  const both = await smx.api(key, 'POST', '/v1/send-sms/bulk', {
    messages: [{ to: '+14155550001', message: 'a' }],
    to: ['+14155550002'],
    message: 'b',
  });
  t.is(both.status, 400, 'both body forms: one would be dropped silently');
  t.like(both.body.error, { code: 'VALIDATION_FAILED', details: [{ field: 'messages' }] });
});

test('the log: newest first, filters, and cursor pages stay stable while messages arrive', async (t) => {
  const smx = current();
  const { key } = await projectWithFastPhone(t);
  const ids: string[] = [];
  for (let i = 0; i < 7; i++)
    ids.push(
      (await smx.api(key, 'POST', '/v1/send-sms', { to: '+14155550123', message: `log ${i}` })).body.data.messageId,
    );
  await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550123' });
  const smsOnly = await smx.api(key, 'GET', '/v1/messages?kind=sms&limit=3');
  t.is(smsOnly.status, 200);
  t.deepEqual(
    smsOnly.body.data.messages.map((m: { messageId: string }) => m.messageId),
    ids.slice(-3).reverse(),
  );
  const seen: string[] = [...smsOnly.body.data.messages.map((m: { messageId: string }) => m.messageId)];
  let cursor = smsOnly.body.data.nextCursor as string | null;
  while (cursor) {
    // A new message between pages must not shift what the next page shows.
    await smx.api(key, 'POST', '/v1/send-sms', { to: '+14155550123', message: 'interloper' });
    const page = await smx.api(key, 'GET', `/v1/messages?kind=sms&limit=3&cursor=${cursor}`);
    seen.push(...page.body.data.messages.map((m: { messageId: string }) => m.messageId));
    cursor = page.body.data.nextCursor;
  }
  t.deepEqual(seen, [...ids].reverse(), 'every message once, in order, none skipped or repeated');
  const bad = await smx.api(key, 'GET', '/v1/messages?limit=500');
  t.is(bad.status, 400);
  const badCursor = await smx.api(key, 'GET', '/v1/messages?cursor=zzz');
  t.is(badCursor.status, 400);
  const badStatus = await smx.api(key, 'GET', '/v1/messages?status=LOST');
  t.is(badStatus.status, 400);
  // Every bad parameter at once, the range of limit and the cursor's list included.
  const many = await smx.api(
    key,
    'GET',
    `/v1/messages?status=bogus&limit=0&from=yesterday&cursor=${Buffer.from('w5').toString('base64url')}`,
  );
  t.is(many.status, 400);
  t.is(many.body.error.code, 'VALIDATION_FAILED');
  t.deepEqual(many.body.error.details.map((d) => d.field).sort(), ['cursor', 'from', 'limit', 'status']);
});
