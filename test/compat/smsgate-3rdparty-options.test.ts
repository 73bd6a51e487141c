/**
 * The SMSGate 3rd-party message fields mapped onto SMX's own sending options, against a real SMX
 * with the reference device (and the SMSGate app emulator) as phones: `scheduleAt` (held, then
 * handed over; cancelled while held), `simNumber` (1-based → simSlot), `deviceId` (pins a standby
 * phone), `priority` (as it is), `dataMessage` (a binary SMS), `isEncrypted` (only to a phone
 * that decrypts: an SMSGate-app phone, never an MQTT one).
 */
import test from 'ava';
import { linkDevice } from '../../device/link.js';
import type { LinkResult, OutboxMessage, Sim } from '../../protocol/payloads.js';
import { eventually } from '../helpers/eventually.js';
import { SmsGateApp } from '../helpers/smsgate-app.js';
import {
  cleanupTestSmx,
  linkNewDevice,
  phoneMarker,
  startPhone,
  startTestSmx,
  useSmx,
  type TestSmx,
} from '../helpers/smx.js';
import { BASE, clientVersions, fetchHttpClient, newProject, raw, type Project } from './smsgate-3rdparty-helpers.js';

const current = useSmx(test, 'smsgate-3rdparty-options');

const sim = (slot: number): Sim => ({ slot, number: null, carrier: null, rentable: false });

/** Links a reference phone (with these SIMs), unpaced; it becomes the project's active phone. */
async function link(smx: TestSmx, projectId: string, name: string, sims: Sim[] = []): Promise<LinkResult> {
  const token = await smx.admin('POST', `/admin/projects/${projectId}/link-tokens`);
  const qr = JSON.parse(token.body.data.qr.payload) as { server: string; token: string };
  const credentials = await linkDevice({ server: qr.server, token: qr.token, name, sims });
  await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 });
  return credentials;
}

const stateOf = async (smx: TestSmx, p: Project, id: string) =>
  (await raw(smx, 'GET', `/messages/${encodeURIComponent(id)}`, { auth: p.auth })).json;

test('scheduleAt: held (Pending, not at the phone) until its time, then handed over and Delivered; cancelled while held: Cancelled, never sent', async (t) => {
  const smx = current();
  const p = await newProject(smx);
  const credentials = await link(smx, p.projectId, 'phone');
  const received: Array<{ message: OutboxMessage; at: number }> = [];
  await startPhone(t, credentials, { onSend: (message) => void received.push({ message, at: Date.now() }) });

  const scheduleAt = new Date(Date.now() + 4_000);
  const sent = await raw(smx, 'POST', '/messages', {
    auth: p.auth,
    body: {
      id: 'later-1',
      message: 'at its time',
      phoneNumbers: ['+4915112345678'],
      scheduleAt: scheduleAt.toISOString(),
    },
  });
  t.is(sent.status, 202, sent.text);
  t.is(sent.json.state, 'Pending');
  // Before its time: still Pending and not at the phone (checked after a marker the phone did get).
  await phoneMarker(smx, p.key, (id) => received.some((r) => r.message.id === id));
  t.true(Date.now() < scheduleAt.getTime(), 'the checks before its time ran before it');
  t.is((await stateOf(smx, p, 'later-1')).state, 'Pending');
  t.false(received.some((r) => r.message.body === 'at its time'));

  const done = await eventually(
    async () => {
      const s = await stateOf(smx, p, 'later-1');
      return s.state === 'Delivered' ? s : null;
    },
    15_000,
    'Delivered after its time',
  );
  const handed = received.find((r) => r.message.body === 'at its time')!;
  t.truthy(handed);
  t.true(handed.at >= scheduleAt.getTime(), 'handed over no earlier than scheduleAt');
  t.true(Date.parse(done.states.Processed) >= scheduleAt.getTime());

  // Cancelled while held: the phone never gets it.
  const later = await raw(smx, 'POST', '/messages', {
    auth: p.auth,
    body: {
      id: 'later-2',
      message: 'never',
      phoneNumbers: ['+4915112345678'],
      scheduleAt: new Date(Date.now() + 3_000).toISOString(),
    },
  });
  t.is(later.status, 202, later.text);
  const canceled = await raw(smx, 'DELETE', '/messages/later-2', { auth: p.auth });
  t.is(canceled.status, 200, canceled.text);
  t.is(canceled.json.state, 'Cancelled');
  await new Promise((resolve) => setTimeout(resolve, 4_000));
  t.is((await stateOf(smx, p, 'later-2')).state, 'Cancelled');
  t.false(received.some((r) => r.message.body === 'never'));
});

test('simNumber with the npm client: the phone is handed the SIM slot simNumber - 1; a SIM no phone has is 400 {"message"}', async (t) => {
  const smx = current();
  const p = await newProject(smx);
  const credentials = await link(smx, p.projectId, 'dual SIM', [sim(0), sim(1)]);
  const received: OutboxMessage[] = [];
  await startPhone(t, credentials, { onSend: (m) => void received.push(m) });
  const { Client } = (await clientVersions())[0]!;
  const api = new Client(p.projectId, p.key, fetchHttpClient, `${smx.url}${BASE}`);

  const state = await api.send({
    message: 'from SIM 2',
    phoneNumbers: ['+4915112345678'],
    simNumber: 2,
    priority: 100,
  });
  const sms = await eventually(() => received.find((m) => m.body === 'from SIM 2'), 10_000, 'the SMS at the phone');
  t.is(sms.simSlot, 1);
  t.is(sms.priority, 100, "SMSGate's priority is SMX's as it is");
  t.is((await api.getState(state.id)).deviceId, credentials.deviceId);

  const error = await api.send({ message: 'x', phoneNumbers: ['+4915112345678'], simNumber: 3 }).then(
    () => '',
    (e: Error) => e.message,
  );
  t.regex(error, /^HTTP error 400: /);
  t.regex(
    JSON.parse(error.replace(/^HTTP error 400: /, '')).message,
    /^failed to validate: simNumber 3: no phone of this project has a SIM in this slot \(slot 2\)$/,
  );
});

test("deviceId pins a standby phone; another project's or an unknown id: 400 failed to select device", async (t) => {
  const smx = current();
  const p = await newProject(smx);
  const standby = await link(smx, p.projectId, 'standby');
  const active = await link(smx, p.projectId, 'active'); // linked last: the active one
  const onStandby: OutboxMessage[] = [];
  const onActive: OutboxMessage[] = [];
  await startPhone(t, standby, { onSend: (m) => void onStandby.push(m) });
  await startPhone(t, active, { onSend: (m) => void onActive.push(m) });

  const pinned = await raw(smx, 'POST', '/messages', {
    auth: p.auth,
    body: { message: 'pinned', phoneNumbers: ['+4915112345678'], deviceId: standby.deviceId },
  });
  t.is(pinned.status, 202, pinned.text);
  t.is(pinned.json.deviceId, standby.deviceId);
  await eventually(() => onStandby.some((m) => m.body === 'pinned'), 10_000, 'the pinned SMS on the standby phone');
  await phoneMarker(smx, p.key, (id) => onActive.some((m) => m.id === id));
  t.false(onActive.some((m) => m.body === 'pinned'));

  const other = await newProject(smx, 'other');
  const foreign = await link(smx, other.projectId, 'foreign');
  for (const deviceId of [foreign.deviceId, 'dev_unknown']) {
    const r = await raw(smx, 'POST', '/messages', {
      auth: p.auth,
      body: { message: 'x', phoneNumbers: ['+4915112345678'], deviceId },
    });
    t.is(r.status, 400, deviceId);
    t.deepEqual(r.json, { message: 'failed to select device: record not found' });
  }
});

test('dataMessage reaches the reference device as a binary SMS (data + port) and shows back as dataMessage', async (t) => {
  const smx = current();
  const p = await newProject(smx);
  const credentials = await link(smx, p.projectId, 'phone');
  const received: OutboxMessage[] = [];
  await startPhone(t, credentials, { onSend: (m) => void received.push(m) });
  const sent = await raw(smx, 'POST', '/messages', {
    auth: p.auth,
    body: { id: 'data-1', dataMessage: { data: 'SGVsbG8gV29ybGQh', port: 53739 }, phoneNumbers: ['+4915112345678'] },
  });
  t.is(sent.status, 202, sent.text);
  t.deepEqual(sent.json.dataMessage, { data: 'SGVsbG8gV29ybGQh', port: 53739 });
  t.is(sent.json.textMessage, undefined);
  const sms = await eventually(() => received.find((m) => m.data !== undefined), 10_000, 'the data SMS');
  t.is(sms.data, 'SGVsbG8gV29ybGQh');
  t.is(sms.port, 53739);
  await eventually(async () => (await stateOf(smx, p, 'data-1')).state === 'Delivered', 10_000, 'Delivered');
  const listed = await raw(smx, 'GET', '/messages?includeContent=true', { auth: p.auth });
  t.deepEqual(listed.json[0].dataMessage, { data: 'SGVsbG8gV29ybGQh', port: 53739 });
});

test('isEncrypted: the content goes untouched to the SMSGate-app phone only (isEncrypted: true), never to the active MQTT phone; none that decrypts: 400', async (t) => {
  const smx = current();
  const p = await newProject(smx);
  const app = new SmsGateApp(smx.url);
  const token = await smx.admin('POST', `/admin/projects/${p.projectId}/link-tokens`);
  const reg = await app.register({ token: JSON.parse(token.body.data.qr.payload).token as string });
  t.is(reg.status, 201, JSON.stringify(reg.body));
  await smx.admin('PATCH', `/admin/devices/${app.id}`, { sendRatePerMinute: 0 });
  const mqtt = await link(smx, p.projectId, 'MQTT phone'); // linked last: the active one
  const onMqtt: OutboxMessage[] = [];
  await startPhone(t, mqtt, { onSend: (m) => void onMqtt.push(m) });

  const cipher = '$aes-256-cbc/pbkdf2-sha1$i=75000$c2FsdHNhbHQ=$Y2lwaGVydGV4dA==';
  const sent = await raw(smx, 'POST', '/messages', {
    auth: p.auth,
    body: { id: 'secret-1', message: cipher, phoneNumbers: ['+4915112345678'], isEncrypted: true },
  });
  t.is(sent.status, 202, sent.text);
  t.true(sent.json.isEncrypted);
  t.is(sent.json.deviceId, app.id);
  t.deepEqual(sent.json.textMessage, { text: cipher });

  const pulled = await eventually(
    async () => (await app.pull()).body?.find((m) => m.textMessage?.text === cipher),
    10_000,
    'the app pulls it',
  );
  t.true(pulled.isEncrypted);
  t.deepEqual(pulled.phoneNumbers, ['+4915112345678']);
  await phoneMarker(smx, p.key, (id) => onMqtt.some((m) => m.id === id));
  t.false(
    onMqtt.some((m) => m.body === cipher),
    'the MQTT phone never got it',
  );

  // A plain message the same way goes to the active MQTT phone: the app is asked only for what needs it.
  const plain = await raw(smx, 'POST', '/messages', {
    auth: p.auth,
    body: { message: 'plain', phoneNumbers: ['+4915112345678'] },
  });
  t.is(plain.json.deviceId, mqtt.deviceId);

  // Pinning the encrypted content to the MQTT phone is refused; a project without an app phone: 400.
  const pinned = await raw(smx, 'POST', '/messages', {
    auth: p.auth,
    body: { message: cipher, phoneNumbers: ['+4915112345678'], isEncrypted: true, deviceId: mqtt.deviceId },
  });
  t.is(pinned.status, 400);
  t.regex(pinned.json.message, /^failed to select device: .*cannot decrypt/);
  // An MQTT phone cannot claim the capability: declared at link and in presence, it is dropped.
  const q = await newProject(smx, 'MQTT only');
  const token2 = await smx.admin('POST', `/admin/projects/${q.projectId}/link-tokens`);
  const qr = JSON.parse(token2.body.data.qr.payload) as { server: string; token: string };
  const claims = ['data-sms', 'encrypted-content'];
  const only = await linkDevice({ server: qr.server, token: qr.token, name: 'MQTT only', capabilities: claims });
  const onOnly: OutboxMessage[] = [];
  await startPhone(t, only, { capabilities: claims, onSend: (m) => void onOnly.push(m) });
  const refused = await raw(smx, 'POST', '/messages', {
    auth: q.auth,
    body: { message: cipher, phoneNumbers: ['+4915112345678'], isEncrypted: true },
  });
  t.is(refused.status, 400);
  t.regex(refused.json.message, /^failed to select device: no phone of this project can decrypt encrypted content/);
  await phoneMarker(smx, q.key, (id) => onOnly.some((m) => m.id === id));
  t.deepEqual((await smx.admin('GET', `/admin/devices/${only.deviceId}`)).body.data.capabilities, ['data-sms']);
  t.false(onOnly.some((m) => m.body === cipher));
});

test('isEncrypted content stays on its app phone: when that phone is unlinked it fails NO_DEVICE instead of moving to the MQTT phone; an OTP reaches the app with priority 127', async (t) => {
  const smx = current();
  const p = await newProject(smx);
  const app = new SmsGateApp(smx.url);
  const token = await smx.admin('POST', `/admin/projects/${p.projectId}/link-tokens`);
  t.is((await app.register({ token: JSON.parse(token.body.data.qr.payload).token as string })).status, 201);
  await smx.admin('PATCH', `/admin/devices/${app.id}`, { sendRatePerMinute: 0 });

  // The app alone: an OTP (SMX priority 128) is handed to it as SMSGate's highest, 127.
  const otp = await smx.api(p.key, 'POST', '/v1/send-otp', { to: '+4915112345678' });
  t.is(otp.status, 201, JSON.stringify(otp.body));
  const pulledOtp = await eventually(
    async () => (await app.pull()).body?.find((m) => m.id === otp.body.data.messageId),
    10_000,
    'the OTP at the app',
  );
  t.is(pulledOtp.priority, 127);

  const mqtt = await link(smx, p.projectId, 'MQTT phone'); // the active one from now on
  const onMqtt: OutboxMessage[] = [];
  await startPhone(t, mqtt, { onSend: (m) => void onMqtt.push(m) });
  const cipher = '$aes-256-cbc/pbkdf2-sha1$i=75000$c2FsdHNhbHQ=$c2VjcmV0';
  const sent = await raw(smx, 'POST', '/messages', {
    auth: p.auth,
    body: { id: 'secret-2', message: cipher, phoneNumbers: ['+4915112345678'], isEncrypted: true },
  });
  t.is(sent.status, 202, sent.text);
  t.is(sent.json.deviceId, app.id);
  t.is((await smx.admin('DELETE', `/admin/devices/${app.id}`)).status, 200);
  // The unlinked phone's messages are re-routed (or failed) by the dispatcher's pass for it, seconds later.
  const failed = await eventually(
    async () => {
      const s = await stateOf(smx, p, 'secret-2');
      return s.state === 'Failed' ? s : null;
    },
    30_000,
    'Failed once its phone is gone',
  );
  t.deepEqual(failed.recipients, [{ phoneNumber: '+4915112345678', state: 'Failed', error: 'NO_DEVICE' }]);
  await phoneMarker(smx, p.key, (id) => onMqtt.some((m) => m.id === id));
  t.false(
    onMqtt.some((m) => m.body === cipher),
    'never moved to the MQTT phone',
  );
});

test('a scheduled SMSGate message survives a restart of the whole SMX instance: Pending after it, then handed over at its time and Delivered', async (t) => {
  const first = await startTestSmx('smsgate-3rdparty-options-restart', { db: 'postgres' });
  let last: TestSmx = first;
  t.teardown(async () => {
    await first.close();
    await last.close();
    await cleanupTestSmx(last);
  });
  const p = await newProject(first);
  const credentials = await linkNewDevice(first, p.projectId);
  await first.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 });
  const early: OutboxMessage[] = [];
  const phone = await startPhone(t, credentials, { onSend: (m) => void early.push(m) });
  const scheduleAt = new Date(Date.now() + 4_000);
  const sent = await raw(first, 'POST', '/messages', {
    auth: p.auth,
    body: { id: 'across-restart', message: 'across a restart', phoneNumbers: ['+4915112345678'], scheduleAt },
  });
  t.is(sent.status, 202, sent.text);
  await phone.stop();
  await first.close();

  const second = await startTestSmx('smsgate-3rdparty-options-restart', {
    db: 'postgres',
    reuse: {
      redisPrefix: first.redisPrefix,
      schema: first.smx.config.databaseSchema,
      dataDir: first.smx.config.dataDir,
      adminToken: first.adminToken,
    },
  });
  last = second;
  t.is((await stateOf(second, p, 'across-restart')).state, 'Pending', 'still held after the restart');
  const received: Array<OutboxMessage & { at: number }> = [];
  await startPhone(t, credentials, {
    url: `mqtt://127.0.0.1:${second.smx.broker!.tcpPort}`,
    onSend: (m) => void received.push({ ...m, at: Date.now() }),
  });
  const sms = await eventually(
    () => received.find((m) => m.body === 'across a restart'),
    20_000,
    'the scheduled message after the restart',
  );
  t.true(sms.at >= scheduleAt.getTime(), 'not before its time');
  t.false(
    early.some((m) => m.body === 'across a restart'),
    'not handed to the phone before the restart',
  );
  await eventually(async () => (await stateOf(second, p, 'across-restart')).state === 'Delivered', 10_000, 'Delivered');
});
