/** "publish -> job" and the internal credentials, without a network. */
import test from 'ava';
import { deviceTopic } from '../../protocol/topics.js';
import { hmac } from '../../core/crypto.js';
import { MAX_EVENT_PAYLOAD_BYTES, kickPayload, toDeviceEventJob } from '../../broker/bridge.js';
import { MAX_JSON_DEPTH } from '../../core/json-depth.js';
import { INTERNAL_USERNAME, internalCredentials, isInternalCredential } from '../../broker/internal-credentials.js';

const me = 'dev_AAAAAAAAAAAAAAAAAAAAAA';
const at = new Date('2025-01-02T03:04:05.006Z');

test('a JSON object on a device channel becomes a job', (t) => {
  for (const channel of ['status', 'inbox', 'presence'] as const) {
    t.deepEqual(toDeviceEventJob(deviceTopic(me, channel), Buffer.from('{"a":1}'), at), {
      deviceId: me,
      channel,
      payload: { a: 1 },
      receivedAt: '2025-01-02T03:04:05.006Z',
    });
  }
  t.deepEqual(toDeviceEventJob(deviceTopic(me, 'status'), '{"b":[]}', at)?.payload, { b: [] });
});

test('server channels, foreign topics and bad payloads give no job', (t) => {
  t.is(toDeviceEventJob(deviceTopic(me, 'outbox'), '{}', at), null);
  t.is(toDeviceEventJob(deviceTopic(me, 'control'), '{}', at), null);
  t.is(toDeviceEventJob('smx/internal/kick', '{}', at), null);
  t.is(toDeviceEventJob(deviceTopic(me, 'status'), '{oops', at), null);
  t.is(toDeviceEventJob(deviceTopic(me, 'status'), '', at), null);
  t.is(toDeviceEventJob(deviceTopic(me, 'status'), 'null', at), null);
  t.is(toDeviceEventJob(deviceTopic(me, 'status'), '[]', at), null);
  t.is(toDeviceEventJob(deviceTopic(me, 'status'), '42', at), null);
  const huge = JSON.stringify({ pad: 'x'.repeat(MAX_EVENT_PAYLOAD_BYTES) });
  t.is(toDeviceEventJob(deviceTopic(me, 'inbox'), huge, at), null);
});

test('a payload nested deeper than MAX_JSON_DEPTH gives no job; one at the limit does', (t) => {
  const nested = (depth: number) => `${'{"a":'.repeat(depth - 1)}{}${'}'.repeat(depth - 1)}`;
  t.truthy(toDeviceEventJob(deviceTopic(me, 'status'), nested(MAX_JSON_DEPTH), at));
  t.is(toDeviceEventJob(deviceTopic(me, 'status'), nested(MAX_JSON_DEPTH + 1), at), null);
  t.is(toDeviceEventJob(deviceTopic(me, 'inbox'), `[${'['.repeat(100_000)}${']'.repeat(100_000)}]`, at), null);
  t.is(toDeviceEventJob(deviceTopic(me, 'presence'), `{"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, at), null);
});

test('the kick payload names the device', (t) => {
  t.deepEqual(JSON.parse(kickPayload(me).toString()), { deviceId: me });
});

test('internal credentials are HMAC-SHA256(secret, "mqtt-internal") and checked exactly', (t) => {
  const secret = 'a-server-secret-of-enough-length';
  const { username, password } = internalCredentials(secret);
  t.is(username, INTERNAL_USERNAME);
  t.is(password, hmac(secret, 'mqtt-internal'));
  t.regex(password, /^[0-9a-f]{64}$/);
  t.true(isInternalCredential(secret, username, password));
  t.true(isInternalCredential(secret, username, Buffer.from(password)));
  t.false(isInternalCredential(secret, username, `${password}00`));
  t.false(isInternalCredential(secret, username, password.slice(0, 63)));
  t.false(isInternalCredential(secret, username, password.toUpperCase()));
  t.false(isInternalCredential('another-secret-entirely', username, password));
  t.false(isInternalCredential(secret, me, password));
  t.false(isInternalCredential(secret, username, undefined));
});
