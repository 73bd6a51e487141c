/**
 * A share of the fleet of `npm run bench:fleet`, run as a forked child (fleet-pool.ts forks one
 * per FLEET_PHONES_PER_CHILD phones), so thousands of MQTT clients do not share the bench's event
 * loop. Each phone is a plain mqtt.js client speaking device-protocol.md: clientId = username =
 * device id, clean: false, QoS 1 subscriptions, a retained offline will, online presence on each
 * connect, the jittered reconnect backoff of the reference device, and `sent` + `delivered`
 * reported at once for every message.
 *
 * Per message id the child records when the first copy arrived, on which phone and when its
 * PUBACK was handed to the socket; every later copy of an id already received is kept with its
 * DUP flag (a redelivery must carry DUP=1; a new publish of an old message does not).
 */
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { reconnectWithBackoff } from '../../device/reference-device.js';
import { serveIpc } from './ipc.js';

/** What a phone needs of its link result (kept small: it crosses the IPC channel). */
export interface FleetCredentials {
  deviceId: string;
  url: string;
  password: string;
}

export interface ConnectOptions {
  keepaliveS: number;
  connectTimeoutMs: number;
  /** Base of the reconnect backoff (the reference device's default: 2000). */
  reconnectBaseMs: number;
}

/** The counters the bench polls. */
export interface FleetCount {
  phones: number;
  connected: number;
  /** Phones that have had at least one CONNACK since the last `connect`. */
  everConnected: number;
  /** Latest first-CONNACK time over all phones (ms since epoch), once every phone has one. */
  lastFirstConnackAt: number | null;
  connackTimeouts: number;
  /** Client errors other than CONNACK timeouts, by message. */
  errors: Record<string, number>;
  /** Distinct message ids received since the last reset. */
  received: number;
  /** Copies of an id already received. */
  copies: number;
  /** Of the ids given to `expect` since the last reset, how many were received. */
  expectedReceived: number;
}

/** One message's receipt: [id, first copy at, phone index, PUBACK handed over at]. */
export type Receipt = [id: string, at: number, phone: number, ackedAt: number];
/** A later copy: [id, at, DUP flag, phone index]. */
export type Copy = [id: string, at: number, dup: boolean, phone: number];

interface Phone {
  index: number;
  credentials: FleetCredentials;
  client?: MqttClient;
  firstConnackAt?: number;
  lastConnackAt?: number;
  connackTimeouts: number;
}

const phones: Phone[] = [];
let connackTimeouts = 0;
let errors: Record<string, number> = {};
let receipts = new Map<string, Receipt>();
let copies: Copy[] = [];
let expected = new Set<string>();
let expectedReceived = 0;
let connectStartedAt = 0;

function topic(phone: Phone, channel: string): string {
  return `smx/v1/devices/${phone.credentials.deviceId}/${channel}`;
}

function onOutbox(phone: Phone, client: MqttClient, packet: IPublishPacket): Receipt[] {
  const now = Date.now();
  let messages: Array<{ id: string }>;
  try {
    messages = (JSON.parse(packet.payload.toString()) as { messages: Array<{ id: string }> }).messages;
  } catch {
    errors['unparsable outbox'] = (errors['unparsable outbox'] ?? 0) + 1;
    return [];
  }
  const fresh: Receipt[] = [];
  for (const { id } of messages) {
    if (receipts.has(id)) copies.push([id, now, packet.dup, phone.index]);
    else {
      const receipt: Receipt = [id, now, phone.index, 0];
      receipts.set(id, receipt);
      fresh.push(receipt);
      if (expected.has(id)) expectedReceived++;
    }
  }
  const at = new Date(now).toISOString();
  // Fire and forget, as the reference device does: waiting for our own PUBACK inside the handler would stall the client.
  client.publish(
    topic(phone, 'status'),
    JSON.stringify({
      updates: messages.flatMap(({ id }) => [
        { id, state: 'sent', at },
        { id, state: 'delivered', at },
      ]),
    }),
    { qos: 1 },
  );
  return fresh;
}

function connectPhone(phone: Phone, options: ConnectOptions): void {
  const client = mqtt.connect(phone.credentials.url, {
    clientId: phone.credentials.deviceId,
    username: phone.credentials.deviceId,
    password: phone.credentials.password,
    clean: false,
    keepalive: options.keepaliveS,
    protocolVersion: 4,
    connectTimeout: options.connectTimeoutMs,
    reconnectPeriod: options.reconnectBaseMs,
    // CONNACK 3 "server unavailable" (credentials not checkable in time) is retried, as device-protocol phones do.
    reconnectOnConnackError: true,
    resubscribe: false,
    will: { topic: topic(phone, 'presence'), payload: Buffer.from('{"online":false}'), qos: 1, retain: true },
  });
  phone.client = client;
  reconnectWithBackoff(client, options.reconnectBaseMs);
  // The PUBACK goes out once the handler calls done: record first, so a copy after a crash is a real redelivery.
  client.handleMessage = (packet, done) => {
    const fresh = packet.topic.endsWith('/outbox') ? onOutbox(phone, client, packet) : [];
    done();
    const ackedAt = Date.now();
    for (const receipt of fresh) receipt[3] = ackedAt;
  };
  client.on('connect', (connack) => {
    const now = Date.now();
    phone.firstConnackAt ??= now;
    phone.lastConnackAt = now;
    const online = () =>
      client.publish(
        topic(phone, 'presence'),
        JSON.stringify({ online: true, battery: 100, charging: true, signal: 4, appVersion: 'fleet-bench', sims: [] }),
        { qos: 1, retain: true },
      );
    if (connack.sessionPresent) return online();
    client.subscribe({ [topic(phone, 'outbox')]: { qos: 1 }, [topic(phone, 'control')]: { qos: 1 } }, (error) => {
      if (error) errors[`subscribe: ${error.message}`] = (errors[`subscribe: ${error.message}`] ?? 0) + 1;
      else online();
    });
  });
  client.on('error', (error: Error & { code?: unknown }) => {
    if (error.message === 'connack timeout') {
      connackTimeouts++;
      phone.connackTimeouts++;
      return;
    }
    const key = typeof error.code === 'string' ? error.code : error.message;
    errors[key] = (errors[key] ?? 0) + 1;
  });
}

function count(): FleetCount {
  let connected = 0;
  let everConnected = 0;
  let lastFirst = 0;
  for (const phone of phones) {
    if (phone.client?.connected) connected++;
    if (phone.firstConnackAt !== undefined) {
      everConnected++;
      lastFirst = Math.max(lastFirst, phone.firstConnackAt);
    }
  }
  return {
    phones: phones.length,
    connected,
    everConnected,
    lastFirstConnackAt: everConnected === phones.length && phones.length > 0 ? lastFirst : null,
    connackTimeouts,
    errors,
    received: receipts.size,
    copies: copies.length,
    expectedReceived,
  };
}

serveIpc({
  add(args: { devices: FleetCredentials[] }) {
    for (const credentials of args.devices) phones.push({ index: phones.length, credentials, connackTimeouts: 0 });
    return phones.length;
  },
  /** Every phone starts connecting in the same tick (the storm); answers at once. */
  connect(args: ConnectOptions) {
    connectStartedAt = Date.now();
    connackTimeouts = 0;
    errors = {};
    for (const phone of phones) {
      phone.firstConnackAt = undefined;
      phone.connackTimeouts = 0;
      connectPhone(phone, args);
    }
    return connectStartedAt;
  },
  count,
  /** Per phone: [first CONNACK since `connect`, latest CONNACK] (ms since epoch; null: none yet). */
  connackTimes() {
    return phones.map((p) => [p.firstConnackAt ?? null, p.lastConnackAt ?? null] as const);
  },
  reset() {
    receipts = new Map();
    copies = [];
    expected = new Set();
    expectedReceived = 0;
    return true;
  },
  /** Ids to count in `expectedReceived` (those already received count at once). */
  expect(args: { ids: string[] }) {
    for (const id of args.ids) {
      if (expected.has(id)) continue;
      expected.add(id);
      if (receipts.has(id)) expectedReceived++;
    }
    return expected.size;
  },
  /** Every receipt and copy since the last reset. */
  dump(): { receipts: Receipt[]; copies: Copy[] } {
    return { receipts: [...receipts.values()], copies };
  },
  async stop() {
    await Promise.all(phones.map((p) => p.client?.endAsync(true).catch(() => undefined)));
    return true;
  },
});
