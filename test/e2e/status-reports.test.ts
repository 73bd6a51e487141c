/**
 * Status reports written as a group: a `sent` and a `delivered` report of the same messages that
 * arrive together are applied in one write, keeping both times, counting each once, and each
 * report is answered with the changes its own updates made.
 */
import test from 'ava';
import type { Knex } from 'knex';
import { StatusReports } from '../../core/delivery/status-reports.js';
import { TOKENS } from '../../core/tokens.js';
import { connectRaw, deviceOptions } from '../helpers/mqtt.js';
import { createProject, linkNewDevice, useSmx, type TestSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'status-reports');

test('sent and delivered reports arriving together: one group, both times kept, each counted once, each change owned by its report', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const device = await linkNewDevice(smx, projectId);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++)
    ids.push(
      (await smx.api(key, 'POST', '/v1/send-sms', { to: `+491511234560${i}`, message: `m${i}` })).body.data.messageId,
    );

  const reports = smx.smx.container.resolve(StatusReports);
  // Times after the messages were created (a phone cannot send one before), a little ahead of
  // the server's clock: believed as they are.
  const sentAt = new Date(Date.now() + 1_000).toISOString();
  const deliveredAt = new Date(Date.now() + 6_000).toISOString();
  const [sent, delivered, foreign] = await Promise.all([
    reports.apply(
      device.deviceId,
      ids.map((id) => ({ id, state: 'sent' as const, at: sentAt })),
      new Date(),
    ),
    reports.apply(
      device.deviceId,
      ids.slice(0, 2).map((id) => ({ id, state: 'delivered' as const, at: deliveredAt })),
      new Date(),
    ),
    reports.apply(
      'dev_someoneelse000000000000',
      ids.map((id) => ({ id, state: 'failed' as const, error: 'X' })),
      new Date(),
    ),
  ]);
  t.deepEqual(foreign, [], "another device's reports move nothing");
  t.deepEqual(delivered.map((c) => c.id).sort(), ids.slice(0, 2).sort());
  t.true(delivered.every((c) => c.status === 'DELIVERED' && c.update.state === 'delivered'));
  t.deepEqual(
    sent.map((c) => [c.id, c.status]),
    [[ids[2], 'SENT']],
    'the sent report owns only the change its update made',
  );

  const db = smx.smx.container.resolve<Knex>(TOKENS.Knex);
  const rows: Array<{ id: string; status: string; sent_at: Date; delivered_at: Date | null }> = await db('messages')
    .whereIn('id', ids)
    .select('id', 'status', 'sent_at', 'delivered_at');
  for (const row of rows) {
    t.is(new Date(row.sent_at).toISOString(), sentAt, 'the sent time survives the merge');
    if (row.id === ids[2]) t.is(row.status, 'SENT');
    else {
      t.is(row.status, 'DELIVERED');
      t.is(new Date(row.delivered_at!).toISOString(), deliveredAt);
    }
  }
  const stats = (await smx.api(key, 'GET', '/v1/stats')).body.data.totals.sms;
  t.like(stats, { sent: 3, delivered: 2, failed: 0 });

  // Replaying both reports changes nothing (idempotent, never backwards).
  t.deepEqual(
    await reports.apply(
      device.deviceId,
      ids.map((id) => ({ id, state: 'sent' as const, at: sentAt })),
      new Date(),
    ),
    [],
  );
});

test("a report time the phone's clock cannot have (hours ahead) is replaced by the time SMX received it", async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const device = await linkNewDevice(smx, projectId);
  const id = (await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345699', message: 'clock' })).body.data
    .messageId as string;
  const receivedAt = new Date();
  const ahead = new Date(receivedAt.getTime() + 6 * 3_600_000).toISOString();
  await smx.smx.container.resolve(StatusReports).apply(device.deviceId, [{ id, state: 'sent', at: ahead }], receivedAt);
  const message = (await smx.api(key, 'GET', `/v1/messages/${id}`)).body.data;
  t.is(message.sentAt, receivedAt.toISOString());
  t.is(
    (await smx.api(key, 'GET', '/v1/stats')).body.data.totals.sms.sent,
    1,
    'counted in the range, not six hours ahead',
  );
});

test('one report read in order, as separate reports would be: the first of delivered/failed is final', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const device = await linkNewDevice(smx, projectId);
  const send = async (n: number) =>
    (await smx.api(key, 'POST', '/v1/send-sms', { to: `+491511234570${n}`, message: `order ${n}` })).body.data
      .messageId as string;
  const [a, b, c] = [await send(1), await send(2), await send(3)];
  await smx.smx.container.resolve(StatusReports).apply(
    device.deviceId,
    [
      { id: a, state: 'delivered' },
      { id: a, state: 'failed', error: 'LATE' }, // failed after delivered: backwards
      { id: b, state: 'failed', error: 'RADIO_OFF' },
      { id: b, state: 'delivered' }, // delivered after failed: too
      { id: c, state: 'sent' },
      { id: c, state: 'delivered' },
      { id: c, state: 'sent' },
    ],
    new Date(),
  );
  const status = async (id: string) => (await smx.api(key, 'GET', `/v1/messages/${id}`)).body.data;
  t.like(await status(a), { status: 'DELIVERED' });
  t.is((await status(a)).error ?? null, null);
  t.like(await status(b), { status: 'FAILED', error: 'RADIO_OFF' });
  t.like(await status(c), { status: 'DELIVERED' });
});

test('a sent repeated in one report keeps the first time, as separate reports would', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const device = await linkNewDevice(smx, projectId);
  const id = (await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345711', message: 'twice' })).body.data
    .messageId as string;
  // After the message was created (a phone cannot send it before), a little ahead of the server's clock.
  const first = new Date(Date.now() + 1_000).toISOString();
  const again = new Date(Date.now() + 2_000).toISOString();
  await smx.smx.container.resolve(StatusReports).apply(
    device.deviceId,
    [
      { id, state: 'sent', at: first },
      { id, state: 'sent', at: again },
    ],
    new Date(),
  );
  t.is((await smx.api(key, 'GET', `/v1/messages/${id}`)).body.data.sentAt, first);
});

/** SQL as knex puts it into an error's message (statement text, values included). */
const SQL_TEXT = /with v\(id|update messages|insert into|values \(|invalid byte sequence/i;

/** The log lines written since `from` (a position in smx.logs()). */
const logsSince = (smx: TestSmx, from: number) => smx.logs().slice(from);

test('a poison update (NUL in its id, a control character in its error) is dropped alone over real MQTT: its neighbours apply, nothing is retried, no SQL in the log', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const device = await linkNewDevice(smx, projectId);
  const send = async (n: number) =>
    (await smx.api(key, 'POST', '/v1/send-sms', { to: `+491511234580${n}`, message: `poison ${n}` })).body.data
      .messageId as string;
  const [good, failed, other] = [await send(1), await send(2), await send(3)];
  const from = smx.logs().length;

  const phone = await connectRaw(t, device.mqtt.url, deviceOptions(device));
  await phone.publishAsync(
    device.topics.status,
    JSON.stringify({
      updates: [
        { id: `msg_\u0000${good.slice(5)}`, state: 'sent' },
        { id: good, state: 'sent', at: new Date().toISOString() },
        { id: good, state: 'delivered' },
        { id: failed, state: 'failed', error: 'RADIO_OFF' },
        { id: other, state: 'failed', error: 'BAD\u0000CODE' },
        { id: `${other}${'x'.repeat(10_000)}`, state: 'sent' },
        { id: other.replace('msg_', 'ver_'), state: 'sent' },
        { id: other, state: 'exploded' },
      ],
    }),
    { qos: 1 },
  );

  const status = async (id: string) => (await smx.api(key, 'GET', `/v1/messages/${id}`)).body.data;
  await eventually(
    async () => (await status(good)).status === 'DELIVERED',
    10_000,
    'the valid update next to the poison one to apply',
  );
  t.like(await status(failed), { status: 'FAILED', error: 'RADIO_OFF' });
  t.not((await status(other)).status, 'FAILED', 'the failed update with a NUL in its error is dropped');
  const logs = await eventually(
    async () => {
      const text = logsSince(smx, from);
      return text.includes('status updates dropped') ? text : null;
    },
    5_000,
    'the warn line',
  );
  t.regex(logs, /"dropped":5/);
  t.regex(logs, /"problems":\{"id":3,"error":1,"state":1\}/);
  t.notRegex(logs, SQL_TEXT);
  t.false(logs.includes('"job failed"'), 'no failed (and retried) job');
  // Info and above (what production writes): the drop is one line of counts, never the payload.
  const written = logs.split('\n').filter((l) => /"level":([3-9]\d)/.test(l));
  t.false(
    written.some((l) => l.includes('BAD') || l.includes('xxxxxxxx')),
    'the payload is not dumped',
  );
});

test('inbound SMS over real MQTT: a NUL sender or a receipt time PostgreSQL cannot store does not take the other SMS down', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const device = await linkNewDevice(smx, projectId);
  const from = smx.logs().length;
  const phone = await connectRaw(t, device.mqtt.url, deviceOptions(device));
  const receivedAt = new Date(Date.now() - 60_000).toISOString();
  await phone.publishAsync(
    device.topics.inbox,
    JSON.stringify({
      messages: [
        { from: '+4915100\u000011111', body: 'nul sender', receivedAt, simSlot: 0 },
        { from: '+4915100000001', body: 'ancient', receivedAt: '-200000-01-01T00:00:00.000Z', simSlot: 0 },
        { from: '+4915100000002', body: 'with a \u0000 inside', receivedAt, simSlot: 99 },
        { from: 42, body: 'not a sender' },
      ],
    }),
    { qos: 1 },
  );
  const inbox = await eventually(
    async () => {
      const page = (await smx.api(key, 'GET', '/v1/inbox')).body.data;
      const list = page.messages as
        Array<{ from: string; body: string; receivedAt: string; simSlot: number | null }> | undefined;
      return list && list.length >= 2 ? list : null;
    },
    10_000,
    'the good SMS in the inbox',
  );
  const byBody = new Map(inbox.map((m) => [m.body, m]));
  t.deepEqual([...byBody.keys()].sort(), ['ancient', 'with a  inside']);
  t.like(byBody.get('with a  inside'), { from: '+4915100000002', receivedAt, simSlot: null });
  t.true(
    Math.abs(Date.parse(byBody.get('ancient')!.receivedAt) - Date.now()) < 60_000,
    'an impossible time is replaced by the receipt time',
  );
  const logs = logsSince(smx, from);
  t.regex(logs, /inbound SMS dropped: malformed/);
  t.notRegex(logs, SQL_TEXT);
  t.false(logs.includes('"job failed"'));
});

test("a message's times never run backwards: a phone clock a little behind still gives dispatched <= sent <= delivered", async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx, 'Clock behind');
  const device = await linkNewDevice(smx, projectId, 'Slow clock');
  await smx.admin('PATCH', `/admin/devices/${device.deviceId}`, { sendRatePerMinute: 0 });
  const phone = await connectRaw(t, device.mqtt.url, deviceOptions(device, { clean: false }));
  phone.on('message', (topic, payload) => {
    if (!topic.endsWith('/outbox')) return;
    const { messages } = JSON.parse(payload.toString()) as { messages: Array<{ id: string }> };
    // This phone's clock runs 3 s behind the server's (well within what is believed), and it
    // reports delivery at once, with a time earlier still than its sent time.
    const sentAt = new Date(Date.now() - 3000).toISOString();
    const deliveredAt = new Date(Date.now() - 4000).toISOString();
    const updates = messages.flatMap(({ id }) => [
      { id, state: 'sent', at: sentAt },
      { id, state: 'delivered', at: deliveredAt },
    ]);
    phone.publish(device.topics.status, JSON.stringify({ updates }), { qos: 1 });
  });
  await phone.subscribeAsync(device.topics.outbox, { qos: 1 });
  const sent = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345699', message: 'times' });
  const message = await eventually(
    async () => {
      const m = (await smx.api(key, 'GET', `/v1/messages/${sent.body.data.messageId}`)).body.data;
      return m.status === 'DELIVERED' ? m : undefined;
    },
    10_000,
    'DELIVERED',
  );
  const [created, dispatched, sentTime, delivered] = [
    message.createdAt,
    message.dispatchedAt,
    message.sentAt,
    message.deliveredAt,
  ].map((v: string) => Date.parse(v));
  t.true(created! <= dispatched!, `created ${message.createdAt} <= dispatched ${message.dispatchedAt}`);
  t.true(dispatched! <= sentTime!, `dispatched ${message.dispatchedAt} <= sent ${message.sentAt}`);
  t.true(sentTime! <= delivered!, `sent ${message.sentAt} <= delivered ${message.deliveredAt}`);
});
