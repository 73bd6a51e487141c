/**
 * Secrets never rest in plain text (docs/api.md: codes "stored only as a keyed hash", keys stored
 * "only as a hash"; api.md "Authentication"; device-protocol.md: the device secret is shown once).
 * After a full OTP round trip with a distinctive caller-supplied code, the code, the API key, the
 * device secret and the link token are searched for in every row of the test's PostgreSQL schema,
 * in every Redis key and value under its prefix (BullMQ jobs, MQTT sessions, presence) and in
 * everything SMX logged.
 */
import test from 'ava';
import type { Queues } from '../../core/queues.js';
import type { OutboxMessage } from '../../protocol/payloads.js';
import { linkDevice } from '../../device/link.js';
import { dumpDatabase, dumpRedis } from '../helpers/dump.js';
import { connectRaw, deviceOptions } from '../helpers/mqtt.js';
import { createProject, startPhone, useSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'secrets-at-rest');

/** Distinctive enough that no timestamp, id or hash contains it by chance. */
const CODE = '90817263';

test('after an OTP round trip no code, API key, device secret or link token is stored or logged in plain text', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx, 'Secrets');
  const token = await smx.admin('POST', `/admin/projects/${projectId}/link-tokens`);
  const linkToken = token.body.data.token as string;
  const credentials = await linkDevice({ server: smx.url, token: linkToken, name: 'Secret phone' });
  const received: OutboxMessage[] = [];
  await startPhone(t, credentials, { onSend: (m) => void received.push(m) });

  const sent = await smx.api(key, 'POST', '/v1/send-otp', {
    to: '+14155550151',
    code: CODE,
    metadata: { purpose: 'login' },
  });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  t.false(JSON.stringify(sent.body).includes(CODE), 'not in the send-otp answer');
  const { verificationId, messageId } = sent.body.data;
  const sms = await eventually(async () => received.find((m) => m.id === messageId), 10_000, 'the SMS');
  t.true(sms.body.includes(CODE), 'the phone did get the code (so the searches below can find it if it is there)');
  await eventually(
    async () => (await smx.api(key, 'GET', `/v1/messages/${messageId}`)).body.data.status === 'DELIVERED',
    10_000,
    'DELIVERED',
  );
  const wrong = await smx.api(key, 'POST', '/v1/verify-otp', { verificationId, otp: '11112222' });
  t.false(wrong.body.data.verified);
  const verified = await smx.api(key, 'POST', '/v1/verify-otp', { verificationId, otp: CODE });
  t.true(verified.body.data.verified);
  t.false(JSON.stringify(verified.body).includes(CODE), 'not in the verify answer');
  const read = await smx.api(key, 'GET', `/v1/verifications/${verificationId}`);
  t.false(JSON.stringify(read.body).includes(CODE), 'not in the read answer');
  const message = await smx.api(key, 'GET', `/v1/messages/${messageId}`);
  t.false(JSON.stringify(message.body).includes(CODE), 'not in the message answer');

  const secrets: Array<[string, string]> = [
    ['the OTP code', CODE],
    ['the API key', key],
    ['the device secret', credentials.mqtt.password],
    ['the link token', linkToken],
    ['the admin token', smx.adminToken],
    ['the server secret', smx.smx.config.secret],
  ];

  const db = await dumpDatabase(smx);
  for (const table of ['verifications', 'messages', 'idempotency_keys', 'api_keys', 'devices', 'link_tokens']) {
    t.true(db.tables.includes(table), `table ${table} was dumped`);
  }
  t.true(db.text.includes(verificationId) && db.text.includes(messageId), 'the dump holds the round trip');
  for (const [what, value] of secrets) t.false(db.text.includes(value), `${what} is not in the database`);

  const redis = await dumpRedis(smx.redisPrefix);
  t.true(
    redis.keys.some((k) => k.includes(':bull:')),
    'BullMQ keys were dumped',
  );
  t.true(
    redis.keys.some((k) => k.includes(':mqtt:')),
    'MQTT session keys were dumped',
  );
  // The phone's reports are handled before their PUBACK (no queue job holds them), so the
  // round trip's trace in Redis is the phone's presence and session.
  t.true(redis.bytes.includes(credentials.deviceId), 'the dump holds the round trip');
  for (const [what, value] of secrets) t.false(redis.bytes.includes(value), `${what} is not in Redis`);

  const logs = smx.logs();
  t.true(logs.includes(credentials.deviceId), 'the logs were captured');
  for (const [what, value] of secrets) t.false(logs.includes(value), `${what} is not in the logs`);
});

test('with an Idempotency-Key the stored response holds no code either, and the OTP body is sealed while queued', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx, 'Sealed');
  const token = await smx.admin('POST', `/admin/projects/${projectId}/link-tokens`);
  // Linked, but the phone never connects: the message stays in the database, queued.
  const credentials = await linkDevice({ server: smx.url, token: token.body.data.token, name: 'Away phone' });
  const code = '73519208';
  const sent = await smx.api(
    key,
    'POST',
    '/v1/send-otp',
    { to: '+14155550152', code },
    { 'idempotency-key': 'sealed-1' },
  );
  t.is(sent.status, 201, JSON.stringify(sent.body));
  t.is(sent.body.data.deviceId, credentials.deviceId);
  const db = await dumpDatabase(smx);
  t.true(db.text.includes('sealed-1'), 'the idempotency record was dumped');
  t.true(db.text.includes(sent.body.data.messageId));
  t.false(db.text.includes(code), 'the queued OTP body is sealed');
  const redis = await dumpRedis(smx.redisPrefix);
  t.false(redis.bytes.includes(code), 'nothing in Redis holds the code');
  t.false(smx.logs().includes(code), 'nothing logged holds the code');
});

// A phone with a persistent session that is away: a publish to it would wait in the MQTT session
// store in Redis (`{prefix}:mqtt:packet:*`, msgpack) with the body, code included, in plain text
// for as long as the phone stays away. The message must wait sealed in the database instead.
test('while a phone with a persistent session is away, its OTP is not stored in plain text anywhere', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx, 'Away with session');
  const token = await smx.admin('POST', `/admin/projects/${projectId}/link-tokens`);
  const credentials = await linkDevice({ server: smx.url, token: token.body.data.token, name: 'Sometimes away' });
  const phone = await startPhone(t, credentials);
  await eventually(async () => (await smx.api(key, 'GET', '/v1/status')).body.data.device.online, 10_000, 'online');
  await phone.stop();
  await eventually(
    async () => (await smx.api(key, 'GET', '/v1/status')).body.data.device.online === false,
    10_000,
    'offline',
  );
  const code = '46375819';
  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550153', code });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  // Let the dispatcher handle the message first (it either holds it or hands it to the broker).
  const dispatch = smx.smx.container.resolve<Queues>(Symbol.for('smx.Queues')).dispatch;
  await eventually(
    async () => Object.values(await dispatch.getJobCounts('waiting', 'active', 'prioritized')).every((n) => n === 0),
    10_000,
    'the dispatcher to settle',
  );
  t.false((await dumpRedis(smx.redisPrefix)).bytes.includes(code), 'the code is not in Redis');
  t.false((await dumpDatabase(smx)).text.includes(code), 'the code is not in the database');
});

// A phone that got its OTP publish but has not acknowledged it (it crashed, lost the network
// before its PUBACK): the broker keeps the packet in the MQTT session store in Redis until the
// PUBACK, to redeliver it. It rests sealed there (broker/session-seal.ts), never in plain text.
test('an OTP publish the phone has not acknowledged is not stored in plain text in Redis', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx, 'Unacknowledged');
  const token = await smx.admin('POST', `/admin/projects/${projectId}/link-tokens`);
  const credentials = await linkDevice({ server: smx.url, token: token.body.data.token, name: 'Never acks' });
  const phone = await connectRaw(
    t,
    `mqtt://127.0.0.1:${smx.smx.broker!.tcpPort}`,
    deviceOptions(credentials, { clean: false }),
  );
  const delivered: string[] = [];
  // mqtt.js sends the PUBACK when handleMessage calls back; this one never does.
  phone.handleMessage = (packet) => void delivered.push(String((packet as { payload: Buffer }).payload));
  await phone.subscribeAsync(credentials.topics.outbox, { qos: 1 });
  await eventually(async () => (await smx.api(key, 'GET', '/v1/status')).body.data.device.online, 10_000, 'online');

  const code = '61739502';
  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550154', code });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  await eventually(
    async () => delivered.some((payload) => payload.includes(code)),
    10_000,
    'the unacknowledged delivery',
  );

  const redis = await dumpRedis(smx.redisPrefix);
  t.true(
    redis.keys.some((k) => /:mqtt:packet:[^:]+:\d+$/.test(k)),
    'the unacknowledged packet is kept in the session store',
  );
  t.false(redis.bytes.includes(code), 'the code is not in Redis');
  t.false(smx.logs().includes(code), 'nothing logged holds the code');
});
