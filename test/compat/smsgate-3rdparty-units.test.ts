/** The pure parts of the SMSGate 3rd-party surface: states, request checks, JWTs, webhook events and signatures, settings. */
import test from 'ava';
import { loadConfig } from '../../core/config.js';
import { jwtKey, signJwt, verifyJwt } from '../../core/smsgate/third-party/jwt.js';
import { readSendRequest } from '../../core/smsgate/third-party/message-request.js';
import { mergeSettings, readSettings, sendRateOf } from '../../core/smsgate/third-party/settings.js';
import {
  aggregateState,
  recipientState,
  stateHistory,
  type RecipientRow,
} from '../../core/smsgate/third-party/states.js';
import {
  signSmsGate,
  smsgateWebhookEvents,
  smsReceivedEvent,
  systemPingEvent,
  type RecipientFacts,
} from '../../core/smsgate/third-party/webhook-payloads.js';
import { SmsGateError } from '../../core/smsgate/third-party/errors.js';
import { independentHmacHex } from './smsgate-3rdparty-helpers.js';

test("aggregate state: the app's rule, in its order", (t) => {
  t.is(aggregateState(['Delivered', 'Pending']), 'Pending');
  t.is(aggregateState(['Cancelled', 'Processed']), 'Cancelled');
  t.is(aggregateState(['Processed', 'Delivered']), 'Processed');
  t.is(aggregateState(['Failed', 'Failed']), 'Failed');
  t.is(aggregateState(['Delivered', 'Delivered']), 'Delivered');
  t.is(aggregateState(['Delivered', 'Failed']), 'Sent');
  t.is(aggregateState(['Sent', 'Delivered']), 'Sent');
});

const row = (
  status: string | null,
  times: Partial<Record<'dispatchedAt' | 'sentAt' | 'deliveredAt' | 'failedAt', number>> = {},
  error: string | null = null,
): RecipientRow => ({
  phoneNumber: '+4915112345678',
  refused: status === null ? 'COUNTRY_NOT_ALLOWED' : null,
  message:
    status === null
      ? null
      : {
          status,
          error,
          createdAt: new Date(0),
          dispatchedAt: times.dispatchedAt === undefined ? null : new Date(times.dispatchedAt),
          sentAt: times.sentAt === undefined ? null : new Date(times.sentAt),
          deliveredAt: times.deliveredAt === undefined ? null : new Date(times.deliveredAt),
          failedAt: times.failedAt === undefined ? null : new Date(times.failedAt),
          updatedAt: new Date(9000),
        },
});

test('recipient states from SMX statuses (contract §8.3)', (t) => {
  t.is(recipientState(row('QUEUED')).state, 'Pending');
  t.is(recipientState(row('DISPATCHED')).state, 'Processed');
  t.is(recipientState(row('SENT')).state, 'Sent');
  t.is(recipientState(row('DELIVERED')).state, 'Delivered');
  t.deepEqual(recipientState(row('FAILED', {}, 'GENERIC_FAILURE')), {
    phoneNumber: '+4915112345678',
    state: 'Failed',
    error: 'GENERIC_FAILURE',
  });
  t.deepEqual(recipientState(row('FAILED', {}, 'CANCELED')), { phoneNumber: '+4915112345678', state: 'Cancelled' });
  t.deepEqual(recipientState(row('EXPIRED', {}, 'EXPIRED')), {
    phoneNumber: '+4915112345678',
    state: 'Failed',
    error: 'EXPIRED',
  });
  t.deepEqual(recipientState(row(null)), {
    phoneNumber: '+4915112345678',
    state: 'Failed',
    error: 'COUNTRY_NOT_ALLOWED',
  });
});

test('states: when the message as a whole first reached each state', (t) => {
  const iso = (ms: number) => new Date(ms).toISOString();
  t.deepEqual(stateHistory(new Date(0), [row('DELIVERED', { dispatchedAt: 100, sentAt: 200, deliveredAt: 300 })]), {
    Pending: iso(0),
    Processed: iso(100),
    Sent: iso(200),
    Delivered: iso(300),
  });
  // One delivered, one failed: Sent when the last one is no longer Processed, never Delivered.
  const mixed = stateHistory(new Date(0), [
    row('DELIVERED', { dispatchedAt: 100, sentAt: 200, deliveredAt: 300 }),
    row('FAILED', { dispatchedAt: 100, failedAt: 400 }, 'X'),
  ]);
  t.deepEqual(mixed, { Pending: iso(0), Processed: iso(100), Sent: iso(400) });
  // An expiry sets no failed time: its last change stands in.
  t.deepEqual(stateHistory(new Date(0), [row('EXPIRED', {}, 'EXPIRED')]), { Pending: iso(0), Failed: iso(9000) });
});

test('send requests: legacy message, textMessage, ttl and validUntil; refusals', (t) => {
  const now = new Date('2026-12-04T10:00:00Z');
  const legacy = readSendRequest({ message: 'hi', phoneNumbers: ['+4915112345678', '89161234567'] }, { now });
  t.deepEqual(legacy, {
    id: undefined,
    content: { text: 'hi' },
    isEncrypted: false,
    phoneNumbers: ['+4915112345678', '+79161234567'],
    ttlSeconds: undefined,
    validUntil: undefined,
    withDeliveryReport: true,
    scheduleAt: undefined,
    simSlot: undefined,
    deviceId: undefined,
    priority: undefined,
  });
  const ttl = readSendRequest(
    { id: 'x', textMessage: { text: 'hi' }, phoneNumbers: ['+4915112345678'], ttl: 30, withDeliveryReport: false },
    { now },
  );
  t.is(ttl.ttlSeconds, 30);
  t.is(ttl.validUntil!.toISOString(), '2026-12-04T10:00:30.000Z');
  t.false(ttl.withDeliveryReport);
  t.is(
    readSendRequest({ message: 'hi', phoneNumbers: ['+4915112345678'], validUntil: '2026-12-04T11:00:00.5Z' }, { now })
      .ttlSeconds,
    3601,
  );
  const refused = (body: unknown, status = 400) => {
    const error = t.throws(() => readSendRequest(body, { now }), { instanceOf: SmsGateError });
    t.is(error!.status, status);
    return error!.message;
  };
  t.regex(refused('text'), /failed to parse body/);
  t.regex(refused({ message: 'a', phoneNumbers: [] }), /phoneNumbers is required/);
  t.regex(
    refused({ message: 'a', phoneNumbers: ['+4915112345678'], validUntil: '2026-12-04T09:00:00Z' }),
    /in the future/,
  );
  t.regex(refused({ message: 'a', phoneNumbers: ['+4915112345678'], ttl: 259_201 }), /at most 259200 seconds/);
  t.regex(refused({ message: 'a', phoneNumbers: ['+74951234567'] }), /^not mobile phone number/, 'a Moscow landline');
  t.is(
    readSendRequest({ message: 'a', phoneNumbers: ['+74951234567'] }, { now, skipPhoneValidation: true })
      .phoneNumbers[0],
    '+74951234567',
  );
  t.regex(refused({ message: 'a', phoneNumbers: ['12'] }), /phone number/);
  t.regex(
    refused({ message: 'a', phoneNumbers: ['+4915112345678'], priority: 128 }),
    /priority must be an integer -128 to 127/,
  );
});

test('send requests: scheduleAt, simNumber (1-based → simSlot), deviceId, priority (as it is), dataMessage, isEncrypted', (t) => {
  const now = new Date('2026-12-04T10:00:00Z');
  const to = ['+4915112345678'];
  const full = readSendRequest(
    {
      textMessage: { text: 'hi' },
      phoneNumbers: to,
      scheduleAt: '2026-12-04T12:00:00Z',
      validUntil: '2026-12-04T13:00:00Z',
      simNumber: 2,
      deviceId: 'dev_1',
      priority: 100,
    },
    { now },
  );
  t.like(full, { simSlot: 1, deviceId: 'dev_1', priority: 100, isEncrypted: false });
  t.is(full.scheduleAt!.toISOString(), '2026-12-04T12:00:00.000Z');
  t.deepEqual(readSendRequest({ dataMessage: { data: 'SGVsbG8=', port: 53739 }, phoneNumbers: to }, { now }).content, {
    data: 'SGVsbG8=',
    port: 53739,
  });
  const encrypted = readSendRequest(
    { message: '$aes-256-cbc/pbkdf2-sha1$i=75000$c2FsdA==$Y2lwaGVy', phoneNumbers: to, isEncrypted: true },
    { now },
  );
  t.true(encrypted.isEncrypted);
  t.deepEqual(
    encrypted.content,
    { text: '$aes-256-cbc/pbkdf2-sha1$i=75000$c2FsdA==$Y2lwaGVy' },
    'passed through untouched',
  );

  const refused = (body: Record<string, unknown>) => {
    const error = t.throws(() => readSendRequest({ phoneNumbers: to, ...body }, { now }), { instanceOf: SmsGateError });
    t.is(error!.status, 400);
    return error!.message;
  };
  t.regex(refused({ message: 'a', scheduleAt: '2026-12-04T09:00:00Z' }), /scheduleAt must be in the future/);
  t.regex(refused({ message: 'a', scheduleAt: 'soon' }), /scheduleAt must be an RFC 3339/);
  t.regex(
    refused({ message: 'a', scheduleAt: '2026-12-04T12:00:00Z', ttl: 60 }),
    /scheduleAt must be before validUntil/,
  );
  t.regex(refused({ message: 'a', scheduleAt: '2027-02-04T12:00:00Z' }), /at most 30 days ahead/);
  t.regex(refused({ message: 'a', simNumber: 0 }), /simNumber must be an integer 1 to 3/);
  t.regex(refused({ message: 'a', simNumber: 4 }), /simNumber must be an integer 1 to 3/);
  t.regex(refused({ message: 'a', deviceId: 5 }), /deviceId must be a device id/);
  t.regex(refused({ dataMessage: { data: 'SGVsbG8=', port: 0 } }), /dataMessage\.port/);
  t.regex(refused({ dataMessage: { data: 'not base64!', port: 1 } }), /dataMessage\.data/);
  t.regex(refused({ dataMessage: { data: Buffer.alloc(134).toString('base64'), port: 1 } }), /133 bytes/);
  t.regex(
    refused({ dataMessage: { data: 'SGVsbG8=', port: 1 }, isEncrypted: true }),
    /^isEncrypted is not supported yet by SMX: an encrypted dataMessage/,
  );
  t.regex(
    refused({ message: 'x', isEncrypted: true, phoneNumbers: ['$aes-256-cbc/pbkdf2-sha1$i=75000$c2FsdA==$bnVtYmVy'] }),
    /phone numbers must be sent unencrypted/,
  );
});

test('JWT: HS256 round trip; a tampered, expired or foreign-key token is refused', (t) => {
  const key = jwtKey('server-secret');
  const claims = {
    jti: 'abc',
    iss: 'smx',
    sub: 'prj_1',
    scopes: ['devices:list'],
    iat: 1,
    exp: Math.floor(Date.now() / 1000) + 60,
    kid: 'key_1',
  };
  const token = signJwt(key, claims);
  t.deepEqual(verifyJwt(key, token), claims);
  t.is(verifyJwt(jwtKey('other-secret'), token), null);
  t.is(verifyJwt(key, signJwt(key, { ...claims, exp: 1 })), null);
  const [h, , s] = token.split('.');
  t.is(
    verifyJwt(
      key,
      `${h}.${Buffer.from(JSON.stringify({ ...claims, scopes: ['all:any'] })).toString('base64url')}.${s}`,
    ),
    null,
  );
  const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${token.split('.')[1]}.`;
  t.is(verifyJwt(key, none), null, 'alg none is not accepted');
});

test('smsgateWebhookEvents: one SMSGate event per recipient change; other messages and DISPATCHED give none', (t) => {
  const facts = new Map<string, RecipientFacts>([
    ['msg_a', { messageId: 'order-1', phoneNumber: '+4915112345001', deviceId: 'dev_1', simSlot: 1, parts: 2 }],
    ['msg_b', { messageId: 'order-1', phoneNumber: '+4915112345002', deviceId: 'dev_1', simSlot: null, parts: 1 }],
  ]);
  const at = new Date('2026-12-04T10:00:00.000Z');
  const events = smsgateWebhookEvents(
    [
      { id: 'msg_a', projectId: 'prj_1', status: 'DISPATCHED', error: null, at },
      { id: 'msg_a', projectId: 'prj_1', status: 'SENT', error: null, at },
      { id: 'msg_a', projectId: 'prj_1', status: 'DELIVERED', error: null, at },
      { id: 'msg_b', projectId: 'prj_1', status: 'FAILED', error: 'CANCELED', at },
      { id: 'msg_b', projectId: 'prj_1', status: 'FAILED', error: 'NO_SERVICE', at },
      { id: 'msg_b', projectId: 'prj_1', status: 'EXPIRED', error: 'EXPIRED', at },
      { id: 'msg_other', projectId: 'prj_1', status: 'SENT', error: null, at },
    ],
    facts,
  );
  t.deepEqual(
    events.map((e) => e.event),
    ['sms:sent', 'sms:delivered', 'sms:cancelled', 'sms:failed', 'sms:failed'],
  );
  t.deepEqual(events[0]!.payload, {
    messageId: 'order-1',
    recipient: '+4915112345001',
    phoneNumber: '+4915112345001',
    simNumber: 2,
    partsCount: 2,
    sentAt: '2026-12-04T10:00:00.000Z',
  });
  t.deepEqual(events[3]!.payload, {
    messageId: 'order-1',
    recipient: '+4915112345002',
    phoneNumber: '+4915112345002',
    failedAt: '2026-12-04T10:00:00.000Z',
    reason: 'NO_SERVICE',
  });
  t.is(events[4]!.payload.reason, 'EXPIRED');
  t.true(events.every((e) => e.deviceId === 'dev_1' && e.projectId === 'prj_1'));
  t.is(
    new Set(events.map((e) => e.key)).size,
    events.length - 1,
    'the key names the change: FAILED twice is one event key',
  );
  const received = smsReceivedEvent('prj_1', {
    deviceId: 'dev_1',
    from: 'ACME',
    body: 'hi',
    receivedAt: '2026-12-04T10:00:00Z',
    simSlot: null,
  });
  t.is(received.event, 'sms:received');
  t.deepEqual(Object.keys(received.payload).sort(), ['message', 'messageId', 'phoneNumber', 'receivedAt', 'sender']);
  t.is(
    received.key,
    smsReceivedEvent('prj_1', {
      deviceId: 'dev_1',
      from: 'ACME',
      body: 'hi',
      receivedAt: '2026-12-04T10:00:00Z',
      simSlot: null,
    }).key,
    'stable',
  );
});

test('X-Signature: hex HMAC-SHA256 of body + timestamp, as an independent implementation computes it', (t) => {
  const body = JSON.stringify({ event: 'sms:received', payload: { message: 'ß€' } });
  t.is(signSmsGate('key', body, '1764842400'), independentHmacHex('key', `${body}1764842400`));
  t.is(
    signSmsGate('k'.repeat(100), body, '1'),
    independentHmacHex('k'.repeat(100), `${body}1`),
    'keys longer than a block',
  );
});

test('settings: known keys kept and checked, unknown dropped, secrets refused; PATCH merges, null removes; the send rate SMX applies', (t) => {
  t.deepEqual(readSettings({ messages: { limit_value: 5, bogus: 1 }, bogus: {} }), { messages: { limit_value: 5 } });
  t.throws(() => readSettings({ messages: { limit_value: 0 } }), { message: /at least 1/ });
  t.throws(() => readSettings({ encryption: { passphrase: 'x' } }), { message: /cannot be set/ });
  t.deepEqual(readSettings({ encryption: { passphrase: '' } }), { encryption: {} });
  t.throws(() => readSettings({ messages: { work_hours_start: '25:00' } }));
  t.deepEqual(
    mergeSettings(
      { messages: { limit_value: 5, limit_period: 'PerHour' }, ping: { interval_seconds: 5 } },
      { messages: { limit_value: null, processing_order: 'LIFO' } },
    ),
    {
      messages: { limit_period: 'PerHour', processing_order: 'LIFO' },
      ping: { interval_seconds: 5 },
    },
  );
  t.is(sendRateOf({ messages: { limit_period: 'PerMinute', limit_value: 20 } }), 20);
  t.is(sendRateOf({ messages: { limit_period: 'PerMinute', limit_value: 20, send_interval_min: 6 } }), 10);
  t.is(sendRateOf({ messages: { send_interval_min: 120 } }), 1);
  t.is(
    sendRateOf({ messages: { limit_period: 'PerHour', limit_value: 20 } }),
    undefined,
    'per-hour budgets are stored only',
  );
});

test('SMX_COMPAT_SMSGATE: on by default, a boolean', (t) => {
  t.true(loadConfig({}).compatSmsgate);
  t.false(loadConfig({ SMX_COMPAT_SMSGATE: 'false' }).compatSmsgate);
  t.throws(() => loadConfig({ SMX_COMPAT_SMSGATE: 'maybe' }), { message: /^SMX_COMPAT_SMSGATE: expected a boolean/ });
});

test('system:ping: one per connection event, with a health payload', (t) => {
  const at = new Date('2026-12-04T10:00:00Z');
  const ping = systemPingEvent('prj_1', 'dev_1', at);
  t.is(ping.event, 'system:ping');
  t.is((ping.payload.health as { status: string }).status, 'pass');
  t.is(ping.key, systemPingEvent('prj_1', 'dev_1', at).key);
  t.not(ping.key, systemPingEvent('prj_1', 'dev_1', new Date(at.getTime() + 1)).key);
});
