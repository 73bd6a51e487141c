import { createHmac } from 'node:crypto';
import test from 'ava';
import { SmsGateApp } from '../helpers/smsgate-app.js';
import { createProject, queuesIdle, useSmx, type TestSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'smsgate');
const codeIn = (body: string) => /(\d{4,12})\s*$/.exec(body)?.[1] ?? '';

async function linkToken(smx: TestSmx, projectId: string): Promise<string> {
  const res = await smx.admin('POST', `/admin/projects/${projectId}/link-tokens`);
  return JSON.parse(res.body.data.qr.payload).token as string;
}

async function registered(smx: TestSmx, options: { legacy?: boolean } = {}) {
  const { projectId, key } = await createProject(smx, 'SMSGate project');
  const app = new SmsGateApp(smx.url, options);
  const reg = await app.register({ token: await linkToken(smx, projectId) });
  if (reg.status !== 201) throw new Error(`register: ${reg.status} ${JSON.stringify(reg.body)}`);
  return { projectId, key, app };
}

test('register by link token and by link code; PATCH /device; 403 on a foreign id, 401 on a bad token', async (t) => {
  const smx = current();
  const { projectId, app } = await registered(smx);
  t.true(app.id.startsWith('dev_'));
  t.truthy(app.token);
  t.is((await app.patchDevice()).status, 204);
  const devices = await smx.admin('GET', `/admin/projects/${projectId}/devices`);
  const mine = devices.body.data.devices.find((d: any) => d.id === app.id);
  t.is(mine.transport, 'smsgate');
  t.true(mine.active);
  t.deepEqual(mine.sims, [{ slot: 0, number: '******5678', carrier: 'Telekom', rentable: false }]);

  const code = (await smx.admin('POST', `/admin/projects/${projectId}/link-codes`)).body.data.code as string;
  const second = new SmsGateApp(smx.url);
  const reg = await second.register({ code });
  t.is(reg.status, 201);
  t.truthy(reg.body.login);
  t.truthy(reg.body.password);
  const after = (await smx.admin('GET', `/admin/projects/${projectId}/devices`)).body.data.devices;
  t.is(after.find((d: any) => d.id === second.id).status, 'active');
  t.is(after.find((d: any) => d.id === app.id).status, 'standby', 'the previous active device becomes standby');

  t.is((await app.patchDevice({ id: second.id })).status, 403);
  t.is((await new SmsGateApp(smx.url).register({ code })).status, 401, 'a used code');
  const stranger = new SmsGateApp(smx.url);
  stranger.id = app.id;
  stranger.token = 'sgd_nope';
  t.is((await stranger.patchDevice()).status, 401);
  t.is((await stranger.pull()).status, 401);
});

test('SSE presence, MessageEnqueued on send-otp, pull in the app shape, out-of-order states end DELIVERED, OTP verifies', async (t) => {
  const smx = current();
  const { projectId, key, app } = await registered(smx);
  t.is((await app.patchDevice()).status, 204);
  const settings = await app.settings();
  t.is(settings.body.gateway.notification_channel, 'SSE_ONLY');
  t.true(typeof settings.body.webhooks.signing_key === 'string' && settings.body.webhooks.signing_key.length > 20);

  const stream = await app.events();
  t.teardown(() => stream.close());
  await eventually(
    async () =>
      (await smx.admin('GET', `/admin/projects/${projectId}/devices`)).body.data.devices.find(
        (d: any) => d.id === app.id,
      )?.online,
    10_000,
    'online',
  );
  await eventually(
    async () => (await smx.api(key, 'GET', '/v1/status')).body.data.device?.online,
    10_000,
    'status online',
  );

  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345678' });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  const { messageId, verificationId } = sent.body.data;
  const wake = await stream.waitFor('MessageEnqueued');
  t.is(wake.data, 'null');

  const pulled = await app.pull();
  t.is(pulled.status, 200);
  t.is(pulled.body.length, 1);
  const m = pulled.body[0]!;
  t.deepEqual(Object.keys(m).sort(), [
    'createdAt',
    'id',
    'isEncrypted',
    'phoneNumbers',
    'priority',
    'simNumber',
    'state',
    'textMessage',
    'validUntil',
    'withDeliveryReport',
  ]);
  t.is(m.id, messageId);
  t.deepEqual(m.phoneNumbers, ['+4915112345678']);
  t.true(m.withDeliveryReport);
  t.false(m.isEncrypted);
  t.is(m.state, 'Pending');
  t.regex(m.validUntil, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  t.regex(m.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  t.regex(m.textMessage.text, /\d{6}$/);
  t.is((await smx.api(key, 'GET', `/v1/messages/${messageId}`)).body.data.status, 'DISPATCHED');
  t.deepEqual((await app.pull()).body, [], 'handed out once');

  t.is((await app.report(messageId, 'Processed', '+4915112345678')).status, 204);
  t.is((await app.report(messageId, 'Delivered', '+4915112345678')).status, 204);
  t.is((await app.report(messageId, 'Sent', '+4915112345678')).status, 204);
  t.is((await app.report('msg_unknown', 'Sent', '+1')).status, 204, 'unknown ids are ignored');
  const delivered = await eventually(
    async () => {
      const r = (await smx.api(key, 'GET', `/v1/messages/${messageId}`)).body.data;
      return r.status === 'DELIVERED' ? r : null;
    },
    10_000,
    'DELIVERED',
  );
  t.truthy(delivered.sentAt);
  // Every report above has been applied (the late Sent included) once no device event is left.
  await queuesIdle(smx, ['deviceEvents']);
  t.is(
    (await smx.api(key, 'GET', `/v1/messages/${messageId}`)).body.data.status,
    'DELIVERED',
    'the late Sent does not move it back',
  );

  const verified = await smx.api(key, 'POST', '/v1/verify-otp', { verificationId, otp: codeIn(m.textMessage.text) });
  t.is(verified.status, 200);
  t.true(verified.body.data.verified);

  stream.close();
  await eventually(
    async () =>
      !(await smx.admin('GET', `/admin/projects/${projectId}/devices`)).body.data.devices.find(
        (d: any) => d.id === app.id,
      )?.online,
    10_000,
    'offline after the stream closes',
  );
});

test('inbound webhook: a valid signature is accepted into the inbox path, a forged or stale one is 401', async (t) => {
  const smx = current();
  const { app } = await registered(smx);
  const hooks = await app.webhooks();
  t.is(hooks.status, 200);
  t.is(hooks.body.length, 1);
  t.is(hooks.body[0].event, 'sms:received');
  t.true(hooks.body[0].url.startsWith(`${smx.url}/compat/smsgate/mobile/v1/webhooks/${app.id}/`));
  const key = (await app.settings()).body.webhooks.signing_key as string;
  t.is(
    await app.receivedSms(hooks.body[0].url, key, { sender: '+4915199999999', message: 'hello' }, { forge: true }),
    401,
  );
  t.is(
    await app.receivedSms(
      hooks.body[0].url,
      key,
      { sender: '+4915199999999', message: 'hello' },
      { timestamp: Math.floor(Date.now() / 1000) - 600 },
    ),
    401,
  );
  t.is(await app.receivedSms(hooks.body[0].url, key, { sender: '+4915199999999', message: 'hello' }), 204);
  await eventually(
    async () =>
      smx
        .logs()
        .split('\n')
        .some((l) => l.includes('inbound SMS received') && l.includes(app.id)),
    10_000,
    'the inbox event to be processed',
  );
  t.pass();
});

test("a device token of project A never sees project B's messages", async (t) => {
  const smx = current();
  const a = await registered(smx);
  const b = await registered(smx);
  const sent = await smx.api(b.key, 'POST', '/v1/send-sms', { to: '+4915112345670', message: 'for B only' });
  t.true(sent.status === 201 || sent.status === 202, JSON.stringify(sent.body));
  t.deepEqual((await a.app.pull()).body, []);
  const forB = await eventually(
    async () => {
      const r = await b.app.pull();
      return r.body.length > 0 ? r.body : null;
    },
    10_000,
    'B pulls its message',
  );
  t.is(forB[0].textMessage.text, 'for B only');
});

test('an older app without simCards and without SSE works by polling', async (t) => {
  const smx = current();
  const { projectId, key, app } = await registered(smx, { legacy: true });
  t.is((await app.patchDevice()).status, 204);
  t.deepEqual((await smx.admin('GET', `/admin/projects/${projectId}/devices`)).body.data.devices[0].sims, []);
  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345679' });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  const pulled = await eventually(
    async () => {
      const r = await app.pull('lifo');
      return r.body.length > 0 ? r.body : null;
    },
    10_000,
    'the poll to return the OTP',
  );
  t.is(pulled[0].id, sent.body.data.messageId);
  t.is((await app.report(pulled[0].id, 'Sent', '+4915112345679')).status, 204);
  await eventually(
    async () => (await smx.api(key, 'GET', `/v1/messages/${pulled[0].id}`)).body.data.status === 'SENT',
    10_000,
    'SENT',
  );
  t.pass();
});

/** An `sms:received` webhook as the app signs it; `payload` exactly as given (no id, no messageId unless given). */
async function postSigned(
  url: string,
  signingKey: string,
  payload: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Promise<{ body: string; timestamp: string; status: number }> {
  const body = JSON.stringify({ webhookId: 'smx-sms-received', event: 'sms:received', ...extra, payload });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const status = await resend(url, signingKey, body, timestamp);
  return { body, timestamp, status };
}

async function resend(url: string, signingKey: string, body: string, timestamp: string): Promise<number> {
  const signature = createHmac('sha256', signingKey)
    .update(body + timestamp)
    .digest('hex');
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-signature': signature, 'x-timestamp': timestamp },
    body,
  });
  await response.text();
  return response.status;
}

test('PATCH /message: a state with a NUL in its id is dropped alone; the valid one next to it applies, and no SQL reaches the log', async (t) => {
  const smx = current();
  const { key, app } = await registered(smx, { legacy: true });
  const sent = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345690', message: 'poison neighbour' });
  t.true(sent.status === 201 || sent.status === 202, JSON.stringify(sent.body));
  const pulled = await eventually(
    async () => {
      const r = await app.pull();
      return r.body.length > 0 ? r.body : null;
    },
    10_000,
    'the pull',
  );
  const id = pulled[0]!.id;
  const from = smx.logs().length;
  const now = new Date().toISOString();
  const patched = await fetch(`${smx.url}/compat/smsgate/mobile/v1/message`, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${app.token}` },
    body: JSON.stringify([
      {
        id: `msg_\u0000${id.slice(5)}`,
        state: 'Sent',
        recipients: [{ phoneNumber: '+4915112345690', state: 'Sent' }],
        states: { Sent: now },
      },
      { id, state: 'Sent', recipients: [{ phoneNumber: '+4915112345690', state: 'Sent' }], states: { Sent: now } },
      {
        id,
        state: 'Failed',
        recipients: [{ phoneNumber: '+4915112345690', state: 'Failed', error: 'NUL\u0000INSIDE' }],
      },
    ]),
  });
  t.is(patched.status, 204);
  await eventually(
    async () => (await smx.api(key, 'GET', `/v1/messages/${id}`)).body.data.status === 'SENT',
    10_000,
    'the valid state to apply',
  );
  const logs = smx.logs().slice(from);
  t.regex(logs, /"dropped":2,"problems":\{"id":1,"error":1\},"msg":"smsgate states dropped: malformed"/);
  t.notRegex(logs, /with v\(id|update messages|invalid byte sequence/i);
  t.false(logs.includes('"job failed"'));
  t.is(
    (await smx.api(key, 'GET', `/v1/messages/${id}`)).body.data.status,
    'SENT',
    'the Failed state with a NUL in its error was dropped too',
  );
});

test('a signed inbound webhook without id or messageId is stored once, however often it is replayed within the window', async (t) => {
  const smx = current();
  const { key, app } = await registered(smx);
  const url = (await app.webhooks()).body[0].url as string;
  const signingKey = (await app.settings()).body.webhooks.signing_key as string;
  // No id, no messageId, no receivedAt: nothing in it de-duplicates it but its content.
  const first = await postSigned(url, signingKey, {
    message: 'replay me 4711',
    sender: '+4915177777777',
    simNumber: 1,
  });
  t.is(first.status, 204);
  t.is(await resend(url, signingKey, first.body, first.timestamp), 204, 'a replay answers like a success');
  t.is(await resend(url, signingKey, first.body, first.timestamp), 204);
  // The same content signed again with a fresh timestamp (the app's retry, or a replay a second later).
  t.is(await resend(url, signingKey, first.body, String(Number(first.timestamp) + 1)), 204);
  // Another SMS is not a replay.
  t.is(
    (await postSigned(url, signingKey, { message: 'another one', sender: '+4915177777777', simNumber: 1 })).status,
    204,
  );
  const inbox = await eventually(
    async () => {
      const list = (await smx.api(key, 'GET', '/v1/inbox')).body.data.messages as Array<{ body: string }>;
      return list.some((m) => m.body === 'another one') ? list : null;
    },
    10_000,
    'the inbox',
  );
  await queuesIdle(smx, ['deviceEvents']); // any late duplicate has been handled
  const again = (await smx.api(key, 'GET', '/v1/inbox')).body.data.messages as Array<{ body: string }>;
  t.is(again.filter((m) => m.body === 'replay me 4711').length, 1, 'stored once');
  t.is(inbox.filter((m) => m.body === 'another one').length, 1);
  t.regex(smx.logs(), /"result":"duplicate"/);
});
