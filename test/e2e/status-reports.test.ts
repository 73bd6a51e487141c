/**
 * Status reports written as a group: a `sent` and a `delivered` report of the same messages that
 * arrive together are applied in one write, keeping both times, counting each once, and each
 * report is answered with the changes its own updates made.
 */
import test from 'ava';
import type { Knex } from 'knex';
import { StatusReports } from '../../core/delivery/status-reports.js';
import { TOKENS } from '../../core/tokens.js';
import { createProject, linkNewDevice, useSmx } from '../helpers/smx.js';

const current = useSmx(test, 'status-reports');

test('sent and delivered reports arriving together: one group, both times kept, each counted once, each change owned by its report', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const device = await linkNewDevice(smx, projectId);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await smx.api(key, 'POST', '/v1/send-sms', { to: `+491511234560${i}`, message: `m${i}` })).body.data.messageId);

  const reports = smx.smx.container.resolve(StatusReports);
  const sentAt = new Date(Date.now() - 60_000).toISOString();
  const deliveredAt = new Date(Date.now() - 55_000).toISOString();
  const [sent, delivered, foreign] = await Promise.all([
    reports.apply(device.deviceId, ids.map((id) => ({ id, state: 'sent' as const, at: sentAt })), new Date()),
    reports.apply(device.deviceId, ids.slice(0, 2).map((id) => ({ id, state: 'delivered' as const, at: deliveredAt })), new Date()),
    reports.apply('dev_someoneelse000000000000', ids.map((id) => ({ id, state: 'failed' as const, error: 'X' })), new Date()),
  ]);
  t.deepEqual(foreign, [], "another device's reports move nothing");
  t.deepEqual(delivered.map((c) => c.id).sort(), ids.slice(0, 2).sort());
  t.true(delivered.every((c) => c.status === 'DELIVERED' && c.update.state === 'delivered'));
  t.deepEqual(sent.map((c) => [c.id, c.status]), [[ids[2], 'SENT']], 'the sent report owns only the change its update made');

  const db = smx.smx.container.resolve<Knex>(TOKENS.Knex);
  const rows: Array<{ id: string; status: string; sent_at: Date; delivered_at: Date | null }> = await db('messages').whereIn('id', ids).select('id', 'status', 'sent_at', 'delivered_at');
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
  t.deepEqual(await reports.apply(device.deviceId, ids.map((id) => ({ id, state: 'sent' as const, at: sentAt })), new Date()), []);
});

test('a report time the phone\'s clock cannot have (hours ahead) is replaced by the time SMX received it', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const device = await linkNewDevice(smx, projectId);
  const id = (await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345699', message: 'clock' })).body.data.messageId as string;
  const receivedAt = new Date();
  const ahead = new Date(receivedAt.getTime() + 6 * 3_600_000).toISOString();
  await smx.smx.container.resolve(StatusReports).apply(device.deviceId, [{ id, state: 'sent', at: ahead }], receivedAt);
  const message = (await smx.api(key, 'GET', `/v1/messages/${id}`)).body.data;
  t.is(message.sentAt, receivedAt.toISOString());
  t.is((await smx.api(key, 'GET', '/v1/stats')).body.data.totals.sms.sent, 1, 'counted in the range, not six hours ahead');
});

test('one report read in order, as separate reports would be: the first of delivered/failed is final', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const device = await linkNewDevice(smx, projectId);
  const send = async (n: number) => (await smx.api(key, 'POST', '/v1/send-sms', { to: `+491511234570${n}`, message: `order ${n}` })).body.data.messageId as string;
  const [a, b, c] = [await send(1), await send(2), await send(3)];
  await smx.smx.container.resolve(StatusReports).apply(
    device.deviceId,
    [
      { id: a, state: 'delivered' }, { id: a, state: 'failed', error: 'LATE' }, // failed after delivered: backwards
      { id: b, state: 'failed', error: 'RADIO_OFF' }, { id: b, state: 'delivered' }, // delivered after failed: too
      { id: c, state: 'sent' }, { id: c, state: 'delivered' }, { id: c, state: 'sent' },
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
  const id = (await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345711', message: 'twice' })).body.data.messageId as string;
  const first = new Date(Date.now() - 120_000).toISOString();
  const again = new Date(Date.now() - 60_000).toISOString();
  await smx.smx.container.resolve(StatusReports).apply(device.deviceId, [{ id, state: 'sent', at: first }, { id, state: 'sent', at: again }], new Date());
  t.is((await smx.api(key, 'GET', `/v1/messages/${id}`)).body.data.sentAt, first);
});
