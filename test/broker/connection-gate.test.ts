/**
 * The broker's connection limits (issue 10), with raw TCP and WebSocket clients: the packet size
 * guard before and after authentication, the CONNECT timeout, the cap on unauthenticated
 * connections per source and the connection rate per source. The units (framing scanner, token
 * bucket, source keys, forwarded addresses, throttled refusal log) are tested without a network.
 */
import test from 'ava';
import type { IncomingMessage } from 'node:http';
import { deviceTopic } from '../../protocol/topics.js';
import type { Logger } from '../../core/logger.js';
import { MQTT_WS_PATH, type EmbeddedBroker } from '../../broker/embedded-broker.js';
import { forwardedAddress } from '../../broker/forwarded-address.js';
import { INTERNAL_CLIENT_ID_PREFIX, internalCredentials } from '../../broker/internal-credentials.js';
import { FrameScanner, MAX_DEVICE_PACKET_BYTES, MAX_PACKET_BYTES_BEFORE_AUTH } from '../../broker/packet-guard.js';
import { RefusalLog, SourceLimits, sourceKey } from '../../broker/source-limits.js';
import { Harness, SECRET, testPrefix, type TestDevice } from './_helpers.js';
import { PINGREQ, RawClient, connectPacket, frame, header, publishPacket, rawDevice } from './_raw-mqtt.js';
import { eventually } from '../helpers/eventually.js';

const MB = 1024 * 1024;
let h: Harness;
let broker: EmbeddedBroker;

test.before(async () => {
  h = await Harness.open(testPrefix(import.meta.url));
  broker = await h.startBroker();
});

test.after.always(async () => {
  await h?.close();
});

const deviceConnect = (device: TestDevice) => ({
  clientId: device.deviceId,
  username: device.deviceId,
  password: device.secret,
});

/** Streams `total` bytes of filler after `first`; stops when the broker closes. Resolves with what the socket took. */
async function stream(client: RawClient, first: Buffer, total: number): Promise<number> {
  client.send(first);
  const chunk = Buffer.alloc(MB, 0x61);
  while (!client.isClosed && client.written < total) {
    if (!client.send(chunk)) await Promise.race([client.closed, new Promise((resolve) => setTimeout(resolve, 20))]);
  }
  return client.written;
}

// ---- units ------------------------------------------------------------------------------------

test('the frame scanner follows packets across chunk boundaries and refuses an announced length over the limit at once', (t) => {
  const connect = connectPacket({ clientId: 'dev_x', username: 'dev_x', password: 'p' });
  const publish = publishPacket({ topic: 'a/b', payload: Buffer.alloc(300, 1) }); // 2-byte varint
  const stream = Buffer.concat([connect, publish, PINGREQ, publish]);
  for (let split = 1; split < stream.length; split++) {
    const scanner = new FrameScanner(1000);
    t.is(scanner.scan(stream.subarray(0, split)), null);
    t.is(scanner.scan(stream.subarray(split)), null);
  }
  const byteByByte = new FrameScanner(1000);
  for (const byte of stream) t.is(byteByByte.scan(Buffer.from([byte])), null);

  // 250 MB announced: refused on the fixed header alone, before any of the body.
  t.is(header(0x10, 250 * MB).length, 5);
  t.is(new FrameScanner(MAX_PACKET_BYTES_BEFORE_AUTH).scan(header(0x10, 250 * MB)), 'too-large');
  // A partial varint that already exceeds the limit is refused before its last byte.
  t.is(new FrameScanner(100).scan(Buffer.from([0x10, 0xff])), 'too-large');
  t.is(new FrameScanner(100).scan(Buffer.concat([connect, header(0x30, 101)])), 'too-large');
  t.is(new FrameScanner(100).scan(Buffer.concat([connect, header(0x30, 100)])), null);
  t.is(new FrameScanner(MB * 300).scan(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01])), 'malformed-length');
  t.is(new FrameScanner(1000).scan(publish), 'not-connect-first');

  // The limit read is the one in force when the header arrives.
  const raised = new FrameScanner(100);
  t.is(raised.scan(connect), null);
  raised.limit = 1000;
  t.is(raised.scan(publish), null);
});

test('source limits: a token bucket of the rate with bursts of 10 s, and a cap on pending connections', (t) => {
  let now = 0;
  const limits = new SourceLimits({ maxPending: 3, ratePerSecond: 2, now: () => now });
  try {
    const admitted = [];
    for (let i = 0; i < 3; i++) admitted.push(limits.admit('1.2.3.4'));
    t.true(admitted.every((a) => typeof a === 'object'));
    t.is(limits.admit('1.2.3.4'), 'pending');
    t.is(limits.pending('1.2.3.4'), 3);
    for (const a of admitted) if (typeof a === 'object') (a.settle(), a.settle()); // idempotent
    t.is(limits.pending('1.2.3.4'), 0);
    // 20 tokens (2/s × 10 s); 4 used above; settle each so only the rate counts.
    let taken = 4;
    for (;;) {
      const a = limits.admit('1.2.3.4');
      if (a === 'rate') break;
      if (typeof a === 'object') a.settle();
      taken++;
    }
    t.is(taken, 20);
    t.is(typeof limits.admit('5.6.7.8'), 'object', 'another source has its own bucket');
    now += 1000; // two tokens back
    const refilled = [limits.admit('1.2.3.4'), limits.admit('1.2.3.4')];
    t.true(refilled.every((a) => typeof a === 'object'));
    t.is(limits.admit('1.2.3.4'), 'rate');
    for (const a of refilled) if (typeof a === 'object') a.settle();
    now += 60_000;
    limits.sweep();
    t.is(limits.size, 1, 'idle sources are forgotten; 5.6.7.8 still holds a pending connection');
  } finally {
    limits.close();
  }
});

test('sources are keyed by IPv4 address (mapped IPv6 included) and by IPv6 /64', (t) => {
  t.is(sourceKey('127.0.0.1'), '127.0.0.1');
  t.is(sourceKey('::ffff:10.1.2.3'), '10.1.2.3');
  t.is(sourceKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  t.is(sourceKey('2001:db8:1:2:bbbb::9'), sourceKey('2001:db8:1:2:aaaa::1'));
  t.not(sourceKey('2001:db8:1:3::1'), sourceKey('2001:db8:1:2::1'));
  t.is(sourceKey(undefined), 'unknown');
});

test('a WebSocket client address follows trustProxy as Fastify does', (t) => {
  const req = (peer: string, xff?: string) =>
    ({ socket: { remoteAddress: peer }, headers: xff ? { 'x-forwarded-for': xff } : {} }) as unknown as IncomingMessage;
  const chain = req('10.0.0.2', '203.0.113.7, 198.51.100.1, 10.0.0.1');
  t.is(forwardedAddress(false)(chain), '10.0.0.2');
  t.is(forwardedAddress(true)(chain), '203.0.113.7');
  t.is(forwardedAddress(1)(chain), '10.0.0.1');
  t.is(forwardedAddress(2)(chain), '198.51.100.1');
  t.is(forwardedAddress(9)(chain), '203.0.113.7');
  t.is(forwardedAddress(['10.0.0.0/8'])(chain), '198.51.100.1');
  t.is(forwardedAddress(['10.0.0.0/8', '198.51.100.1'])(chain), '203.0.113.7');
  t.is(
    forwardedAddress(['10.0.0.0/8'])(req('192.0.2.1', '203.0.113.7')),
    '192.0.2.1',
    'an untrusted peer is the client, whatever it forwards',
  );
  t.is(forwardedAddress(true)(req('10.0.0.2')), '10.0.0.2');
});

test('refusals are logged at once, then at most once per kind per 10 s with the count', (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const log = { warn: (fields: Record<string, unknown>) => lines.push(fields) } as unknown as Logger;
  let now = 0;
  const refusals = new RefusalLog(log, () => now);
  for (let i = 0; i < 1000; i++) refusals.note('rate', { source: '1.2.3.4' });
  refusals.note('pending', { source: '1.2.3.4' });
  t.is(lines.length, 2);
  now = 10_000;
  refusals.note('rate', { source: '1.2.3.4' });
  t.is(lines.length, 3);
  t.like(lines[2], { reason: 'rate', refusedSinceLastLine: 999 });
});

// ---- packet sizes -----------------------------------------------------------------------------

test('a raw TCP client announcing a 250 MB CONNECT is closed at once, before it can stream much', async (t) => {
  const client = await RawClient.tcp(broker.tcpPort);
  const written = await stream(client, header(0x10, 250 * MB), 64 * MB);
  t.true(client.isClosed, `still open after ${written} bytes`);
  // What the kernels' socket buffers took before the reset; the broker itself read one chunk.
  t.true(written < 32 * MB, `${written} bytes accepted`);
});

test('before CONNECT is accepted, a packet over 8 KiB is refused, and the first packet must be a CONNECT', async (t) => {
  const big = await RawClient.tcp(broker.tcpPort);
  big.send(Buffer.concat([header(0x10, MAX_PACKET_BYTES_BEFORE_AUTH + 1), Buffer.alloc(100)]));
  t.true(await big.closesWithin(2000), 'a 8 KiB + 1 CONNECT');

  const notConnect = await RawClient.tcp(broker.tcpPort);
  notConnect.send(header(0x30, 5000));
  t.true(await notConnect.closesWithin(2000), 'a PUBLISH first');

  // Pipelined behind a valid CONNECT, before the CONNACK: still the pre-authentication limit.
  const device = h.devices.add();
  const pipelined = await RawClient.tcp(broker.tcpPort);
  pipelined.send(Buffer.concat([connectPacket(deviceConnect(device)), header(0x32, 100 * 1024)]));
  t.true(await pipelined.closesWithin(2000), 'a 100 KiB PUBLISH pipelined behind the CONNECT');
});

test('after authentication a device packet may be up to 256 KiB + 1 KiB, an internal one larger', async (t) => {
  const device = h.devices.add();
  const phone = await rawDevice(broker.tcpPort, deviceConnect(device));
  const status = deviceTopic(device.deviceId, 'status');
  const big = JSON.stringify({ updates: [], pad: 'x'.repeat(200 * 1024) });
  phone.send(publishPacket({ topic: status, payload: big, messageId: 7 }));
  t.truthy(await phone.next('puback', 5000, (p) => p.messageId === 7), 'a 200 KiB status is acknowledged');
  t.true(
    (await h.jobsOf(device.deviceId)).some((job) => job.channel === 'status'),
    'and bridged',
  );
  phone.send(header(0x32, MAX_DEVICE_PACKET_BYTES + 1));
  t.true(await phone.closesWithin(2000), 'a packet announcing more than 257 KiB closes the connection');

  const { username, password } = internalCredentials(SECRET);
  const internal = await rawDevice(broker.tcpPort, {
    clientId: `${INTERNAL_CLIENT_ID_PREFIX}gate-test`,
    username,
    password,
  });
  internal.send(publishPacket({ topic: 'smx/test/large', payload: Buffer.alloc(MB, 0x61), messageId: 9 }));
  t.truthy(await internal.next('puback', 5000, (p) => p.messageId === 9), 'an internal 1 MiB publish is accepted');
  t.false(internal.isClosed);
  internal.destroy();
});

test('over WebSocket the same limits hold, and ws buffers no message over one device packet', async (t) => {
  const url = `ws://127.0.0.1:${broker.wsPort}${MQTT_WS_PATH}`;
  const announced = await RawClient.ws(url);
  announced.send(Buffer.concat([header(0x10, 250 * MB), Buffer.alloc(1024)]));
  t.true(await announced.closesWithin(2000), 'a 250 MB CONNECT announced over WebSocket');

  const oversized = await RawClient.ws(url);
  oversized.send(Buffer.alloc(MAX_DEVICE_PACKET_BYTES + 64 * 1024, 0x10));
  t.true(await oversized.closesWithin(2000), 'a WebSocket message over maxPayload');

  const device = h.devices.add();
  const phone = await RawClient.ws(url);
  phone.send(connectPacket(deviceConnect(device)));
  t.is((await phone.next('connack'))?.returnCode, 0);
  phone.send(header(0x32, MAX_DEVICE_PACKET_BYTES + 1));
  t.true(await phone.closesWithin(2000), 'an authenticated device over the limit');
});

// ---- time and count limits --------------------------------------------------------------------

test('a connection that sends no complete CONNECT within the CONNECT timeout is closed; an authenticated one stays', async (t) => {
  const own = await h.startBroker({ config: { ...h.config(), mqttConnectTimeoutMs: 300 } });
  const device = h.devices.add();
  const overWs = await RawClient.ws(`ws://127.0.0.1:${own.wsPort}${MQTT_WS_PATH}`);
  overWs.send(connectPacket(deviceConnect(device)));
  t.is((await overWs.next('connack'))?.returnCode, 0);
  const overTcp = await rawDevice(own.tcpPort, deviceConnect(h.devices.add()));
  const idle = await RawClient.tcp(own.tcpPort);
  const drip = await RawClient.tcp(own.tcpPort);
  const connect = connectPacket({ clientId: 'dev_drip', username: 'dev_drip', password: 'x' });
  const dripping = (async () => {
    for (const byte of connect) {
      if (drip.isClosed) return;
      drip.send(Buffer.from([byte]));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const started = Date.now();
  t.true(await idle.closesWithin(3000), 'silent');
  t.true(await drip.closesWithin(3000), 'one byte every 100 ms');
  t.true(Date.now() - started < 3000);
  await dripping;
  // Well past the timeout (and the HTTP server's request timeouts, set to it): still served.
  await new Promise((resolve) => setTimeout(resolve, 2500));
  for (const client of [overWs, overTcp]) {
    client.send(PINGREQ);
    t.truthy(await client.next('pingresp'), 'an authenticated connection is not timed out');
    client.destroy();
  }
  await own.close();
});

test('unauthenticated connections per source are capped; authenticated ones do not count', async (t) => {
  const own = await h.startBroker({ config: { ...h.config(), mqttMaxPendingPerSource: 3 } });
  const idle = await Promise.all([1, 2, 3].map(() => RawClient.tcp(own.tcpPort)));
  await waitPending(own, 3);
  const fourth = await RawClient.tcp(own.tcpPort);
  t.true(await fourth.closesWithin(2000), 'the fourth is closed at once');
  const overWs = await RawClient.ws(`ws://127.0.0.1:${own.wsPort}${MQTT_WS_PATH}`).catch(() => null);
  t.true(overWs === null || (await overWs.closesWithin(2000)), 'the WebSocket listener counts the same source');

  idle[0]!.destroy();
  await waitPending(own, 2);
  // Phones that authenticated give their slot back: five of them connect one after the other.
  const phones = [];
  for (let i = 0; i < 5; i++) phones.push(await rawDevice(own.tcpPort, deviceConnect(h.devices.add())));
  t.is(own.gate.limits.pending('127.0.0.1'), 2);
  for (const phone of phones) {
    phone.send(PINGREQ);
    t.truthy(await phone.next('pingresp'));
  }
  for (const client of [...idle, ...phones]) client.destroy();
  await own.close();
});

test('new connections per source are rate limited (bursts of 10 s of the rate)', async (t) => {
  const own = await h.startBroker({ websocket: false, config: { ...h.config(), mqttConnectRatePerSource: 1 } });
  const clients: RawClient[] = [];
  for (let i = 0; i < 10; i++) clients.push(await RawClient.tcp(own.tcpPort));
  const over = await RawClient.tcp(own.tcpPort);
  t.true(await over.closesWithin(2000), 'the eleventh within the second is closed at once');
  t.true(
    clients.every((c) => !c.isClosed),
    'the burst was admitted',
  );
  for (const client of clients) client.destroy();
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const device = h.devices.add();
  const phone = await rawDevice(own.tcpPort, deviceConnect(device));
  t.false(phone.isClosed, 'a token came back after a second');
  phone.destroy();
  await own.close();
});

async function waitPending(own: EmbeddedBroker, count: number): Promise<void> {
  await eventually(() => own.gate.limits.pending('127.0.0.1') === count, 3000, `${count} pending connections`);
}

test('the raw MQTT helpers encode fixed headers as [MQTT-2.2.3] does', (t) => {
  t.deepEqual(frame(0xc0, Buffer.alloc(0)), PINGREQ);
  t.deepEqual(header(0x30, 321), frame(0x30, Buffer.alloc(321)).subarray(0, 3));
});
