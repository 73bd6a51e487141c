import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * KEYS[1] lock, KEYS[2] pending flag; ARGV[1] owner token. Deletes only the owner's lock and, in
 * the same step, takes the pending flag: returns 1 when someone asked for a look meanwhile.
 */
const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return redis.call('DEL', KEYS[2])`;
/**
 * KEYS[1] lock, KEYS[2] pending flag; ARGV[1] token, ARGV[2] ttl ms. Takes the lock, or (in the
 * same step, so the holder's release cannot slip between) leaves the pending flag for the holder.
 */
const ACQUIRE_OR_LEAVE_PENDING = `
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return 0`;
/** KEYS[1] lock; ARGV[1] owner token, ARGV[2] ttl ms. Extends only the owner's lock. */
const EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

/** How long a dispatcher's lock outlives its last extension (the holder extends it every 2 s). */
export const DISPATCH_LOCK_TTL_MS = 10_000;

/**
 * A per-device mutual exclusion across worker processes: one dispatcher at a time hands a
 * device its messages, which keeps their order. The TTL frees the lock of a crashed process.
 *
 * A dispatcher that finds the lock taken does not wait: it leaves a "pending" flag, and the holder,
 * when it lets go, learns of it (`release()` resolves true) and looks again at once — so a message
 * committed just after the holder's last read waits milliseconds, not a retry delay.
 */
export class DeviceLocks {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs = DISPATCH_LOCK_TTL_MS,
  ) {}

  /** The lock, or null after leaving the holder the pending flag. */
  async acquire(deviceId: string): Promise<DeviceLock | null> {
    const key = `${this.prefix}:dispatch-lock:${deviceId}`;
    const pending = `${this.prefix}:dispatch-pending:${deviceId}`;
    const token = randomBytes(12).toString('base64url');
    if ((await this.redis.eval(ACQUIRE_OR_LEAVE_PENDING, 2, key, pending, token, this.ttlMs)) !== 1) return null;
    return {
      extend: async () => (await this.redis.eval(EXTEND, 1, key, token, this.ttlMs)) === 1,
      release: async () => (await this.redis.eval(RELEASE, 2, key, pending, token)) === 1,
    };
  }
}

export interface DeviceLock {
  extend(): Promise<boolean>;
  /** Lets go; true when another dispatcher asked for a look while the lock was held. */
  release(): Promise<boolean>;
}
