import type { Redis } from 'ioredis';
import { RedisScript } from '../redis-script.js';

/**
 * Token bucket per device: refills at `ratePerMinute`, holds at most one second's worth (at least
 * one message), so a device's messages are spread out rather than burst after an idle spell.
 * Atomic across every worker process.
 *
 * KEYS[1] the device's bucket (hash: tokens, ts)
 * ARGV[1] now (epoch ms), ARGV[2] refill per ms, ARGV[3] capacity, ARGV[4] tokens wanted
 * returns { taken, msUntilNextToken }
 */
const TAKE = new RedisScript(`
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local capacity = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local taken = math.min(want, math.floor(tokens))
tokens = tokens - taken
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate) + 60000)
local wait = 0
if tokens < 1 then wait = math.ceil((1 - tokens) / rate) end
return { taken, wait }`);

/**
 * Gives tokens back (messages that were reserved but not there to send).
 * KEYS[1] the bucket; ARGV[1] tokens to return, ARGV[2] capacity
 */
const REFUND = new RedisScript(`
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
if tokens then redis.call('HSET', KEYS[1], 'tokens', tostring(math.min(tonumber(ARGV[2]), tokens + tonumber(ARGV[1])))) end
return 1`);

export interface PaceGrant {
  /** How many messages may go now. */
  taken: number;
  /** When none may go: milliseconds until the next one may. */
  waitMs: number;
}

export class DevicePacer {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(deviceId: string): string {
    return `${this.prefix}:pace:${deviceId}`;
  }

  /** Takes up to `want` sending slots now; rate 0 means unpaced (all of them). */
  async take(deviceId: string, ratePerMinute: number, want: number, now = Date.now()): Promise<PaceGrant> {
    if (ratePerMinute <= 0) return { taken: want, waitMs: 0 };
    const [taken, waitMs] = (await TAKE.run(
      this.redis,
      [this.key(deviceId)],
      [now, ratePerMinute / 60_000, capacity(ratePerMinute), want],
    )) as [number, number];
    return { taken, waitMs };
  }

  async refund(deviceId: string, ratePerMinute: number, tokens: number): Promise<void> {
    if (ratePerMinute <= 0 || tokens <= 0) return;
    await REFUND.run(this.redis, [this.key(deviceId)], [tokens, capacity(ratePerMinute)]);
  }
}

/** One second's worth of messages, at least one. */
function capacity(ratePerMinute: number): number {
  return Math.max(1, Math.floor(ratePerMinute / 60));
}
