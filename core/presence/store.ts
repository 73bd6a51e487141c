import type { Redis } from 'ioredis';
import { CacheBus } from '../cache.js';
import { inject, injectable } from '../di.js';
import type { Logger } from '../logger.js';
import { RedisScript } from '../redis-script.js';
import type { RuntimeConfig } from '../secrets.js';
import { TOKENS } from '../tokens.js';

/** What the server knows of a phone's liveness (docs/device-protocol.md §4 "Presence"). */
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

const OFFLINE: Presence = {
  online: false,
  lastSeenAt: null,
  battery: null,
  charging: null,
  signal: null,
  appVersion: null,
};

/** How often a connection holder renews its liveness, and how long it counts as alive after a renewal. */
export const HOLDER_HEARTBEAT_MS = 1_000;
export const HOLDER_TTL_MS = 3_000;
/** How long a reaped holder's tombstone stays: a holder that was only stalled finds it and re-asserts its connections. */
const TOMBSTONE_TTL_S = 3600;
/** Dead holders handled per reap call (each with all its connections). */
const REAP_BATCH = 20;

/** The Redis clock in ms, so that holders on several machines share one time. */
const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * KEYS[1] presence hash, KEYS[2] online set, KEYS[3] holders zset, KEYS[4] the holder's connections hash
 * ARGV[1] device id, ARGV[2] connection id, ARGV[3] now (ISO), ARGV[4] holder ('' = none), ARGV[5] holder TTL ms,
 * ARGV[6] '1' = only if no other connection took the device meanwhile (a revived holder re-asserting),
 * ARGV[7] and ARGV[8] a channel and message published on a change ('' = none: CacheBus.notice)
 * Returns 1 when the device was offline before (a change), 0 when not, -1 when another connection has it.
 * A holder is registered by its first connection (NX: a renewal is the holder's own heartbeat), so
 * one that never renews is reaped like one that stopped.
 */
const MARK_ONLINE = `
if ARGV[6] == '1' then
  local conn = redis.call('HGET', KEYS[1], 'conn')
  if conn and conn ~= ARGV[2] then return -1 end
end
local previous = redis.call('HGET', KEYS[1], 'online')
redis.call('HSET', KEYS[1], 'online', '1', 'conn', ARGV[2], 'lastSeenAt', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[1])
if ARGV[4] ~= '' then
  ${NOW_MS}
  redis.call('HSET', KEYS[4], ARGV[1], ARGV[2])
  redis.call('ZADD', KEYS[3], 'NX', now + tonumber(ARGV[5]), ARGV[4])
end
if previous == '1' then return 0 end
if ARGV[7] ~= '' then redis.call('PUBLISH', ARGV[7], ARGV[8]) end
return 1`;

/**
 * Online state keyed by connection id: a late disconnect of an old connection (after the phone
 * already reconnected) must not mark the device offline. Lua keeps compare-and-set atomic.
 *
 * KEYS[1] presence hash, KEYS[2] online set, KEYS[3] the holder's connections hash;
 * ARGV[1] device id, ARGV[2] connection id, ARGV[3] now (ISO), ARGV[4] and ARGV[5] as MARK_ONLINE's 7 and 8
 */
const MARK_OFFLINE = `
if redis.call('HGET', KEYS[3], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[3], ARGV[1]) end
if redis.call('HGET', KEYS[1], 'conn') == ARGV[2] then
  redis.call('HSET', KEYS[1], 'online', '0', 'lastSeenAt', ARGV[3])
  redis.call('HDEL', KEYS[1], 'conn')
  redis.call('SREM', KEYS[2], ARGV[1])
  if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
  return 1
end
return 0`;

/**
 * A holder's renewal. KEYS[1] holders zset, KEYS[2] the holder's tombstone; ARGV[1] holder, ARGV[2] TTL ms.
 * Returns 1 when the holder had been reaped (its connections were marked offline while it lived).
 */
const HEARTBEAT = `
${NOW_MS}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return redis.call('DEL', KEYS[2])`;

/**
 * Marks offline every connection of the holders whose liveness ran out, in one step (a holder
 * renewing meanwhile is either reaped before or not at all). KEYS[1] holders zset; ARGV[1] the
 * presence key prefix (`<prefix>:presence:`), ARGV[2] now (ISO), ARGV[3] tombstone TTL s, ARGV[4]
 * batch. The per-holder and per-device keys are derived from the prefix (their names are known
 * only here). Returns [holders handled, deviceId, connectionId, ...] of the connections marked offline.
 */
const REAP = `
${NOW_MS}
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
local reaped = { #dead }
for _, holder in ipairs(dead) do
  redis.call('ZREM', KEYS[1], holder)
  redis.call('SET', ARGV[1] .. 'reaped:' .. holder, '1', 'EX', tonumber(ARGV[3]))
  local connsKey = ARGV[1] .. 'held-by:' .. holder
  local conns = redis.call('HGETALL', connsKey)
  for i = 1, #conns, 2 do
    local device, conn = conns[i], conns[i + 1]
    local key = ARGV[1] .. device
    if redis.call('HGET', key, 'conn') == conn then
      redis.call('HSET', key, 'online', '0', 'lastSeenAt', ARGV[2])
      redis.call('HDEL', key, 'conn')
      redis.call('SREM', ARGV[1] .. 'online', device)
      reaped[#reaped + 1] = device
      reaped[#reaped + 1] = conn
    end
  end
  redis.call('DEL', connsKey)
end
return reaped`;

/**
 * Reads presence hashes, each as stored plus `stale 1` when it says online under a holder that is
 * no longer alive (not yet reaped): readers see a dead node's phones offline as soon as its
 * liveness runs out. KEYS[1] holders zset, KEYS[2..] presence hashes.
 */
const READ = `
${NOW_MS}
local alive = {}
local out = {}
for i = 2, #KEYS do
  local h = redis.call('HGETALL', KEYS[i])
  local online, conn = nil, nil
  for j = 1, #h, 2 do
    if h[j] == 'online' then online = h[j + 1] elseif h[j] == 'conn' then conn = h[j + 1] end
  end
  if online == '1' and conn then
    local colon = string.find(conn, ':', 1, true)
    if colon and colon > 1 then
      local holder = string.sub(conn, 1, colon - 1)
      if alive[holder] == nil then
        local deadline = redis.call('ZSCORE', KEYS[1], holder)
        alive[holder] = deadline ~= false and tonumber(deadline) > now
      end
      if not alive[holder] then
        h[#h + 1] = 'stale'
        h[#h + 1] = '1'
      end
    end
  end
  out[i - 1] = h
end
return out`;

const SCRIPTS = {
  markOnline: new RedisScript(MARK_ONLINE),
  markOffline: new RedisScript(MARK_OFFLINE),
  heartbeat: new RedisScript(HEARTBEAT),
  reap: new RedisScript(REAP),
  read: new RedisScript(READ),
};

/** The holder part of a connection id (`<holder>:<unique>`), or '' for ids without one. */
export function holderOf(connectionId: string): string {
  const colon = connectionId.indexOf(':');
  return colon > 0 ? connectionId.slice(0, colon) : '';
}

/**
 * Stores device presence in Redis, shared by every broker node, worker and API replica.
 *
 * A connection id is `<holder>:<unique>`, the holder being the process that keeps the connection
 * (a broker node, an API process serving SSE streams). Each holder renews its deadline in a sorted
 * set every {@link HOLDER_HEARTBEAT_MS} (Redis time, so machines' clocks do not matter) and keeps a
 * hash of its connections. When a holder dies without a word (SIGKILL, power loss):
 * - reads ({@link get}, {@link getMany}: routing, /v1/status) show its phones offline as soon as
 *   its deadline passes ({@link HOLDER_TTL_MS} at most after its last renewal);
 * - {@link reapDeadHolders} (the maintenance job, every second) marks them offline for good and
 *   the caller announces it (`device.offline`). A healthy run costs one sorted-set range read,
 *   whatever the number of phones.
 * A holder that was only stalled past its deadline finds its tombstone at its next renewal and
 * tells its {@link onRevived} listeners, which re-assert the connections it still has.
 * Ids without a holder part (the external broker's bridge, whose phones' presence comes from
 * their last will) are never reaped.
 */
@injectable()
export class PresenceStore {
  private readonly prefix: string;
  private readonly revivalListeners = new Map<string, Set<() => void>>();

  constructor(
    @inject(TOKENS.Redis) private readonly redis: Redis,
    @inject(TOKENS.Config) config: RuntimeConfig,
    @inject(TOKENS.Logger) private readonly log?: Logger,
    /** Told of every online/offline change, so in-process views ({@link PresenceView}) forget the device at once. */
    private readonly bus?: CacheBus,
  ) {
    this.prefix = config.redisPrefix;
  }

  /** Tells every process's views (the reaper's batch of a dead node's phones at once: the PUBLISHes pipeline). */
  private async changed(deviceIds: string[]): Promise<void> {
    const bus = this.bus;
    if (bus) await Promise.all(deviceIds.map((deviceId) => bus.invalidate('presence', deviceId)));
  }

  /** The notice a connect or disconnect script publishes when it changes the state (it evicts here itself). */
  private notice(deviceId: string): [channel: string, message: string] {
    if (!this.bus) return ['', ''];
    const { channel, message } = this.bus.notice('presence', deviceId);
    return [channel, message];
  }

  private get base(): string {
    return `${this.prefix}:presence:`;
  }

  private key(deviceId: string): string {
    return `${this.base}${deviceId}`;
  }

  private get onlineSet(): string {
    return `${this.base}online`;
  }

  private get holders(): string {
    return `${this.base}holders`;
  }

  private heldBy(holderId: string): string {
    return `${this.base}held-by:${holderId}`;
  }

  /** Marks the device online under `connectionId`; returns true when it was offline before (a change). */
  async markOnline(deviceId: string, connectionId: string, at = new Date()): Promise<boolean> {
    const changed = (await this.runMarkOnline(deviceId, connectionId, at, false)) === 1;
    if (changed) this.bus?.evict('presence', deviceId);
    return changed;
  }

  /**
   * Marks the device online again under `connectionId` unless another connection took it since
   * (a revived holder re-asserting a connection that is still up); true when that changed the state.
   */
  async reclaim(deviceId: string, connectionId: string, at = new Date()): Promise<boolean> {
    const changed = (await this.runMarkOnline(deviceId, connectionId, at, true)) === 1;
    if (changed) this.bus?.evict('presence', deviceId);
    return changed;
  }

  private async runMarkOnline(
    deviceId: string,
    connectionId: string,
    at: Date,
    onlyIfUnclaimed: boolean,
  ): Promise<number> {
    const holder = holderOf(connectionId);
    const keys = [this.key(deviceId), this.onlineSet, this.holders, this.heldBy(holder)];
    return Number(
      await SCRIPTS.markOnline.run(this.redis, keys, [
        deviceId,
        connectionId,
        at.toISOString(),
        holder,
        HOLDER_TTL_MS,
        onlyIfUnclaimed ? '1' : '0',
        ...this.notice(deviceId),
      ]),
    );
  }

  /** Marks offline only if `connectionId` is still the live one; returns true when that changed the state. */
  async markOffline(deviceId: string, connectionId: string, at = new Date()): Promise<boolean> {
    const keys = [this.key(deviceId), this.onlineSet, this.heldBy(holderOf(connectionId))];
    const args = [deviceId, connectionId, at.toISOString(), ...this.notice(deviceId)];
    const changed = Number(await SCRIPTS.markOffline.run(this.redis, keys, args)) === 1;
    if (changed) this.bus?.evict('presence', deviceId);
    return changed;
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
    return (await this.getMany([deviceId])).get(deviceId)!;
  }

  /** One round trip for any number of devices; a phone whose holder is gone reads offline. */
  async getMany(deviceIds: string[]): Promise<Map<string, Presence>> {
    const result = new Map<string, Presence>();
    if (deviceIds.length === 0) return result;
    const rows = (await SCRIPTS.read.run(
      this.redis,
      [this.holders, ...deviceIds.map((id) => this.key(id))],
      [],
    )) as string[][];
    deviceIds.forEach((id, i) => result.set(id, parse(rows[i] ?? [])));
    return result;
  }

  /** Devices marked online (a dead holder's phones count until they are reaped, a second or so). */
  async countOnline(): Promise<number> {
    return this.redis.scard(this.onlineSet);
  }

  /** The ids in the online set (as {@link countOnline} counts them): the metrics split them by transport. */
  async onlineIds(): Promise<string[]> {
    return this.redis.smembers(this.onlineSet);
  }

  /**
   * Keeps `holderId`'s connections alive until the returned stop function runs (or the process
   * dies). Stopping marks the holder dead at once: whatever connection it still had is reaped.
   */
  holdConnections(holderId: string): () => Promise<void> {
    const keys = [this.holders, `${this.base}reaped:${holderId}`];
    const renew = async () => {
      const revived = await SCRIPTS.heartbeat.run(this.redis, keys, [holderId, HOLDER_TTL_MS]).catch(() => 0);
      if (Number(revived) !== 1) return;
      const listeners = this.revivalListeners.get(holderId) ?? new Set();
      if (listeners.size > 0)
        this.log?.warn(
          { holderId },
          'this process was taken for dead (it stalled past its liveness); re-asserting its connections',
        );
      for (const listener of listeners) listener();
    };
    void renew();
    const timer = setInterval(() => void renew(), HOLDER_HEARTBEAT_MS);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await this.redis.zadd(this.holders, 0, holderId).catch(() => undefined);
    };
  }

  /**
   * Calls `listener` when `holderId` renews after it was reaped (it was stalled, not dead): its
   * connections that are still up must be re-asserted ({@link reclaim}). Returns an unsubscribe.
   */
  onRevived(holderId: string, listener: () => void): () => void {
    const set = this.revivalListeners.get(holderId) ?? new Set();
    set.add(listener);
    this.revivalListeners.set(holderId, set);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.revivalListeners.get(holderId) === set) this.revivalListeners.delete(holderId);
    };
  }

  /** Marks offline the connections of every holder whose liveness ran out; returns them (for `device.offline`). */
  async reapDeadHolders(at = new Date()): Promise<Array<{ deviceId: string; connectionId: string }>> {
    const reaped: Array<{ deviceId: string; connectionId: string }> = [];
    for (;;) {
      const [handled, ...flat] = (await SCRIPTS.reap.run(
        this.redis,
        [this.holders],
        [this.base, at.toISOString(), TOMBSTONE_TTL_S, REAP_BATCH],
      )) as [number, ...string[]];
      const batch: string[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        reaped.push({ deviceId: flat[i]!, connectionId: flat[i + 1]! });
        batch.push(flat[i]!);
      }
      await this.changed(batch);
      // A full batch may have left more dead holders behind.
      if (handled < REAP_BATCH) return reaped;
    }
  }

  /** Forgets an unlinked device. */
  async remove(deviceId: string): Promise<void> {
    await this.redis.multi().del(this.key(deviceId)).srem(this.onlineSet, deviceId).exec();
    await this.changed([deviceId]);
  }
}

/** A presence hash as READ returns it (flat field/value pairs, `stale` added for a dead holder's phone). */
function parse(flat: string[]): Presence {
  if (flat.length === 0) return { ...OFFLINE };
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!;
  const num = (v: string | undefined) => (v === undefined ? null : Number(v));
  return {
    online: hash.online === '1' && hash.stale !== '1',
    lastSeenAt: hash.lastSeenAt ?? null,
    battery: num(hash.battery),
    charging: hash.charging === undefined ? null : hash.charging === '1',
    signal: num(hash.signal),
    appVersion: hash.appVersion ?? null,
  };
}
