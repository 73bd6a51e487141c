/**
 * Lease-based re-routing (a phone that took an OTP and did not report it sent in time loses it to
 * another route) and POST /v1/verifications/:id/resend, with real reference phones over MQTT and
 * the SMSGate app emulator side by side.
 */
import test, { type ExecutionContext } from 'ava';
import type { Knex } from 'knex';
import type { LinkResult, OutboxMessage } from '../../protocol/payloads.js';
import type { ReportOptions } from '../../device/reference-device-options.js';
import { SmsGateApp } from '../helpers/smsgate-app.js';
import { createProject, linkNewDevice, startPhone, useSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';
import type { Queues } from '../../core/queues.js';
import { TOKENS } from '../../core/tokens.js';

const current = useSmx(test, 'otp-rerouting');
const codeIn = (body: string) => /(\d{4,12})\s*$/.exec(body)?.[1] ?? '';

/**
 * Waits until `rounds` OTP lease sweeps (the maintenance job that re-routes) have run that started
 * after `after`: by then any message whose lease ran out before `after` has been looked at.
 */
async function leaseSweepsAfter(after: number, rounds = 2): Promise<void> {
  const maintenance = current().smx.container.resolve<Queues>(TOKENS.Queues).maintenance;
  await eventually(
    async () => {
      const done = await maintenance.getJobs(['completed'], 0, 200);
      return done.filter((job) => job.name === 'otp-leases' && (job.processedOn ?? 0) > after).length >= rounds;
    },
    15_000,
    `${rounds} OTP lease sweeps after ${new Date(after).toISOString()}`,
  );
}

interface Phone {
  credentials: LinkResult;
  received: OutboxMessage[];
  canceled: string[];
}

/** A project whose phones are linked in order (the last one is active), all online. */
async function project(
  t: ExecutionContext,
  phones: Array<{ name: string; report?: ReportOptions }>,
  settings: Record<string, unknown>,
) {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const patched = await smx.admin('PATCH', `/admin/projects/${projectId}`, settings);
  if (patched.status !== 200) throw new Error(`PATCH project: ${patched.status} ${JSON.stringify(patched.body)}`);
  const byName: Record<string, Phone> = {};
  for (const { name, report } of phones) {
    const credentials = await linkNewDevice(smx, projectId, name);
    await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 });
    const phone: Phone = { credentials, received: [], canceled: [] };
    const device = await startPhone(t, credentials, {
      onSend: (m) => void phone.received.push(m),
      ...(report ? { report } : {}),
    });
    device.on('canceled', (ids) => phone.canceled.push(...ids));
    byName[name] = phone;
  }
  await waitOnline(
    projectId,
    phones.map((p) => byName[p.name]!.credentials.deviceId),
  );
  return { projectId, key, phones: byName };
}

async function waitOnline(projectId: string, deviceIds: string[]) {
  await eventually(
    async () => {
      const devices = (await current().admin('GET', `/admin/projects/${projectId}/devices`)).body.data
        .devices as Array<{ id: string; online: boolean }>;
      return deviceIds.every((id) => devices.find((d) => d.id === id)?.online);
    },
    10_000,
    'phones online',
  );
}

async function sendOtp(key: string) {
  const sent = await current().api(key, 'POST', '/v1/send-otp', { to: '+4915112345678' });
  if (sent.status !== 201) throw new Error(`send-otp: ${sent.status} ${JSON.stringify(sent.body)}`);
  return sent.body.data as { verificationId: string; messageId: string; deviceId: string };
}

async function message(key: string, messageId: string) {
  return (await current().api(key, 'GET', `/v1/messages/${messageId}`)).body.data as {
    status: string;
    deviceId: string;
    dispatchedAt: string | null;
  };
}

test('a phone that does not report sent within the lease loses the OTP to the online standby, and is told to cancel it', async (t) => {
  const { key, phones } = await project(
    t,
    [{ name: 'standby' }, { name: 'silent', report: { sent: false, delivered: false } }],
    { routing: 'failover', otpLeaseSeconds: 1 },
  );
  const silent = phones.silent!;
  const standby = phones.standby!;
  const sent = await sendOtp(key);
  t.is(sent.deviceId, silent.credentials.deviceId);

  const first = await eventually(
    async () => silent.received.find((m) => m.id === sent.messageId),
    10_000,
    'the silent phone got it',
  );
  const second = await eventually(
    async () => standby.received.find((m) => m.id === sent.messageId),
    15_000,
    'the standby got it after the lease',
  );
  t.is(second.body, first.body, 'the same SMS, the same code');
  await eventually(async () => silent.canceled.includes(sent.messageId), 10_000, 'cancel on the first phone');
  const delivered = await eventually(
    async () => {
      const m = await message(key, sent.messageId);
      return m.status === 'DELIVERED' ? m : undefined;
    },
    10_000,
    'delivered by the standby',
  );
  t.is(delivered.deviceId, standby.credentials.deviceId);
  const verification = (await current().api(key, 'GET', `/v1/verifications/${sent.verificationId}`)).body.data;
  t.is(verification.deviceId, standby.credentials.deviceId);
  const verified = await current().api(key, 'POST', '/v1/verify-otp', {
    verificationId: sent.verificationId,
    otp: codeIn(second.body),
  });
  t.is(verified.body.data.status, 'VERIFIED');
  t.is(standby.received.filter((m) => m.id === sent.messageId).length, 1, 'the standby sent it once');
});

test('a phone that reports sent in time keeps its OTP: no other phone ever gets it', async (t) => {
  const { key, phones } = await project(t, [{ name: 'standby' }, { name: 'primary' }], {
    routing: 'failover',
    otpLeaseSeconds: 1,
  });
  const sent = await Promise.all([sendOtp(key), sendOtp(key), sendOtp(key)]);
  for (const s of sent) {
    await eventually(
      async () => ((await message(key, s.messageId)).status === 'DELIVERED' ? true : undefined),
      10_000,
      'delivered',
    );
  }
  // Two sweep rounds that started after every lease had run out: nothing has moved.
  await leaseSweepsAfter(Date.now() + 1_000);
  t.deepEqual(phones.standby!.received, []);
  t.deepEqual(phones.primary!.canceled, []);
  for (const s of sent) t.is((await message(key, s.messageId)).deviceId, phones.primary!.credentials.deviceId);
});

test('active-device has no other route: the silent phone keeps the OTP (it may still send it)', async (t) => {
  const { key, phones } = await project(
    t,
    [{ name: 'standby' }, { name: 'silent', report: { sent: false, delivered: false } }],
    { otpLeaseSeconds: 1 },
  );
  const sent = await sendOtp(key);
  await eventually(
    async () => phones.silent!.received.find((m) => m.id === sent.messageId),
    10_000,
    'the silent phone got it',
  );
  // The lease sweep looked at it after its lease ran out (and found no other route), then once more.
  const db = current().smx.container.resolve<Knex>(TOKENS.Knex);
  await eventually(
    async () => (await db('messages').where({ id: sent.messageId }).first('lease_checked_at'))?.lease_checked_at,
    15_000,
    'the lease sweep to keep the OTP on the silent phone',
  );
  await leaseSweepsAfter(Date.now(), 1);
  const m = await message(key, sent.messageId);
  t.is(m.status, 'DISPATCHED');
  t.is(m.deviceId, phones.silent!.credentials.deviceId);
  t.deepEqual(phones.standby!.received, []);
  t.deepEqual(phones.silent!.canceled, []);
});

test('resend goes through another device with a new code; the first code still verifies; resends are limited per challenge', async (t) => {
  const smx = current();
  const { key, phones } = await project(t, [{ name: 'standby' }, { name: 'primary' }], {
    routing: 'failover',
    rateLimits: { resendsPerVerification: 1, resendIntervalSeconds: 0 },
  });
  const sent = await sendOtp(key);
  const first = await eventually(
    async () => phones.primary!.received.find((m) => m.id === sent.messageId),
    10_000,
    'first SMS',
  );

  const resent = await smx.api(key, 'POST', `/v1/verifications/${sent.verificationId}/resend`);
  t.is(resent.status, 200, JSON.stringify(resent.body));
  t.is(resent.body.data.verificationId, sent.verificationId);
  t.is(resent.body.data.status, 'PENDING');
  t.not(resent.body.data.messageId, sent.messageId);
  t.is(resent.body.data.deviceId, phones.standby!.credentials.deviceId, 'another device than the last one');
  const second = await eventually(
    async () => phones.standby!.received.find((m) => m.id === resent.body.data.messageId),
    10_000,
    'second SMS',
  );
  t.regex(second.body, /\d{6}$/);

  const limited = await smx.api(key, 'POST', `/v1/verifications/${sent.verificationId}/resend`);
  t.is(limited.status, 429);
  t.is(limited.body.error.code, 'RATE_LIMITED');
  t.truthy(limited.headers.get('retry-after'));

  // The earlier SMS may arrive last: its code is as good as the new one (both went to the same number).
  const verified = await smx.api(key, 'POST', '/v1/verify-otp', {
    verificationId: sent.verificationId,
    otp: codeIn(first.body),
  });
  t.is(verified.body.data.status, 'VERIFIED');
  const again = await smx.api(key, 'POST', `/v1/verifications/${sent.verificationId}/resend`);
  t.is(again.status, 409);
  t.is(again.body.error.code, 'VERIFICATION_ALREADY_VERIFIED');
});

test('resend under active-device: an online standby sends the second SMS; with a single phone it sends it again', async (t) => {
  const smx = current();
  const { key, phones } = await project(t, [{ name: 'standby' }, { name: 'active' }], {
    rateLimits: { resendIntervalSeconds: 0 },
  });
  const sent = await sendOtp(key);
  t.is(sent.deviceId, phones.active!.credentials.deviceId);
  const resent = await smx.api(key, 'POST', `/v1/verifications/${sent.verificationId}/resend`);
  t.is(resent.status, 200, JSON.stringify(resent.body));
  t.is(resent.body.data.deviceId, phones.standby!.credentials.deviceId, 'the other online phone');
  await eventually(
    async () => phones.standby!.received.find((m) => m.id === resent.body.data.messageId),
    10_000,
    'sent by the standby',
  );

  const single = await project(t, [{ name: 'only' }], { rateLimits: { resendIntervalSeconds: 0 } });
  const first = await sendOtp(single.key);
  const again = await smx.api(single.key, 'POST', `/v1/verifications/${first.verificationId}/resend`);
  t.is(again.body.data.deviceId, single.phones.only!.credentials.deviceId);
  await eventually(
    async () => single.phones.only!.received.find((m) => m.id === again.body.data.messageId),
    10_000,
    'sent again by the only phone',
  );
});

test('resend: too soon is 429 with Retry-After (default interval); unknown or foreign ids are 404', async (t) => {
  const smx = current();
  const { key, phones } = await project(t, [{ name: 'only' }], {});
  const sent = await sendOtp(key);
  await eventually(async () => phones.only!.received.find((m) => m.id === sent.messageId), 10_000, 'first SMS');
  const soon = await smx.api(key, 'POST', `/v1/verifications/${sent.verificationId}/resend`);
  t.is(soon.status, 429);
  const retryAfter = Number(soon.headers.get('retry-after'));
  t.true(retryAfter >= 1 && retryAfter <= 30, `Retry-After ${retryAfter}`);

  const other = await createProject(smx, 'Other');
  t.is(
    (await smx.api(other.key, 'POST', `/v1/verifications/${sent.verificationId}/resend`)).body.error.code,
    'VERIFICATION_NOT_FOUND',
  );
  t.is((await smx.api(key, 'POST', '/v1/verifications/ver_nope/resend')).status, 404);
});

/**
 * A project with an MQTT phone linked first (online, collecting what it receives) and then an
 * SMSGate app (the active device, registered and started, no event stream open yet); both unpaced.
 */
async function mixedProject(t: ExecutionContext, name: string, settings: Record<string, unknown>) {
  const smx = current();
  const { projectId, key } = await createProject(smx, name);
  await smx.admin('PATCH', `/admin/projects/${projectId}`, settings);
  const mqttCredentials = await linkNewDevice(smx, projectId, 'mqtt phone');
  await smx.admin('PATCH', `/admin/devices/${mqttCredentials.deviceId}`, { sendRatePerMinute: 0 });
  const received: OutboxMessage[] = [];
  await startPhone(t, mqttCredentials, { onSend: (m) => void received.push(m) });
  const app = new SmsGateApp(smx.url);
  const token = JSON.parse((await smx.admin('POST', `/admin/projects/${projectId}/link-tokens`)).body.data.qr.payload)
    .token as string;
  t.is((await app.register({ token })).status, 201);
  await smx.admin('PATCH', `/admin/devices/${app.id}`, { sendRatePerMinute: 0 });
  t.is((await app.patchDevice()).status, 204);
  return { projectId, key, mqtt: { deviceId: mqttCredentials.deviceId, received }, app };
}

test('an SMSGate phone that pulled an OTP and stays silent gets MessageCancelled; the MQTT standby sends it', async (t) => {
  const {
    projectId,
    key,
    mqtt: standby,
    app,
  } = await mixedProject(t, 'Mixed transports', { routing: 'failover', otpLeaseSeconds: 1 });
  const stream = await app.events();
  t.teardown(() => stream.close());
  await waitOnline(projectId, [standby.deviceId, app.id]);

  const sent = await sendOtp(key);
  t.is(sent.deviceId, app.id, 'the SMSGate phone is the active device');
  await stream.waitFor('MessageEnqueued');
  const pulled = await app.pull();
  t.deepEqual(
    pulled.body.map((m) => m.id),
    [sent.messageId],
  );

  const cancelled = await stream.waitFor('MessageCancelled', 15_000);
  t.deepEqual(JSON.parse(cancelled.data), { messageId: sent.messageId });
  await eventually(
    async () => standby.received.find((m) => m.id === sent.messageId),
    10_000,
    'the MQTT standby got it',
  );
  await eventually(
    async () => ((await message(key, sent.messageId)).status === 'DELIVERED' ? true : undefined),
    10_000,
    'delivered',
  );

  // The SMSGate phone's late report no longer applies: the message is the standby's.
  t.is((await app.report(sent.messageId, 'Failed', '+4915112345678', 'late')).status, 204);
  const after = await message(key, sent.messageId);
  t.is(after.status, 'DELIVERED');
  t.is(after.deviceId, standby.deviceId);
});

test('round-robin spreads messages over an MQTT phone and an SMSGate phone', async (t) => {
  const smx = current();
  const { projectId, key, mqtt, app } = await mixedProject(t, 'Round robin mixed', { routing: 'round-robin' });
  const stream = await app.events();
  t.teardown(() => stream.close());
  await waitOnline(projectId, [mqtt.deviceId, app.id]);

  const sent = [];
  for (let i = 0; i < 4; i++) {
    const res = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message: `rr ${i}` });
    t.is(res.status, 201);
    sent.push(res.body.data as { messageId: string; deviceId: string });
  }
  const toApp = sent.filter((s) => s.deviceId === app.id).map((s) => s.messageId);
  const toMqtt = sent.filter((s) => s.deviceId === mqtt.deviceId).map((s) => s.messageId);
  t.is(toApp.length, 2);
  t.is(toMqtt.length, 2);
  await eventually(
    async () => toMqtt.every((id) => mqtt.received.some((m) => m.id === id)),
    10_000,
    'MQTT phone got its two',
  );
  const pulled = await eventually(
    async () => {
      const res = await app.pull();
      return res.body.length > 0 ? res.body : undefined;
    },
    10_000,
    'SMSGate phone pulled',
  );
  t.deepEqual(pulled.map((m) => m.id).sort(), [...toApp].sort());
  for (const id of toApp) t.is((await app.report(id, 'Sent', '+4915112345678')).status, 204);
  for (const id of toApp)
    await eventually(
      async () => ((await message(key, id)).status === 'SENT' ? true : undefined),
      10_000,
      'SMSGate report applied',
    );
});

test('failover: an SMSGate active phone without an open event stream is offline, the MQTT standby sends; with the stream open the SMSGate phone gets it', async (t) => {
  const smx = current();
  const { projectId, key, mqtt: standby, app } = await mixedProject(t, 'Failover mixed', { routing: 'failover' });
  await waitOnline(projectId, [standby.deviceId]);

  const whileAway = await sendOtp(key);
  t.is(whileAway.deviceId, standby.deviceId, 'the SMSGate phone is active but has no stream open');
  await eventually(
    async () => standby.received.find((m) => m.id === whileAway.messageId),
    10_000,
    'the MQTT standby sent it',
  );

  const stream = await app.events();
  t.teardown(() => stream.close());
  await waitOnline(projectId, [app.id]);
  // Routing reads devices at most a second old; changing the project drops that snapshot now.
  await smx.admin('PATCH', `/admin/projects/${projectId}`, { routing: 'failover' });
  const whileThere = await sendOtp(key);
  t.is(whileThere.deviceId, app.id);
  await stream.waitFor('MessageEnqueued');
  t.deepEqual(
    (await app.pull()).body.map((m) => m.id),
    [whileThere.messageId],
  );
});
