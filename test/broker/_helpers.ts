/**
 * Shared set-up of the broker tests: a real Redis under a key prefix unique to the test file,
 * a real device table (hashed secrets, the same check DeviceService.verifyCredentials does),
 * real embedded brokers on port 0 and real mqtt.js clients as phones. Files starting with `_`
 * are not test files for ava.
 */
import 'reflect-metadata';
import { createHash, randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { sameDigest, sha256 } from '../../core/crypto.js';
import { deviceTopic } from '../../protocol/topics.js';
import { createLogger, type Logger } from '../../core/logger.js';
import type { LogLevel } from '../../core/config.js';
import { PresenceStore } from '../../core/presence/store.js';
import { QUEUE_NAMES, type DeviceEventJob } from '../../core/queues.js';
import { connectRedis } from '../../core/redis.js';
import type { RuntimeConfig } from '../../core/secrets.js';
import { startEmbeddedBroker, type EmbeddedBroker, type EmbeddedBrokerOptions } from '../../broker/embedded-broker.js';
import { newId } from '../../core/ids.js';

export const REDIS_URL = process.env.SMX_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const SECRET = 'test-secret-0123456789abcdef';

/** `smxt-<hash of the test file name>`: parallel test files never share keys. */
export function testPrefix(importMetaUrl: string): string {
  const file = basename(fileURLToPath(importMetaUrl));
  return `smxt-${createHash('sha1').update(file).digest('hex').slice(0, 10)}`;
}

export function testLogger(): Logger {
  return createLogger((process.env.TEST_LOG_LEVEL ?? 'silent') as LogLevel, process.stderr);
}

/** Deletes every key under `prefix:` (SCAN, never KEYS). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/** Lists keys under `prefix:`. */
export async function listKeys(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

export interface TestDevice {
  deviceId: string;
  secret: string;
}

/** The devices table in memory: id -> sha256(secret), checked the way DeviceService does. */
export class DeviceTable {
  private readonly hashes = new Map<string, string>();

  add(): TestDevice {
    const device = { deviceId: newId('dev'), secret: randomBytes(32).toString('base64url') };
    this.hashes.set(device.deviceId, sha256(device.secret));
    return device;
  }

  remove(deviceId: string): void {
    this.hashes.delete(deviceId);
  }

  verify = async (deviceId: string, secret: string): Promise<boolean> => {
    const hash = this.hashes.get(deviceId);
    return hash !== undefined && sameDigest(sha256(secret), hash);
  };
}

/** Redis, the device-events queue, presence and the device table of one test file. */
export class Harness {
  readonly devices = new DeviceTable();
  readonly logger = testLogger();
  private readonly brokers: EmbeddedBroker[] = [];
  private readonly clients: MqttClient[] = [];

  private constructor(
    readonly prefix: string,
    readonly redis: Redis,
    readonly queue: Queue<DeviceEventJob>,
    readonly presence: PresenceStore,
  ) {}

  static async open(prefix: string): Promise<Harness> {
    const redis = await connectRedis(REDIS_URL);
    await deleteKeys(redis, prefix); // leftovers of an interrupted run
    const queue = new Queue<DeviceEventJob>(QUEUE_NAMES.deviceEvents, { connection: redis, prefix: `${prefix}:bull` });
    const presence = new PresenceStore(redis, { redisPrefix: prefix } as RuntimeConfig);
    return new Harness(prefix, redis, queue, presence);
  }

  config(): EmbeddedBrokerOptions['config'] {
    return {
      host: '127.0.0.1',
      mqttPort: 0,
      mqttWsPort: 0,
      redisUrl: REDIS_URL,
      redisPrefix: this.prefix,
      secret: SECRET,
    };
  }

  async startBroker(options: Partial<EmbeddedBrokerOptions> = {}): Promise<EmbeddedBroker> {
    const broker = await startEmbeddedBroker({
      config: this.config(),
      verifyDevice: this.devices.verify,
      deviceEvents: this.queue,
      presence: this.presence,
      logger: this.logger,
      ...options,
    });
    this.brokers.push(broker);
    return broker;
  }

  /**
   * Connects a phone per device-protocol.md §2 (clean: false, keepalive 30, presence will).
   * Messages are recorded from the first byte (see {@link received}): queued packets arrive
   * right behind the CONNACK. Rejects with mqtt.js's error when the broker refuses.
   */
  async phone(broker: EmbeddedBroker | string, device: TestDevice, options: IClientOptions = {}): Promise<MqttClient> {
    const url = typeof broker === 'string' ? broker : `mqtt://127.0.0.1:${broker.tcpPort}`;
    const client = mqtt.connect(url, {
      clientId: device.deviceId,
      username: device.deviceId,
      password: device.secret,
      clean: false,
      keepalive: 30,
      protocolVersion: 4,
      reconnectPeriod: 0,
      will: {
        topic: deviceTopic(device.deviceId, 'presence'),
        payload: Buffer.from('{"online":false}'),
        qos: 1,
        retain: true,
      },
      ...options,
    });
    record(client);
    this.clients.push(client);
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error) => {
        client.off('connect', ok);
        client.off('close', lost);
        client.end(true);
        reject(error);
      };
      const ok = () => {
        client.off('error', fail);
        client.off('close', lost);
        resolve();
      };
      const lost = () => fail(new Error('connection closed before CONNACK'));
      client.once('connect', ok);
      client.once('error', fail);
      client.once('close', lost);
    });
    return client;
  }

  /** Keeps a client for teardown (one made outside {@link phone}). */
  adopt(client: MqttClient): MqttClient {
    this.clients.push(client);
    return client;
  }

  async jobs(): Promise<DeviceEventJob[]> {
    const jobs = await this.queue.getJobs(['waiting', 'delayed', 'prioritized', 'active', 'completed', 'failed']);
    return jobs.map((job) => job.data as DeviceEventJob).sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
  }

  async jobsOf(deviceId: string): Promise<DeviceEventJob[]> {
    return (await this.jobs()).filter((job) => job.deviceId === deviceId);
  }

  /** Closes every client, broker, the queue and Redis, after deleting this file's keys. */
  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.endAsync(true).catch(() => {})));
    await Promise.all(this.brokers.map((b) => b.close()));
    await this.queue.obliterate({ force: true }).catch(() => {});
    await this.queue.close();
    await deleteKeys(this.redis, this.prefix);
    await this.redis.quit();
  }
}

/** Resolves when the client's connection closes. */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!client.connected) return resolve();
    client.once('close', () => resolve());
  });
}

const inboxes = new WeakMap<MqttClient, Array<{ topic: string; payload: string }>>();

/** Starts recording what `client` receives (phone() does it for its clients). */
export function record(client: MqttClient): void {
  const inbox: Array<{ topic: string; payload: string }> = [];
  inboxes.set(client, inbox);
  client.on('message', (topic, payload) => inbox.push({ topic, payload: payload.toString() }));
}

/** The JSON payloads `client` received on `topic` so far. */
export function received(client: MqttClient, topic: string): unknown[] {
  return (inboxes.get(client) ?? []).filter((m) => m.topic === topic).map((m) => JSON.parse(m.payload));
}
