import type { Redis } from 'ioredis';
import { inject, injectable } from './di.js';
import type { Logger } from './logger.js';
import type { RuntimeConfig } from './secrets.js';
import { TOKENS } from './tokens.js';

/** What the hot path caches; each scope is invalidated by the id the change concerns. */
export type CacheScope = 'api-key' | 'project' | 'devices' | 'presence' | 'templates' | 'test-numbers' | 'webhooks';

/** A small in-process map with a time to live and a size bound (oldest entries go first). */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();
  /** Loads in flight: concurrent misses of one key share one load (a reload storm is one read). */
  private readonly loading = new Map<string, Promise<V | undefined>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: V): void {
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, expires: Date.now() + this.ttlMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
    // A load that started before the change must not put the old value back.
    this.loading.delete(key);
  }

  deleteWhere(matches: (value: V) => boolean): void {
    for (const [key, entry] of this.entries) {
      if (matches(entry.value)) {
        this.entries.delete(key);
        this.loading.delete(key);
      }
    }
  }

  /** The cached value, or `load()`'s (cached unless undefined); concurrent misses share one load. */
  async getOrLoad(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const hit = this.get(key);
    if (hit !== undefined) return hit;
    const pending = this.loading.get(key);
    if (pending) return pending;
    const loaded = load();
    this.loading.set(key, loaded);
    try {
      const value = await loaded;
      // Cached only if nothing invalidated the key meanwhile (delete() drops the pending load).
      if (value !== undefined && this.loading.get(key) === loaded) this.set(key, value);
      return value;
    } finally {
      if (this.loading.get(key) === loaded) this.loading.delete(key);
    }
  }
}

/**
 * Invalidation across processes: a change deletes the entry here at once and tells every other
 * SMX process over Redis pub/sub, so a revoked key or an unlinked device stops working everywhere
 * within milliseconds; the TTLs are only the safety net for a lost notice.
 */
@injectable()
export class CacheBus {
  private readonly handlers = new Map<CacheScope, Array<(id: string) => void>>();
  private subscriber: Redis | null = null;
  private readonly channel: string;

  constructor(
    @inject(TOKENS.Redis) private readonly redis: Redis,
    @inject(TOKENS.Config) config: RuntimeConfig,
    @inject(TOKENS.Logger) private readonly log: Logger,
  ) {
    this.channel = `${config.redisPrefix}:cache-invalidate`;
  }

  /** Registers a cache's eviction for a scope. */
  on(scope: CacheScope, evict: (id: string) => void): void {
    this.handlers.set(scope, [...(this.handlers.get(scope) ?? []), evict]);
  }

  /** Evicts here, then tells the other processes. */
  async invalidate(scope: CacheScope, id: string): Promise<void> {
    this.evict(scope, id);
    const { channel, message } = this.notice(scope, id);
    await this.redis
      .publish(channel, message)
      .catch((error) => this.log.warn({ err: error }, 'cache invalidation not published'));
  }

  /**
   * The PUBLISH that tells the other processes, for a Lua script to send in the same step as the
   * change it announces (presence: no extra command per phone connect); pair with {@link evict}.
   */
  notice(scope: CacheScope, id: string): { channel: string; message: string } {
    return { channel: this.channel, message: JSON.stringify({ scope, id }) };
  }

  /** Starts listening to the other processes' invalidations (a dedicated connection). */
  async start(): Promise<void> {
    if (this.subscriber) return;
    this.subscriber = this.redis.duplicate({ lazyConnect: true, enableOfflineQueue: true, commandTimeout: undefined });
    this.subscriber.on('error', () => {});
    this.subscriber.on('message', (_channel: string, text: string) => {
      try {
        const { scope, id } = JSON.parse(text) as { scope: CacheScope; id: string };
        this.evict(scope, id);
      } catch {
        // not ours
      }
    });
    await this.subscriber.connect();
    await this.subscriber.subscribe(this.channel);
  }

  async stop(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = null;
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }

  /** Evicts in this process only (the other processes are told by {@link invalidate} or a script's {@link notice}). */
  evict(scope: CacheScope, id: string): void {
    for (const evict of this.handlers.get(scope) ?? []) evict(id);
  }
}
