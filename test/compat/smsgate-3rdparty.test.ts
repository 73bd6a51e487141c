/**
 * The SMSGate 3rd-party API against a real SMX with the reference device as the phone: the npm
 * client `android-sms-gateway` unchanged (base URL and credentials only), Basic with the project
 * id and with the key id, JWTs, multi-recipient states, ids, cancel, isolation, errors.
 */
import test from 'ava';
import type { OutboxMessage } from '../../protocol/payloads.js';
import { eventually } from '../helpers/eventually.js';
import { cleanupTestSmx, linkNewDevice, startPhone, startTestSmx, useSmx } from '../helpers/smx.js';
import {
  BASE,
  basic,
  clientVersions,
  fetchHttpClient,
  newProject,
  raw,
  withPhone,
} from './smsgate-3rdparty-helpers.js';

const current = useSmx(test, 'smsgate-3rdparty');

test('npm client (every installed version), only base URL and credentials changed: send, state until Delivered, devices, health, settings, logs', async (t) => {
  const smx = current();
  const versions = await clientVersions();
  t.true(versions.length >= 1);
  for (const { name, Client } of versions) {
    const p = await newProject(smx, name);
    const sent: OutboxMessage[] = [];
    const { deviceId } = await withPhone(t, smx, p.projectId, { onSend: (m) => void sent.push(m) });
    const api = new Client(p.projectId, p.key, fetchHttpClient, `${smx.url}${BASE}`);

    const state = await api.send({ message: 'Hello from SMSGate code', phoneNumbers: ['+4915112345678'] });
    t.is(typeof state.id, 'string', name);
    t.is(state.id.length, 21, "a generated id has nanoid's shape");
    // The phone is fast: by the time the answer is built, the message may have been handed over already.
    t.true(['Pending', 'Processed', 'Sent', 'Delivered'].includes(state.state), state.state);
    t.is(state.deviceId, deviceId);
    t.deepEqual(
      state.recipients.map((r: { phoneNumber: string }) => r.phoneNumber),
      ['+4915112345678'],
    );
    t.deepEqual(state.textMessage, { text: 'Hello from SMSGate code' });
    t.false(state.isHashed);
    t.false(state.isEncrypted);
    t.truthy(state.states.Pending);

    const done = await eventually(
      async () => {
        const s = await api.getState(state.id);
        return s.state === 'Delivered' ? s : null;
      },
      15_000,
      `${name}: Delivered`,
    );
    t.deepEqual(done.recipients, [{ phoneNumber: '+4915112345678', state: 'Delivered' }]);
    t.deepEqual(Object.keys(done.states).sort(), ['Delivered', 'Pending', 'Processed', 'Sent'].sort());
    t.true(
      done.states.Pending <= done.states.Processed &&
        done.states.Processed <= done.states.Sent &&
        done.states.Sent <= done.states.Delivered,
    );
    t.is(sent.filter((m) => m.body === 'Hello from SMSGate code').length, 1, 'the phone sent it once');

    const devices = await api.getDevices();
    t.is(devices.length, 1);
    t.is(devices[0].id, deviceId);
    t.is(devices[0].name, 'Test phone');
    for (const field of ['createdAt', 'updatedAt', 'lastSeen'])
      t.false(Number.isNaN(Date.parse(devices[0][field])), field);

    const health = await api.getHealth();
    t.is(health.status, 'pass');
    t.is(health.checks['db:ping'].status, 'pass');

    t.deepEqual(await api.getSettings(), {});
    t.deepEqual(
      await api.updateSettings({
        messages: { limit_period: 'PerMinute', limit_value: 12, sim_selection_mode: 'RoundRobin' },
        ping: { interval_seconds: 60 },
      }),
      {
        messages: { limit_period: 'PerMinute', limit_value: 12, sim_selection_mode: 'RoundRobin' },
        ping: { interval_seconds: 60 },
      },
    );
    const patched = await api.patchSettings({ messages: { send_interval_min: 10 } });
    t.deepEqual(patched.messages, {
      limit_period: 'PerMinute',
      limit_value: 12,
      sim_selection_mode: 'RoundRobin',
      send_interval_min: 10,
    });
    const device = await smx.admin('GET', `/admin/devices/${deviceId}`);
    t.is(device.body.data.sendRatePerMinute, 6, 'a message every 10 s at most: the phone is paced to 6 a minute');

    const logs = await api.getLogs().catch((error: Error) => error.message);
    t.regex(String(logs), /^HTTP error 501: .*For privacy reasons/);

    // Unlink through the client: the phone leaves the project's list.
    t.is(await api.deleteDevice(deviceId), null);
    t.deepEqual(await api.getDevices(), []);
  }
});

test('Basic auth: project id or API key id with an API key of that project; anything else 401 {"message":"Unauthorized"}; health needs none', async (t) => {
  const smx = current();
  const p = await newProject(smx);
  const other = await newProject(smx, 'other');
  t.is((await raw(smx, 'GET', '/webhooks', { auth: basic(p.projectId, p.key) })).status, 200);
  t.is((await raw(smx, 'GET', '/webhooks', { auth: basic(p.keyId, p.key) })).status, 200);
  for (const auth of [
    undefined,
    basic(p.projectId, 'smx_wrong'),
    basic(other.projectId, p.key),
    basic(other.keyId, p.key),
    basic(p.projectId, ''),
    'Bearer not-a-token',
    `Basic ${Buffer.from('nocolon').toString('base64')}`,
  ]) {
    const r = await raw(smx, 'GET', '/devices', { auth });
    t.is(r.status, 401, String(auth));
    t.deepEqual(r.json, { message: 'Unauthorized' });
    t.regex(r.headers.get('content-type') ?? '', /application\/json/);
  }
  // A revoked key stops at once.
  const revoked = await newProject(smx, 'revoked');
  await smx.admin('DELETE', `/admin/projects/${revoked.projectId}/api-keys/${revoked.keyId}`);
  t.is((await raw(smx, 'GET', '/devices', { auth: revoked.auth })).status, 401);
  for (const path of ['/health', '/health/live', '/health/ready', '/health/startup']) {
    const h = await raw(smx, 'GET', path);
    t.is(h.status, 200, path);
    t.is(h.json.status, 'pass');
  }
});

test('JWT: token with scopes (201), used as Bearer; a missing scope is 403 "scope required: …"; refresh rotates; revoke by jti ends both', async (t) => {
  const smx = current();
  const p = await newProject(smx);
  await linkNewDevice(smx, p.projectId);
  const issued = await raw(smx, 'POST', '/auth/token', {
    auth: p.auth,
    body: { scopes: ['devices:list', 'messages:read'], ttl: 600 },
  });
  t.is(issued.status, 201, issued.text);
  t.deepEqual(Object.keys(issued.json).sort(), ['access_token', 'expires_at', 'id', 'refresh_token', 'token_type']);
  t.is(issued.json.token_type, 'Bearer');
  t.is(issued.json.id.length, 21);
  const expires = Date.parse(issued.json.expires_at) - Date.now();
  t.true(expires > 590_000 && expires <= 600_000, String(expires));
  const bearer = `Bearer ${issued.json.access_token}`;
  t.is((await raw(smx, 'GET', '/devices', { auth: bearer })).status, 200);
  const forbidden = await raw(smx, 'GET', '/webhooks', { auth: bearer });
  t.is(forbidden.status, 403);
  t.deepEqual(forbidden.json, { message: 'scope required: webhooks:list' });
  t.deepEqual(
    (await raw(smx, 'POST', '/messages', { auth: bearer, body: { message: 'x', phoneNumbers: ['+4915112345678'] } }))
      .json,
    { message: 'scope required: messages:send' },
  );
  t.deepEqual((await raw(smx, 'POST', '/auth/token', { auth: bearer, body: { scopes: ['devices:list'] } })).json, {
    message: 'scope required: tokens:manage',
  });
  // The refresh token is good for refreshing only.
  t.is((await raw(smx, 'GET', '/devices', { auth: `Bearer ${issued.json.refresh_token}` })).status, 403);
  t.is(
    (await raw(smx, 'POST', '/auth/token/refresh', { auth: bearer })).status,
    401,
    'an access token does not refresh',
  );

  const refreshed = await raw(smx, 'POST', '/auth/token/refresh', { auth: `Bearer ${issued.json.refresh_token}` });
  t.is(refreshed.status, 201, refreshed.text);
  t.not(refreshed.json.id, issued.json.id);
  t.is((await raw(smx, 'GET', '/devices', { auth: `Bearer ${refreshed.json.access_token}` })).status, 200);
  t.is((await raw(smx, 'GET', '/devices', { auth: bearer })).status, 401, 'the refreshed pair replaces the old one');
  t.is(
    (await raw(smx, 'POST', '/auth/token/refresh', { auth: `Bearer ${issued.json.refresh_token}` })).status,
    401,
    'a refresh token is used once',
  );

  t.is((await raw(smx, 'DELETE', `/auth/token/${refreshed.json.id}`, { auth: p.auth })).status, 204);
  t.deepEqual((await raw(smx, 'GET', '/devices', { auth: `Bearer ${refreshed.json.access_token}` })).json, {
    message: 'Unauthorized',
  });
  t.is(
    (await raw(smx, 'POST', '/auth/token/refresh', { auth: `Bearer ${refreshed.json.refresh_token}` })).status,
    401,
    'its refresh token dies with it',
  );

  // A tampered token, an unknown scope, and a token outliving its API key.
  const [h, body, sig] = (issued.json.access_token as string).split('.');
  const forged = Buffer.from(
    JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), scopes: ['all:any'] }),
  ).toString('base64url');
  t.is((await raw(smx, 'GET', '/devices', { auth: `Bearer ${h}.${forged}.${sig}` })).status, 401);
  t.is((await raw(smx, 'POST', '/auth/token', { auth: p.auth, body: { scopes: ['messages:fly'] } })).status, 400);
  const last = await raw(smx, 'POST', '/auth/token', { auth: p.auth, body: { scopes: ['devices:list'] } });
  await smx.admin('DELETE', `/admin/projects/${p.projectId}/api-keys/${p.keyId}`);
  t.is(
    (await raw(smx, 'GET', '/devices', { auth: `Bearer ${last.json.access_token}` })).status,
    401,
    'revoking the API key ends its tokens',
  );
});

test("one message to three numbers: one SMSGate id, a state per recipient; one failing recipient makes the message Sent (the app's rule)", async (t) => {
  const smx = current();
  const p = await newProject(smx);
  await withPhone(t, smx, p.projectId, {
    onSend: (m) => {
      if (m.to === '+4915112345002') throw new Error('radio off');
    },
  });
  const numbers = ['+4915112345001', '+4915112345002', '+4915112345003'];
  const sent = await raw(smx, 'POST', '/messages', {
    auth: p.auth,
    body: { id: 'order-42-reminder', textMessage: { text: 'Your order ships today' }, phoneNumbers: numbers },
  });
  t.is(sent.status, 202, sent.text);
  t.is(sent.headers.get('location'), `${BASE}/messages/order-42-reminder`);
  t.is(sent.json.id, 'order-42-reminder');
  t.deepEqual(
    sent.json.recipients.map((r: { phoneNumber: string }) => r.phoneNumber),
    numbers,
    'in the order given',
  );
  const done = await eventually(
    async () => {
      const s = await raw(smx, 'GET', '/message/order-42-reminder', { auth: p.auth });
      return s.json.recipients.every((r: { state: string }) => r.state === 'Delivered' || r.state === 'Failed')
        ? s.json
        : null;
    },
    15_000,
    'every recipient final',
  );
  t.deepEqual(done.recipients, [
    { phoneNumber: '+4915112345001', state: 'Delivered' },
    { phoneNumber: '+4915112345002', state: 'Failed', error: 'GENERIC_FAILURE' },
    { phoneNumber: '+4915112345003', state: 'Delivered' },
  ]);
  t.is(done.state, 'Sent', '2 Delivered + 1 Failed = Sent');
  t.is(done.states.Delivered, undefined, 'the message as a whole never was Delivered');

  // The SMX side: three messages in one batch, as /v1/send-sms/bulk would make them.
  const log = await smx.api(p.key, 'GET', '/v1/messages?limit=10');
  t.is(log.body.data.messages.length, 3);
  t.is(new Set(log.body.data.messages.map((m: { batchId: string }) => m.batchId)).size, 1);

  // All failing: Failed.
  const allFail = await raw(smx, 'POST', '/messages', {
    auth: p.auth,
    body: { message: 'x', phoneNumbers: ['+4915112345002'] },
  });
  const failed = await eventually(
    async () => {
      const s = await raw(smx, 'GET', `/messages/${allFail.json.id}`, { auth: p.auth });
      return s.json.state === 'Failed' ? s.json : null;
    },
    15_000,
    'Failed',
  );
  t.truthy(failed.states.Failed);
});

test('ids: a client-chosen id is unique in the project (409), free in another; the body is checked', async (t) => {
  const smx = current();
  const p = await newProject(smx);
  const other = await newProject(smx, 'other');
  await linkNewDevice(smx, p.projectId);
  await linkNewDevice(smx, other.projectId);
  const body = { id: 'c5b1f7e2-0d3a-4a8e-9f51-2b7c6e0d9a14', message: 'hi', phoneNumbers: ['+4915112345678'] };
  t.is((await raw(smx, 'POST', '/messages', { auth: p.auth, body })).status, 202);
  const again = await raw(smx, 'POST', '/message', { auth: p.auth, body });
  t.is(again.status, 409);
  t.deepEqual(again.json, { message: 'message with the same ID already exists' });
  t.is((await raw(smx, 'POST', '/messages', { auth: other.auth, body })).status, 202, 'ids are per project');

  const refused = async (extra: Record<string, unknown>, pattern: RegExp) => {
    const r = await raw(smx, 'POST', '/messages', {
      auth: p.auth,
      body: { phoneNumbers: ['+4915112345678'], ...extra },
    });
    t.is(r.status, 400, JSON.stringify(extra));
    t.regex(r.json.message, pattern, JSON.stringify(extra));
  };
  await refused({ message: 'a', textMessage: { text: 'b' } }, /exactly one of message, textMessage or dataMessage/);
  await refused({}, /exactly one/);
  // Served fields with what SMX cannot do here (smsgate-3rdparty-options.test.ts sends them for real).
  await refused({ message: 'a', isEncrypted: true }, /^failed to select device: no phone of this project can decrypt/);
  await refused({ message: 'a', deviceId: 'dev_x' }, /^failed to select device: record not found$/);
  await refused({ message: 'a', simNumber: 4 }, /simNumber must be an integer 1 to 3/);
  await refused({ message: 'a', priority: 128 }, /priority must be an integer -128 to 127/);
  await refused(
    { message: 'a', ttl: 60, validUntil: new Date(Date.now() + 60_000).toISOString() },
    /mutually exclusive/,
  );
  await refused({ message: 'a', ttl: 2 }, /ttl must be an integer of at least 5/);
  await refused({ message: 'a', id: 'x'.repeat(37) }, /id must be/);
  await refused({ message: 'a', phoneNumbers: ['+4915112345678', '+49 151 12345678'] }, /phone numbers must be unique/);
  await refused(
    { message: 'a', phoneNumbers: Array.from({ length: 101 }, (_, i) => `+49151123${String(i).padStart(5, '0')}`) },
    /at most 100/,
  );
  await refused({ message: 'a', phoneNumbers: ['+1'] }, /phone number/);
  await refused({ message: 'a'.repeat(1601) }, /at most 1600 characters/);

  // ttl / validUntil (the message's expiry), withDeliveryReport, priority 0, a national number read as Russian.
  const ttl = await raw(smx, 'POST', '/messages?skipPhoneValidation=false', {
    auth: p.auth,
    body: { message: 'a', ttl: 120, withDeliveryReport: false, priority: 0, phoneNumbers: ['89161234567'] },
  });
  t.is(ttl.status, 202, ttl.text);
  t.deepEqual(
    ttl.json.recipients,
    [{ phoneNumber: '+79161234567', state: 'Pending' }],
    'normalised to E.164 with the default region RU',
  );
  const messages = await smx.api(p.key, 'GET', '/v1/messages?limit=1');
  const m = messages.body.data.messages[0];
  t.is(Math.round((Date.parse(m.expiresAt) - Date.parse(m.createdAt)) / 1000), 120);
});

test('cancel: a message no phone has taken is withdrawn (Cancelled, never sent); a sent one is 409 "message is not pending"', async (t) => {
  const smx = current();
  const p = await newProject(smx);
  const credentials = await linkNewDevice(smx, p.projectId);
  await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 });
  const queued = await raw(smx, 'POST', '/messages', {
    auth: p.auth,
    body: { message: 'never', phoneNumbers: ['+4915112345678', '+4915112345679'] },
  });
  t.is(queued.status, 202);
  const canceled = await raw(smx, 'DELETE', `/messages/${queued.json.id}`, { auth: p.auth });
  t.is(canceled.status, 200, canceled.text);
  t.is(canceled.json.state, 'Cancelled');
  t.deepEqual(
    canceled.json.recipients.map((r: { state: string }) => r.state),
    ['Cancelled', 'Cancelled'],
  );
  t.is((await raw(smx, 'DELETE', `/message/${queued.json.id}`, { auth: p.auth })).status, 409, 'not pending any more');

  // The phone comes online and gets the next message only.
  const sent: OutboxMessage[] = [];
  await startPhone(t, credentials, { onSend: (m) => void sent.push(m) });
  const next = await raw(smx, 'POST', '/messages', {
    auth: p.auth,
    body: { message: 'after', phoneNumbers: ['+4915112345678'] },
  });
  const delivered = await eventually(
    async () => {
      const s = await raw(smx, 'GET', `/messages/${next.json.id}`, { auth: p.auth });
      return s.json.state === 'Delivered' ? s.json : null;
    },
    15_000,
    'Delivered',
  );
  t.deepEqual(
    sent.map((m) => m.body),
    ['after'],
  );
  const late = await raw(smx, 'DELETE', `/messages/${delivered.id}`, { auth: p.auth });
  t.is(late.status, 409);
  t.deepEqual(late.json, { message: 'message is not pending' });
});

test("project isolation: another project's message, device and webhook ids are 404 (or 204 with nothing done) on every route", async (t) => {
  const smx = current();
  const a = await newProject(smx, 'a');
  const b = await newProject(smx, 'b');
  const deviceA = await linkNewDevice(smx, a.projectId);
  await linkNewDevice(smx, b.projectId);
  const message = await raw(smx, 'POST', '/messages', {
    auth: a.auth,
    body: { id: 'shared-name', message: 'x', phoneNumbers: ['+4915112345678'] },
  });
  t.is(message.status, 202);
  const hook = await raw(smx, 'POST', '/webhooks', {
    auth: a.auth,
    body: { id: 'hook-a', url: 'https://1.1.1.1/hook', event: 'sms:received' },
  });
  t.is(hook.status, 201, hook.text);

  for (const path of ['/messages/shared-name', '/message/shared-name']) {
    for (const method of ['GET', 'DELETE']) {
      const r = await raw(smx, method, path, { auth: b.auth });
      t.is(r.status, 404, `${method} ${path}`);
      t.deepEqual(r.json, { message: 'message not found' });
    }
  }
  t.deepEqual((await raw(smx, 'GET', '/messages', { auth: b.auth })).json, []);
  t.is((await raw(smx, 'GET', '/messages', { auth: b.auth })).headers.get('x-total-count'), '0');
  t.is((await raw(smx, 'DELETE', `/devices/${deviceA.deviceId}`, { auth: b.auth })).status, 204);
  t.is((await raw(smx, 'DELETE', `/device/${deviceA.deviceId}`, { auth: b.auth })).status, 204);
  t.is((await raw(smx, 'DELETE', '/webhooks/hook-a', { auth: b.auth })).status, 204);
  t.is(
    (await raw(smx, 'GET', '/devices', { auth: b.auth })).json.some((d: { id: string }) => d.id === deviceA.deviceId),
    false,
  );
  t.deepEqual((await raw(smx, 'GET', '/webhooks', { auth: b.auth })).json, []);
  const webhookB = await raw(smx, 'POST', '/webhooks', {
    auth: b.auth,
    body: { url: 'https://1.1.1.1/hook', event: 'sms:sent', deviceId: deviceA.deviceId },
  });
  t.is(webhookB.status, 400, "another project's phone cannot be a webhook filter");
  // Nothing of A's changed.
  t.is((await raw(smx, 'GET', '/messages/shared-name', { auth: a.auth })).status, 200);
  t.deepEqual(
    (await raw(smx, 'GET', '/devices', { auth: a.auth })).json.map((d: { id: string }) => d.id),
    [deviceA.deviceId],
  );
  t.deepEqual((await raw(smx, 'GET', '/webhooks', { auth: a.auth })).json, [
    { id: 'hook-a', deviceId: null, url: 'https://1.1.1.1/hook', event: 'sms:received' },
  ]);
  t.deepEqual((await raw(smx, 'GET', '/inbox', { auth: b.auth })).json, []);
  const plain = await raw(smx, 'POST', '/webhooks', {
    auth: a.auth,
    body: { url: 'http://1.1.1.1/hook', event: 'sms:received' },
  });
  t.is(plain.status, 400, 'https only (SMX_WEBHOOK_ALLOW_PRIVATE is off here)');
});

test("client-go's request shapes as raw HTTP: POST /messages (textMessage), GET /messages with filters, limit/offset and X-Total-Count, GET /devices", async (t) => {
  const smx = current();
  const p = await newProject(smx);
  const { deviceId } = await withPhone(t, smx, p.projectId);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await raw(smx, 'POST', '/messages', {
      auth: p.auth,
      body: { textMessage: { text: `go ${i}` }, phoneNumbers: [`+49151123450${10 + i}`], withDeliveryReport: true },
    });
    t.is(r.status, 202);
    t.is(r.headers.get('location'), `${BASE}/messages/${r.json.id}`);
    ids.push(r.json.id);
  }
  await eventually(
    async () =>
      (await raw(smx, 'GET', '/messages?state=Delivered', { auth: p.auth })).headers.get('x-total-count') === '3',
    15_000,
    'all delivered',
  );
  const page = await raw(smx, 'GET', '/messages?limit=2&offset=0', { auth: p.auth });
  t.is(page.headers.get('x-total-count'), '3');
  t.deepEqual(
    page.json.map((m: { id: string }) => m.id),
    [ids[2], ids[1]],
    'newest first',
  );
  t.is(page.json[0].textMessage, undefined, 'no content unless includeContent=true');
  const rest = await raw(smx, 'GET', '/messages?limit=2&offset=2&includeContent=true', { auth: p.auth });
  t.deepEqual(
    rest.json.map((m: { id: string; textMessage: { text: string } }) => [m.id, m.textMessage.text]),
    [[ids[0], 'go 0']],
  );
  const oldest = await raw(smx, 'GET', '/messages?sort=created_at&limit=1', { auth: p.auth });
  t.deepEqual(
    oldest.json.map((m: { id: string }) => m.id),
    [ids[0]],
  );
  t.is((await raw(smx, 'GET', `/messages?deviceId=${deviceId}`, { auth: p.auth })).headers.get('x-total-count'), '3');
  t.is((await raw(smx, 'GET', '/messages?deviceId=dev_other', { auth: p.auth })).headers.get('x-total-count'), '0');
  t.is((await raw(smx, 'GET', '/messages?state=Pending', { auth: p.auth })).headers.get('x-total-count'), '0');
  t.is(
    (
      await raw(smx, 'GET', `/messages?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, {
        auth: p.auth,
      })
    ).headers.get('x-total-count'),
    '0',
  );
  t.is((await raw(smx, 'GET', '/messages?state=Lost', { auth: p.auth })).status, 400);
  const devices = await raw(smx, 'GET', '/devices', { auth: p.auth });
  t.is(devices.status, 200);
  t.is(devices.json[0].id, deviceId);
});

test('errors are {"message"} everywhere: unknown routes, bad JSON, wrong content type; inbox export and refresh 501', async (t) => {
  const smx = current();
  const p = await newProject(smx);
  const unknown = await raw(smx, 'GET', '/nothing/here', { auth: p.auth });
  t.is(unknown.status, 404);
  t.deepEqual(unknown.json, { message: `Cannot GET ${BASE}/nothing/here` });
  const badJson = await raw(smx, 'POST', '/messages', { auth: p.auth, body: '{"message": ' });
  t.is(badJson.status, 400);
  t.regex(badJson.json.message, /^failed to parse body/);
  const notJson = await raw(smx, 'POST', '/messages', {
    auth: p.auth,
    body: 'message=x',
    headers: { 'content-type': 'text/plain' },
  });
  t.is(notJson.status, 400);
  t.regex(notJson.json.message, /^failed to parse body/);
  const array = await raw(smx, 'POST', '/webhooks', { auth: p.auth, body: [] });
  t.is(array.status, 400);
  t.truthy(array.json.message);
  for (const path of ['/inbox/export', '/inbox/refresh', '/messages/inbox/export']) {
    const r = await raw(smx, 'POST', path, { auth: p.auth, body: {} });
    t.is(r.status, 501, path);
    t.truthy(r.json.message);
  }
  t.is(
    (await raw(smx, 'PUT', '/settings', { auth: p.auth, body: { webhooks: { signing_key: 'secret' } } })).status,
    400,
    'secrets are not set through the API',
  );
  t.is(
    (await raw(smx, 'PATCH', '/settings', { auth: p.auth, body: { messages: { limit_period: 'Weekly' } } })).status,
    400,
  );
});

test("inbox: the SMS the project's phones received, newest first, with X-Total-Count", async (t) => {
  const smx = current();
  const p = await newProject(smx);
  const { phone } = await withPhone(t, smx, p.projectId);
  await phone.publishInbound([
    { from: '+4915112345000', body: 'first' },
    { from: 'ACME', body: 'second', simSlot: 1 },
  ]);
  const inbox = await eventually(
    async () => {
      const r = await raw(smx, 'GET', '/inbox?limit=1', { auth: p.auth });
      return r.headers.get('x-total-count') === '2' ? r : null;
    },
    10_000,
    'both stored',
  );
  t.is(inbox.json.length, 1);
  t.like(inbox.json[0], { type: 'SMS', sender: 'ACME', simNumber: 2, contentPreview: 'second' });
  const second = await raw(smx, 'GET', '/inbox?limit=1&offset=1', { auth: p.auth });
  t.like(second.json[0], { sender: '+4915112345000', contentPreview: 'first' });
  t.deepEqual((await raw(smx, 'GET', '/inbox?type=MMS', { auth: p.auth })).json, []);
  t.is((await raw(smx, 'GET', '/inbox?limit=501', { auth: p.auth })).status, 400);
});

test('switched off (SMX_COMPAT_SMSGATE=false): the surface is not there', async (t) => {
  const off = await startTestSmx('smsgate-3rdparty-off', { env: { SMX_COMPAT_SMSGATE: 'false' } });
  t.teardown(async () => {
    await off.close();
    await cleanupTestSmx(off);
  });
  const r = await raw(off, 'GET', '/health');
  t.is(r.status, 404);
  t.is(r.json.error.code, 'NOT_FOUND', "SMX's own 404");
});
