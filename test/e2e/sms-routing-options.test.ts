/**
 * send-sms `simSlot`, `deviceId` and `priority` (docs/api.md "POST /v1/send-sms"): the phone gets
 * the SIM slot asked for (and must have it), a pinned phone gets the message even when another is
 * the active one, and a phone gets its waiting SMS highest priority first, OTPs before all.
 */
import test from 'ava';
import { linkDevice } from '../../device/link.js';
import type { LinkResult, OutboxMessage, Sim } from '../../protocol/payloads.js';
import { createProject, startPhone, useSmx, type TestSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'sms-routing-options');

const sim = (slot: number): Sim => ({ slot, number: null, carrier: null, rentable: false });

/** Links a phone (with these SIMs) to the project; it becomes the active one. */
async function link(smx: TestSmx, projectId: string, name: string, sims: Sim[] = []): Promise<LinkResult> {
  const token = await smx.admin('POST', `/admin/projects/${projectId}/link-tokens`);
  const qr = JSON.parse(token.body.data.qr.payload) as { server: string; token: string };
  const credentials = await linkDevice({ server: qr.server, token: qr.token, name, sims });
  await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 });
  return credentials;
}

test('simSlot: the phone is handed the message with that slot; a slot the phone lacks is 400 on simSlot', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const credentials = await link(smx, projectId, 'dual SIM', [sim(0), sim(1)]);
  const received: OutboxMessage[] = [];
  await startPhone(t, credentials, { onSend: (m) => void received.push(m) });
  const sent = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message: 'from SIM 2', simSlot: 1 });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  const sms = await eventually(() => received.find((m) => m.id === sent.body.data.messageId), 10_000, 'the SMS');
  t.is(sms.simSlot, 1);
  t.is((await smx.api(key, 'GET', `/v1/messages/${sms.id}`)).body.data.simSlot, 1);

  for (const body of [{ simSlot: 3 }, { simSlot: 3, deviceId: credentials.deviceId }]) {
    const refused = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message: 'x', ...body });
    t.is(refused.status, 400, JSON.stringify(body));
    t.is(refused.body.error.code, 'VALIDATION_FAILED');
    t.is(refused.body.error.details[0]!.field, 'simSlot');
  }
  const outOfRange = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message: 'x', simSlot: 8 });
  t.is(outOfRange.status, 400);
});

test('deviceId: a pinned standby phone gets it although another is active; foreign and unlinked ids are refused', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const standby = await link(smx, projectId, 'standby');
  const active = await link(smx, projectId, 'active'); // linked last: the active one
  const onStandby: OutboxMessage[] = [];
  const onActive: OutboxMessage[] = [];
  await startPhone(t, standby, { onSend: (m) => void onStandby.push(m) });
  await startPhone(t, active, { onSend: (m) => void onActive.push(m) });

  const pinned = await smx.api(key, 'POST', '/v1/send-sms', {
    to: '+4915112345678',
    message: 'pinned',
    deviceId: standby.deviceId,
  });
  t.is(pinned.status, 201, JSON.stringify(pinned.body));
  t.is(pinned.body.data.deviceId, standby.deviceId);
  const plain = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message: 'routed' });
  t.is(plain.body.data.deviceId, active.deviceId);
  await eventually(
    () => onStandby.some((m) => m.id === pinned.body.data.messageId),
    10_000,
    'the pinned SMS on the standby phone',
  );
  await eventually(
    () => onActive.some((m) => m.id === plain.body.data.messageId),
    10_000,
    'the routed SMS on the active phone',
  );
  t.false(onActive.some((m) => m.id === pinned.body.data.messageId));

  const other = await createProject(smx, 'Other');
  const foreignDevice = await link(smx, other.projectId, 'foreign');
  const foreign = await smx.api(key, 'POST', '/v1/send-sms', {
    to: '+4915112345678',
    message: 'x',
    deviceId: foreignDevice.deviceId,
  });
  t.is(foreign.status, 404);
  t.is(foreign.body.error.code, 'NOT_FOUND');
  t.is(
    (await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message: 'x', deviceId: 'dev_unknown' }))
      .status,
    404,
  );

  t.is((await smx.admin('DELETE', `/admin/devices/${standby.deviceId}`)).status, 200);
  const unlinked = await smx.api(key, 'POST', '/v1/send-sms/bulk', {
    to: ['+4915112345678'],
    message: 'x',
    deviceId: standby.deviceId,
  });
  t.is(unlinked.status, 409);
  t.is(unlinked.body.error.code, 'DEVICE_NOT_LINKED');
});

test('priority: a phone gets its waiting SMS highest priority first, then in order; an OTP before all', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const credentials = await link(smx, projectId, 'offline for now');
  const send = async (message: string, priority?: number) => {
    const sent = await smx.api(key, 'POST', '/v1/send-sms', {
      to: '+4915112345678',
      message,
      ...(priority === undefined ? {} : { priority }),
    });
    t.is(sent.status, 201, JSON.stringify(sent.body));
  };
  // The phone has never connected: everything waits for it, then goes out in dispatch order.
  await send('p0 first');
  await send('p-5', -5);
  await send('p10', 10);
  await send('p0 second', 0);
  await send('p127', 127);
  const otp = await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345678', code: '4711' });
  t.is(otp.status, 201);
  const received: OutboxMessage[] = [];
  await startPhone(t, credentials, { onSend: (m) => void received.push(m) });
  await eventually(() => received.length === 6, 40_000, 'all six on the phone');
  t.deepEqual(
    received.map((m) => (m.id === otp.body.data.messageId ? 'otp' : m.body)),
    ['otp', 'p127', 'p10', 'p0 first', 'p0 second', 'p-5'],
  );
  t.deepEqual(
    received.map((m) => m.priority),
    [128, 127, 10, 0, 0, -5],
  );
});

test('a message pinned to a phone that is unlinked before it got it fails NO_DEVICE instead of moving to the active phone', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const pinnedTo = await link(smx, projectId, 'never connects');
  const active = await link(smx, projectId, 'active');
  const onActive: OutboxMessage[] = [];
  await startPhone(t, active, { onSend: (m) => void onActive.push(m) });
  const pinned = await smx.api(key, 'POST', '/v1/send-sms', {
    to: '+4915112345678',
    message: 'pinned',
    deviceId: pinnedTo.deviceId,
  });
  const unpinned = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message: 'follows' });
  t.is(pinned.status, 201);
  t.is(unpinned.body.data.deviceId, active.deviceId);
  t.is((await smx.admin('DELETE', `/admin/devices/${pinnedTo.deviceId}`)).status, 200);
  // The dispatcher finds the device gone (at the latest on the 10 s recovery sweep) and does not move it.
  const failed = await eventually(
    async () => {
      const m = (await smx.api(key, 'GET', `/v1/messages/${pinned.body.data.messageId}`)).body.data;
      return m.status === 'FAILED' ? m : null;
    },
    30_000,
    'the pinned message failed',
  );
  t.is(failed.error, 'NO_DEVICE');
  t.is(failed.deviceId, pinnedTo.deviceId);
  t.false(onActive.some((m) => m.id === pinned.body.data.messageId));
});

test("bulk: an entry's own deviceId, simSlot, priority and scheduleAt override the request's; a wrong one rejects only that entry", async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const standby = await link(smx, projectId, 'dual SIM standby', [sim(0), sim(1)]);
  const active = await link(smx, projectId, 'active', [sim(0)]);
  const onStandby: Array<OutboxMessage & { at: number }> = [];
  const onActive: Array<OutboxMessage & { at: number }> = [];
  await startPhone(t, standby, { onSend: (m) => void onStandby.push({ ...m, at: Date.now() }) });
  await startPhone(t, active, { onSend: (m) => void onActive.push({ ...m, at: Date.now() }) });
  const other = await createProject(smx, 'Other');
  const foreign = await link(smx, other.projectId, 'foreign');
  const to = '+4915112345678';
  const scheduleAt = new Date(Date.now() + 2_000).toISOString();
  const bulk = await smx.api(key, 'POST', '/v1/send-sms/bulk', {
    priority: 3,
    messages: [
      { to, message: 'e0', deviceId: standby.deviceId, simSlot: 1 },
      { to, message: 'e1', priority: 7 },
      { to, message: 'e2', deviceId: foreign.deviceId },
      { to, message: 'e3', priority: 1000 },
      { to, message: 'e4', scheduleAt },
      { to, message: 'e5', scheduleAt: new Date(Date.now() - 60_000).toISOString() },
      { to, message: 'e6' },
    ],
  });
  t.is(bulk.status, 202, JSON.stringify(bulk.body));
  t.is(bulk.body.data.accepted, 4);
  t.deepEqual(
    bulk.body.data.rejected.map((r: { index: number; code: string }) => [r.index, r.code]),
    [
      [2, 'NOT_FOUND'],
      [3, 'VALIDATION_FAILED'],
      [5, 'VALIDATION_FAILED'],
    ],
  );
  const e0 = await eventually(() => onStandby.find((m) => m.body === 'e0'), 10_000, 'e0 on the pinned standby phone');
  t.like(e0, { simSlot: 1, priority: 3 });
  const e1 = await eventually(() => onActive.find((m) => m.body === 'e1'), 10_000, 'e1 on the active phone');
  t.is(e1.priority, 7);
  const e6 = await eventually(() => onActive.find((m) => m.body === 'e6'), 10_000, 'e6 on the active phone');
  t.is(e6.priority, 3, "the request's priority");
  const e4 = await eventually(() => onActive.find((m) => m.body === 'e4'), 15_000, 'e4 at its time');
  t.true(e4.at >= Date.parse(scheduleAt));
  t.false(onActive.some((m) => m.body === 'e0'));
});
