import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

/** KEYS[1] lock; ARGV[1] owner token. Deletes only the owner's lock. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
/** KEYS[1] lock; ARGV[1] owner token, ARGV[2] ttl ms. Extends only the owner's lock. */
const EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

/**
 * A per-device mutual exclusion across worker processes: one dispatcher at a time hands a
 * device its messages, which keeps their order. The TTL frees the lock of a crashed process.
 */
export class DeviceLocks {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs = 30_000,
  ) {}

  async acquire(deviceId: string): Promise<DeviceLock | null> {
    const key = `${this.prefix}:dispatch-lock:${deviceId}`;
    const token = randomBytes(12).toString('base64url');
    const ok = await this.redis.set(key, token, 'PX', this.ttlMs, 'NX');
    if (ok !== 'OK') return null;
    return {
      extend: async () => (await this.redis.eval(EXTEND, 1, key, token, this.ttlMs)) === 1,
      release: async () => void (await this.redis.eval(RELEASE, 1, key, token)),
    };
  }
}

export interface DeviceLock {
  extend(): Promise<boolean>;
  release(): Promise<void>;
}
