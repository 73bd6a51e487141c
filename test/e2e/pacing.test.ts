/**
 * Sending pace (device-protocol.md §4): the server spreads a device's messages to the rate set for
 * it. Checked through what the dispatcher records (reserved slots, dispatch order), not by timing.
 */
import test from 'ava';
import type { Knex } from 'knex';
import type { OutboxMessage } from '../../protocol/payloads.js';
import { createProject, linkNewDevice, startPhone, useSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'pacing');
const db = () => current().smx.container.resolve<Knex>(Symbol.for('smx.Knex'));

test('a paced device gets its messages spread to its rate, in order; rate 0 means no pacing', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const credentials = await linkNewDevice(smx, projectId);
  const patched = await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 60 });
  t.is(patched.status, 200);
  t.is(patched.body.data.sendRatePerMinute, 60);
  const received: OutboxMessage[] = [];
  await startPhone(t, credentials, { onSend: (m) => void received.push(m) });

  const ids: string[] = [];
  for (const n of [1, 2, 3]) {
    const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: `+1415555013${n}` });
    t.is(sent.status, 201);
    ids.push(sent.body.data.messageId);
  }
  const status = await smx.api(key, 'GET', '/v1/status');
  t.true(
    status.body.data.queue.waiting + status.body.data.queue.delayed + status.body.data.queue.active >= 1,
    'the backlog shows in /v1/status',
  );
  await eventually(async () => received.length === 3, 15_000, 'three messages on the phone');
  t.deepEqual(
    received.map((m) => m.id),
    ids,
    'one device gets its messages in the order they were sent',
  );

  // The phone can get a message before the dispatcher's mark lands; wait for all three marks.
  const rows: Array<{ id: string; dispatched_at: Date }> = await eventually(
    async () => {
      const found: Array<{ id: string; dispatched_at: Date | null }> = await db()('messages')
        .whereIn('id', ids)
        .select('id', 'dispatched_at');
      return found.every((r) => r.dispatched_at !== null)
        ? (found as Array<{ id: string; dispatched_at: Date }>)
        : null;
    },
    10_000,
    'dispatch marks',
  );
  const at = ids.map((id) => rows.find((r) => r.id === id)!.dispatched_at.getTime());
  // 60 per minute = one message a second, so three take at least two seconds of pacing. (The
  // timestamps are written after each publish, so single gaps jitter; the span cannot shrink.)
  t.true(at[2]! - at[0]! >= 1500, `three messages dispatched within ${at[2]! - at[0]!} ms`);

  await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 });
  const unpaced: string[] = [];
  for (const n of [4, 5, 6])
    unpaced.push((await smx.api(key, 'POST', '/v1/send-otp', { to: `+1415555013${n}` })).body.data.messageId);
  await eventually(async () => received.length === 6, 15_000, 'three more messages');
  t.deepEqual(
    received.slice(3).map((m) => m.id),
    unpaced,
  );
});

test('a device that never connected keeps its message queued until it does, then gets it', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const credentials = await linkNewDevice(smx, projectId);
  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550140' });
  t.is(sent.status, 201, 'a linked phone that is offline does not fail the call');
  const status = await smx.api(key, 'GET', '/v1/status');
  t.deepEqual(
    [status.body.data.ready, status.body.data.device.linked, status.body.data.device.online],
    [false, true, false],
  );
  const message = await smx.api(key, 'GET', `/v1/messages/${sent.body.data.messageId}`);
  t.is(message.body.data.status, 'QUEUED');

  const received: OutboxMessage[] = [];
  await startPhone(t, credentials, { onSend: (m) => void received.push(m) });
  await eventually(
    async () => received.some((m) => m.id === sent.body.data.messageId),
    30_000,
    'the held message after the first connect',
  );
  await eventually(
    async () => (await smx.api(key, 'GET', '/v1/status')).body.data.ready === true,
    10_000,
    'ready once online',
  );
});
