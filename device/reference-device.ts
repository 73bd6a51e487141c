/**
 * The reference device: a real MQTT client that behaves as the Android phone of
 * docs/device-protocol.md, used by `smx device run`, by tests and by anyone writing a phone app.
 *
 * Flow control: incoming QoS 1 publishes are acknowledged only after they are handled (the id
 * persisted, the SMS handed over, the status queued), by overriding mqtt.js `handleMessage`. A
 * crash mid-way therefore gets the publish again from the persistent session, and the sent-ids
 * store turns that redelivery into a no-op. mqtt.js handles incoming packets one at a time while
 * `handleMessage` runs, so nothing inside it may wait for a PUBACK of our own (that would wait
 * forever): status and presence publishes from the handler are fire-and-forget.
 */
import { EventEmitter } from 'node:events';
import { connect, type IPublishPacket, type MqttClient } from 'mqtt';
import {
  DEVICE_CAPABILITIES,
  deviceTopics,
  type Channel,
  noDelayOnConnect,
  type InboundSms,
  type PresencePayload,
  type StatusUpdate,
} from '../protocol/index.js';
import { isExpired, parseControl, parseJsonObject, parseOutbox } from './payloads.js';
import {
  ReferenceDeviceError,
  type ReferenceDeviceEvents,
  type ReferenceDeviceOptions,
  type ReportOptions,
} from './reference-device-options.js';
import { SentIdStore } from './sent-ids.js';

// The options, events and error live in their own file to keep this one about behaviour;
// they are re-exported so importers of the device module find them here too.
export { ReferenceDeviceError } from './reference-device-options.js';
export type {
  DeviceVitals,
  ReferenceDeviceErrorCode,
  ReferenceDeviceEvents,
  ReferenceDeviceOptions,
  ReportOptions,
} from './reference-device-options.js';

/** CONNACK return codes meaning "these credentials are not accepted" (3.1.1: 4, 5; 5.0: 134, 135). */
const CREDENTIAL_CODES = new Set([4, 5, 134, 135]);
/**
 * CONNACK return codes meaning "not now" (3.1.1: 3 server unavailable; 5.0: 136 server
 * unavailable, 137 server busy, 159 connection rate exceeded): the server could not check the
 * credentials yet (its database is slow in a connect storm, or down), so the phone retries with
 * its backoff instead of giving up.
 */
const RETRY_CODES = new Set([3, 136, 137, 159]);
const OFFLINE_PAYLOAD = '{"online":false}';

/** A simulated Android gateway speaking docs/device-protocol.md over MQTT. */
export class ReferenceDevice extends EventEmitter<ReferenceDeviceEvents> {
  readonly deviceId: string;
  readonly topics: Record<Channel, string>;
  readonly sentIds: SentIdStore;
  private readonly options: ReferenceDeviceOptions;
  private readonly report: Required<Omit<ReportOptions, 'failWith'>> & { failWith?: string };
  private client: MqttClient | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private starting: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private stopping: Promise<void> | undefined;
  private unlinkRequested = false;
  /** The publish being handled, which stop() lets finish so its status is not lost. */
  private handling: Promise<void> = Promise.resolve();
  private wasConnected = false;

  constructor(options: ReferenceDeviceOptions) {
    super();
    this.options = options;
    this.deviceId = options.credentials.deviceId;
    this.topics = deviceTopics(this.deviceId);
    this.sentIds = options.sentIds ?? new SentIdStore();
    const report = options.report ?? {};
    this.report = {
      sent: report.sent ?? true,
      delivered: report.delivered ?? true,
      deliveredDelayMs: report.deliveredDelayMs ?? 0,
      failWith: report.failWith,
    };
    if (!(this.report.deliveredDelayMs >= 0))
      throw new Error(`report.deliveredDelayMs must be >= 0, got ${this.report.deliveredDelayMs}`);
  }

  /** True while the MQTT connection is up. */
  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /**
   * Connects (clientId = username = deviceId, password = secret, clean: false, keepalive 30,
   * MQTT 3.1.1, last will = offline presence), subscribes to outbox and control at QoS 1 and
   * publishes online presence. Resolves once that is done; rejects on refused credentials.
   * Network failures are retried with jittered exponential backoff from `reconnectPeriodMs`
   * ({@link reconnectWithBackoff}), as a phone should.
   */
  start(): Promise<void> {
    if (this.client !== undefined) return Promise.reject(new Error('ReferenceDevice already started'));
    const { mqtt } = this.options.credentials;
    const url = this.options.url ?? (this.options.transport === 'ws' ? mqtt.wsUrl : mqtt.url);
    const client = noDelayOnConnect(
      connect(url, {
        clientId: mqtt.clientId,
        username: mqtt.username,
        password: mqtt.password,
        clean: false,
        keepalive: 30,
        protocolVersion: 4,
        reconnectPeriod: this.options.reconnectPeriodMs ?? 2000,
        connectTimeout: 10_000,
        reconnectOnConnackError: true, // RETRY_CODES retry; any other refusal stops the device (fail → end).
        resubscribe: false, // we subscribe on every connect ourselves and check the grants.
        will: { topic: this.topics.presence, payload: Buffer.from(OFFLINE_PAYLOAD), qos: 1, retain: true },
      }),
    );
    this.client = client;
    reconnectWithBackoff(client, this.options.reconnectPeriodMs ?? 2000);
    client.handleMessage = (packet, done) => {
      const work = this.handlePublish(packet).catch((err: unknown) =>
        this.log(`error handling ${packet.topic}: ${(err as Error).message}`),
      );
      this.handling = work;
      void work.then(() => {
        done(); // the PUBACK, now that the publish is handled.
        if (this.unlinkRequested) void this.shutdown(false);
      });
    };
    client.on('connect', (connack) => void this.onConnect(client, connack.sessionPresent));
    client.on('error', (err) => this.onClientError(err));
    client.on('close', () => {
      // 'close' also fires after each failed reconnect attempt; report only a lost connection.
      if (!this.wasConnected) return;
      this.wasConnected = false;
      this.emit('disconnected');
    });
    client.on('offline', () => this.log('offline'));
    client.on('reconnect', () => this.log(`reconnecting to ${url}`));
    this.log(`connecting to ${url} as ${mqtt.clientId}`);
    return new Promise<void>((resolve, reject) => {
      this.starting = { resolve, reject };
    });
  }

  /**
   * Publishes offline presence (retained), then disconnects gracefully, so the broker does not
   * fire the last will. Pending `delivered` reports are dropped. Do not await it from onSend.
   */
  stop(): Promise<void> {
    return this.shutdown(true);
  }

  /** Forwards received SMS on the inbox topic (QoS 1); resolves when the broker acknowledges. */
  async publishInbound(sms: Array<Partial<InboundSms> & Pick<InboundSms, 'from' | 'body'>>): Promise<void> {
    const messages: InboundSms[] = sms.map((m) => ({
      from: m.from,
      body: m.body,
      receivedAt: m.receivedAt ?? new Date().toISOString(),
      simSlot: m.simSlot ?? null,
    }));
    await this.requireClient().publishAsync(this.topics.inbox, JSON.stringify({ messages }), { qos: 1 });
  }

  /** Publishes online presence (retained, QoS 1); resolves when the broker acknowledges. */
  async publishPresence(): Promise<void> {
    await this.requireClient().publishAsync(this.topics.presence, JSON.stringify(this.presence()), {
      qos: 1,
      retain: true,
    });
  }

  private async onConnect(client: MqttClient, sessionPresent: boolean): Promise<void> {
    this.wasConnected = true;
    try {
      const grants = await client.subscribeAsync({
        [this.topics.outbox]: { qos: 1 },
        [this.topics.control]: { qos: 1 },
      });
      const refused = grants.filter((g) => g.qos === 128).map((g) => g.topic);
      if (refused.length > 0) {
        this.fail(
          new ReferenceDeviceError('SUBSCRIBE_REFUSED', `The broker refused the subscription to ${refused.join(', ')}`),
        );
        return;
      }
      await client.publishAsync(this.topics.presence, JSON.stringify(this.presence()), { qos: 1, retain: true });
    } catch (err) {
      // The connection dropped while setting up; the next connect runs this again.
      this.log(`connect setup interrupted: ${(err as Error).message}`);
      return;
    }
    this.log(`connected (session ${sessionPresent ? 'resumed' : 'new'})`);
    this.starting?.resolve();
    this.starting = undefined;
    this.emit('connected', { sessionPresent });
  }

  private onClientError(err: Error & { code?: unknown }): void {
    if (typeof err.code === 'number' && RETRY_CODES.has(err.code)) {
      this.log(`connection refused for now: ${err.message}; retrying`);
      return;
    }
    if (typeof err.code === 'number') {
      // Any other CONNACK refusal (credentials, identity): retrying would not help; the device stops.
      const code = CREDENTIAL_CODES.has(err.code) ? 'CREDENTIALS_REJECTED' : 'CONNECTION_REFUSED';
      const why =
        code === 'CREDENTIALS_REJECTED'
          ? 'the broker rejected the device credentials (unlinked device or wrong secret)'
          : 'the broker refused the connection';
      this.fail(new ReferenceDeviceError(code, `MQTT: ${why}: ${err.message}`, err.code, { cause: err }));
      return;
    }
    this.log(`connection error: ${err.message}${typeof err.code === 'string' ? ` (${err.code})` : ''}; retrying`);
  }

  /** Stops for good after a fatal error: rejects a pending start, emits `error`, closes the client. */
  private fail(error: ReferenceDeviceError): void {
    this.log(error.message);
    const starting = this.starting;
    this.starting = undefined;
    if (starting !== undefined) starting.reject(error);
    else if (this.listenerCount('error') > 0) this.emit('error', error);
    void this.shutdown(false);
  }

  private async handlePublish(packet: IPublishPacket): Promise<void> {
    const value = parseJsonObject(packet.payload);
    if (value === null) {
      this.log(`ignored a publish on ${packet.topic}: not a JSON object`);
      return;
    }
    if (packet.topic === this.topics.outbox) await this.handleOutbox(value);
    else if (packet.topic === this.topics.control) await this.handleControl(value);
  }

  private async handleOutbox(value: Record<string, unknown>): Promise<void> {
    if (this.unlinkRequested) {
      this.log('ignored an outbox publish: this device is unlinked');
      return;
    }
    const parsed = parseOutbox(value);
    if (parsed === null) {
      this.log('ignored an outbox publish without a messages array');
      return;
    }
    if (parsed.invalid > 0) this.log(`ignored ${parsed.invalid} outbox entries without id, to or body`);
    const updates: StatusUpdate[] = [];
    const sent: string[] = [];
    for (const message of parsed.messages) {
      const known = this.sentIds.reasonOf(message.id);
      if (known !== undefined) {
        this.log(`skipped ${message.id}: already ${known}`);
        continue;
      }
      if (isExpired(message, Date.now())) {
        updates.push({ id: message.id, state: 'failed', at: new Date().toISOString(), error: 'EXPIRED' });
        continue;
      }
      if (message.data !== undefined && !this.capabilities.includes('data-sms')) {
        // The server sends binary SMS only to phones that declared data-sms; this one did not.
        updates.push({ id: message.id, state: 'failed', at: new Date().toISOString(), error: 'DATA_SMS_UNSUPPORTED' });
        continue;
      }
      if (this.report.failWith !== undefined) {
        updates.push({ id: message.id, state: 'failed', at: new Date().toISOString(), error: this.report.failWith });
        continue;
      }
      // Remembered (and persisted) before the SMS leaves: after a crash the phone may miss a
      // message, but it never sends one twice, which is the rule of §4.
      await this.sentIds.remember([message.id], 'sent');
      try {
        await this.options.onSend?.(message);
      } catch (err) {
        await this.sentIds.forget([message.id]);
        this.log(`sending ${message.id} failed: ${(err as Error).message}`);
        updates.push({ id: message.id, state: 'failed', at: new Date().toISOString(), error: 'GENERIC_FAILURE' });
        continue;
      }
      this.emit('sms', message);
      sent.push(message.id);
      if (this.report.sent) updates.push({ id: message.id, state: 'sent', at: new Date().toISOString() });
    }
    this.publishStatus(updates);
    if (this.report.delivered && sent.length > 0) this.scheduleDelivered(sent);
  }

  private scheduleDelivered(ids: string[]): void {
    const report = () =>
      this.publishStatus(ids.map((id) => ({ id, state: 'delivered' as const, at: new Date().toISOString() })));
    if (this.report.deliveredDelayMs === 0) {
      report();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      report();
    }, this.report.deliveredDelayMs);
    this.timers.add(timer);
  }

  private async handleControl(value: Record<string, unknown>): Promise<void> {
    const control = parseControl(value);
    if (control === null) {
      this.log(`ignored control ${JSON.stringify(value.type)}`);
      return;
    }
    switch (control.type) {
      case 'ping':
        this.publishAndForget(this.topics.presence, JSON.stringify(this.presence()), true);
        return;
      case 'cancel': {
        const fresh = control.ids.filter((id) => !this.sentIds.has(id));
        await this.sentIds.remember(fresh, 'canceled');
        this.log(`canceled ${control.ids.join(', ') || '(none)'}`);
        this.emit('canceled', control.ids);
        return;
      }
      case 'config':
        this.emit('config', control);
        return;
      case 'unlink':
        this.log('unlinked by the server');
        this.unlinkRequested = true; // the stop runs once this publish is acknowledged.
        this.emit('unlinked');
        await this.options.onUnlinked?.();
        return;
    }
  }

  /** One status publish per batch; `status` is emitted when the broker acknowledges it. */
  private publishStatus(updates: StatusUpdate[]): void {
    if (updates.length === 0) return;
    this.publishAndForget(this.topics.status, JSON.stringify({ updates }), false, () => this.emit('status', updates));
  }

  private publishAndForget(topic: string, payload: string, retain: boolean, acked?: () => void): void {
    const client = this.client;
    if (client === undefined) return;
    client.publish(topic, payload, { qos: 1, retain }, (err) => {
      if (err) this.log(`publish on ${topic} failed: ${err.message}`);
      else acked?.();
    });
  }

  private presence(): PresencePayload {
    const source = this.options.battery;
    const vitals = (typeof source === 'function' ? source() : source) ?? {};
    return {
      online: true,
      battery: vitals.battery ?? 100,
      charging: vitals.charging ?? true,
      signal: vitals.signal ?? 4,
      appVersion: this.options.appVersion ?? '0.1.0',
      sims: this.options.sims ?? [],
      capabilities: this.capabilities,
    };
  }

  /** What this device announces it can do (a binary SMS needs `data-sms`). */
  private get capabilities(): string[] {
    return this.options.capabilities ?? [...DEVICE_CAPABILITIES];
  }

  private shutdown(announceOffline: boolean): Promise<void> {
    if (this.stopping !== undefined) return this.stopping;
    const client = this.client;
    this.stopping = (async () => {
      for (const timer of this.timers) clearTimeout(timer);
      this.timers.clear();
      this.starting?.reject(new ReferenceDeviceError('STOPPED', 'The device was stopped before it connected'));
      this.starting = undefined;
      // Let a message being sent finish, so its `sent` report is queued before we disconnect.
      await withTimeout(this.handling, 5000).catch(() => this.log('stopped while a message was still being handled'));
      if (client !== undefined) {
        if (announceOffline && client.connected) {
          await untilClosed(
            client,
            client.publishAsync(this.topics.presence, OFFLINE_PAYLOAD, { qos: 1, retain: true }),
            3000,
          ).catch((err: Error) => this.log(`offline presence not published: ${err.message}`));
        }
        // A graceful DISCONNECT (so the will is not fired) waits for our in-flight publishes;
        // offline, or if the broker does not answer, there is nothing to wait for.
        if (client.connected) {
          await untilClosed(client, client.endAsync(false), 3000).catch(() => undefined);
          // end(false) marks the client as disconnecting, after which end(true) is a no-op, so a
          // socket still open here (broker silent) is closed directly; on a closed one this is a no-op.
          client.stream.destroy();
        } else {
          await client.endAsync(true); // also cancels a pending reconnect.
        }
      }
      await this.sentIds.flush();
      this.log('stopped');
      this.emit('stopped');
    })();
    return this.stopping;
  }

  private requireClient(): MqttClient {
    if (this.client === undefined || this.stopping !== undefined) throw new Error('ReferenceDevice is not running');
    return this.client;
  }

  private log(line: string): void {
    this.options.log?.(line);
  }
}

/**
 * The longest pause between reconnect attempts, unless the base period itself is longer. Short
 * enough that phones are back within seconds of a restarted server (issue 12: every phone back
 * within 30 s of a kill -9), long enough to spread 10,000 of them over several seconds.
 */
const RECONNECT_CAP_MS = 10_000;

/**
 * Jittered exponential reconnect backoff (device-protocol.md §2): after the n-th failed attempt in
 * a row (n = 0 for the first retry after a drop) the pause is drawn at random from [d/2, d] with
 * d = min(baseMs × 2^n, cap), cap = 16 × baseMs but at most 10 s (or baseMs when that is longer);
 * a CONNACK starts over at n = 0; a base of 0 (never reconnect) is left alone. Phones dropped
 * together (a server restart) so come back spread over seconds instead of in one SYN burst, and a
 * server that stays down is asked less and less often.
 *
 * mqtt.js arms its reconnect timer from `options.reconnectPeriod` in its own 'close' listener;
 * ours is prepended so it sets the next pause just before.
 */
export function reconnectWithBackoff(client: MqttClient, baseMs: number, random: () => number = Math.random): void {
  if (!(baseMs > 0)) return; // 0: mqtt.js does not reconnect at all; leave it so.
  const capMs = Math.max(baseMs, Math.min(16 * baseMs, RECONNECT_CAP_MS));
  let failures = 0;
  client.on('connect', () => {
    failures = 0;
  });
  client.prependListener('close', () => {
    const ceiling = Math.min(baseMs * 2 ** failures, capMs);
    failures = Math.min(failures + 1, 30); // 2^30 × base is past any cap; no overflow
    client.options.reconnectPeriod = Math.max(1, Math.round(ceiling / 2 + (random() * ceiling) / 2));
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Like withTimeout, but also gives up when the connection closes (a queued publish would wait for the next one). */
function untilClosed<T>(client: MqttClient, promise: Promise<T>, ms: number): Promise<T> {
  let onClose: () => void = () => undefined;
  const closed = new Promise<never>((_, reject) => {
    onClose = () => reject(new Error('connection closed'));
    client.once('close', onClose);
  });
  return withTimeout(Promise.race([promise, closed]), ms).finally(() => client.off('close', onClose));
}
