/**
 * Phones through the operator's eyes (docs/api.md "Admin API", device-protocol.md §1, §2, §4):
 * link tokens and their QR code, the link answer, single use, active/standby, device settings,
 * presence, unlinking (credentials dead at once, connection dropped) and DEVICE_NOT_LINKED.
 */
import test from 'ava';
import { deviceTopics } from '../../protocol/topics.js';
import type { LinkResult } from '../../protocol/payloads.js';
import { knexOf } from '../helpers/dump.js';
import { connectRaw, deviceOptions, type ConnackRefusal } from '../helpers/mqtt.js';
import { createProject, linkNewDevice, startPhone, useSmx, type TestSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'devices');

async function linkToken(smx: TestSmx, projectId: string): Promise<string> {
  const created = await smx.admin('POST', `/admin/projects/${projectId}/link-tokens`);
  if (created.status !== 201) throw new Error(`link token: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body.data.token as string;
}

/** POST /v1/devices/link as the phone does (no API key). */
async function link(smx: TestSmx, body: unknown) {
  const response = await fetch(`${smx.url}/v1/devices/link`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    body: (await response.json()) as { success: boolean; data: any; error: { code: string; origin: string } },
  };
}

async function devicesOf(
  smx: TestSmx,
  projectId: string,
): Promise<
  Array<{
    id: string;
    name: string;
    active: boolean;
    status: string;
    online: boolean;
    sendRatePerMinute: number;
    sims: unknown[];
  }>
> {
  const listed = await smx.admin('GET', `/admin/projects/${projectId}/devices`);
  if (listed.status !== 200) throw new Error(`devices: ${listed.status} ${JSON.stringify(listed.body)}`);
  return listed.body.data.devices;
}

test('a link token comes with its QR: compact JSON payload, SVG and PNG, valid 10 minutes', async (t) => {
  const smx = current();
  const { projectId } = await createProject(smx);
  const before = Date.now();
  const created = await smx.admin('POST', `/admin/projects/${projectId}/link-tokens`);
  const after = Date.now();
  t.is(created.status, 201, JSON.stringify(created.body));
  const { token, expiresAt, qr } = created.body.data;
  t.regex(token, /^lt_[A-Za-z0-9_-]{40,}$/);
  t.regex(expiresAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const lifetime = Date.parse(expiresAt);
  t.true(
    lifetime >= before + 600_000 - 1000 && lifetime <= after + 600_000 + 1000,
    `expiresAt ${expiresAt} is 10 minutes out`,
  );
  t.is(qr.payload, `{"v":1,"server":"${smx.url}","token":"${token}"}`, 'compact JSON, keys in protocol order');
  t.deepEqual(JSON.parse(qr.payload), { v: 1, server: smx.url, token });
  t.regex(qr.svg.trimStart(), /^(<\?xml[^>]*>\s*)?<svg[\s>]/);
  t.regex(qr.svg, /<\/svg>\s*$/);
  t.true(qr.pngDataUrl.startsWith('data:image/png;base64,'));
  const png = Buffer.from(qr.pngDataUrl.slice('data:image/png;base64,'.length), 'base64');
  t.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  // Every token is new.
  t.not(await linkToken(smx, projectId), token);
});

test('a link code is 6 digits, valid 10 minutes', async (t) => {
  const smx = current();
  const { projectId } = await createProject(smx);
  const before = Date.now();
  const created = await smx.admin('POST', `/admin/projects/${projectId}/link-codes`);
  const after = Date.now();
  t.is(created.status, 201, JSON.stringify(created.body));
  t.regex(created.body.data.code, /^\d{6}$/);
  const expires = Date.parse(created.body.data.expiresAt);
  t.true(
    expires >= before + 600_000 - 1000 && expires <= after + 600_000 + 1000,
    `expiresAt ${created.body.data.expiresAt} is 10 minutes out`,
  );
  const unknownProject = await smx.admin('POST', '/admin/projects/prj_AAAAAAAAAAAAAAAAAAAAAA/link-codes');
  t.is(unknownProject.status, 404);
});

test('the link answer has exactly the shape of device-protocol.md §1, and the token works once', async (t) => {
  const smx = current();
  const { projectId } = await createProject(smx);
  const token = await linkToken(smx, projectId);
  const sims = [{ slot: 0, number: '+14155550100', carrier: 'T-Mobile', rentable: false }];
  const linked = await link(smx, { token, name: 'Pixel 7', model: 'GP4BC', appVersion: '1.0.0', sims });
  t.is(linked.status, 201, JSON.stringify(linked.body));
  t.true(linked.body.success);
  const data = linked.body.data as LinkResult;
  t.deepEqual(Object.keys(data).sort(), ['deviceId', 'mqtt', 'projectId', 'topics']);
  t.regex(data.deviceId, /^dev_[A-Za-z0-9_-]{22}$/);
  t.is(data.projectId, projectId);
  t.deepEqual(Object.keys(data.mqtt).sort(), ['clientId', 'password', 'url', 'username', 'wsUrl']);
  // The host is the public URL's; the ports are the ones the embedded broker bound.
  const host = new URL(smx.url).hostname;
  t.is(data.mqtt.url, `mqtt://${host}:${smx.smx.broker!.tcpPort}`);
  t.is(data.mqtt.wsUrl, `ws://${host}:${smx.smx.broker!.wsPort}/mqtt`);
  t.is(data.mqtt.clientId, data.deviceId);
  t.is(data.mqtt.username, data.deviceId);
  t.true(data.mqtt.password.length >= 32, 'a long random secret');
  t.deepEqual(data.topics, {
    outbox: `smx/v1/devices/${data.deviceId}/outbox`,
    control: `smx/v1/devices/${data.deviceId}/control`,
    status: `smx/v1/devices/${data.deviceId}/status`,
    inbox: `smx/v1/devices/${data.deviceId}/inbox`,
    presence: `smx/v1/devices/${data.deviceId}/presence`,
  });
  t.deepEqual(data.topics, deviceTopics(data.deviceId));

  const listed = await devicesOf(smx, projectId);
  t.is(listed.length, 1);
  t.is(listed[0]!.name, 'Pixel 7');
  t.deepEqual(listed[0]!.sims, sims);
  t.false(JSON.stringify(listed).includes(data.mqtt.password), 'the secret is shown once, never listed');

  // Single use: the same token again links nothing.
  const again = await link(smx, { token, name: 'Second phone' });
  t.is(again.status, 401, JSON.stringify(again.body));
  t.is(again.body.error.code, 'UNAUTHORIZED');
  t.is(again.body.error.origin, 'auth');
  t.is((await devicesOf(smx, projectId)).length, 1, 'no second device');

  const unknown = await link(smx, { token: 'lt_thisTokenWasNeverIssuedByTheServerAtAll00000', name: 'Stranger' });
  t.is(unknown.status, 401);
  t.is(unknown.body.error.code, 'UNAUTHORIZED');
  t.is((await devicesOf(smx, projectId)).length, 1);

  // Two phones racing for one fresh token: exactly one links.
  const raced = await linkToken(smx, projectId);
  const results = await Promise.all([
    link(smx, { token: raced, name: 'Racer 1' }),
    link(smx, { token: raced, name: 'Racer 2' }),
  ]);
  t.deepEqual(results.map((r) => r.status).sort(), [201, 401]);
  t.is((await devicesOf(smx, projectId)).length, 2);
});

test('a second linked device becomes active, the first standby; activate switches back', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const first = await linkNewDevice(smx, projectId, 'First');
  const second = await linkNewDevice(smx, projectId, 'Second');

  const listed = await devicesOf(smx, projectId);
  const byId = new Map(listed.map((d) => [d.id, d]));
  t.is(listed.length, 2);
  t.true(byId.get(second.deviceId)!.active);
  t.is(byId.get(second.deviceId)!.status, 'active');
  t.false(byId.get(first.deviceId)!.active);
  t.is(byId.get(first.deviceId)!.status, 'standby');
  t.is(listed.filter((d) => d.active).length, 1, 'one active device per project');
  t.is((await smx.api(key, 'GET', '/v1/status')).body.data.device.id, second.deviceId);
  const routed = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550121' });
  t.is(routed.body.data.deviceId, second.deviceId, 'OTPs go to the active device');

  const activated = await smx.admin('POST', `/admin/devices/${first.deviceId}/activate`);
  t.is(activated.status, 200, JSON.stringify(activated.body));
  t.true(activated.body.data.active);
  const after = new Map((await devicesOf(smx, projectId)).map((d) => [d.id, d]));
  t.true(after.get(first.deviceId)!.active);
  t.false(after.get(second.deviceId)!.active);
  t.is(after.get(second.deviceId)!.status, 'standby');
  t.is((await smx.api(key, 'GET', '/v1/status')).body.data.device.id, first.deviceId);
  const rerouted = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550121' });
  t.is(rerouted.body.data.deviceId, first.deviceId);

  // Activating the active one is harmless; an unknown device is 404.
  t.is((await smx.admin('POST', `/admin/devices/${first.deviceId}/activate`)).status, 200);
  t.is((await devicesOf(smx, projectId)).filter((d) => d.active).length, 1);
  const unknown = await smx.admin('POST', '/admin/devices/dev_AAAAAAAAAAAAAAAAAAAAAA/activate');
  t.is(unknown.status, 404);
  t.is(unknown.body.error.code, 'NOT_FOUND');
});

test('PATCH /admin/devices/:id changes name, send rate and SIMs, and validates them', async (t) => {
  const smx = current();
  const { projectId } = await createProject(smx);
  const device = await linkNewDevice(smx, projectId, 'Before');
  t.is((await devicesOf(smx, projectId))[0]!.sendRatePerMinute, 30, 'default pace 30/min');

  const sims = [
    { slot: 0, number: '+14155550100', carrier: 'T-Mobile', rentable: true },
    { slot: 1, number: null, carrier: null, rentable: false },
  ];
  const patched = await smx.admin('PATCH', `/admin/devices/${device.deviceId}`, {
    name: 'After',
    sendRatePerMinute: 12,
    sims,
  });
  t.is(patched.status, 200, JSON.stringify(patched.body));
  t.is(patched.body.data.name, 'After');
  t.is(patched.body.data.sendRatePerMinute, 12);
  t.deepEqual(patched.body.data.sims, sims);
  const listed = (await devicesOf(smx, projectId))[0]!;
  t.is(listed.name, 'After');
  t.is(listed.sendRatePerMinute, 12);
  t.deepEqual(listed.sims, sims);

  const unlimited = await smx.admin('PATCH', `/admin/devices/${device.deviceId}`, { sendRatePerMinute: 0 });
  t.is(unlimited.status, 200);
  t.is(unlimited.body.data.sendRatePerMinute, 0, '0 = no limit');
  t.is(unlimited.body.data.name, 'After', 'fields not sent are kept');

  const negative = await smx.admin('PATCH', `/admin/devices/${device.deviceId}`, { sendRatePerMinute: -1 });
  t.is(negative.status, 400);
  t.is(negative.body.error.code, 'VALIDATION_FAILED');
  t.deepEqual(
    negative.body.error.details.map((d) => d.field),
    ['sendRatePerMinute'],
  );
  const several = await smx.admin('PATCH', `/admin/devices/${device.deviceId}`, {
    name: '',
    sendRatePerMinute: 1.5,
    sims: [{ slot: 9, rentable: 'yes' }],
  });
  t.is(several.status, 400);
  const fields = new Set(several.body.error.details.map((d) => d.field));
  for (const field of ['name', 'sendRatePerMinute', 'sims[0].slot', 'sims[0].rentable'])
    t.true(fields.has(field), `${field} in ${[...fields].join(', ')}`);
  const unchanged = (await devicesOf(smx, projectId))[0]!;
  t.is(unchanged.sendRatePerMinute, 0, 'a refused PATCH changes nothing');
  t.is(unchanged.name, 'After');

  const unknown = await smx.admin('PATCH', '/admin/devices/dev_AAAAAAAAAAAAAAAAAAAAAA', { name: 'x' });
  t.is(unknown.status, 404);
});

test('presence: online once the phone is connected, offline after it stops', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const credentials = await linkNewDevice(smx, projectId);
  const offlineFirst = await smx.api(key, 'GET', '/v1/status');
  t.false(offlineFirst.body.data.device.online);
  t.false(offlineFirst.body.data.ready);
  t.true(offlineFirst.body.data.device.linked);

  const phone = await startPhone(t, credentials, { battery: { battery: 64 } });
  const listed = await eventually(
    async () => (await devicesOf(smx, projectId)).find((d) => d.online),
    10_000,
    'online in the device list',
  );
  t.is(listed.id, credentials.deviceId);
  const status = await eventually(
    async () => {
      const s = await smx.api(key, 'GET', '/v1/status');
      return s.body.data.device.online && s.body.data.device.battery === 64 ? s.body.data : null;
    },
    10_000,
    'online with battery in /v1/status',
  );
  t.true(status.ready);
  t.truthy(status.device.lastSeenAt);

  await phone.stop();
  await eventually(async () => !(await devicesOf(smx, projectId))[0]!.online, 10_000, 'offline in the device list');
  const after = await eventually(
    async () => {
      const s = await smx.api(key, 'GET', '/v1/status');
      return s.body.data.device.online === false ? s.body.data : null;
    },
    10_000,
    'offline in /v1/status',
  );
  t.false(after.ready);
  t.truthy(after.device.lastSeenAt, 'last seen is kept');
});

test('unlink: the connected phone is dropped, its secret stops working, the device is gone', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const standby = await linkNewDevice(smx, projectId, 'Standby');
  const credentials = await linkNewDevice(smx, projectId, 'To unlink');
  const phone = await startPhone(t, credentials);
  await eventually(
    async () => (await devicesOf(smx, projectId)).find((d) => d.id === credentials.deviceId)?.online,
    10_000,
    'online',
  );
  const unlinked = new Promise<void>((resolve) => phone.once('unlinked', () => resolve()));
  const stopped = new Promise<void>((resolve) => phone.once('stopped', () => resolve()));

  const removed = await smx.admin('DELETE', `/admin/devices/${credentials.deviceId}`);
  t.is(removed.status, 200, JSON.stringify(removed.body));
  await unlinked; // the control "unlink" reached the phone
  await stopped;
  t.false(phone.connected);

  // The old secret is refused with "bad user name or password".
  const error = await connectRaw(t, `mqtt://127.0.0.1:${smx.smx.broker!.tcpPort}`, deviceOptions(credentials)).then(
    () => null,
    (e: ConnackRefusal) => e,
  );
  t.truthy(error, 'the connection was refused');
  t.is(error?.code, 4, `CONNACK return code: ${error?.message}`);

  const listed = await devicesOf(smx, projectId);
  t.deepEqual(
    listed.map((d) => d.id),
    [standby.deviceId],
  );
  t.true(listed[0]!.active, 'the standby device took over');
  t.is((await smx.admin('GET', `/admin/devices/${credentials.deviceId}`)).status, 404);
  t.is((await smx.admin('DELETE', `/admin/devices/${credentials.deviceId}`)).status, 404, 'unlinking twice is 404');
  t.is((await smx.api(key, 'GET', '/v1/status')).body.data.device.id, standby.deviceId);
});

test('unlink drops a connection even when the phone ignores the control message', async (t) => {
  const smx = current();
  const { projectId } = await createProject(smx);
  const credentials = await linkNewDevice(smx, projectId);
  // A bare client subscribed to nothing: only the broker's kick can end its connection.
  const client = await connectRaw(t, `mqtt://127.0.0.1:${smx.smx.broker!.tcpPort}`, deviceOptions(credentials));
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  t.is((await smx.admin('DELETE', `/admin/devices/${credentials.deviceId}`)).status, 200);
  await closed;
  t.false(client.connected);
});

test('send-otp with no device linked is 409 DEVICE_NOT_LINKED and creates nothing', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550131' });
  t.is(sent.status, 409, JSON.stringify(sent.body));
  t.is(sent.body.error.code, 'DEVICE_NOT_LINKED');
  t.is(sent.body.error.origin, 'device');
  const db = knexOf(smx);
  t.deepEqual(await db('verifications').where({ project_id: projectId }).select('id'), []);
  t.deepEqual(await db('messages').where({ project_id: projectId }).select('id'), []);

  // After the only device is unlinked the project is back to "not linked".
  const credentials = await linkNewDevice(smx, projectId);
  t.is((await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550131' })).status, 201);
  t.is((await smx.admin('DELETE', `/admin/devices/${credentials.deviceId}`)).status, 200);
  const afterUnlink = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550131' });
  t.is(afterUnlink.status, 409);
  t.is(afterUnlink.body.error.code, 'DEVICE_NOT_LINKED');
  t.is(
    (await db('verifications').where({ project_id: projectId }).select('id')).length,
    1,
    'only the one sent while linked',
  );
});

test('phones linking in parallel to one project all link (no 500): the last one is active, the others standby', async (t) => {
  const smx = current();
  const { projectId } = await createProject(smx, 'Parallel links');
  const tokens = await Promise.all(
    Array.from(
      { length: 24 },
      async () => (await smx.admin('POST', `/admin/projects/${projectId}/link-tokens`)).body.data.token as string,
    ),
  );
  const answers: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 12 }, async () => {
      while (next < tokens.length) {
        const token = tokens[next++]!;
        const response = await fetch(`${smx.url}/v1/devices/link`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ token, name: 'fleet phone' }),
        });
        answers.push(response.status);
      }
    }),
  );
  t.deepEqual(
    answers,
    tokens.map(() => 201),
    'every link answered 201',
  );
  const devices = (await smx.admin('GET', `/admin/projects/${projectId}/devices`)).body.data.devices as Array<{
    status: string;
  }>;
  t.is(devices.length, 24);
  t.is(devices.filter((d) => d.status === 'active').length, 1, 'one active device');
});
