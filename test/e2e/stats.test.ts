/** /v1/stats: hourly counters written with each change add up to the message log, per project. */
import test from 'ava';
import type { Knex } from 'knex';
import type { OutboxMessage } from '../../protocol/payloads.js';
import { StatsService } from '../../core/services/stats.js';
import { TOKENS } from '../../core/tokens.js';
import { createProject, linkNewDevice, startPhone, useSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'stats');

test('totals match the message log and the challenges; the series sums to the totals; other projects stay apart', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const credentials = await linkNewDevice(smx, projectId);
  await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 });
  const received: OutboxMessage[] = [];
  await startPhone(t, credentials, { onSend: (m) => void received.push(m) });

  // 4 OTPs: 2 verified, 1 canceled; 6 SMS via bulk (one rejected) + 2 single.
  const otps = [];
  for (let i = 0; i < 4; i++)
    otps.push((await smx.api(key, 'POST', '/v1/send-otp', { to: `+1415555020${i}`, code: `12340${i}` })).body.data);
  const bulk = await smx.api(key, 'POST', '/v1/send-sms/bulk', {
    to: ['+14155550210', '+14155550211', 'bad', '+14155550212', '+14155550213', '+14155550214'],
    message: 'stats',
  });
  t.is(bulk.body.data.accepted, 5);
  for (let i = 0; i < 2; i++)
    await smx.api(key, 'POST', '/v1/send-sms', { to: '+14155550215', message: `single ${i}` });
  await eventually(async () => received.length === 11, 20_000, 'all 11 messages on the phone');
  await eventually(
    async () => {
      const all = await smx.api(key, 'GET', '/v1/messages?limit=200');
      return all.body.data.messages.every((m: { status: string }) => m.status === 'DELIVERED');
    },
    20_000,
    'all delivered',
  );
  for (const v of otps.slice(0, 2))
    t.true(
      (
        await smx.api(key, 'POST', '/v1/verify-otp', {
          verificationId: v.verificationId,
          otp: `12340${otps.indexOf(v)}`,
        })
      ).body.data.verified,
    );

  // A second project's traffic must not show up.
  const other = await createProject(smx, 'other');
  const otherDevice = await linkNewDevice(smx, other.projectId);
  await startPhone(t, otherDevice);
  await smx.api(other.key, 'POST', '/v1/send-sms', { to: '+14155550299', message: 'elsewhere' });

  const stats = await smx.api(key, 'GET', '/v1/stats?interval=hour');
  t.is(stats.status, 200, JSON.stringify(stats.body));
  const { totals, series } = stats.body.data;
  t.deepEqual(totals.sms, { queued: 7, sent: 7, delivered: 7, failed: 0, expired: 0 });
  t.like(totals.otp, { requested: 4, sent: 4, delivered: 4, failed: 0, verified: 2, expired: 0, conversionRate: 0.5 });
  const buckets = (from: string, to: string, step: number) =>
    Math.ceil((Date.parse(to) - Math.floor(Date.parse(from) / step) * step) / step);
  t.is(
    series.length,
    buckets(stats.body.data.from, stats.body.data.to, 3_600_000),
    'one bucket per (partial) hour of the last 24 hours',
  );
  const sum = (path: (s: any) => number) => series.reduce((n: number, s: any) => n + path(s), 0);
  t.is(
    sum((s) => s.sms.queued),
    7,
  );
  t.is(
    sum((s) => s.otp.verified),
    2,
  );

  // The same figures from the log itself.
  const db = smx.smx.container.resolve<Knex>(Symbol.for('smx.Knex'));
  const log = await db('messages')
    .where({ project_id: projectId })
    .select('kind', 'status')
    .count({ n: '*' })
    .groupBy('kind', 'status');
  t.deepEqual(log.map((r: any) => `${r.kind}:${r.status}:${r.n}`).sort(), ['otp:DELIVERED:4', 'sms:DELIVERED:7']);

  const daily = await smx.api(key, 'GET', '/v1/stats?interval=day');
  t.is(daily.body.data.series.length, buckets(daily.body.data.from, daily.body.data.to, 86_400_000));
  t.deepEqual(daily.body.data.totals, totals);
});

test('expired challenges and failed deliveries are counted', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const credentials = await linkNewDevice(smx, projectId);
  await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 });
  await startPhone(t, credentials, { report: { sent: false, delivered: false, failWith: 'RADIO_OFF' } });
  const sms = await smx.api(key, 'POST', '/v1/send-sms', { to: '+14155550301', message: 'will fail' });
  const failed = await eventually(
    async () => {
      const m = await smx.api(key, 'GET', `/v1/messages/${sms.body.data.messageId}`);
      return m.body.data.status === 'FAILED' ? m.body.data : null;
    },
    15_000,
    'FAILED',
  );
  t.is(failed.error, 'RADIO_OFF');
  const otp = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550302', ttl: 60 });
  // The phone's failure first: a challenge that ends while its SMS is unsent withdraws the SMS,
  // and a withdrawal is no delivery failure (a busy machine could otherwise expire it first).
  await eventually(
    async () => (await smx.api(key, 'GET', `/v1/messages/${otp.body.data.messageId}`)).body.data.status === 'FAILED',
    15_000,
    'the OTP message FAILED',
  );
  const db = smx.smx.container.resolve<Knex>(Symbol.for('smx.Knex'));
  await db('verifications')
    .where({ id: otp.body.data.verificationId })
    .update({ expires_at: new Date(Date.now() - 1000) });
  const stats = await eventually(
    async () => {
      const s = await smx.api(key, 'GET', '/v1/stats');
      return s.body.data.totals.otp.expired === 1 ? s.body.data : null;
    },
    20_000,
    'the maintenance job to expire the challenge',
  );
  t.is(stats.totals.sms.failed, 1);
  t.is(stats.totals.otp.failed, 1, 'the OTP message failed too (the phone fails everything)');
});

test('stats input is validated', async (t) => {
  const smx = current();
  const { key } = await createProject(smx);
  t.is((await smx.api(key, 'GET', '/v1/stats?interval=week')).status, 400);
  t.is((await smx.api(key, 'GET', '/v1/stats?from=yesterday')).status, 400);
  const backwards = await smx.api(key, 'GET', '/v1/stats?from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z');
  t.is(backwards.status, 400);
  t.is(backwards.body.error.code, 'VALIDATION_FAILED');
  const tooLong = await smx.api(
    key,
    'GET',
    '/v1/stats?interval=hour&from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z',
  );
  t.is(tooLong.status, 400);
});

test('an OTP that expires before its phone sent it counts once as expired (its challenge), not again for its message', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  await linkNewDevice(smx, projectId); // never connects: the message waits QUEUED
  const otp = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550303', ttl: 60 });
  const db = smx.smx.container.resolve<Knex>(Symbol.for('smx.Knex'));
  const past = new Date(Date.now() - 1000);
  await db('verifications').where({ id: otp.body.data.verificationId }).update({ expires_at: past });
  await db('messages').where({ id: otp.body.data.messageId }).update({ expires_at: past });
  // Both written EXPIRED by the maintenance job (a read would show EXPIRED before that).
  await eventually(
    async () => {
      const message = await db('messages').where({ id: otp.body.data.messageId, status: 'EXPIRED' }).first('id');
      const verification = await db('verifications')
        .where({ id: otp.body.data.verificationId, status: 'EXPIRED' })
        .first('id');
      return message && verification;
    },
    20_000,
    'both expired by the maintenance job',
  );
  const totals = (await smx.api(key, 'GET', '/v1/stats')).body.data.totals.otp;
  t.like(totals, { requested: 1, expired: 1, verified: 0, conversionRate: 0 });
});

test('counters are hourly: the window counted is from/to widened to whole hours, and the answer says which', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const stats = smx.smx.container.resolve(StatsService);
  const db = smx.smx.container.resolve<Knex>(TOKENS.Knex);
  const at = (iso: string) => new Date(iso);
  await stats.record(db, [
    { projectId, metric: 'sms.queued', at: at('2026-03-01T09:59:59Z') },
    { projectId, metric: 'sms.queued', at: at('2026-03-01T10:05:00Z') },
    { projectId, metric: 'sms.queued', at: at('2026-03-01T10:45:00Z') },
    { projectId, metric: 'sms.queued', at: at('2026-03-01T11:00:00Z') },
  ]);
  const window = (await smx.api(key, 'GET', '/v1/stats?from=2026-03-01T10:30:00Z&to=2026-03-01T10:31:00Z')).body.data;
  t.like(window, { from: '2026-03-01T10:00:00.000Z', to: '2026-03-01T11:00:00.000Z' });
  t.is(window.totals.sms.queued, 2, 'both events of the 10:00 hour, nothing of 09:00 or 11:00');
  t.deepEqual(
    window.series.map((b: { start: string }) => b.start),
    ['2026-03-01T10:00:00.000Z'],
  );
  const aligned = (await smx.api(key, 'GET', '/v1/stats?from=2026-03-01T10:00:00Z&to=2026-03-01T12:00:00Z')).body.data;
  t.like(aligned, { from: '2026-03-01T10:00:00.000Z', to: '2026-03-01T12:00:00.000Z' });
  t.deepEqual(
    aligned.series.map((b: { sms: { queued: number } }) => b.sms.queued),
    [2, 1],
  );
  const daily = (await smx.api(key, 'GET', '/v1/stats?interval=day&from=2026-03-01T10:00:00Z&to=2026-03-01T10:00:01Z'))
    .body.data;
  t.like(daily, { from: '2026-03-01T10:00:00.000Z', to: '2026-03-01T11:00:00.000Z' });
  t.is(daily.totals.sms.queued, 2);
  t.is(daily.series[0].sms.queued, 2, 'a day bucket holds only the window');
});
