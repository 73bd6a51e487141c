import type { Redis } from 'ioredis';

/**
 * Reserves the next sending slot of a device paced to `ratePerMinute` (spec: default 30/min).
 * Slots are spread evenly; the reservation is atomic across every worker process.
 *
 * KEYS[1] the device's next-free-slot key
 * ARGV[1] now (epoch ms), ARGV[2] interval between slots (ms)
 * returns the reserved slot (epoch ms), >= now
 */
const RESERVE_SLOT = `
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local nextFree = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(nextFree, now)
redis.call('SET', KEYS[1], slot + interval, 'PX', slot + interval - now + 60000)
return slot`;

export class DevicePacer {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** The epoch ms at which the device may send its next message; 0 rate = no pacing (now). */
  async reserve(deviceId: string, ratePerMinute: number, now = Date.now()): Promise<number> {
    if (ratePerMinute <= 0) return now;
    const interval = Math.ceil(60_000 / ratePerMinute);
    const slot = await this.redis.eval(RESERVE_SLOT, 1, `${this.prefix}:pace:${deviceId}`, now, interval);
    return Number(slot);
  }
}
