/**
 * The bridge for an external MQTT broker (`SMX_MQTT_URL`: EMQX, VerneMQ, HiveMQ, Mosquitto).
 * There is no embedded broker to hook into, so a server-side client subscribes to every device's
 * `status`, `inbox` and `presence` and enqueues them exactly like the embedded bridge
 * ({@link toDeviceEventJob}). With a shared subscription (`$share/{group}/...`) several server
 * processes split the stream; a broker that refuses shared subscriptions (SUBACK 0x80, or closing
 * the connection on them as RabbitMQ 3.10 does) gets plain ones, and then every process sees
 * every publish, so each job gets an id derived from its content and arrival minute
 * ({@link copyId}) and BullMQ keeps one of the copies.
 *
 * External brokers report no connections, so presence follows the `online` flag of the phone's
 * presence payloads (its will says `{"online":false}`), recorded under one connection id.
 */
import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { DEVICE_CHANNELS, TOPIC_ROOT, noDelayOnConnect } from '../protocol/index.js';
import { type Logger, type PresenceStore, type DeviceEventJob, PresenceTracker } from '../core/index.js';
import { enqueueDeviceEvent, toDeviceEventJob } from './bridge.js';
import type { InternalCredentials } from './internal-credentials.js';
import { serverConnectOptions } from './mqtt-publisher.js';
import { SUBACK_FAILURE, subscribeCodes } from './suback.js';

/** The connection id presence is recorded under when the broker is external. */
export const EXTERNAL_CONNECTION_ID = 'external';

export interface ExternalBridgeOptions {
  url: string;
  credentials?: InternalCredentials;
  secret?: string;
  deviceEvents: Queue<DeviceEventJob>;
  presence: PresenceStore;
  logger: Logger;
  /** `auto`: shared, falling back to plain when refused. @defaultValue 'auto' */
  shared?: 'auto' | boolean;
  /** Shared subscription group. @defaultValue 'smx' */
  group?: string;
  reconnectPeriodMs?: number;
  /** How long start waits for the first CONNACK and SUBACK. @defaultValue 10 000 */
  startTimeoutMs?: number;
  /** Counts each phone's connection the external broker reports (`smx_device_connections_total{transport="mqtt"}`). */
  connections?: { inc(): void };
}

export interface ExternalBridge {
  client: MqttClient;
  /** Whether the current subscriptions are shared (null before the first SUBACK). */
  shared(): boolean | null;
  ready(): boolean;
  close(): Promise<void>;
}

/**
 * The job id the copies of one publish share when every process receives it (plain
 * subscriptions): content plus the minute it arrived, so a phone that later repeats the same
 * payload (`{"online":true}` after every reconnect) is not mistaken for a copy. Copies straddling
 * a minute boundary give two jobs, which the workers tolerate (QoS 1 duplicates them anyway).
 */
export function copyId(topic: string, payload: Buffer, nowMs: number): string {
  const minute = Math.floor(nowMs / 60_000);
  return `ext-${createHash('sha256').update(`${topic}\n${minute}\n`).update(payload).digest('hex')}`;
}

/** The device topic filters, shared or not. */
export function deviceEventFilters(shared: boolean, group = 'smx'): string[] {
  return DEVICE_CHANNELS.map((channel) => `${shared ? `$share/${group}/` : ''}${TOPIC_ROOT}/+/${channel}`);
}

/** Connects, subscribes and resolves once subscribed; rejects (and closes) if that takes longer than `startTimeoutMs`. */
export async function startExternalBridge(options: ExternalBridgeOptions): Promise<ExternalBridge> {
  const { deviceEvents } = options;
  const log = options.logger.child({ component: 'external-bridge' });
  const mode = options.shared ?? 'auto';
  const group = options.group ?? 'smx';
  const tracker = new PresenceTracker(options.presence, deviceEvents, options.connections);
  let sharedInUse: boolean | null = null;
  let subscribed = false;
  const readyWaiters = new Set<() => void>();

  const client = noDelayOnConnect(
    mqtt.connect(options.url, {
      ...serverConnectOptions('bridge', options),
      // We subscribe on every (re)connect ourselves, choosing shared or plain filters.
      resubscribe: false,
    }),
  );
  client.on('error', (error) => log.error({ err: error }, 'external bridge error'));
  client.on('close', () => {
    subscribed = false;
  });

  // RabbitMQ 3.10 answers a refused filter by closing the connection instead of SUBACK 0x80, and
  // SMX's auth backend for it refuses `$share` (rabbitmq-auth.ts): the next connection subscribes plain.
  let sharedClosed = false;

  async function subscribe(): Promise<void> {
    let shared = mode !== false && !sharedClosed;
    let codes: number[];
    try {
      codes = await subscribeCodes(client, deviceEventFilters(shared, group));
    } catch (error) {
      if (!shared || mode !== 'auto' || client.connected) throw error;
      sharedClosed = true;
      log.warn('the broker closed the connection on shared subscriptions; subscribing plain from the next connection');
      return;
    }
    if (shared && codes.includes(SUBACK_FAILURE)) {
      if (mode === true) throw new Error('the MQTT broker refused the shared subscriptions');
      log.warn('shared subscriptions refused; every server process receives every device publish');
      const granted = deviceEventFilters(true, group).filter((_, i) => codes[i] !== SUBACK_FAILURE);
      if (granted.length > 0) await client.unsubscribeAsync(granted);
      shared = false;
      codes = await subscribeCodes(client, deviceEventFilters(false));
    }
    if (codes.includes(SUBACK_FAILURE)) throw new Error('the MQTT broker refused the device event subscriptions');
    sharedInUse = shared;
    subscribed = true;
    log.info({ shared }, 'external bridge subscribed');
    for (const resolve of readyWaiters) resolve();
    readyWaiters.clear();
  }

  client.on('connect', () => {
    subscribe().catch((error: unknown) => log.error({ err: error }, 'external bridge could not subscribe'));
  });

  async function handle(packet: IPublishPacket): Promise<void> {
    // A retained publish delivered because we just subscribed is old state, not an event
    // (MQTT 3.1.1 §3.3.1.3: live forwards carry retain = 0).
    if (packet.retain) return;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const job = toDeviceEventJob(packet.topic, payload, new Date(), log);
    if (!job) return;
    const jobId = sharedInUse ? undefined : copyId(packet.topic, payload, Date.now());
    await enqueueDeviceEvent(deviceEvents, job, jobId ? { jobId } : undefined);
    const online = job.channel === 'presence' ? (job.payload as { online?: unknown }).online : undefined;
    if (online === true) await tracker.connected(job.deviceId, EXTERNAL_CONNECTION_ID);
    if (online === false) await tracker.disconnected(job.deviceId, EXTERNAL_CONNECTION_ID);
  }

  // handleMessage runs before the PUBACK, one message at a time: backpressure on the broker.
  // A failure is logged and still acknowledged: with a clean session an unacknowledged message
  // would only block the broker's in-flight window, never be redelivered.
  client.handleMessage = (packet, callback) => {
    handle(packet as IPublishPacket)
      .catch((error: unknown) =>
        log.error(
          { err: error, topic: (packet as IPublishPacket).topic },
          'device event from the external broker not enqueued',
        ),
      )
      .finally(() => callback());
  };

  const bridge: ExternalBridge = {
    client,
    shared: () => sharedInUse,
    ready: () => client.connected && subscribed,
    async close() {
      await client.endAsync();
    },
  };

  const timeoutMs = options.startTimeoutMs ?? 10_000;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        readyWaiters.delete(done);
        reject(new Error(`external MQTT broker: not connected and subscribed after ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      readyWaiters.add(done);
    });
  } catch (error) {
    await client.endAsync(true);
    throw error;
  }
  return bridge;
}
