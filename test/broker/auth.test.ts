import test from 'ava';
import mqtt, { type ErrorWithReasonCode } from 'mqtt';
import { deviceTopic } from '../../protocol/topics.js';
import type { EmbeddedBroker } from '../../broker/embedded-broker.js';
import { internalCredentials } from '../../broker/internal-credentials.js';
import { Harness, SECRET, testPrefix } from './_helpers.js';

let h: Harness;
let broker: EmbeddedBroker;
let unavailable: EmbeddedBroker;

test.before(async () => {
  h = await Harness.open(testPrefix(import.meta.url));
  broker = await h.startBroker();
  // A broker whose device lookup fails (database down): phones must hear "server unavailable".
  unavailable = await h.startBroker({ verifyDevice: async () => Promise.reject(new Error('database unreachable')) });
});

test.after.always(async () => {
  await h?.close();
});

const refusal = async (promise: Promise<unknown>) =>
  (await promise.then(
    () => null,
    (error: unknown) => error,
  )) as ErrorWithReasonCode | null;

test('a linked device with its secret connects', async (t) => {
  const device = h.devices.add();
  const phone = await h.phone(broker, device);
  t.true(phone.connected);
});

test('a wrong password gets CONNACK 4 "bad user name or password"', async (t) => {
  const device = h.devices.add();
  const error = await refusal(h.phone(broker, { ...device, secret: 'not-the-secret' }));
  t.is(error?.code, 4);
  t.regex(error?.message ?? '', /Bad username or password/);
});

test('an unknown device gets CONNACK 4', async (t) => {
  const stranger = { deviceId: 'dev_unknownunknownunknown0', secret: 'whatever-secret' };
  const error = await refusal(h.phone(broker, stranger));
  t.is(error?.code, 4);
});

test('an unlinked device (removed from the table) is refused at once', async (t) => {
  const device = h.devices.add();
  const first = await h.phone(broker, device);
  await first.endAsync();
  h.devices.remove(device.deviceId);
  const error = await refusal(h.phone(broker, device));
  t.is(error?.code, 4);
});

test('clientId must equal the username', async (t) => {
  const device = h.devices.add();
  const other = h.devices.add();
  const error = await refusal(h.phone(broker, device, { clientId: other.deviceId }));
  t.is(error?.code, 4);
});

test("a device cannot connect with a will on another device's topic (CONNACK 5)", async (t) => {
  const device = h.devices.add();
  const victim = h.devices.add();
  const error = await refusal(
    h.phone(broker, device, {
      will: { topic: deviceTopic(victim.deviceId, 'status'), payload: Buffer.from('{}'), qos: 1, retain: false },
    }),
  );
  t.is(error?.code, 5);
});

test('the internal credentials connect with an smx- client id', async (t) => {
  const { username, password } = internalCredentials(SECRET);
  const client = h.adopt(
    await mqtt.connectAsync(
      `mqtt://127.0.0.1:${broker.tcpPort}`,
      { clientId: 'smx-test-internal', username, password, reconnectPeriod: 0 },
      false,
    ),
  );
  t.true(client.connected);
});

test('a wrong internal password gets CONNACK 4', async (t) => {
  const { username } = internalCredentials(SECRET);
  const wrong = internalCredentials('another-secret-0123456789').password;
  const error = await refusal(
    mqtt.connectAsync(
      `mqtt://127.0.0.1:${broker.tcpPort}`,
      { clientId: 'smx-test-wrong', username, password: wrong, reconnectPeriod: 0 },
      false,
    ),
  );
  t.is(error?.code, 4);
});

test('internal credentials cannot take a device client id (CONNACK 2)', async (t) => {
  const device = h.devices.add();
  const { username, password } = internalCredentials(SECRET);
  const error = await refusal(
    mqtt.connectAsync(
      `mqtt://127.0.0.1:${broker.tcpPort}`,
      { clientId: device.deviceId, username, password, reconnectPeriod: 0 },
      false,
    ),
  );
  t.is(error?.code, 2);
});

test('no credentials at all gets CONNACK 4', async (t) => {
  const error = await refusal(
    mqtt.connectAsync(`mqtt://127.0.0.1:${broker.tcpPort}`, { clientId: 'anonymous', reconnectPeriod: 0 }, false),
  );
  t.is(error?.code, 4);
});

test('a failing device lookup answers CONNACK 3 "server unavailable" so the phone retries', async (t) => {
  const device = h.devices.add();
  const error = await refusal(h.phone(unavailable, device));
  t.is(error?.code, 3);
});
