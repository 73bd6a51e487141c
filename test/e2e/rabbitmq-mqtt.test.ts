/**
 * RabbitMQ 3.10's MQTT plugin as SMX's external broker (`SMX_MQTT_URL`), with SMX as RabbitMQ's
 * HTTP auth backend (`SMX_MQTT_AUTH_HTTP_TOKEN`, README "External broker: RabbitMQ"): phones log
 * in with their SMX credentials, reach only their own topics, get their OTPs and report them, and
 * their presence payloads make them online and offline. Everything is real: the RabbitMQ of the
 * machine (its MQTT listener on 127.0.0.1:1885, set up by scripts/rabbitmq-mqtt.sh;
 * SMX_TEST_RABBITMQ_MQTT_URL overrides), SMX on PostgreSQL and Redis, mqtt.js clients as phones.
 *
 * RabbitMQ's auth_http paths are settings of the whole node: before SMX starts they are pointed at
 * this file's SMX (`rabbitmqctl eval`, effective at once) and put back afterwards, so two runs of
 * this file at the same moment on one machine would disturb each other.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import test from 'ava';
import mqtt, { type MqttClient } from 'mqtt';
import { ConfigError, loadConfig } from '../../core/config.js';
import type { Queues } from '../../core/queues.js';
import { TOKENS } from '../../core/tokens.js';
import type { LinkResult, OutboxMessage } from '../../protocol/payloads.js';
import { closed, closeRaw, connectRaw, deviceOptions, type ConnackRefusal } from '../helpers/mqtt.js';
import { freePort } from '../helpers/processes.js';
import {
  cleanupTestSmx,
  createProject,
  linkNewDevice,
  queuesIdle,
  startPhone,
  startTestSmx,
  type TestSmx,
} from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const RABBITMQ_MQTT_URL = process.env.SMX_TEST_RABBITMQ_MQTT_URL ?? 'mqtt://127.0.0.1:1885';
const TOKEN = randomBytes(32).toString('hex');
const QUESTIONS = ['user', 'vhost', 'resource', 'topic'] as const;
const execFileAsync = promisify(execFile);

/** Evaluates an Erlang expression on the RabbitMQ node and returns what it printed. */
async function rabbitEval(expression: string): Promise<string> {
  const { stdout } = await execFileAsync('rabbitmqctl', ['-q', 'eval', expression], { timeout: 30_000 });
  return stdout.trim();
}

/** Points RabbitMQ's HTTP auth backend at `base` + `/{question}` for the four questions. */
async function pointAuthHttpAt(base: string): Promise<void> {
  const sets = QUESTIONS.map(
    (question) => `application:set_env(rabbitmq_auth_backend_http, ${question}_path, "${base}/${question}")`,
  );
  await rabbitEval(`${sets.join(', ')}.`);
}

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Devices whose RabbitMQ session and retained presence are removed at the end. */
const linked: LinkResult[] = [];
let previousPaths = '';
let instance: TestSmx | undefined;

test.before(async () => {
  if (!(await reachable(RABBITMQ_MQTT_URL))) {
    throw new Error(`RabbitMQ's MQTT listener does not answer at ${RABBITMQ_MQTT_URL}: run scripts/rabbitmq-mqtt.sh`);
  }
  previousPaths = await rabbitEval(
    `[{K, application:get_env(rabbitmq_auth_backend_http, K)} || K <- [${QUESTIONS.map((q) => `${q}_path`).join(', ')}]].`,
  );
  // RabbitMQ must know SMX's port before SMX starts: SMX's own clients log in through it.
  const port = await freePort();
  await pointAuthHttpAt(`http://127.0.0.1:${port}/mqtt-auth/${TOKEN}`);
  instance = await startTestSmx('rabbitmq-mqtt', {
    env: { SMX_HTTP_PORT: String(port), SMX_MQTT_URL: RABBITMQ_MQTT_URL, SMX_MQTT_AUTH_HTTP_TOKEN: TOKEN },
  });
});

test.after.always(async () => {
  // Leave RabbitMQ as found (while SMX, which RabbitMQ asks, still runs): a phone's persistent
  // session queue goes with a clean-session connect, its retained presence with an empty
  // retained publish; then SMX closes and the old auth paths come back.
  for (const device of instance ? linked : []) {
    const client = await mqtt.connectAsync(
      RABBITMQ_MQTT_URL,
      { ...deviceOptions(device), protocolVersion: 4, reconnectPeriod: 0 },
      false,
    );
    await client.publishAsync(device.topics.presence, '', { qos: 1, retain: true });
    await client.endAsync();
  }
  if (instance) {
    await instance.close();
    await cleanupTestSmx(instance);
  }
  const match = /user_path,\{ok,"([^"]*)\/user"\}/.exec(previousPaths);
  if (match) await pointAuthHttpAt(match[1]!);
});

function current(): TestSmx {
  if (!instance) throw new Error('SMX is not started');
  return instance;
}

async function linkDevice(smx: TestSmx, projectId: string, name: string): Promise<LinkResult> {
  const device = await linkNewDevice(smx, projectId, name);
  linked.push(device);
  return device;
}

/** The routes of the auth requests SMX answered so far, counted from its access log. */
function authRequests(smx: TestSmx): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of smx.logs().split('\n')) {
    const match = /"route":"\/mqtt-auth\/:token\/(\w+)"/.exec(line);
    if (match) counts.set(match[1]!, (counts.get(match[1]!) ?? 0) + 1);
  }
  return counts;
}

async function onlineOf(smx: TestSmx, key: string): Promise<boolean> {
  return (await smx.api(key, 'GET', '/v1/status')).body.data.device.online as boolean;
}

test.serial(
  'a phone logs in to RabbitMQ with its SMX credentials, gets its OTP, and its reports make it DELIVERED',
  async (t) => {
    const smx = current();
    const { projectId, key } = await createProject(smx, 'RabbitMQ phones');
    const phone = await linkDevice(smx, projectId, 'RabbitMQ phone');
    t.is(phone.mqtt.url, RABBITMQ_MQTT_URL, 'SMX hands the phone the external broker');

    const received: OutboxMessage[] = [];
    const device = await startPhone(t, phone, { onSend: (m) => void received.push(m) });
    await eventually(() => onlineOf(smx, key), 10_000, 'the phone online from its retained presence');

    const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345678', code: '482913' });
    t.is(sent.status, 201, JSON.stringify(sent.body));
    const messageId = sent.body.data.messageId as string;
    const sms = await eventually(async () => received.find((m) => m.id === messageId), 15_000, 'the OTP in the outbox');
    t.regex((sms as { body: string }).body, /482913/);
    await eventually(
      async () => (await smx.api(key, 'GET', `/v1/messages/${messageId}`)).body.data.status === 'DELIVERED',
      15_000,
      'DELIVERED from the phone status reports',
    );
    const message = (await smx.api(key, 'GET', `/v1/messages/${messageId}`)).body.data;
    t.truthy(message.sentAt);
    t.truthy(message.deliveredAt);

    // A graceful stop publishes the retained offline presence.
    await device.stop();
    await eventually(async () => !(await onlineOf(smx, key)), 10_000, 'the phone offline');

    // RabbitMQ asked SMX every one of its four questions on the way.
    const asked = authRequests(smx);
    for (const question of QUESTIONS) t.true((asked.get(question) ?? 0) > 0, `RabbitMQ asked ${question}`);
    t.false(smx.logs().includes(TOKEN), 'the token is not logged');
    t.false(smx.logs().includes(phone.mqtt.password), 'the device secret is not logged');
  },
);

test.serial("a dropped phone's will makes it offline", async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx, 'RabbitMQ will');
  const phone = await linkDevice(smx, projectId, 'Will phone');
  const client = await connectRaw(
    t,
    RABBITMQ_MQTT_URL,
    deviceOptions(phone, {
      keepalive: 30,
      will: { topic: phone.topics.presence, payload: Buffer.from('{"online":false}'), qos: 1, retain: true },
    }),
  );
  await client.publishAsync(phone.topics.presence, JSON.stringify({ online: true, battery: 71 }), {
    qos: 1,
    retain: true,
  });
  await eventually(() => onlineOf(smx, key), 10_000, 'online from the presence payload');
  t.is((await smx.api(key, 'GET', '/v1/status')).body.data.device.battery, 71);

  // The connection drops without a DISCONNECT: RabbitMQ publishes the will.
  client.stream.destroy();
  await eventually(async () => !(await onlineOf(smx, key)), 10_000, 'offline from the will');
});

/** A connection refused at CONNACK: its return code. */
async function refusedCode(t: Parameters<typeof connectRaw>[0], options: Parameters<typeof connectRaw>[2]) {
  return connectRaw(t, RABBITMQ_MQTT_URL, options).then(
    () => null,
    (error: ConnackRefusal) => error.code,
  );
}

test.serial('wrong credentials and borrowed identities are refused at CONNACK', async (t) => {
  const smx = current();
  const { projectId } = await createProject(smx, 'RabbitMQ refusals');
  const a = await linkDevice(smx, projectId, 'A');
  const b = await linkDevice(smx, projectId, 'B');

  t.is(await refusedCode(t, deviceOptions(a, { password: `${a.mqtt.password}x` })), 4, 'a wrong secret');
  t.is(await refusedCode(t, deviceOptions(a, { password: b.mqtt.password })), 4, "another device's secret");
  t.is(await refusedCode(t, deviceOptions(a, { clientId: b.deviceId })), 4, "A's credentials under B's client id");
  t.is(
    await refusedCode(t, {
      clientId: 'dev_AAAAAAAAAAAAAAAAAAAAAA',
      username: 'dev_AAAAAAAAAAAAAAAAAAAAAA',
      password: 'x',
    }),
    4,
    'an unknown device',
  );
  t.is(
    await refusedCode(t, { clientId: 'smx-srv-forged', username: 'smx-internal', password: 'guess' }),
    4,
    'the internal user name with a guessed password',
  );
  // A's own credentials still log in.
  const ok = await connectRaw(t, RABBITMQ_MQTT_URL, deviceOptions(a));
  t.true(ok.connected);
});

/** Waits for the close RabbitMQ answers a refused SUBSCRIBE or PUBLISH with. */
async function refusedAndClosed(client: MqttClient, act: () => void, what: string): Promise<void> {
  const gone = closed(client);
  act();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    gone,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`RabbitMQ did not close the connection after ${what}`)), 10_000);
    }),
  ]).finally(() => clearTimeout(timer));
}

test.serial("a phone cannot subscribe to another phone's outbox or publish its status", async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx, 'RabbitMQ ACL');
  const a = await linkDevice(smx, projectId, 'A');
  const b = await linkDevice(smx, projectId, 'B'); // the active device: the OTP goes to B

  // B sends and reports `sent` but never `delivered`: the message rests at SENT.
  const onB: OutboxMessage[] = [];
  await startPhone(t, b, { report: { sent: true, delivered: false }, onSend: (m) => void onB.push(m) });

  // A subscribes to B's outbox: RabbitMQ asks SMX, SMX says no, RabbitMQ closes A's connection.
  const spy = await connectRaw(t, RABBITMQ_MQTT_URL, deviceOptions(a));
  const seen: string[] = [];
  spy.on('message', (topic) => void seen.push(topic));
  const granted: unknown[] = [];
  await refusedAndClosed(
    spy,
    () =>
      spy.subscribe(
        b.topics.outbox,
        { qos: 1 },
        (error, grants) => void granted.push(...(error ? [] : (grants ?? []))),
      ),
    "the subscription to B's outbox",
  );
  t.false(spy.connected, 'the foreign subscription cost the connection');
  t.deepEqual(granted, [], 'no SUBACK granted it');

  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345679' });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  const messageId = sent.body.data.messageId as string;
  await eventually(
    async () => (await smx.api(key, 'GET', `/v1/messages/${messageId}`)).body.data.status === 'SENT',
    15_000,
    'SENT by B',
  );
  t.true(
    onB.some((m) => m.id === messageId),
    'B got its OTP',
  );
  t.deepEqual(seen, [], 'A saw nothing of B');

  // A forges B's `delivered`: refused and closed, never acknowledged.
  const forger = await connectRaw(t, RABBITMQ_MQTT_URL, deviceOptions(a));
  const pubacks: number[] = [];
  forger.on('packetreceive', (packet) => {
    if (packet.cmd === 'puback') pubacks.push(packet.messageId ?? -1);
  });
  const forged = JSON.stringify({ updates: [{ id: messageId, state: 'delivered', at: new Date().toISOString() }] });
  await refusedAndClosed(
    forger,
    () => forger.publish(b.topics.status, forged, { qos: 1 }),
    "the publish on B's status",
  );
  t.deepEqual(pubacks, [], 'the forged publish was not acknowledged');
  await closeRaw(forger);

  // A marker through the same path: A's own (allowed) empty report, after which the queue drains.
  const back = await connectRaw(t, RABBITMQ_MQTT_URL, deviceOptions(a));
  await back.publishAsync(a.topics.status, JSON.stringify({ updates: [] }), { qos: 1 });
  const queues = smx.smx.container.resolve<Queues>(TOKENS.Queues);
  await eventually(
    async () =>
      (await queues.deviceEvents.getJobs(['completed', 'failed', 'waiting', 'active'])).some(
        (job) => job.data.deviceId === a.deviceId && job.data.channel === 'status',
      ),
    10_000,
    "A's own report as a job",
  );
  await queuesIdle(smx, ['deviceEvents']);
  const message = (await smx.api(key, 'GET', `/v1/messages/${messageId}`)).body.data;
  t.is(message.status, 'SENT', 'the forged report changed nothing');
  t.is(message.deliveredAt, null);
});

test.serial('the endpoints answer RabbitMQ only, in its form, and stay out of the OpenAPI document', async (t) => {
  const smx = current();
  const { projectId } = await createProject(smx, 'RabbitMQ endpoints');
  const a = await linkDevice(smx, projectId, 'A');
  const ask = async (question: string, fields: Record<string, string>, token = TOKEN, method = 'POST') => {
    const body = new URLSearchParams(fields).toString();
    const response = await fetch(
      `${smx.url}/mqtt-auth/${token}/${question}${method === 'GET' ? `?${body}` : ''}`,
      method === 'GET' ? {} : { method, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body },
    );
    return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
  };
  const login = { username: a.deviceId, password: a.mqtt.password, vhost: '/', client_id: a.deviceId };

  const allowed = await ask('user', login);
  t.deepEqual([allowed.status, allowed.text], [200, 'allow']);
  t.regex(allowed.type ?? '', /^text\/plain/);
  t.is((await ask('user', login, TOKEN, 'GET')).text, 'allow', 'GET with a query string too');
  t.is((await ask('user', { ...login, client_id: '' })).text, 'deny', 'no client id: not an MQTT connection');
  t.is((await ask('user', { ...login, password: 'nope' })).text, 'deny');

  const who = { username: a.deviceId, vhost: '/', client_id: a.deviceId };
  t.is((await ask('vhost', { ...who, ip: '127.0.0.1' })).text, 'allow');
  t.is((await ask('vhost', { ...who, vhost: 'other', ip: '127.0.0.1' })).text, 'deny', 'only the configured vhost');
  const resource = (resource: string, name: string, permission: string) =>
    ask('resource', { ...who, resource, name, permission });
  t.is((await resource('queue', `mqtt-subscription-${a.deviceId}qos1`, 'configure')).text, 'allow');
  t.is((await resource('queue', 'mqtt-subscription-dev_otherqos1', 'read')).text, 'deny', "another client's queue");
  t.is((await resource('queue', 'orders', 'read')).text, 'deny');
  t.is((await resource('exchange', 'amq.topic', 'write')).text, 'allow');
  t.is((await resource('exchange', 'amq.topic', 'configure')).text, 'deny');
  t.is((await resource('exchange', 'amq.direct', 'write')).text, 'deny');
  const topic = (routingKey: string, permission: string) =>
    ask('topic', {
      username: a.deviceId,
      vhost: '/',
      resource: 'topic',
      name: 'amq.topic',
      permission,
      routing_key: routingKey,
      'variable_map.client_id': a.deviceId,
    });
  t.is((await topic(`smx.v1.devices.${a.deviceId}.outbox`, 'read')).text, 'allow');
  t.is((await topic(`smx.v1.devices.${a.deviceId}.status`, 'write')).text, 'allow');
  t.is((await topic(`smx.v1.devices.${a.deviceId}.outbox`, 'write')).text, 'deny');
  t.is((await topic('smx.v1.devices.*.outbox', 'read')).text, 'deny', 'a wildcard');
  t.is((await topic('#', 'read')).text, 'deny');
  const internal = { username: 'smx-internal', vhost: '/', 'variable_map.client_id': 'smx-srv-0a' };
  const internalTopic = (routingKey: string, permission: string) =>
    ask('topic', { ...internal, resource: 'topic', name: 'amq.topic', permission, routing_key: routingKey });
  t.is((await internalTopic('smx.v1.devices.*.status', 'read')).text, 'allow', 'the bridge subscribes to every phone');
  t.is((await internalTopic(`smx.v1.devices.${a.deviceId}.outbox`, 'write')).text, 'allow');
  t.is((await internalTopic('$share.smx.smx.v1.devices.*.status', 'read')).text, 'deny', 'no shared subscriptions');

  const wrong = await ask('user', login, 'x'.repeat(64));
  t.is(wrong.status, 404, 'another token is an unknown route');
  t.is(JSON.parse(wrong.text).error.code, 'NOT_FOUND');
  const openapi = await (await fetch(`${smx.url}/openapi.json`)).text();
  t.false(openapi.includes('mqtt-auth'), 'not in the OpenAPI document');
});

test('SMX_MQTT_AUTH_HTTP_TOKEN is off by default and refuses a guessable token or a vhost without it', (t) => {
  t.is(loadConfig({}).mqttAuthHttp, undefined);
  t.deepEqual(loadConfig({ SMX_MQTT_AUTH_HTTP_TOKEN: TOKEN }).mqttAuthHttp, { token: TOKEN, vhost: '/' });
  t.deepEqual(loadConfig({ SMX_MQTT_AUTH_HTTP_TOKEN: TOKEN, SMX_MQTT_AUTH_HTTP_VHOST: 'smx' }).mqttAuthHttp, {
    token: TOKEN,
    vhost: 'smx',
  });
  const short = t.throws(() => loadConfig({ SMX_MQTT_AUTH_HTTP_TOKEN: 'secret' }), { instanceOf: ConfigError });
  t.regex(short?.message ?? '', /^SMX_MQTT_AUTH_HTTP_TOKEN: expected 32 to 256 letters/);
  t.false(short?.message.includes('secret'), 'the bad token is not echoed');
  t.throws(() => loadConfig({ SMX_MQTT_AUTH_HTTP_TOKEN: `${TOKEN}/../x` }), { instanceOf: ConfigError });
  const orphan = t.throws(() => loadConfig({ SMX_MQTT_AUTH_HTTP_VHOST: 'smx' }), { instanceOf: ConfigError });
  t.is(orphan?.variable, 'SMX_MQTT_AUTH_HTTP_TOKEN');
});
