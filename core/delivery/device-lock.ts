import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RedisScript } from '../redis-script.js';

/**
 * KEYS[1] lock, KEYS[2] pending flag; ARGV[1] owner token. Deletes only the owner's lock and, in
 * the same step, takes the pending flag: returns 1 when someone asked for a look meanwhile.
 */
const RELEASE = new RedisScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return redis.call('DEL', KEYS[2])`);
/**
 * KEYS[1] lock, KEYS[2] pending flag; ARGV[1] token, ARGV[2] lock TTL ms, ARGV[3] pending TTL ms.
 * Takes the lock (returns -1), or (in the same step, so the holder's release cannot slip between)
 * leaves the pending flag for the holder and returns the ms until the lock runs out unless renewed.
 */
const ACQUIRE_OR_LEAVE_PENDING = new RedisScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return -1 end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then return tonumber(ARGV[2]) end
return left`);
/** KEYS[1] lock; ARGV[1] owner token, ARGV[2] TTL ms. Extends only the owner's lock. */
const EXTEND = new RedisScript(
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`,
);

/**
 * How long a dispatcher's lock outlives its holder's last renewal: a worker that dies holding a
 * device stops that device's delivery for at most this long (plus a job pickup).
 */
export const DISPATCH_LOCK_TTL_MS = 2_000;
/** How often the holder renews its lock, from a timer of its own (a slow publish cannot starve it). */
export const DISPATCH_LOCK_RENEW_MS = 500;
/**
 * How long a refused dispatcher's request for a look waits for the holder's release. Longer than
 * the lock: a holder may drain for seconds; a stale flag costs one extra look, never a lost one.
 */
const PENDING_TTL_MS = 30_000;

export type Acquired = { lock: DeviceLock; expiresInMs?: undefined } | { lock: null; expiresInMs: number };

/**
 * A per-device mutual exclusion across worker processes: one dispatcher at a time hands a
 * device its messages, which keeps their order. The TTL frees the lock of a crashed process.
 *
 * A dispatcher that finds the lock taken does not wait: it leaves a "pending" flag, and the holder,
 * when it lets go, learns of it (`release()` resolves true) and looks again at once — so a message
 * committed just after the holder's last read waits milliseconds, not a retry delay. A holder that
 * died never lets go, so the refused dispatcher is also told when the lock runs out
 * (`expiresInMs`) and makes sure someone looks then (DispatchService.signalTakeover).
 *
 * While held, the lock is renewed every {@link DISPATCH_LOCK_RENEW_MS} by a timer; no Redis call
 * beyond acquire and release when a dispatcher is done within that time.
 */
export class DeviceLocks {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs = DISPATCH_LOCK_TTL_MS,
    private readonly renewMs = Math.min(DISPATCH_LOCK_RENEW_MS, Math.floor(ttlMs / 4)),
  ) {}

  /** The lock key of a device; its value is the holder's token (`<pid>:<random>`). */
  key(deviceId: string): string {
    return `${this.prefix}:dispatch-lock:${deviceId}`;
  }

  /** The lock, or null after leaving the holder the pending flag. */
  async acquire(deviceId: string): Promise<DeviceLock | null> {
    return (await this.tryAcquire(deviceId)).lock;
  }

  /** The lock, or none after leaving the holder the pending flag, with the time the holder's lock has left. */
  async tryAcquire(deviceId: string): Promise<Acquired> {
    const key = this.key(deviceId);
    const pending = `${this.prefix}:dispatch-pending:${deviceId}`;
    // The process id first: operators (and the fault tests) can tell which process holds a device.
    const token = `${process.pid}:${randomBytes(9).toString('base64url')}`;
    const sentAt = Date.now();
    const answer = Number(
      await ACQUIRE_OR_LEAVE_PENDING.run(this.redis, [key, pending], [token, this.ttlMs, PENDING_TTL_MS]),
    );
    if (answer !== -1) return { lock: null, expiresInMs: answer };
    return { lock: new HeldLock(this.redis, key, pending, token, this.ttlMs, this.renewMs, sentAt) };
  }
}

export interface DeviceLock {
  /** `<pid>:<random>`: who holds it. */
  readonly token: string;
  /**
   * False once the lock cannot be counted on: a renewal found it gone (another dispatcher may
   * have it), or no renewal succeeded for nearly a TTL (Redis unreachable). Checked before each round.
   */
  readonly held: boolean;
  /** Stops renewing and lets go; true when another dispatcher asked for a look while the lock was held. */
  release(): Promise<boolean>;
}

class HeldLock implements DeviceLock {
  private readonly timer: NodeJS.Timeout;
  private lost = false;
  private renewing = false;
  /** When the last successful renewal (or the acquire) was sent: the lock lasts a TTL from then. */
  private confirmedAt: number;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly pending: string,
    readonly token: string,
    private readonly ttlMs: number,
    private readonly renewMs: number,
    acquiredAt: number,
  ) {
    this.confirmedAt = acquiredAt;
    this.timer = setInterval(() => void this.renew(), renewMs);
    this.timer.unref();
  }

  get held(): boolean {
    // One renewal period of margin: the caller acts on the answer for a moment after asking.
    return !this.lost && Date.now() < this.confirmedAt + this.ttlMs - this.renewMs;
  }

  private async renew(): Promise<void> {
    if (this.renewing || this.lost) return;
    this.renewing = true;
    const sentAt = Date.now();
    try {
      if ((await EXTEND.run(this.redis, [this.key], [this.token, this.ttlMs])) === 1) this.confirmedAt = sentAt;
      else {
        this.lost = true;
        clearInterval(this.timer);
      }
    } catch {
      // Redis unreachable: `held` turns false once the lock may have run out; the next tick retries.
    } finally {
      this.renewing = false;
    }
  }

  async release(): Promise<boolean> {
    clearInterval(this.timer);
    this.lost = true;
    return (await RELEASE.run(this.redis, [this.key, this.pending], [this.token])) === 1;
  }
}
