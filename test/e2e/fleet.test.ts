/**
 * A fleet, small enough for CI (issue 12): 300 phones of one project, linked 16 at a time (no
 * 500), connected at once, fed round-robin (every phone gets its share), then `smx start` killed
 * and started again while they are connected: every phone reconnects in the storm and nothing
 * accepted is lost. The phones are plain mqtt.js clients speaking device-protocol.md.
 */
import test from 'ava';
import mqtt, { type MqttClient } from 'mqtt';
import type { LinkResult } from '../../protocol/payloads.js';
import { Deployment } from '../helpers/deployment.js';
import { exited } from '../helpers/processes.js';
import { eventually } from '../helpers/eventually.js';

const PHONES = Number(process.env.FLEET_PHONES ?? 300);
const PARALLEL = 16;

/** Runs `work` over `items`, `parallel` at a time. */
async function inParallel<T, R>(
  items: T[],
  parallel: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!, index);
      }
    }),
  );
  return results;
}

interface Phone {
  client: MqttClient;
  received: Map<string, number>;
}

/** A phone: persistent session, QoS 1 outbox, reports sent and delivered at once. */
function connectPhone(credentials: LinkResult): Promise<Phone> {
  const received = new Map<string, number>();
  const client = mqtt.connect(credentials.mqtt.url, {
    clientId: credentials.mqtt.clientId,
    username: credentials.mqtt.username,
    password: credentials.mqtt.password,
    clean: false,
    keepalive: 60,
    protocolVersion: 4,
    // Jittered reconnects, as device-protocol phones should: a restart is not answered by a thundering herd.
    reconnectPeriod: 500 + Math.floor(Math.random() * 1000),
    connectTimeout: 30_000,
  });
  client.on('error', () => {});
  client.on('message', (topic, payload) => {
    if (!topic.endsWith('/outbox')) return;
    const { messages } = JSON.parse(payload.toString()) as { messages: Array<{ id: string }> };
    const at = new Date().toISOString();
    for (const { id } of messages) received.set(id, (received.get(id) ?? 0) + 1);
    client.publish(
      credentials.topics.status,
      JSON.stringify({
        updates: messages.flatMap(({ id }) => [
          { id, state: 'sent', at },
          { id, state: 'delivered', at },
        ]),
      }),
      { qos: 1 },
    );
  });
  return new Promise((resolve, reject) => {
    client.once('connect', (connack) => {
      const done = () => resolve({ client, received });
      if (connack.sessionPresent) done();
      else
        client.subscribe([credentials.topics.outbox, credentials.topics.control], { qos: 1 }, (error) =>
          error ? reject(error) : done(),
        );
    });
  });
}

test(`${PHONES} phones: parallel linking without 500s, round-robin gives every phone its share, a restart storm loses nothing`, async (t) => {
  t.timeout(180_000);
  // Every phone of this test connects from 127.0.0.1.
  const deployment = await Deployment.create(t, 'fleet', {
    SMX_MQTT_MAX_PENDING_PER_SOURCE: '5000',
    SMX_MQTT_CONNECT_RATE_PER_SOURCE: '10000',
  });
  const phones: Phone[] = [];
  t.teardown(() => Promise.all(phones.map((p) => p.client.endAsync(true).catch(() => undefined))));
  const { base } = deployment;
  const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    headers ? deployment.call(method, path, body, headers) : deployment.admin(method, path, body);
  let server = deployment.start('start');
  await deployment.ready();
  const project = (await call('POST', '/admin/projects', { name: 'fleet' })).body.data;
  t.is((await call('PATCH', `/admin/projects/${project.id}`, { routing: 'round-robin' })).status, 200);
  const key = (await call('POST', `/admin/projects/${project.id}/api-keys`, { name: 'k' })).body.data.key as string;

  // Linking, 16 at a time.
  let started = Date.now();
  const tokens = await inParallel(
    Array.from({ length: PHONES }),
    PARALLEL,
    async () => (await call('POST', `/admin/projects/${project.id}/link-tokens`)).body.data.token as string,
  );
  const links = await inParallel(tokens, PARALLEL, async (token, i) => {
    const response = await fetch(`${base}/v1/devices/link`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, name: `phone ${i}` }),
    });
    return { status: response.status, body: (await response.json()) as { data: LinkResult } };
  });
  const linkSeconds = (Date.now() - started) / 1000;
  t.deepEqual(
    links.filter((l) => l.status !== 201).map((l) => l.status),
    [],
    'every link 201',
  );
  const fleet = links.map((l) => l.body.data);
  await inParallel(fleet, PARALLEL, async (device) =>
    call('PATCH', `/admin/devices/${device.deviceId}`, { sendRatePerMinute: 0 }),
  );

  // All phones connect at once.
  started = Date.now();
  phones.push(...(await Promise.all(fleet.map(connectPhone))));
  const connectSeconds = (Date.now() - started) / 1000;
  const onlineCount = async () =>
    (
      (await call('GET', `/admin/projects/${project.id}/devices`)).body.data.devices as Array<{ online: boolean }>
    ).filter((d) => d.online).length;
  await eventually(async () => (await onlineCount()) === PHONES, 30_000, 'every phone online');

  // Round-robin: three messages per phone, one bulk.
  const recipients = Array.from({ length: PHONES * 3 }, (_, i) => `+49151${String(50_000_000 + i)}`);
  const bulk = await call('POST', '/v1/send-sms/bulk', { to: recipients, message: 'fleet' }, { 'x-smx-api-key': key });
  t.is(bulk.status, 202);
  t.is(bulk.body.data.accepted, recipients.length);
  const total = () => phones.reduce((sum, p) => sum + p.received.size, 0);
  await eventually(async () => total() === recipients.length, 60_000, 'the bulk at the phones');
  const shares = phones.map((p) => p.received.size);
  t.is(Math.min(...shares), 3, 'every phone got its share');
  t.is(Math.max(...shares), 3, 'and no phone more');

  // Restart under the fleet: kill -9, start again; the phones reconnect on their own.
  server.kill('SIGKILL');
  await exited(server);
  const queuedDuringRestart = recipients.length;
  server = deployment.start('start');
  await deployment.ready();
  started = Date.now();
  await eventually(
    async () => phones.every((p) => p.client.connected) && (await onlineCount()) === PHONES,
    60_000,
    'every phone back',
  );
  const stormSeconds = (Date.now() - started) / 1000;
  const after = await call(
    'POST',
    '/v1/send-sms/bulk',
    { to: recipients.slice(0, PHONES), message: 'after the restart' },
    { 'x-smx-api-key': key },
  );
  t.is(after.status, 202);
  await eventually(async () => total() === queuedDuringRestart + PHONES, 60_000, 'the second bulk at the phones');
  const twice = phones.reduce((sum, p) => sum + [...p.received.values()].filter((n) => n > 1).length, 0);
  t.log(
    `${PHONES} phones: linked in ${linkSeconds.toFixed(1)} s (${PARALLEL} at a time), connected in ${connectSeconds.toFixed(1)} s, back online ${stormSeconds.toFixed(1)} s after the restart; ${total()} messages received, ${twice} of them more than once (only unacknowledged ones may come again)`,
  );
});
