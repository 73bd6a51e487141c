/**
 * `POST /v1/messages/:id/cancel` (docs/api.md "POST /v1/messages/:id/cancel"): a message the phone
 * has not sent ends FAILED with `CANCELED` — withdrawn while QUEUED, and with a `cancel` on the
 * phone's control topic once DISPATCHED; after that, 409 MESSAGE_NOT_CANCELABLE.
 */
import test from 'ava';
import type { OutboxMessage } from '../../protocol/payloads.js';
import { createProject, linkNewDevice, phoneMarker, startPhone, useSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'message-cancel');

test('QUEUED for a phone that is not connected: canceled, and the phone never gets it when it connects', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const credentials = await linkNewDevice(smx, projectId);
  const sent = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message: 'never' });
  const { messageId } = sent.body.data;
  const canceled = await smx.api(key, 'POST', `/v1/messages/${messageId}/cancel`);
  t.is(canceled.status, 200, JSON.stringify(canceled.body));
  t.like(canceled.body.data, { messageId, status: 'FAILED', error: 'CANCELED', dispatchedAt: null });
  t.truthy(canceled.body.data.failedAt);

  const received: OutboxMessage[] = [];
  await startPhone(t, credentials, { onSend: (m) => void received.push(m) });
  await phoneMarker(smx, key, (id) => received.some((m) => m.id === id), 40_000);
  t.false(received.some((m) => m.id === messageId));
  const again = await smx.api(key, 'POST', `/v1/messages/${messageId}/cancel`);
  t.is(again.status, 409, 'a canceled message is not canceled twice');
  t.is(again.body.error.code, 'MESSAGE_NOT_CANCELABLE');
});

test('DISPATCHED (the phone holds it, not sent yet): the phone gets a cancel on its control topic', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const credentials = await linkNewDevice(smx, projectId);
  const received: OutboxMessage[] = [];
  const canceledOnPhone: string[] = [];
  // A phone that takes messages but does not report them sent (yet).
  const phone = await startPhone(t, credentials, {
    report: { sent: false, delivered: false },
    onSend: (m) => void received.push(m),
  });
  phone.on('canceled', (ids) => canceledOnPhone.push(...ids));
  const sent = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message: 'held by the phone' });
  const { messageId } = sent.body.data;
  await eventually(() => received.some((m) => m.id === messageId), 10_000, 'the SMS on the phone');
  await eventually(
    async () => (await smx.api(key, 'GET', `/v1/messages/${messageId}`)).body.data.status === 'DISPATCHED',
    10_000,
    'DISPATCHED',
  );

  const canceled = await smx.api(key, 'POST', `/v1/messages/${messageId}/cancel`);
  t.is(canceled.status, 200, JSON.stringify(canceled.body));
  t.like(canceled.body.data, { status: 'FAILED', error: 'CANCELED' });
  await eventually(() => canceledOnPhone.includes(messageId), 10_000, 'the cancel on the control topic');
});

test("after the phone sent it: 409 MESSAGE_NOT_CANCELABLE in the catalogue shape; another project's id: 404", async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const credentials = await linkNewDevice(smx, projectId);
  await startPhone(t, credentials);
  const sent = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message: 'gone' });
  const { messageId } = sent.body.data;
  await eventually(
    async () => (await smx.api(key, 'GET', `/v1/messages/${messageId}`)).body.data.status === 'DELIVERED',
    10_000,
    'DELIVERED',
  );
  const late = await smx.api(key, 'POST', `/v1/messages/${messageId}/cancel`);
  t.is(late.status, 409);
  t.like(late.body.error, { code: 'MESSAGE_NOT_CANCELABLE', origin: 'client' });
  t.regex(late.body.error.message, /DELIVERED/);
  t.is((await smx.api(key, 'GET', `/v1/messages/${messageId}`)).body.data.status, 'DELIVERED', 'unchanged');

  const other = await createProject(smx, 'Other');
  const foreign = await smx.api(other.key, 'POST', `/v1/messages/${messageId}/cancel`);
  t.is(foreign.status, 404);
  t.is(foreign.body.error.code, 'NOT_FOUND');
  t.is((await smx.api(key, 'POST', '/v1/messages/msg_nope/cancel')).status, 404);
});
