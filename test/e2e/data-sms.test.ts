/**
 * Binary (data) SMS (docs/api.md "POST /v1/send-sms", device-protocol.md §3): `data` (base64) to a
 * `dataPort` reaches a phone that declared `data-sms` as an outbox item with `data` and `port`,
 * and never a phone that did not; a project without a capable phone is refused at accept time.
 * An SMSGate-app phone pulls it as a `dataMessage`.
 */
import test from 'ava';
import { linkDevice } from '../../device/link.js';
import type { LinkResult, OutboxMessage } from '../../protocol/payloads.js';
import { createProject, phoneMarker, startPhone, useSmx, type TestSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';
import { SmsGateApp } from '../helpers/smsgate-app.js';

const current = useSmx(test, 'data-sms');

/** Links a phone declaring these capabilities (the reference device declares data-sms by default). */
async function link(smx: TestSmx, projectId: string, name: string, capabilities?: string[]): Promise<LinkResult> {
  const token = await smx.admin('POST', `/admin/projects/${projectId}/link-tokens`);
  const qr = JSON.parse(token.body.data.qr.payload) as { server: string; token: string };
  const credentials = await linkDevice({
    server: qr.server,
    token: qr.token,
    name,
    ...(capabilities ? { capabilities } : {}),
  });
  await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 });
  return credentials;
}

const DATA = Buffer.from([0x01, 0x02, 0xfe, 0xff, 0x41]).toString('base64');

test('a data SMS reaches a capable phone as data + port, is reported sent and delivered, and the log shows it', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const credentials = await link(smx, projectId, 'capable');
  const received: OutboxMessage[] = [];
  await startPhone(t, credentials, { onSend: (m) => void received.push(m) });
  const sent = await smx.api(key, 'POST', '/v1/send-sms', {
    to: '+4915112345678',
    data: DATA,
    dataPort: 8200,
    metadata: { kind: 'wap' },
  });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  t.is(sent.body.data.parts, 1);
  const sms = await eventually(
    () => received.find((m) => m.id === sent.body.data.messageId),
    10_000,
    'the data SMS on the phone',
  );
  t.like(sms, { data: DATA, port: 8200, body: '' });
  const read = await eventually(
    async () => {
      const m = await smx.api(key, 'GET', `/v1/messages/${sms.id}`);
      return m.body.data.status === 'DELIVERED' ? m.body.data : null;
    },
    10_000,
    'DELIVERED',
  );
  t.like(read, { data: DATA, dataPort: 8200 });
  t.false('message' in read);
  const doc = (await (await fetch(`${smx.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
  t.truthy(doc.paths['/v1/messages/{id}/cancel']);
});

test('routing skips a phone without data-sms: the active one gets texts, the capable standby the data SMS', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const capable = await link(smx, projectId, 'capable standby');
  const plain = await link(smx, projectId, 'text-only active', []);
  const onCapable: OutboxMessage[] = [];
  const onPlain: OutboxMessage[] = [];
  await startPhone(t, capable, { onSend: (m) => void onCapable.push(m) });
  await startPhone(t, plain, { capabilities: [], onSend: (m) => void onPlain.push(m) });

  const data = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', data: DATA, dataPort: 9200 });
  t.is(data.status, 201, JSON.stringify(data.body));
  t.is(data.body.data.deviceId, capable.deviceId);
  const bulk = await smx.api(key, 'POST', '/v1/send-sms/bulk', {
    messages: [
      { to: '+4915112345601', data: DATA, dataPort: 9200 },
      { to: '+4915112345602', message: 'a text' },
      { to: '+4915112345603', data: 'not base64!', dataPort: 9200 },
    ],
  });
  t.is(bulk.status, 202, JSON.stringify(bulk.body));
  t.is(bulk.body.data.accepted, 2);
  t.deepEqual(
    bulk.body.data.rejected.map((r: { index: number; code: string }) => [r.index, r.code]),
    [[2, 'VALIDATION_FAILED']],
  );
  await eventually(
    () => onCapable.filter((m) => m.data === DATA).length === 2,
    10_000,
    'both data SMS on the capable phone',
  );
  await eventually(() => onPlain.some((m) => m.body === 'a text'), 10_000, 'the text on the active phone');
  // Whatever was handed to the text-only phone before this marker has arrived: no data SMS among it.
  await phoneMarker(smx, key, (id) => onPlain.some((m) => m.id === id));
  t.false(
    onPlain.some((m) => m.data !== undefined),
    'no data SMS to the phone without data-sms',
  );

  const pinned = await smx.api(key, 'POST', '/v1/send-sms', {
    to: '+4915112345678',
    data: DATA,
    dataPort: 9200,
    deviceId: plain.deviceId,
  });
  t.is(pinned.status, 400);
  t.is(pinned.body.error.details[0]!.field, 'deviceId');
});

test('a project without a capable phone: 409 DEVICE_NOT_LINKED on data; a phone that announces data-sms in its presence gets it after', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const plain = await link(smx, projectId, 'old app', []);
  const refused = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', data: DATA, dataPort: 8200 });
  t.is(refused.status, 409);
  t.is(refused.body.error.code, 'DEVICE_NOT_LINKED');
  t.is(refused.body.error.details[0]!.field, 'data');
  t.regex(refused.body.error.message, /data SMS/);
  const bulk = await smx.api(key, 'POST', '/v1/send-sms/bulk', { to: ['+4915112345601'], data: DATA, dataPort: 8200 });
  t.is(bulk.status, 409);

  // The app is updated: its presence now says data-sms (no new link).
  const received: OutboxMessage[] = [];
  await startPhone(t, plain, { capabilities: ['data-sms'], onSend: (m) => void received.push(m) });
  const accepted = await eventually(
    async () => {
      const sent = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', data: DATA, dataPort: 8200 });
      return sent.status === 201 ? sent.body.data : null;
    },
    10_000,
    'data SMS accepted once the presence declared data-sms',
  );
  await eventually(() => received.some((m) => m.id === accepted.messageId), 10_000, 'on the phone');
  const device = await smx.admin('GET', `/admin/devices/${plain.deviceId}`);
  t.deepEqual(device.body.data.capabilities, ['data-sms']);
});

test('validation: message xor data, strict base64 of 1-133 bytes, dataPort 1-65535 with data', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  await link(smx, projectId, 'capable');
  const refused = async (body: object, field: string) => {
    const answer = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', ...body });
    t.is(answer.status, 400, JSON.stringify(body));
    t.is(answer.body.error.code, 'VALIDATION_FAILED');
    t.true(
      answer.body.error.details.some((d) => d.field === field),
      `${JSON.stringify(body)} → ${JSON.stringify(answer.body.error.details)}`,
    );
  };
  await refused({ message: 'x', data: DATA, dataPort: 1 }, 'data');
  await refused({ data: DATA }, 'dataPort');
  await refused({ data: DATA, dataPort: 0 }, 'dataPort');
  await refused({ data: DATA, dataPort: 65_536 }, 'dataPort');
  await refused({ data: 'AAE', dataPort: 1 }, 'data');
  await refused({ data: Buffer.alloc(134).toString('base64'), dataPort: 1 }, 'data');
  await refused({}, 'message');
  const max = await smx.api(key, 'POST', '/v1/send-sms', {
    to: '+4915112345678',
    data: Buffer.alloc(133, 7).toString('base64'),
    dataPort: 65_535,
  });
  t.is(max.status, 201, JSON.stringify(max.body));
});

test('an SMSGate-app phone pulls a data SMS as dataMessage', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const token = (await smx.admin('POST', `/admin/projects/${projectId}/link-tokens`)).body.data.token as string;
  const app = new SmsGateApp(smx.url);
  t.is((await app.register({ token })).status, 201);
  const sent = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', data: DATA, dataPort: 53 });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  const pulled = await app.pull();
  const item = (pulled.body as unknown as Array<Record<string, unknown>>).find(
    (m) => m.id === sent.body.data.messageId,
  );
  t.deepEqual(item?.dataMessage, { data: DATA, port: 53 });
  t.false(item !== undefined && 'textMessage' in item);
});
