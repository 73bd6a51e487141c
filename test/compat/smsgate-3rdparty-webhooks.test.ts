/**
 * SMSGate webhooks on SMX: registered with the npm client, delivered by the server (not the
 * phone) in SMSGate's envelope through SMX's webhook queue, signed `X-Signature` = hex
 * HMAC-SHA256(signing key, body + X-Timestamp) and checked here with an independent HMAC.
 * Receivers listen on 127.0.0.1, so this server allows private webhook targets.
 */
import test from 'ava';
import { SmsGateWebhooks } from '../../core/smsgate/third-party/index.js';
import { eventually } from '../helpers/eventually.js';
import { linkNewDevice, useSmx } from '../helpers/smx.js';
import { startReceiver, type Received } from '../helpers/webhook-receiver.js';
import {
  BASE,
  clientVersions,
  fetchHttpClient,
  independentHmacHex,
  newProject,
  raw,
  withPhone,
} from './smsgate-3rdparty-helpers.js';

const current = useSmx(test, 'smsgate-3rdparty-webhooks', {
  env: { SMX_WEBHOOK_ALLOW_PRIVATE: 'true', SMX_WEBHOOK_RETRY_BASE_MS: '200' },
});

function verified(r: Received, signingKey: string): boolean {
  const timestamp = r.headers['x-timestamp'];
  const signature = r.headers['x-signature'];
  if (typeof timestamp !== 'string' || typeof signature !== 'string' || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  return independentHmacHex(signingKey, r.body + timestamp) === signature;
}

test('npm client (every installed version): register (201), list, delete (204, also an unknown id); events, devices and URLs are checked', async (t) => {
  const smx = current();
  for (const { name, Client } of await clientVersions()) {
    const p = await newProject(smx, name);
    const { deviceId } = await withPhone(t, smx, p.projectId);
    const api = new Client(p.keyId, p.key, fetchHttpClient, `${smx.url}${BASE}`);
    const all = await api.registerWebhook({ url: 'http://127.0.0.1:9/received', event: 'sms:received' });
    t.is(all.id.length, 21, name);
    t.deepEqual(all, { id: all.id, deviceId: null, url: 'http://127.0.0.1:9/received', event: 'sms:received' });
    const one = await api.registerWebhook({
      id: 'delivered-hook',
      url: 'http://127.0.0.1:9/delivered',
      event: 'sms:delivered',
      deviceId,
    });
    t.deepEqual(one, { id: 'delivered-hook', deviceId, url: 'http://127.0.0.1:9/delivered', event: 'sms:delivered' });
    // The same id replaces.
    await api.registerWebhook({ id: 'delivered-hook', url: 'http://127.0.0.1:9/v2', event: 'sms:failed' });
    t.deepEqual(
      (await api.getWebhooks()).map((w: { id: string; event: string; url: string }) => [w.id, w.event, w.url]).sort(),
      [
        [all.id, 'sms:received', 'http://127.0.0.1:9/received'],
        ['delivered-hook', 'sms:failed', 'http://127.0.0.1:9/v2'],
      ].sort(),
    );
    t.is(await api.deleteWebhook('delivered-hook'), null);
    t.is(await api.deleteWebhook('never-was'), null);
    t.deepEqual(
      (await api.getWebhooks()).map((w: { id: string }) => w.id),
      [all.id],
    );

    const bad = async (body: Record<string, unknown>, pattern: RegExp) => {
      const r = await raw(smx, 'POST', '/webhooks', { auth: p.auth, body });
      t.is(r.status, 400, JSON.stringify(body));
      t.regex(r.json.message, pattern);
    };
    await bad({ url: 'http://127.0.0.1:9/x', event: 'sms:teleported' }, /invalid event type/);
    await bad({ event: 'sms:sent' }, /url is required/);
    await bad({ url: 'ftp://127.0.0.1/x', event: 'sms:sent' }, /url/);
    await bad({ url: 'http://127.0.0.1:9/x', event: 'sms:sent', deviceId: 'dev_notmine' }, /deviceId/);
    await bad({ id: 'x'.repeat(37), url: 'http://127.0.0.1:9/x', event: 'sms:sent' }, /id must be/);
  }
});

test("sms:received (wired as at start: the inbound SMS's outbox event): an SMS the phone received is posted by the server, in SMSGate's envelope, signed with the key the admin API reveals", async (t) => {
  const smx = current();
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const p = await newProject(smx);
  const { phone, deviceId } = await withPhone(t, smx, p.projectId);
  const hook = await raw(smx, 'POST', '/webhooks', {
    auth: p.auth,
    body: { id: 'in', url: `${receiver.url}/in`, event: 'sms:received' },
  });
  t.is(hook.status, 201, hook.text);
  await raw(smx, 'POST', '/webhooks', {
    auth: p.auth,
    body: {
      id: 'other-phone-only',
      url: `${receiver.url}/other`,
      event: 'sms:received',
      deviceId: (await withPhone(t, smx, p.projectId)).deviceId,
    },
  });
  const key = await smx.admin('GET', `/admin/projects/${p.projectId}/smsgate/signing-key`);
  t.is(key.status, 200);
  const signingKey = key.body.data.signingKey as string;
  t.regex(signingKey, /^[0-9a-f]{64}$/);

  await phone.publishInbound([
    { from: '+4915112345000', body: 'Your code is 1234', receivedAt: '2026-12-04T10:00:00.000Z', simSlot: 0 },
  ]);
  const delivery = await eventually(
    () => receiver.received.find((r) => r.path === '/in'),
    15_000,
    'sms:received delivered',
  );
  t.true(verified(delivery, signingKey), 'X-Signature checks with an independent HMAC-SHA256');
  t.false(
    verified({ ...delivery, body: delivery.body.replace('1234', '9999') }, signingKey),
    'a changed body does not',
  );
  const body = JSON.parse(delivery.body);
  t.deepEqual(Object.keys(body).sort(), ['deviceId', 'event', 'id', 'payload', 'webhookId']);
  t.is(body.event, 'sms:received');
  t.is(body.webhookId, 'in');
  t.is(body.deviceId, deviceId);
  t.like(body.payload, {
    message: 'Your code is 1234',
    sender: '+4915112345000',
    phoneNumber: '+4915112345000',
    simNumber: 1,
    receivedAt: '2026-12-04T10:00:00.000Z',
  });
  t.is(body.payload.messageId.length, 21);

  // Through SMX's delivery log, under the SMSGate event name.
  const log = await eventually(
    async () => {
      const r = await smx.api(p.key, 'GET', '/v1/webhook-deliveries');
      return r.body.data.deliveries.length > 0 ? r.body.data.deliveries : null;
    },
    10_000,
    'delivery logged',
  );
  t.like(log[0], { type: 'sms:received', url: `${receiver.url}/in`, succeeded: true, statusCode: 200 });
  t.false(
    receiver.received.some((r) => r.path === '/other'),
    'a webhook of another phone is not called',
  );
});

test('sms:sent / sms:delivered / sms:failed from SMX message changes (what the delivery core hands over); retried on a failing receiver', async (t) => {
  const smx = current();
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  let refuse = 1;
  receiver.respond = () => (refuse-- > 0 ? { status: 500 } : { status: 200 });
  const p = await newProject(smx);
  // No phone runs: the messages stay queued, and the only changes are the ones handed over here.
  const { deviceId } = await linkNewDevice(smx, p.projectId);
  for (const event of ['sms:sent', 'sms:delivered', 'sms:failed']) {
    await raw(smx, 'POST', '/webhooks', {
      auth: p.auth,
      body: { id: event, url: `${receiver.url}/${event}`, event, deviceId },
    });
  }
  const sent = await raw(smx, 'POST', '/messages', {
    auth: p.auth,
    body: { id: 'two', message: 'x', phoneNumbers: ['+4915112345001', '+4915112345002'] },
  });
  t.is(sent.status, 202);
  const messages = (await smx.api(p.key, 'GET', '/v1/messages?limit=2')).body.data.messages as Array<{
    messageId: string;
    to: string;
  }>;
  const idOf = (to: string) => messages.find((m) => m.to === to)!.messageId;
  const webhooks = smx.smx.container.resolve(SmsGateWebhooks);
  const at = new Date('2026-12-04T10:00:00.000Z');
  const changes = [
    { id: idOf('+4915112345001'), projectId: p.projectId, status: 'SENT', error: null, at },
    {
      id: idOf('+4915112345001'),
      projectId: p.projectId,
      status: 'DELIVERED',
      error: null,
      at: new Date(at.getTime() + 1000),
    },
    { id: idOf('+4915112345002'), projectId: p.projectId, status: 'FAILED', error: 'RESULT_ERROR_NO_SERVICE', at },
    { id: 'msg_not_an_smsgate_message', projectId: p.projectId, status: 'SENT', error: null, at },
  ];
  await webhooks.messagesChanged(changes);
  await webhooks.messagesChanged(changes); // relayed twice: delivered once each (the delivery ids repeat)
  const key = (await smx.admin('GET', `/admin/projects/${p.projectId}/smsgate/signing-key`)).body.data
    .signingKey as string;
  await eventually(
    () =>
      new Set(receiver.received.filter((r) => r.headers['x-signature']).map((r) => r.path)).size === 3 &&
      receiver.received.length >= 4,
    15_000,
    'three events, one retried',
  );
  const byPath = (path: string) => receiver.received.filter((r) => r.path === path);
  for (const r of receiver.received) t.true(verified(r, key), r.path);
  const delivered = JSON.parse(byPath('/sms:delivered').at(-1)!.body);
  t.like(delivered, {
    event: 'sms:delivered',
    webhookId: 'sms:delivered',
    deviceId,
    payload: {
      messageId: 'two',
      recipient: '+4915112345001',
      phoneNumber: '+4915112345001',
      deliveredAt: '2026-12-04T10:00:01.000Z',
    },
  });
  t.like(JSON.parse(byPath('/sms:sent').at(-1)!.body).payload, {
    messageId: 'two',
    recipient: '+4915112345001',
    partsCount: 1,
    sentAt: '2026-12-04T10:00:00.000Z',
  });
  t.like(JSON.parse(byPath('/sms:failed').at(-1)!.body).payload, {
    messageId: 'two',
    recipient: '+4915112345002',
    reason: 'RESULT_ERROR_NO_SERVICE',
    failedAt: '2026-12-04T10:00:00.000Z',
  });
  t.is(receiver.received.length, 4, 'one delivery per event and webhook, the first one retried once');
  const ids = receiver.received.map((r) => JSON.parse(r.body).id as string);
  t.is(new Set(ids).size, 3, 'a retry repeats the event id');
});

test('system:ping when a phone connects (what the presence events hand over), per phone', async (t) => {
  const smx = current();
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const p = await newProject(smx);
  const { deviceId } = await linkNewDevice(smx, p.projectId);
  const other = await linkNewDevice(smx, p.projectId);
  await raw(smx, 'POST', '/webhooks', {
    auth: p.auth,
    body: { id: 'ping', url: `${receiver.url}/ping`, event: 'system:ping', deviceId },
  });
  const webhooks = smx.smx.container.resolve(SmsGateWebhooks);
  const at = new Date();
  await webhooks.connection(other.deviceId, true, at);
  await webhooks.connection(deviceId, false, at);
  await webhooks.connection(deviceId, true, at);
  await webhooks.connection(deviceId, true, at); // the same presence event again
  const ping = await eventually(() => receiver.received.find((r) => r.path === '/ping'), 10_000, 'system:ping');
  t.like(JSON.parse(ping.body), {
    event: 'system:ping',
    webhookId: 'ping',
    deviceId,
    payload: { health: { status: 'pass' } },
  });
  const key = (await smx.admin('GET', `/admin/projects/${p.projectId}/smsgate/signing-key`)).body.data
    .signingKey as string;
  t.true(verified(ping, key));
  // A marker through the same queue: once it arrived, a second ping would have too.
  await raw(smx, 'POST', '/webhooks', {
    auth: p.auth,
    body: { id: 'marker', url: `${receiver.url}/marker`, event: 'system:ping', deviceId: other.deviceId },
  });
  await webhooks.connection(other.deviceId, true, new Date(at.getTime() + 1));
  await eventually(() => receiver.received.some((r) => r.path === '/marker'), 10_000, 'marker');
  t.is(receiver.received.filter((r) => r.path === '/ping').length, 1);
});

test("as wired at start, a real phone's reports reach SMSGate webhooks through the outbox: sms:sent and sms:delivered for a message sent with the npm client, system:ping when it connects", async (t) => {
  const smx = current();
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const p = await newProject(smx);
  for (const event of ['sms:sent', 'sms:delivered', 'system:ping']) {
    const r = await raw(smx, 'POST', '/webhooks', {
      auth: p.auth,
      body: { id: event.replace(':', '-'), url: `${receiver.url}/${event}`, event },
    });
    t.is(r.status, 201, r.text);
  }
  const { deviceId } = await withPhone(t, smx, p.projectId);
  const [{ Client }] = await clientVersions();
  const api = new Client(p.keyId, p.key, fetchHttpClient, `${smx.url}${BASE}`);
  const state = await api.send({ id: 'wired-1', message: 'wired', phoneNumbers: ['+4915112345077'] });
  t.is(state.id, 'wired-1');
  const events = await eventually(
    () => {
      const seen = new Set(receiver.received.map((r) => JSON.parse(r.body).event as string));
      return ['sms:sent', 'sms:delivered', 'system:ping'].every((e) => seen.has(e)) ? receiver.received : null;
    },
    15_000,
    'sms:sent, sms:delivered and system:ping',
  );
  const sentBody = JSON.parse(events.find((r) => r.path === '/sms:sent')!.body);
  t.is(sentBody.deviceId, deviceId);
  t.is(sentBody.payload.messageId, 'wired-1');
  const ping = JSON.parse(events.find((r) => r.path === '/system:ping')!.body);
  t.is(ping.deviceId, deviceId);
});
