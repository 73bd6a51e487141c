import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import {
  ReferenceDevice,
  ReferenceDeviceError,
  SentIdStore,
  type OutboxMessage,
  type ReferenceDeviceOptions,
  type StatusUpdate,
} from '../../device/index.js';
import {
  delay,
  listenWebSocket,
  makeCredentials,
  serverClient,
  startBroker,
  tempDir,
  type TestBroker,
} from './_helpers.js';
import { eventually } from '../helpers/eventually.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

interface Setup {
  broker: TestBroker;
  credentials: ReferenceDeviceOptions['credentials'];
  sent: OutboxMessage[];
  /** Starts a device (stopped in teardown) that records what it sends into `sent`. */
  device: (options?: Partial<ReferenceDeviceOptions>) => Promise<ReferenceDevice>;
}

async function setup(t: ExecutionContext): Promise<Setup> {
  const { credentials, secret } = makeCredentials('mqtt://placeholder');
  const broker = await startBroker(t, { [credentials.deviceId]: secret });
  credentials.mqtt.url = broker.url;
  const sent: OutboxMessage[] = [];
  const device = async (options: Partial<ReferenceDeviceOptions> = {}) => {
    const d = new ReferenceDevice({
      credentials,
      reconnectPeriodMs: 100,
      onSend: (m) => void sent.push(m),
      ...options,
    });
    t.teardown(() => d.stop());
    await d.start();
    return d;
  };
  return { broker, credentials, sent, device };
}

function message(id: string, extra: Partial<OutboxMessage> & Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    to: '+4915112345678',
    body: `Your code is ${id.slice(-6)}`,
    simSlot: 0,
    expiresAt: new Date(Date.now() + 60_000).toISOString(),
    priority: 0,
    ...extra,
  };
}

function updatesOf(json: unknown): StatusUpdate[] {
  return (json as { updates: StatusUpdate[] }).updates;
}

test('connects as the spec says: ids, clean false, keepalive 30, MQTT 3.1.1, will, QoS 1 subscriptions, retained presence', async (t) => {
  const s = await setup(t);
  const subscriptions: Array<{ topic: string; qos: number }> = [];
  s.broker.broker.on('subscribe', (subs, client) => {
    if (client?.id === s.credentials.deviceId) subscriptions.push(...subs.map((x) => ({ topic: x.topic, qos: x.qos })));
  });
  await s.device({
    battery: { battery: 55, charging: false, signal: 2 },
    appVersion: '9.9.9',
    sims: [{ slot: 0, number: '+14155550100', carrier: 'T-Mobile', rentable: true }],
  });

  const connect = s.broker.connects.find((p) => p.clientId === s.credentials.deviceId);
  t.truthy(connect);
  t.is(connect?.username, s.credentials.deviceId);
  t.is(connect?.password?.toString(), s.credentials.mqtt.password);
  t.false(connect?.clean);
  t.is(connect?.keepalive, 30);
  t.is(connect?.protocolVersion, 4);
  t.is(connect?.will?.topic, s.credentials.topics.presence);
  t.is(connect?.will?.payload.toString(), '{"online":false}');
  t.is(connect?.will?.qos, 1);
  t.true(connect?.will?.retain);
  t.deepEqual(
    subscriptions.sort((a, b) => a.topic.localeCompare(b.topic)),
    [
      { topic: s.credentials.topics.control, qos: 1 },
      { topic: s.credentials.topics.outbox, qos: 1 },
    ],
  );

  // A server that subscribes later still gets the retained presence.
  const server = await serverClient(t, s.broker.url, [s.credentials.topics.presence]);
  const presence = await server.waitFor((r) => r.topic === s.credentials.topics.presence);
  t.true(presence.retain);
  t.deepEqual(presence.json, {
    online: true,
    battery: 55,
    charging: false,
    signal: 2,
    appVersion: '9.9.9',
    sims: [{ slot: 0, number: '+14155550100', carrier: 'T-Mobile', rentable: true }],
    capabilities: ['data-sms'],
  });
});

test('sends each message once and reports sent, then delivered, one status publish per outbox publish', async (t) => {
  const s = await setup(t);
  const events: OutboxMessage[] = [];
  const device = await s.device();
  device.on('sms', (m) => events.push(m));
  const server = await serverClient(t, s.broker.url, [s.credentials.topics.status]);

  await server.publish(s.credentials.topics.outbox, {
    messages: [message('msg_aaaaaa111111'), message('msg_bbbbbb222222', { simSlot: null })],
  });
  await server.waitFor((r) => updatesOf(r.json).some((u) => u.state === 'delivered'));

  t.deepEqual(
    s.sent.map((m) => m.id),
    ['msg_aaaaaa111111', 'msg_bbbbbb222222'],
  );
  t.deepEqual(events, s.sent);
  t.is(s.sent[1]?.simSlot, null);
  t.is(server.received.length, 2);
  const [first, second] = server.received.map((r) => r.json as { updates: StatusUpdate[] });
  t.deepEqual(Object.keys(first ?? {}), ['updates']);
  t.deepEqual(
    first?.updates.map((u) => [u.id, u.state]),
    [
      ['msg_aaaaaa111111', 'sent'],
      ['msg_bbbbbb222222', 'sent'],
    ],
  );
  t.deepEqual(
    second?.updates.map((u) => [u.id, u.state]),
    [
      ['msg_aaaaaa111111', 'delivered'],
      ['msg_bbbbbb222222', 'delivered'],
    ],
  );
  for (const u of [...(first?.updates ?? []), ...(second?.updates ?? [])]) {
    t.deepEqual(Object.keys(u).sort(), ['at', 'id', 'state']);
    t.regex(u.at, ISO);
  }
});

test('delivered comes after deliveredDelayMs; report.sent false reports delivered only', async (t) => {
  const s = await setup(t);
  await s.device({ report: { sent: false, delivered: true, deliveredDelayMs: 150 } });
  const server = await serverClient(t, s.broker.url, [s.credentials.topics.status]);
  const started = Date.now();
  await server.publish(s.credentials.topics.outbox, { messages: [message('msg_delay0000001')] });
  const hit = await server.waitFor(() => true);
  t.true(Date.now() - started >= 140);
  t.deepEqual(
    updatesOf(hit.json).map((u) => u.state),
    ['delivered'],
  );
  // A second message: its report comes behind anything more the device had to say about the first.
  await server.publish(s.credentials.topics.outbox, { messages: [message('msg_delay0000002')] });
  await server.waitFor((r) => updatesOf(r.json).some((u) => u.id === 'msg_delay0000002'));
  t.deepEqual(
    server.received.flatMap((r) => updatesOf(r.json).map((u) => `${u.id} ${u.state}`)),
    ['msg_delay0000001 delivered', 'msg_delay0000002 delivered'],
  );
});

test('a duplicate publish of the same id is not sent again, nor after a restart with the persisted sent-ids file', async (t) => {
  const s = await setup(t);
  const file = join(await tempDir(t), 'device.sent-ids.json');
  const first = await s.device({ sentIds: await SentIdStore.open({ file }) });
  const server = await serverClient(t, s.broker.url, [s.credentials.topics.status]);

  await server.publish(s.credentials.topics.outbox, { messages: [message('msg_dup000000001')] });
  await server.waitFor((r) => updatesOf(r.json)[0]?.state === 'delivered');
  await server.publish(s.credentials.topics.outbox, {
    messages: [message('msg_dup000000001'), message('msg_new000000002')],
  });
  await server.waitFor((r) => updatesOf(r.json).some((u) => u.id === 'msg_new000000002' && u.state === 'delivered'));
  t.deepEqual(
    s.sent.map((m) => m.id),
    ['msg_dup000000001', 'msg_new000000002'],
  );
  // The duplicate is skipped silently: the second batch reports only the new id.
  t.false(server.received.slice(2).some((r) => updatesOf(r.json).some((u) => u.id === 'msg_dup000000001')));
  await first.stop();

  const restarted = await s.device({ sentIds: await SentIdStore.open({ file }) });
  t.true(restarted.sentIds.has('msg_dup000000001'));
  const before = server.received.length;
  await server.publish(s.credentials.topics.outbox, {
    messages: [message('msg_dup000000001'), message('msg_after0000003')],
  });
  await server.waitFor((r) => updatesOf(r.json).some((u) => u.id === 'msg_after0000003' && u.state === 'delivered'));
  t.deepEqual(
    s.sent.map((m) => m.id),
    ['msg_dup000000001', 'msg_new000000002', 'msg_after0000003'],
  );
  t.false(server.received.slice(before).some((r) => updatesOf(r.json).some((u) => u.id === 'msg_dup000000001')));
});

test('an expired message is reported failed with EXPIRED and not sent', async (t) => {
  const s = await setup(t);
  await s.device();
  const server = await serverClient(t, s.broker.url, [s.credentials.topics.status]);
  await server.publish(s.credentials.topics.outbox, {
    messages: [
      message('msg_expired00001', { expiresAt: new Date(Date.now() - 1000).toISOString() }),
      message('msg_fresh0000001'),
    ],
  });
  const batch = await server.waitFor((r) => updatesOf(r.json).some((u) => u.state === 'failed'));
  const failed = updatesOf(batch.json).find((u) => u.id === 'msg_expired00001');
  t.deepEqual(failed && { ...failed, at: 'x' }, { id: 'msg_expired00001', state: 'failed', at: 'x', error: 'EXPIRED' });
  t.regex(failed?.at ?? '', ISO);
  // Same outbox publish, same status publish.
  t.true(updatesOf(batch.json).some((u) => u.id === 'msg_fresh0000001' && u.state === 'sent'));
  await server.waitFor((r) => updatesOf(r.json).some((u) => u.state === 'delivered'));
  t.deepEqual(
    s.sent.map((m) => m.id),
    ['msg_fresh0000001'],
  );
});

test('ids canceled on the control topic are never sent', async (t) => {
  const s = await setup(t);
  const device = await s.device();
  const server = await serverClient(t, s.broker.url, [s.credentials.topics.status]);
  const canceled = new Promise<string[]>((resolve) => device.once('canceled', resolve));
  await server.publish(s.credentials.topics.control, { type: 'cancel', ids: ['msg_cancel000001'] });
  t.deepEqual(await canceled, ['msg_cancel000001']);
  t.is(device.sentIds.reasonOf('msg_cancel000001'), 'canceled');

  await server.publish(s.credentials.topics.outbox, {
    messages: [message('msg_cancel000001'), message('msg_kept00000001')],
  });
  const batch = await server.waitFor((r) => updatesOf(r.json)[0]?.state === 'sent');
  t.deepEqual(
    updatesOf(batch.json).map((u) => u.id),
    ['msg_kept00000001'],
  );
  t.deepEqual(
    s.sent.map((m) => m.id),
    ['msg_kept00000001'],
  );
});

test('unknown fields and control types are ignored; the phone gets only the known fields', async (t) => {
  const s = await setup(t);
  const device = await s.device();
  const configs: unknown[] = [];
  device.on('config', (c) => configs.push(c));
  const server = await serverClient(t, s.broker.url, [s.credentials.topics.status]);

  await server.publish(s.credentials.topics.control, { type: 'reboot-into-the-future', foo: 1 });
  await server.publish(s.credentials.topics.control, { type: 'config', sendRatePerMinute: 10, future: true });
  await server.publish(s.credentials.topics.outbox, {
    messages: [message('msg_unknown00001', { futureField: { nested: true }, unicode: 'ü' }), { id: 'msg_bad', to: 42 }],
    batchHint: 'new-server-feature',
  });
  await server.waitFor((r) => updatesOf(r.json).some((u) => u.state === 'delivered'));
  t.is(s.sent.length, 1);
  t.deepEqual(Object.keys(s.sent[0] ?? {}).sort(), ['body', 'expiresAt', 'id', 'priority', 'simSlot', 'to']);
  t.deepEqual(configs, [{ type: 'config', sendRatePerMinute: 10, future: true }]);
  t.true(device.connected);
});

test('invalid JSON on outbox and control is ignored without crashing', async (t) => {
  const s = await setup(t);
  const device = await s.device();
  const server = await serverClient(t, s.broker.url, [s.credentials.topics.status]);
  await server.publish(s.credentials.topics.outbox, 'not json {');
  await server.publish(s.credentials.topics.outbox, '[1,2,3]');
  await server.publish(s.credentials.topics.outbox, '{"messages":"nope"}');
  await server.publish(s.credentials.topics.control, '\u0000\u0001');
  await server.publish(s.credentials.topics.outbox, { messages: [message('msg_afterjunk001')] });
  await server.waitFor((r) => updatesOf(r.json).some((u) => u.state === 'delivered'));
  t.deepEqual(
    s.sent.map((m) => m.id),
    ['msg_afterjunk001'],
  );
  t.true(device.connected);
});

test('failWith reports every message failed with that code and sends nothing', async (t) => {
  const s = await setup(t);
  await s.device({ report: { sent: true, delivered: true, failWith: 'RADIO_OFF' } });
  const server = await serverClient(t, s.broker.url, [s.credentials.topics.status]);
  await server.publish(s.credentials.topics.outbox, { messages: [message('msg_radiooff0001')] });
  const hit = await server.waitFor(() => true);
  t.deepEqual(
    updatesOf(hit.json).map((u) => [u.id, u.state, u.error]),
    [['msg_radiooff0001', 'failed', 'RADIO_OFF']],
  );
  // A second message: its report comes behind anything more the device had to say about the first.
  await server.publish(s.credentials.topics.outbox, { messages: [message('msg_radiooff0002')] });
  await server.waitFor((r) => updatesOf(r.json).some((u) => u.id === 'msg_radiooff0002'));
  t.deepEqual(
    server.received.flatMap((r) => updatesOf(r.json).map((u) => `${u.id} ${u.state}`)),
    ['msg_radiooff0001 failed', 'msg_radiooff0002 failed'],
  );
  t.is(s.sent.length, 0);
});

test('a throwing onSend reports GENERIC_FAILURE and does not mark the id as sent', async (t) => {
  const s = await setup(t);
  let calls = 0;
  const device = await s.device({
    onSend: () => {
      calls += 1;
      throw new Error('radio busy');
    },
  });
  const server = await serverClient(t, s.broker.url, [s.credentials.topics.status]);
  await server.publish(s.credentials.topics.outbox, { messages: [message('msg_throws000001')] });
  const hit = await server.waitFor(() => true);
  t.deepEqual(
    updatesOf(hit.json).map((u) => [u.state, u.error]),
    [['failed', 'GENERIC_FAILURE']],
  );
  t.is(calls, 1);
  t.false(device.sentIds.has('msg_throws000001'));
});

test('the last will publishes offline presence when the connection drops; stop() publishes it itself', async (t) => {
  const s = await setup(t);
  const device = await s.device({ reconnectPeriodMs: 60_000 });
  const server = await serverClient(t, s.broker.url, [s.credentials.topics.presence]);
  await server.waitFor((r) => (r.json as { online?: boolean }).online === true);

  const disconnected = new Promise<void>((resolve) => device.once('disconnected', resolve));
  // Drop the TCP connection without DISCONNECT, as a phone losing coverage would.
  const brokerClient = (s.broker.broker as unknown as { clients: Record<string, { conn: { destroy: () => void } }> })
    .clients[s.credentials.deviceId];
  brokerClient?.conn.destroy();
  await disconnected;
  const will = await server.waitFor((r) => r.payload === '{"online":false}');
  t.deepEqual(will.json, { online: false });

  // Graceful stop: no will is fired by the broker, so the device publishes offline itself (retained).
  const again = await s.device();
  await server.waitFor(
    (r) =>
      server.received.indexOf(r) > server.received.indexOf(will) && (r.json as { online?: boolean }).online === true,
  );
  await again.stop();
  await device.stop();
  const late = await serverClient(t, s.broker.url, [s.credentials.topics.presence]);
  const retained = await late.waitFor(() => true);
  t.true(retained.retain);
  t.deepEqual(retained.json, { online: false });
});

test('the persistent session delivers QoS 1 messages published while the device was offline', async (t) => {
  const s = await setup(t);
  const first = await s.device();
  await first.stop();
  const server = await serverClient(t, s.broker.url, [s.credentials.topics.status]);
  await server.publish(s.credentials.topics.outbox, { messages: [message('msg_offline00001')] });
  t.is(s.sent.length, 0);

  const back = await s.device();
  await server.waitFor((r) => updatesOf(r.json).some((u) => u.id === 'msg_offline00001' && u.state === 'delivered'));
  t.deepEqual(
    s.sent.map((m) => m.id),
    ['msg_offline00001'],
  );
  t.true(back.connected);
});

test('wrong credentials reject start() with CREDENTIALS_REJECTED and reason code 4', async (t) => {
  const s = await setup(t);
  const device = new ReferenceDevice({
    credentials: { ...s.credentials, mqtt: { ...s.credentials.mqtt, password: 'wrong' } },
  });
  t.teardown(() => device.stop());
  const error = await t.throwsAsync(device.start(), { instanceOf: ReferenceDeviceError });
  t.is(error?.code, 'CREDENTIALS_REJECTED');
  t.is(error?.reasonCode, 4);
  t.false(device.connected);
});

test('control ping republishes presence; control unlink calls onUnlinked, emits unlinked and stops', async (t) => {
  const s = await setup(t);
  let unlinkedCallback = 0;
  const device = await s.device({ onUnlinked: () => void (unlinkedCallback += 1) });
  const server = await serverClient(t, s.broker.url, [s.credentials.topics.presence]);
  await server.waitFor(() => true); // the retained presence
  await server.publish(s.credentials.topics.control, { type: 'ping' });
  await server.waitFor((r) => !r.retain && (r.json as { online?: boolean }).online === true);

  const stopped = new Promise<void>((resolve) => device.once('stopped', resolve));
  const unlinked = new Promise<void>((resolve) => device.once('unlinked', resolve));
  await server.publish(s.credentials.topics.control, { type: 'unlink' });
  await unlinked;
  await stopped;
  t.is(unlinkedCallback, 1);
  t.false(device.connected);
  await eventually(() => s.broker.broker.connectedClients === 1, 2000, 'device disconnect');
});

test('publishInbound forwards received SMS on the inbox topic', async (t) => {
  const s = await setup(t);
  const device = await s.device();
  const server = await serverClient(t, s.broker.url, [s.credentials.topics.inbox]);
  await device.publishInbound([
    { from: '+14155550123', body: 'STOP', receivedAt: '2026-11-21T10:00:00.000Z', simSlot: 1 },
    { from: '+14155550124', body: 'hi' },
  ]);
  const hit = await server.waitFor(() => true);
  const { messages } = hit.json as { messages: Array<Record<string, unknown>> };
  t.deepEqual(messages[0], { from: '+14155550123', body: 'STOP', receivedAt: '2026-11-21T10:00:00.000Z', simSlot: 1 });
  t.deepEqual(Object.keys(messages[1] ?? {}), ['from', 'body', 'receivedAt', 'simSlot']);
  t.regex(String(messages[1]?.receivedAt), ISO);
});

test('an outbox publish is acknowledged only after it is handled, so a crash mid-send is redelivered and de-duplicated', async (t) => {
  const s = await setup(t);
  const sentIds = new SentIdStore();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const acks: string[] = [];
  s.broker.broker.on('ack', (packet, client) => {
    if (client?.id === s.credentials.deviceId && 'topic' in packet) acks.push(packet.topic);
  });
  const crashing = await s.device({ sentIds, reconnectPeriodMs: 60_000, onSend: () => gate });
  const server = await serverClient(t, s.broker.url, [s.credentials.topics.status]);
  await server.publish(s.credentials.topics.outbox, { messages: [message('msg_crash0000001')] });
  await eventually(() => sentIds.has('msg_crash0000001'), 2000, 'the id to be remembered');
  await delay(50);
  t.deepEqual(acks, []);

  // The phone dies while the radio is busy: no PUBACK reached the broker.
  const brokerClient = (s.broker.broker as unknown as { clients: Record<string, { conn: { destroy: () => void } }> })
    .clients[s.credentials.deviceId];
  brokerClient?.conn.destroy();
  release();
  await crashing.stop();

  // Back with the same store: the broker redelivers the unacknowledged publish, the id is skipped.
  const sent: string[] = [];
  await s.device({ sentIds, onSend: (m) => void sent.push(m.id) });
  await eventually(
    () => acks.includes(s.credentials.topics.outbox),
    3000,
    'the redelivered publish to be acknowledged',
  );
  t.deepEqual(sent, []);
});

test('transport ws connects through mqtt.wsUrl and works the same', async (t) => {
  const s = await setup(t);
  s.credentials.mqtt.wsUrl = await listenWebSocket(t, s.broker);
  s.credentials.mqtt.url = 'mqtt://127.0.0.1:1'; // must not be used
  await s.device({ transport: 'ws' });
  const server = await serverClient(t, s.broker.url, [s.credentials.topics.status]);
  await server.publish(s.credentials.topics.outbox, { messages: [message('msg_websocket001')] });
  await server.waitFor((r) => updatesOf(r.json).some((u) => u.state === 'delivered'));
  t.deepEqual(
    s.sent.map((m) => m.id),
    ['msg_websocket001'],
  );
});

test('after an unlink, outbox messages are no longer sent', async (t) => {
  const s = await setup(t);
  const device = await s.device();
  const server = await serverClient(t, s.broker.url, []);
  const stopped = new Promise<void>((resolve) => device.once('stopped', resolve));
  // Both publishes reach the device in order; the second arrives while it is shutting down.
  await server.publish(s.credentials.topics.control, { type: 'unlink' });
  await server.publish(s.credentials.topics.outbox, { messages: [message('msg_afterunlink1')] });
  await stopped;
  t.deepEqual(s.sent, []);
});

test('a binary SMS (data + port, device-protocol.md §3) is sent and reported like a text; one without a valid port is skipped', async (t) => {
  const s = await setup(t);
  await s.device();
  const server = await serverClient(t, s.broker.url, [s.credentials.topics.status]);
  const data = {
    id: 'msg_data11111111',
    to: '+4915112345678',
    data: 'SGVsbG8=',
    port: 8200,
    simSlot: null,
    expiresAt: new Date(Date.now() + 60_000).toISOString(),
    priority: 0,
  };
  await server.publish(s.credentials.topics.outbox, { messages: [data] });
  await server.waitFor((r) => updatesOf(r.json).some((u) => u.id === data.id && u.state === 'sent'));
  t.like(s.sent[0], { id: data.id, body: '', data: 'SGVsbG8=', port: 8200 });
  // An item with data but no valid port is not a message.
  await server.publish(s.credentials.topics.outbox, {
    messages: [{ ...data, id: 'msg_data22222222', port: 0 }, message('msg_text33333333')],
  });
  await server.waitFor((r) => updatesOf(r.json).some((u) => u.id === 'msg_text33333333'));
  t.deepEqual(
    s.sent.map((m) => m.id),
    [data.id, 'msg_text33333333'],
  );
});

test('a device that does not declare data-sms reports a binary SMS failed with DATA_SMS_UNSUPPORTED and does not send it', async (t) => {
  const s = await setup(t);
  await s.device({ capabilities: [] });
  const server = await serverClient(t, s.broker.url, [s.credentials.topics.status, s.credentials.topics.presence]);
  const presence = await server.waitFor((r) => r.topic === s.credentials.topics.presence);
  t.deepEqual((presence.json as { capabilities: string[] }).capabilities, []);
  await server.publish(s.credentials.topics.outbox, {
    messages: [
      {
        id: 'msg_data44444444',
        to: '+4915112345678',
        data: 'AAEC',
        port: 9,
        simSlot: null,
        expiresAt: null,
        priority: 0,
      },
    ],
  });
  const report = await server.waitFor(
    (r) => r.topic === s.credentials.topics.status && updatesOf(r.json).some((u) => u.id === 'msg_data44444444'),
  );
  t.like(updatesOf(report.json)[0], { state: 'failed', error: 'DATA_SMS_UNSUPPORTED' });
  t.deepEqual(s.sent, []);
});
