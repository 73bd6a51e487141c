import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import { inject, injectable } from '../di.js';
import type { Logger } from '../logger.js';
import type { RuntimeConfig } from '../secrets.js';
import { PresenceStore } from '../presence/store.js';
import { TOKENS } from '../tokens.js';

/** The Server-Sent Events the SMSGate app understands (it ignores the others). */
export type SmsGateEvent = 'MessageEnqueued' | 'MessageCancelled' | 'SettingsUpdated' | 'WebhooksUpdated';

/** Keep-alive comment interval on an open event stream. */
export const KEEPALIVE_MS = 15_000;

/**
 * Wake-ups for SMSGate phones. Any process (a dispatcher worker, an API replica) publishes an
 * event for a device on Redis pub/sub; the API process that holds the device's `GET /events`
 * stream (there may be several, or none) writes it as an SSE frame.
 */
@injectable()
export class SmsGateEvents {
  private readonly channel: string;
  private readonly streams = new Map<string, Set<ServerResponse>>();
  private subscriber: Redis | null = null;
  private starting: Promise<void> | null = null;
  private releaseHolder: (() => Promise<void>) | null = null;
  /** This process as the holder of its event streams' connections (see PresenceStore). */
  readonly holderId = `sse-${randomUUID()}`;

  constructor(
    @inject(TOKENS.Redis) private readonly redis: Redis,
    @inject(TOKENS.Config) config: RuntimeConfig,
    @inject(TOKENS.Logger) private readonly log: Logger,
    private readonly presence: PresenceStore,
  ) {
    this.channel = `${config.redisPrefix}:smsgate-events`;
  }

  /** Tells whichever process holds the device's stream. */
  async publish(deviceId: string, event: SmsGateEvent, data: unknown = null): Promise<void> {
    await this.redis.publish(this.channel, JSON.stringify({ deviceId, event, data }));
  }

  /** Ends the device's event streams wherever they are held (the device was unlinked). */
  async disconnect(deviceId: string): Promise<void> {
    await this.redis.publish(this.channel, JSON.stringify({ deviceId, close: true }));
  }

  /** Starts listening (once, lazily: only processes that serve event streams need it). */
  async start(): Promise<void> {
    this.starting ??= (async () => {
      const subscriber = this.redis.duplicate({
        lazyConnect: true,
        enableOfflineQueue: true,
        commandTimeout: undefined,
      });
      subscriber.on('error', (error) => this.log.warn({ err: error }, 'smsgate events subscriber error'));
      subscriber.on('message', (_channel: string, text: string) => {
        try {
          const { deviceId, event, data, close } = JSON.parse(text) as {
            deviceId: string;
            event: SmsGateEvent;
            data: unknown;
            close?: true;
          };
          if (close) for (const stream of this.streams.get(deviceId) ?? []) stream.end();
          else this.deliver(deviceId, event, data);
        } catch {
          // not ours
        }
      });
      await subscriber.connect();
      await subscriber.subscribe(this.channel);
      this.subscriber = subscriber;
      this.releaseHolder = this.presence.holdConnections(this.holderId);
    })();
    await this.starting;
  }

  /** Ends every stream of this process and stops listening (shutdown). */
  async stop(): Promise<void> {
    for (const set of this.streams.values()) for (const stream of set) stream.end();
    this.streams.clear();
    const subscriber = this.subscriber;
    this.subscriber = null;
    this.starting = null;
    await this.releaseHolder?.();
    this.releaseHolder = null;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }

  attach(deviceId: string, stream: ServerResponse): void {
    const set = this.streams.get(deviceId) ?? new Set();
    set.add(stream);
    this.streams.set(deviceId, set);
  }

  detach(deviceId: string, stream: ServerResponse): void {
    const set = this.streams.get(deviceId);
    if (!set) return;
    set.delete(stream);
    if (set.size === 0) this.streams.delete(deviceId);
  }

  private deliver(deviceId: string, event: SmsGateEvent, data: unknown): void {
    for (const stream of this.streams.get(deviceId) ?? [])
      stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }
}
