/**
 * Adversarial suite, MQTT half: an authenticated device (A) sends random and hostile MQTT to the
 * embedded broker of a running SMX — random bytes, truncated packets, huge remaining lengths,
 * publishes on its own topics with deep JSON, NUL, invalid UTF-8, `__proto__` keys, wrong shapes
 * and forged status updates for another project's message, and publishes and subscriptions on
 * random topics and wildcards against the ACL. Properties:
 * - a well-formed publish on A's own status/inbox/presence is acknowledged (PUBACK) and the
 *   connection stays up, whatever the payload (issue 10: no resend loop);
 * - a publish anywhere else closes the connection; a subscription to anything but A's own outbox
 *   and control gets 0x80 (or the malformed SUBSCRIBE closes the connection);
 * - an announced packet over the device limit closes the connection;
 * - nothing of A reaches another device (B listens on its topics the whole time), A receives
 *   nothing foreign, and A's forged reports do not move another device's message;
 * - afterwards the broker and the workers still serve: a normal OTP reaches the reference device.
 * Bounded in count (FUZZ_RUNS) and time (FUZZ_TIME_MS); FUZZ_SEED replays a run.
 */
import test from 'ava';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { MAX_DEVICE_PACKET_BYTES } from '../../broker/packet-guard.js';
import { MAX_RETAINED_PAYLOAD_BYTES } from '../../broker/retain-policy.js';
import { sessionKeyPrefix } from '../../broker/session-store.js';
import type { Queues } from '../../core/queues.js';
import type { LinkResult, OutboxMessage } from '../../protocol/payloads.js';
import { connectRaw, deviceOptions } from '../helpers/mqtt.js';
import { REDIS_URL, createProject, linkNewDevice, startPhone, useSmx, type TestSmx } from '../helpers/smx.js';
import { PINGREQ, RawClient, connectPacket, header, publishPacket, subscribePacket } from '../broker/_raw-mqtt.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'security-mqtt-fuzz');

/** Inputs tried; FUZZ_RUNS raises it for a longer local run. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
/** The fuzz stops (passing) after this even if RUNS are not done. */
const TIME_LIMIT_MS = Number(process.env.FUZZ_TIME_MS ?? 30_000);
/** How long an input may take to get its answer (PUBACK, SUBACK, PINGRESP or the close). */
const ANSWER_MS = 1500;

interface Devices {
  a: LinkResult;
  b: LinkResult;
  /** A device of another project, away, with one QUEUED OTP A tries to forge reports for. */
  c: LinkResult;
  cKey: string;
  cMessageId: string;
}

/** What one input is and what the broker must do with it. */
type Input =
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'truncated'; packet: Uint8Array; cut: number }
  | { kind: 'huge'; first: number; length: number }
  | { kind: 'publish'; topic: string; payload: Uint8Array; retain: boolean; qos: 0 | 1 }
  | { kind: 'subscribe'; filters: Uint8Array[] };

interface Counts {
  tried: number;
  byKind: Record<string, number>;
  acked: number;
  refusedPublishes: number;
  refusedFilters: number;
  grantedFilters: number;
  closed: number;
  deliveredForeign: number;
}

const own = (d: LinkResult) => [d.topics.status, d.topics.inbox, d.topics.presence];
const utf8 = (s: string) => Buffer.from(s, 'utf8');

/** Topics and filters: A's and B's own, wildcards, reserved, near misses and random strings. */
function topics(d: Devices): fc.Arbitrary<string> {
  const a = d.a.deviceId;
  const b = d.b.deviceId;
  const fixed = fc.constantFrom(
    '#',
    '+',
    'smx/#',
    'smx/+',
    'smx/v1/devices/+/outbox',
    'smx/v1/devices/+/+',
    'smx/v1/devices/#',
    'smx/v1/+/+/status',
    d.b.topics.outbox,
    d.b.topics.control,
    d.b.topics.status,
    `smx/v1/devices/${b}/#`,
    d.c.topics.outbox,
    d.a.topics.outbox,
    d.a.topics.control,
    d.a.topics.status,
    d.a.topics.inbox,
    d.a.topics.presence,
    `smx/v1/devices/${a}/#`,
    `smx/v1/devices/${a}/+`,
    `smx/v1/devices/${a}/outbox/`,
    `/smx/v1/devices/${a}/outbox`,
    `smx/v1/devices/${a.toLowerCase()}/outbox`,
    `smx//v1/devices/${a}/outbox`,
    `smx/v1/devices/${a}/outbox/#`,
    '$SYS/#',
    '$SYS/+/new/clients',
    '$share/g/smx/v1/devices/+/outbox',
    `$share/g/${d.a.topics.outbox}`,
    'smx/internal/kick',
    `smx/v1/devices/${a}/status\u0000`,
    `smx/v1/devices/${a}/ status`,
    'a/#/b',
    '#/x',
    'sport+',
    '',
  );
  const level = fc.oneof(
    fc.constantFrom(
      'smx',
      'v1',
      'devices',
      a,
      b,
      '+',
      '#',
      'outbox',
      'control',
      'status',
      'inbox',
      'presence',
      '',
      '$SYS',
      '\u0000',
    ),
    fc.string({ maxLength: 8 }),
  );
  const composed = fc.array(level, { minLength: 1, maxLength: 7 }).map((levels) => levels.join('/'));
  return fc.oneof(
    { weight: 4, arbitrary: fixed },
    { weight: 2, arbitrary: composed },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  );
}

/** Hostile payloads: deep JSON, NUL, invalid UTF-8, prototype keys, wrong shapes, large, forged reports. */
function payloads(d: Devices): fc.Arbitrary<Buffer> {
  const at = new Date().toISOString();
  const deep = fc
    .integer({ min: 33, max: 20_000 })
    .chain((depth) =>
      fc.constantFrom(
        `{"updates":${'['.repeat(depth)}${']'.repeat(depth)}}`,
        `{"messages":[${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}]}`,
        `${'['.repeat(depth)}${']'.repeat(depth)}`,
      ),
    );
  const forged = fc
    .constantFrom('sent', 'delivered', 'failed', 'DELIVERED', 'queued')
    .map((state) => JSON.stringify({ updates: [{ id: d.cMessageId, state, at, error: 'RADIO_OFF' }] }));
  const shaped = fc.oneof(
    fc.constantFrom(
      '{"__proto__":{"admin":true},"updates":[]}',
      `{"updates":[{"__proto__":{"state":"delivered"},"id":"${d.cMessageId}"}]}`,
      '{"constructor":{"prototype":{"polluted":1}},"messages":[{"from":"+1","body":"x","receivedAt":"now"}]}',
      '{"updates":"string"}',
      '{"updates":[1,null,"x",[],{}]}',
      '{"messages":[{"from":123,"body":null}]}',
      '{"online":"yes","battery":1e309,"sims":{"length":1e9}}',
      '{"updates":[{"id":"msg_\\u0000","state":"sent","at":"\\u0000"}]}',
      '{"a":"\\ud800"}',
      '{}',
      '[]',
      'null',
      '1e999',
      '"str"',
      '{"updates":[',
      '',
    ),
    fc.jsonValue({ maxDepth: 6 }).map((value) => JSON.stringify(value) ?? 'null'),
    fc
      .record({
        updates: fc.array(
          fc.record({ id: fc.oneof(fc.constant(d.cMessageId), fc.string()), state: fc.string(), at: fc.string() }),
          { maxLength: 5 },
        ),
      })
      .map((v) => JSON.stringify(v)),
  );
  const invalidUtf8 = fc.constantFrom(
    Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    Buffer.from([0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xf8, 0x88, 0x80, 0x80, 0x80]),
    Buffer.concat([utf8('{"updates":[],"x":"'), Buffer.from([0x00, 0xc3]), utf8('"}')]),
  );
  const large = fc.integer({ min: 1, max: 300 * 1024 }).map((n) => utf8(`{"updates":[],"pad":"${'x'.repeat(n)}"}`));
  return fc.oneof(
    { weight: 3, arbitrary: deep.map(utf8) },
    { weight: 3, arbitrary: forged.map(utf8) },
    { weight: 4, arbitrary: shaped.map(utf8) },
    { weight: 2, arbitrary: invalidUtf8 },
    { weight: 1, arbitrary: large },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)) },
  );
}

function inputs(d: Devices): fc.Arbitrary<Input> {
  const ownTopic = fc.constantFrom(...own(d.a));
  const publish = fc.record({
    kind: fc.constant('publish' as const),
    topic: fc.oneof({ weight: 3, arbitrary: ownTopic }, { weight: 2, arbitrary: topics(d) }),
    payload: payloads(d),
    retain: fc.boolean(),
    qos: fc.constantFrom(0 as const, 1 as const, 1 as const),
  });
  const filter = fc.oneof(
    topics(d).map(utf8),
    fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b)),
  );
  return fc.oneof(
    { weight: 5, arbitrary: publish },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('subscribe' as const),
        filters: fc.array(filter, { minLength: 1, maxLength: 4 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('bytes' as const),
        bytes: fc.uint8Array({ minLength: 1, maxLength: 2048 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('truncated' as const),
        packet: fc.constant(publishPacket({ topic: d.a.topics.status, payload: '{"updates":[]}', messageId: 5 })),
        cut: fc.integer({ min: 1, max: 30 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('huge' as const),
        first: fc.constantFrom(0x30, 0x32, 0x82, 0x10, 0xc0),
        length: fc.integer({ min: MAX_DEVICE_PACKET_BYTES + 1, max: 268_435_455 }),
      }),
    },
  );
}

/** Runs one input on a fresh connection of A and checks what the broker did. Throws on a violation. */
async function runInput(smx: TestSmx, d: Devices, input: Input, counts: Counts, messageId: number): Promise<void> {
  const a = await RawClient.tcp(smx.smx.broker!.tcpPort);
  try {
    a.send(
      connectPacket({
        clientId: d.a.mqtt.clientId,
        username: d.a.mqtt.username,
        password: d.a.mqtt.password,
        clean: true,
      }),
    );
    const connack = await a.next('connack', ANSWER_MS);
    if (connack?.returnCode !== 0) throw new Error(`A was not connected: ${JSON.stringify(connack)}`);
    counts.tried++;
    counts.byKind[input.kind] = (counts.byKind[input.kind] ?? 0) + 1;
    switch (input.kind) {
      case 'bytes':
        a.send(Buffer.from(input.bytes));
        a.send(PINGREQ);
        await a.next('pingresp', 300);
        break;
      case 'truncated':
        a.send(Buffer.from(input.packet.subarray(0, Math.min(input.cut, input.packet.length - 1))));
        a.end();
        if (!(await a.closesWithin(ANSWER_MS)))
          throw new Error('a truncated packet followed by FIN left the connection open');
        break;
      case 'huge':
        a.send(header(input.first, input.length));
        if (!(await a.closesWithin(ANSWER_MS)))
          throw new Error(`a packet announcing ${input.length} bytes did not close the connection`);
        break;
      case 'publish': {
        const packet = publishPacket({
          topic: input.topic,
          payload: Buffer.from(input.payload),
          qos: input.qos,
          messageId,
          retain: input.retain,
        });
        const allowed = own(d.a).includes(input.topic);
        const remainingLength = 2 + Buffer.byteLength(input.topic) + (input.qos > 0 ? 2 : 0) + input.payload.length;
        a.send(packet);
        if (!allowed || remainingLength > MAX_DEVICE_PACKET_BYTES) {
          if (!(await a.closesWithin(ANSWER_MS)))
            throw new Error(`a publish to ${JSON.stringify(input.topic)} (${packet.length} bytes) was not refused`);
          counts.refusedPublishes++;
          break;
        }
        if (input.qos === 1) {
          if (!(await a.next('puback', ANSWER_MS, (p) => p.messageId === messageId))) {
            throw new Error(
              `no PUBACK for a ${input.payload.length}-byte publish on ${input.topic}: ${Buffer.from(input.payload.subarray(0, 80)).toString('hex')}`,
            );
          }
          counts.acked++;
        }
        a.send(PINGREQ);
        if (!(await a.next('pingresp', ANSWER_MS)))
          throw new Error(`the connection did not survive a publish on ${input.topic}`);
        break;
      }
      case 'subscribe': {
        a.send(
          subscribePacket(
            messageId,
            input.filters.map((f) => Buffer.from(f)),
          ),
        );
        const suback = await a.next('suback', ANSWER_MS, (p) => p.messageId === messageId);
        if (!suback) {
          // aedes closes on a malformed SUBSCRIBE (invalid UTF-8, NUL, '#' not last): a refusal too.
          if (!(await a.closesWithin(ANSWER_MS))) throw new Error('a SUBSCRIBE got neither a SUBACK nor a close');
          counts.refusedFilters += input.filters.length;
          break;
        }
        // aedes answers once per distinct filter, in the order each first appears (lib/handlers/
        // subscribe.js _dedupe), where MQTT 3.1.1 asks for one code per filter [MQTT-3.8.4-5]; see
        // docs/device-protocol.md §4. The phone never repeats a filter in one SUBSCRIBE.
        const distinct = [...new Set(input.filters.map((f) => Buffer.from(f).toString('utf8')))];
        if (suback.granted.length !== distinct.length)
          throw new Error(`SUBACK has ${suback.granted.length} codes for ${distinct.length} distinct filters`);
        suback.granted.forEach((code, i) => {
          const filter = distinct[i]!;
          const mine = filter === d.a.topics.outbox || filter === d.a.topics.control;
          if (mine ? code === 0x80 : code !== 0x80) throw new Error(`SUBACK ${code} for ${JSON.stringify(filter)}`);
          if (code === 0x80) counts.refusedFilters++;
          else counts.grantedFilters++;
        });
        break;
      }
    }
    // Whatever A got must be on its own outbox or control.
    for (const packet of a.packets) {
      if (packet.cmd === 'publish' && packet.topic !== d.a.topics.outbox && packet.topic !== d.a.topics.control) {
        counts.deliveredForeign++;
        throw new Error(`A received ${packet.topic}`);
      }
    }
  } finally {
    if (a.isClosed) counts.closed++;
    a.destroy();
    await a.closed;
  }
}

test('hostile MQTT from an authenticated device is refused or acknowledged, reaches no one else, and leaves SMX serving', async (t) => {
  t.timeout(110_000);
  const smx = current();
  const first = await createProject(smx, 'MQTT fuzz');
  const a = await linkNewDevice(smx, first.projectId, 'Fuzzer A');
  const b = await linkNewDevice(smx, first.projectId, 'Listener B');
  const other = await createProject(smx, 'MQTT fuzz, other project');
  const c = await linkNewDevice(smx, other.projectId, 'Away C');
  const queued = await smx.api(other.key, 'POST', '/v1/send-otp', { to: '+14155550171' });
  t.is(queued.status, 201, JSON.stringify(queued.body));
  const d: Devices = { a, b, c, cKey: other.key, cMessageId: queued.body.data.messageId };

  // B listens on its own topics for the whole run; it must get nothing.
  const listener = await connectRaw(t, `mqtt://127.0.0.1:${smx.smx.broker!.tcpPort}`, deviceOptions(b));
  const toB: string[] = [];
  listener.on('message', (topic) => void toB.push(topic));
  await listener.subscribeAsync([b.topics.outbox, b.topics.control], { qos: 1 });

  const counts: Counts = {
    tried: 0,
    byKind: {},
    acked: 0,
    refusedPublishes: 0,
    refusedFilters: 0,
    grantedFilters: 0,
    closed: 0,
    deliveredForeign: 0,
  };
  let messageId = 0;
  const started = Date.now();
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
  const property = fc.asyncProperty(inputs(d), async (input) =>
    runInput(smx, d, input, counts, (messageId = (messageId % 65_000) + 1)),
  );
  const result = await fc.check(property, {
    numRuns: RUNS,
    seed,
    endOnFailure: true,
    interruptAfterTimeLimit: TIME_LIMIT_MS,
    markInterruptAsFailure: false,
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  counts.deliveredForeign += toB.length;
  t.log(
    `mqtt fuzz (FUZZ_SEED=${seed}): ${counts.tried} inputs tried in ${seconds} s ${JSON.stringify(counts.byKind)}; ` +
      `publishes acknowledged ${counts.acked}, publishes refused ${counts.refusedPublishes}, filters refused ${counts.refusedFilters}, ` +
      `filters granted ${counts.grantedFilters}, connections closed by the broker ${counts.closed}; delivered-foreign ${counts.deliveredForeign}`,
  );
  t.false(
    result.failed,
    result.failed
      ? `${String((result.errorInstance as Error | undefined)?.message)}\ncounterexample: ${JSON.stringify(result.counterexample)?.slice(0, 800)} (FUZZ_SEED=${seed})`
      : '',
  );
  t.true(counts.tried >= Math.min(RUNS, 50), `at least 50 inputs were tried (${counts.tried})`);
  t.is(counts.deliveredForeign, 0, `B received: ${toB.join(', ')}`);
  t.true(
    counts.acked > 0 && counts.refusedPublishes > 0 && counts.refusedFilters > 0,
    'acknowledgements and refusals were both reached',
  );

  // The workers took every report A made; none of them moved C's message.
  const deviceEvents = smx.smx.container.resolve<Queues>(Symbol.for('smx.Queues')).deviceEvents;
  await eventually(
    async () =>
      Object.values(await deviceEvents.getJobCounts('waiting', 'active', 'delayed', 'prioritized')).every(
        (n) => n === 0,
      ),
    30_000,
    'the device events to drain',
  );
  t.is(
    (await smx.api(d.cKey, 'GET', `/v1/messages/${d.cMessageId}`)).body.data.status,
    'QUEUED',
    "A's forged reports did not move C's message",
  );

  // Only presence up to the cap is retained.
  const redis = new Redis(REDIS_URL);
  t.teardown(() => redis.disconnect());
  const retained = await redis.hgetallBuffer(`${sessionKeyPrefix(smx.redisPrefix)}retained`);
  for (const [topic, value] of Object.entries(retained)) {
    t.true(
      topic.endsWith('/presence') && value.length <= MAX_RETAINED_PAYLOAD_BYTES + 1024,
      `retained ${topic} (${value.length} bytes)`,
    );
  }

  // Still serving: the broker is ready, B (the reference device) gets a normal OTP, and C gets the one that waited.
  t.true(smx.smx.broker!.ready());
  await listener.endAsync();
  const onB: OutboxMessage[] = [];
  await startPhone(t, b, { onSend: (m) => void onB.push(m) });
  const sent = await smx.api(first.key, 'POST', '/v1/send-otp', { to: '+14155550172' });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  t.is(sent.body.data.deviceId, b.deviceId);
  await eventually(
    async () => onB.some((m) => m.id === sent.body.data.messageId),
    15_000,
    'the OTP on the reference device',
  );
  await eventually(
    async () =>
      (await smx.api(first.key, 'GET', `/v1/messages/${sent.body.data.messageId}`)).body.data.status === 'DELIVERED',
    15_000,
    'DELIVERED',
  );
  await startPhone(t, c);
  await eventually(
    async () => (await smx.api(d.cKey, 'GET', `/v1/messages/${d.cMessageId}`)).body.data.status === 'DELIVERED',
    15_000,
    "C's message DELIVERED by C",
  );
  t.false(/Maximum call stack|uncaught|unhandled/i.test(smx.logs()), 'nothing overflowed or escaped inside the server');
});
