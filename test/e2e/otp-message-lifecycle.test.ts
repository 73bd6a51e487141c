/**
 * An OTP's SMS follows its challenge: metadata travels with the message, and an SMS still waiting
 * for its phone when the challenge ends (failed, or verified through an earlier SMS) is withdrawn.
 */
import test from 'ava';
import type { OutboxMessage } from '../../protocol/payloads.js';
import { createProject, linkNewDevice, startPhone, useSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'otp-message-lifecycle');

test('send-otp metadata is on its message (and so in message.* webhooks)', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  await linkNewDevice(smx, projectId);
  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345678', metadata: { userId: 'u-42' } });
  t.is(sent.status, 201);
  const message = await smx.api(key, 'GET', `/v1/messages/${sent.body.data.messageId}`);
  t.deepEqual(message.body.data.metadata, { userId: 'u-42' });
});

test('a challenge that failed while its phone was away: the waiting SMS is withdrawn and never reaches the phone', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const credentials = await linkNewDevice(smx, projectId);
  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345679', maxAttempts: 1 });
  const wrong = await smx.api(key, 'POST', '/v1/verify-otp', {
    verificationId: sent.body.data.verificationId,
    otp: '000000',
  });
  t.is(wrong.body.data.status, 'FAILED');
  const withdrawn = await eventually(
    async () => {
      const m = (await smx.api(key, 'GET', `/v1/messages/${sent.body.data.messageId}`)).body.data;
      return m.status === 'FAILED' ? m : undefined;
    },
    10_000,
    'withdrawn',
  );
  t.is(withdrawn.error, 'VERIFICATION_FAILED');

  // The phone comes online; a fresh OTP is its first SMS, the withdrawn one never arrives.
  const received: OutboxMessage[] = [];
  await startPhone(t, credentials, { onSend: (m) => void received.push(m) });
  const next = await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345679' });
  await eventually(async () => received.some((m) => m.id === next.body.data.messageId), 10_000, 'the fresh OTP');
  t.deepEqual(
    received.map((m) => m.id),
    [next.body.data.messageId],
  );
});

test('a challenge that failed while its phone holds the SMS unsent: withdrawn, the phone is told to cancel it, and it is no delivery failure in the stats', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const credentials = await linkNewDevice(smx, projectId);
  await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 });
  const received: OutboxMessage[] = [];
  const canceled: string[] = [];
  const phone = await startPhone(t, credentials, {
    report: { sent: false, delivered: false },
    onSend: (m) => void received.push(m),
  });
  phone.on('canceled', (ids) => canceled.push(...ids));
  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345680', maxAttempts: 1 });
  const messageId = sent.body.data.messageId as string;
  await eventually(async () => received.some((m) => m.id === messageId), 10_000, 'the phone holds it');
  await eventually(
    async () => (await smx.api(key, 'GET', `/v1/messages/${messageId}`)).body.data.status === 'DISPATCHED',
    10_000,
    'DISPATCHED',
  );

  t.is(
    (await smx.api(key, 'POST', '/v1/verify-otp', { verificationId: sent.body.data.verificationId, otp: '000000' }))
      .body.data.status,
    'FAILED',
  );
  await eventually(async () => canceled.includes(messageId), 10_000, 'cancel on the control topic');
  const message = (await smx.api(key, 'GET', `/v1/messages/${messageId}`)).body.data;
  t.like(message, { status: 'FAILED', error: 'VERIFICATION_FAILED' });
  t.is((await smx.api(key, 'GET', '/v1/stats')).body.data.totals.otp.failed, 0);
});
