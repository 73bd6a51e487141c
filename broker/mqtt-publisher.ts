import { randomBytes } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { deviceTopic, type ServerChannel, noDelayOnConnect } from '../protocol/index.js';
import { type Logger, type DevicePublisher, withTimeout } from '../core/index.js';
import { KICK_TOPIC, kickPayload } from './bridge.js';
import { INTERNAL_CLIENT_ID_PREFIX, internalCredentials, type InternalCredentials } from './internal-credentials.js';

export interface MqttPublisherOptions {
  /** Broker URL: an SMX broker node (`smx api`/`smx worker`) or the external broker (`SMX_MQTT_URL`). */
  url: string;
  /** Credentials to connect with. @defaultValue the internal credentials derived from `secret` */
  credentials?: InternalCredentials;
  /** The server secret, used when `credentials` is not given. */
  secret?: string;
  logger: Logger;
  /** A publish not acknowledged (PUBACK) within this rejects; the caller retries. @defaultValue 10 000 */
  publishTimeoutMs?: number;
  /** Pause between reconnect attempts. @defaultValue 1 000 */
  reconnectPeriodMs?: number;
}

/** Resolves the credentials of a server-side client: explicit ones, else the internal ones. */
export function serverCredentials(options: {
  credentials?: InternalCredentials;
  secret?: string;
}): InternalCredentials {
  if (options.credentials) return options.credentials;
  if (!options.secret) throw new Error('MQTT credentials: give `credentials` or the server `secret`');
  return internalCredentials(options.secret);
}

/** A fresh server-side client id (`smx-srv-...`): the `smx-` prefix is what the embedded broker requires of internal clients. */
export function serverClientId(role = 'srv'): string {
  return `${INTERNAL_CLIENT_ID_PREFIX}${role}-${randomBytes(6).toString('hex')}`;
}

/**
 * Connection options of a server-side client (publisher, external bridge): internal credentials,
 * a clean MQTT 3.1.1 session, and reconnects that keep retrying after "server unavailable" (a
 * wrong password is logged at every attempt).
 */
export function serverConnectOptions(
  role: string,
  options: { credentials?: InternalCredentials; secret?: string; reconnectPeriodMs?: number },
): IClientOptions {
  const { username, password } = serverCredentials(options);
  return {
    clientId: serverClientId(role),
    username,
    password,
    clean: true,
    protocolVersion: 4,
    keepalive: 30,
    reconnectPeriod: options.reconnectPeriodMs ?? 1000,
    reconnectOnConnackError: true,
  };
}

/**
 * A {@link DevicePublisher} over an MQTT connection with internal credentials, for processes that
 * do not host the broker (split deployments and external brokers). Clean session, automatic
 * reconnect; while disconnected, publishes fail at once so the calling job is retried instead of
 * piling up in memory.
 */
export class MqttPublisher implements DevicePublisher {
  readonly client: MqttClient;
  private readonly publishTimeoutMs: number;

  constructor(options: MqttPublisherOptions) {
    const log = options.logger.child({ component: 'mqtt-publisher' });
    this.publishTimeoutMs = options.publishTimeoutMs ?? 10_000;
    this.client = noDelayOnConnect(
      mqtt.connect(options.url, { ...serverConnectOptions('srv', options), queueQoSZero: false }),
    );
    this.client.on('error', (error) => log.error({ err: error }, 'mqtt publisher error'));
    this.client.on('connect', () => log.info('mqtt publisher connected'));
    this.client.on('offline', () => log.warn('mqtt publisher offline'));
  }

  /** Resolves once connected (rejects after `timeoutMs`); the client keeps reconnecting either way. */
  async start(timeoutMs = 10_000): Promise<void> {
    if (this.client.connected) return;
    let onConnect!: () => void;
    const connected = new Promise<void>((resolve) => {
      onConnect = resolve;
      this.client.once('connect', onConnect);
    });
    try {
      await withTimeout(connected, timeoutMs);
    } finally {
      this.client.off('connect', onConnect);
    }
  }

  publish(deviceId: string, channel: ServerChannel, payload: object): Promise<void> {
    return this.send(deviceTopic(deviceId, channel), Buffer.from(JSON.stringify(payload), 'utf8'));
  }

  /** Publishes a kick; every embedded broker node closes the device's connection if it holds it. */
  disconnect(deviceId: string): Promise<void> {
    return this.send(KICK_TOPIC, kickPayload(deviceId));
  }

  ready(): boolean {
    return this.client.connected;
  }

  /** Ends the connection (in-flight publishes get their PUBACK first). */
  async close(): Promise<void> {
    await this.client.endAsync();
  }

  private async send(topic: string, payload: Buffer): Promise<void> {
    if (!this.client.connected) throw new Error('MQTT broker not connected');
    await withTimeout(this.client.publishAsync(topic, payload, { qos: 1, retain: false }), this.publishTimeoutMs);
  }
}
