/**
 * The reference device's jittered exponential reconnect backoff (device-protocol.md §2): the
 * pauses, that mqtt.js really waits them (a server that drops every connection at once), and that
 * "server unavailable" is retried while a credentials refusal stops the device.
 */
import { EventEmitter } from 'node:events';
import { createServer } from 'node:net';
import test from 'ava';
import type { AuthenticateError } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { ReferenceDevice, reconnectWithBackoff } from '../../device/reference-device.js';
import { makeCredentials, startBroker } from './_helpers.js';
import { eventually } from '../helpers/eventually.js';

/** Just what reconnectWithBackoff touches of an MqttClient. */
function fakeClient(): MqttClient {
  return Object.assign(new EventEmitter(), { options: { reconnectPeriod: 0 } }) as unknown as MqttClient;
}

/** The pauses armed by `closes` consecutive failures. */
function pauses(client: MqttClient, closes: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < closes; i++) {
    client.emit('close');
    out.push(client.options.reconnectPeriod!);
  }
  return out;
}

test('the pause doubles per failed attempt up to 10 s, drawn from the upper half, and starts over after a CONNACK', (t) => {
  const high = fakeClient();
  reconnectWithBackoff(high, 2000, () => 1);
  t.deepEqual(pauses(high, 6), [2000, 4000, 8000, 10_000, 10_000, 10_000]);
  const low = fakeClient();
  reconnectWithBackoff(low, 2000, () => 0);
  t.deepEqual(pauses(low, 5), [1000, 2000, 4000, 5000, 5000]);
  (low as unknown as EventEmitter).emit('connect');
  t.deepEqual(pauses(low, 2), [1000, 2000], 'a CONNACK resets the backoff');
});

test('a short base is capped at 16× itself; a base above the cap is kept; 0 (never reconnect) is left alone', (t) => {
  const short = fakeClient();
  reconnectWithBackoff(short, 100, () => 1);
  t.deepEqual(pauses(short, 7), [100, 200, 400, 800, 1600, 1600, 1600]);
  const long = fakeClient();
  reconnectWithBackoff(long, 60_000, () => 0.5);
  t.deepEqual(pauses(long, 2), [45_000, 45_000]);
  const never = fakeClient();
  reconnectWithBackoff(never, 0);
  t.deepEqual(pauses(never, 2), [0, 0]);
});

test('the jitter spreads phones dropped at the same moment over the upper half of each pause', (t) => {
  const first = Array.from({ length: 2000 }, () => {
    const client = fakeClient();
    reconnectWithBackoff(client, 2000);
    return pauses(client, 1)[0]!;
  });
  t.true(first.every((p) => p >= 1000 && p <= 2000));
  const buckets = [0, 0, 0, 0];
  for (const p of first) buckets[Math.min(3, Math.floor((p - 1000) / 250))]!++;
  t.true(
    buckets.every((b) => b > 350),
    `roughly even: ${buckets.join(', ')}`,
  );
});

test('mqtt.js waits the growing pauses: a server that drops every connection sees the attempts spread out', async (t) => {
  const attempts: number[] = [];
  const server = createServer((socket) => {
    attempts.push(Date.now());
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
    clientId: 'dev_backoff',
    reconnectPeriod: 100,
    connectTimeout: 5000,
  });
  client.on('error', () => {});
  reconnectWithBackoff(client, 100, () => 1);
  t.teardown(async () => {
    await client.endAsync(true);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  await eventually(() => attempts.length >= 6, 5000, 'six connection attempts');
  const gaps = attempts.slice(1, 6).map((at, i) => at - attempts[i]!);
  // Expected pauses 100, 200, 400, 800, 1600 ms (plus connect time); a fixed period would keep them at 100.
  [100, 200, 400, 800, 1600].forEach((pause, i) =>
    t.true(gaps[i]! >= pause - 15 && gaps[i]! < pause + 400, `gap ${i + 1}: ${gaps[i]} ms, expected about ${pause}`),
  );
});

test('CONNACK 3 "server unavailable" (credentials not checkable yet) is retried; CONNACK 4 stops the device', async (t) => {
  const { credentials, secret } = makeCredentials('mqtt://placeholder');
  const broker = await startBroker(t, { [credentials.deviceId]: secret });
  credentials.mqtt.url = broker.url;
  const check = broker.broker.authenticate;
  let refused = 0;
  broker.broker.authenticate = (client, username, password, done) => {
    if (refused < 2) {
      refused++;
      return done(Object.assign(new Error('server unavailable'), { returnCode: 3 }) as AuthenticateError, false);
    }
    check(client, username, password, done);
  };
  const lines: string[] = [];
  const device = new ReferenceDevice({ credentials, reconnectPeriodMs: 100, log: (line) => lines.push(line) });
  t.teardown(() => device.stop());
  await device.start();
  t.is(refused, 2);
  t.true(device.connected);
  t.is(lines.filter((l) => l.startsWith('connection refused for now')).length, 2);

  const wrong = new ReferenceDevice({
    credentials: { ...credentials, mqtt: { ...credentials.mqtt, password: 'wrong' } },
    reconnectPeriodMs: 100,
  });
  t.teardown(() => wrong.stop());
  const error = await wrong.start().then(
    () => null,
    (e: Error & { code?: string }) => e,
  );
  t.is(error?.code, 'CREDENTIALS_REJECTED');
  const connectsAfter = broker.connects.length;
  await new Promise((r) => setTimeout(r, 400));
  t.is(broker.connects.length, connectsAfter, 'no reconnect after a credentials refusal');
});
