/**
 * An OTP's SMS follows its challenge: metadata travels with the message, and an SMS still waiting
 * for its phone when the challenge ends (failed, or verified through an earlier SMS) is withdrawn.
 */
import test from 'ava';
import type { OutboxMessage } from '../../device/types.js';
import { createProject, eventually, linkNewDevice, startPhone, useSmx } from '../helpers/smx.js';

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
  const wrong = await smx.api(key, 'POST', '/v1/verify-otp', { verificationId: sent.body.data.verificationId, otp: '000000' });
  t.is(wrong.body.data.status, 'FAILED');
  const withdrawn = await eventually(async () => {
    const m = (await smx.api(key, 'GET', `/v1/messages/${sent.body.data.messageId}`)).body.data;
    return m.status === 'FAILED' ? m : undefined;
  }, 10_000, 'withdrawn');
  t.is(withdrawn.error, 'VERIFICATION_FAILED');

  // The phone comes online; a fresh OTP is its first SMS, the withdrawn one never arrives.
  const received: OutboxMessage[] = [];
  await startPhone(t, credentials, { onSend: (m) => void received.push(m) });
  const next = await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345679' });
  await eventually(async () => received.some((m) => m.id === next.body.data.messageId), 10_000, 'the fresh OTP');
  t.deepEqual(received.map((m) => m.id), [next.body.data.messageId]);
});
