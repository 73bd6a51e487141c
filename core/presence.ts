import type { Redis } from 'ioredis';
import { inject, injectable } from './di.js';
import type { RuntimeConfig } from './secrets.js';
import { TOKENS } from './tokens.js';

/** What the server knows of a phone's liveness (spec/device-protocol.md §4 "Presence"). */
export interface Presence {
  online: boolean;
  lastSeenAt: string | null;
  battery: number | null;
  charging: boolean | null;
  signal: number | null;
  appVersion: string | null;
}

/** Extra facts a phone reports on its presence topic. */
export interface PresenceReport {
  battery?: number;
  charging?: boolean;
  signal?: number;
  appVersion?: string;
}

const OFFLINE: Presence = { online: false, lastSeenAt: null, battery: null, charging: null, signal: null, appVersion: null };

/**
 * Online state keyed by connection id: a late disconnect of an old connection (after the phone
 * already reconnected) must not mark the device offline. Lua keeps compare-and-set atomic.
 *
 * KEYS[1] presence hash, KEYS[2] online set; ARGV[1] device id, ARGV[2] connection id, ARGV[3] now (ISO)
 */
const MARK_OFFLINE = `
if redis.call('HGET', KEYS[1], 'conn') == ARGV[2] then
  redis.call('HSET', KEYS[1], 'online', '0', 'lastSeenAt', ARGV[3])
  redis.call('HDEL', KEYS[1], 'conn')
  redis.call('SREM', KEYS[2], ARGV[1])
  return 1
end
return 0`;

/** How often a connection holder renews its liveness key, and how long the key outlives a silent holder. */
export const HOLDER_HEARTBEAT_MS = 10_000;
export const HOLDER_TTL_MS = 30_000;

/**
 * Stores device presence in Redis, shared by every broker node, worker and API replica.
 *
 * A connection id is `<holder>:<unique>`, the holder being the process that keeps the connection
 * (a broker node, an API process serving SSE streams). Each holder renews a liveness key; when a
 * holder dies without a word (SIGKILL, power loss), {@link reapOrphans} finds the devices it left
 * "online" and the maintenance job marks them offline, so routing and /v1/status do not trust a
 * connection that no longer exists. Ids without a holder part (the external broker's bridge,
 * whose phones' presence comes from their last will) are left alone.
 */
@injectable()
export class PresenceStore {
  private readonly prefix: string;

  constructor(
    @inject(TOKENS.Redis) private readonly redis: Redis,
    @inject(TOKENS.Config) config: RuntimeConfig,
  ) {
    this.prefix = config.redisPrefix;
  }

  private key(deviceId: string): string {
    return `${this.prefix}:presence:${deviceId}`;
  }

  private get onlineSet(): string {
    return `${this.prefix}:presence:online`;
  }

  /** Marks the device online under `connectionId`; returns true when it was offline before (a change). */
  async markOnline(deviceId: string, connectionId: string, at = new Date()): Promise<boolean> {
    const [[, previous]] = (await this.redis
      .multi()
      .hget(this.key(deviceId), 'online')
      .hset(this.key(deviceId), 'online', '1', 'conn', connectionId, 'lastSeenAt', at.toISOString())
      .sadd(this.onlineSet, deviceId)
      .exec()) as [[null, string | null], ...unknown[]];
    return previous !== '1';
  }

  /** Marks offline only if `connectionId` is still the live one; returns true when that changed the state. */
  async markOffline(deviceId: string, connectionId: string, at = new Date()): Promise<boolean> {
    const changed = await this.redis.eval(MARK_OFFLINE, 2, this.key(deviceId), this.onlineSet, deviceId, connectionId, at.toISOString());
    return changed === 1;
  }

  /** Records what the phone reported (battery, signal, ...) and refreshes lastSeenAt. */
  async report(deviceId: string, report: PresenceReport, at = new Date()): Promise<void> {
    const fields: string[] = ['lastSeenAt', at.toISOString()];
    if (typeof report.battery === 'number') fields.push('battery', String(report.battery));
    if (typeof report.charging === 'boolean') fields.push('charging', report.charging ? '1' : '0');
    if (typeof report.signal === 'number') fields.push('signal', String(report.signal));
    if (typeof report.appVersion === 'string') fields.push('appVersion', report.appVersion);
    await this.redis.hset(this.key(deviceId), ...fields);
  }

  async get(deviceId: string): Promise<Presence> {
    return parse(await this.redis.hgetall(this.key(deviceId)));
  }

  async getMany(deviceIds: string[]): Promise<Map<string, Presence>> {
    const result = new Map<string, Presence>();
    if (deviceIds.length === 0) return result;
    const pipeline = this.redis.pipeline();
    for (const id of deviceIds) pipeline.hgetall(this.key(id));
    const rows = (await pipeline.exec()) ?? [];
    deviceIds.forEach((id, i) => result.set(id, parse((rows[i]?.[1] as Record<string, string>) ?? {})));
    return result;
  }

  async countOnline(): Promise<number> {
    return this.redis.scard(this.onlineSet);
  }

  private holderKey(holderId: string): string {
    return `${this.prefix}:presence:holder:${holderId}`;
  }

  /** Keeps `holderId`'s connections alive until the returned stop function runs (or the process dies). */
  holdConnections(holderId: string): () => Promise<void> {
    const renew = () => this.redis.set(this.holderKey(holderId), '1', 'PX', HOLDER_TTL_MS).catch(() => undefined);
    void renew();
    const timer = setInterval(renew, HOLDER_HEARTBEAT_MS);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await this.redis.del(this.holderKey(holderId)).catch(() => undefined);
    };
  }

  /** Online devices whose connection's holder stopped renewing its key: the connections the dead left behind. */
  async reapOrphans(): Promise<Array<{ deviceId: string; connectionId: string }>> {
    const online = await this.redis.smembers(this.onlineSet);
    if (online.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of online) pipeline.hget(this.key(id), 'conn');
    const conns = ((await pipeline.exec()) ?? []).map(([, value]) => value as string | null);
    const held = online.flatMap((deviceId, i) => {
      const connectionId = conns[i];
      const colon = connectionId?.indexOf(':') ?? -1;
      return connectionId && colon > 0 ? [{ deviceId, connectionId, holder: connectionId.slice(0, colon) }] : [];
    });
    const holders = [...new Set(held.map((h) => h.holder))];
    if (holders.length === 0) return [];
    const alive = await Promise.all(holders.map((h) => this.redis.exists(this.holderKey(h))));
    const dead = new Set(holders.filter((_, i) => alive[i] === 0));
    return held.filter((h) => dead.has(h.holder)).map(({ deviceId, connectionId }) => ({ deviceId, connectionId }));
  }

  /** Forgets an unlinked device. */
  async remove(deviceId: string): Promise<void> {
    await this.redis.multi().del(this.key(deviceId)).srem(this.onlineSet, deviceId).exec();
  }
}

function parse(hash: Record<string, string>): Presence {
  if (!hash || Object.keys(hash).length === 0) return { ...OFFLINE };
  const num = (v: string | undefined) => (v === undefined ? null : Number(v));
  return {
    online: hash.online === '1',
    lastSeenAt: hash.lastSeenAt ?? null,
    battery: num(hash.battery),
    charging: hash.charging === undefined ? null : hash.charging === '1',
    signal: num(hash.signal),
    appVersion: hash.appVersion ?? null,
  };
}
