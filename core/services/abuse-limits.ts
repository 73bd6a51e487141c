import type { Redis } from 'ioredis';
import { inject, injectable } from '../di.js';
import { apiError } from '../errors.js';
import { RedisScript } from '../redis-script.js';
import type { RuntimeConfig } from '../secrets.js';
import { TOKENS } from '../tokens.js';
import type { ProjectSettings } from './projects.js';

/**
 * Takes one unit from every counter, or none (all-or-nothing, so a refusal by one limit does
 * not use up another). Fixed windows that start with their first send.
 *
 * KEYS[i]       a counter
 * ARGV[2i-1]    its limit (> 0)
 * ARGV[2i]      its window in milliseconds
 * Returns 0 when taken, else the milliseconds until the fullest counter's window frees.
 */
const TAKE_SCRIPT = `
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local used = tonumber(redis.call('GET', key) or '0')
  if used >= limit then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      ttl = tonumber(ARGV[2 * i])
      redis.call('PEXPIRE', key, ttl)
    end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, tonumber(ARGV[2 * i])) end
end
return 0
`;

/**
 * Takes up to ARGV[1] units from one counter (KEYS[1]) with limit ARGV[2] and window ARGV[3] ms.
 * Returns { taken, ms until the window frees }.
 */
const TAKE_UP_TO_SCRIPT = `
local want = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local free = limit - used
if free < 0 then free = 0 end
local taken = math.min(want, free)
if taken > 0 then
  if redis.call('INCRBY', KEYS[1], taken) == taken then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3])) end
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = tonumber(ARGV[3]) end
return { taken, ttl }
`;

/** What a successful `take` holds; `release()` gives the units back when the send is not accepted after all. */
export interface LimitTicket {
  release(): Promise<void>;
}

const NOTHING_TAKEN: LimitTicket = { release: async () => {} };
const TAKE = new RedisScript(TAKE_SCRIPT);

/**
 * The SMS pumping guard: per destination number and per destination prefix (OTP), per project
 * per minute (OTP and SMS, bulk included), and a per-project allow-list of destination countries. Counters live in Redis and are taken
 * atomically by one script, so N concurrent sends over a limit of L accept exactly L.
 */
@injectable()
export class AbuseLimits {
  constructor(
    @inject(TOKENS.Redis) private readonly redis: Redis,
    @inject(TOKENS.Config) private readonly config: RuntimeConfig,
  ) {}

  /** VALIDATION_FAILED (field `to`) when the project allows only some countries and this is not one. */
  checkCountry(settings: ProjectSettings, countryIso: string | null, field = 'to'): void {
    const allowed = settings.allowedCountries;
    if (allowed.length === 0 || (countryIso !== null && allowed.includes(countryIso))) return;
    throw apiError('VALIDATION_FAILED', {
      details: [{ field, message: `destination country ${countryIso ?? 'unknown'} is not allowed for this project` }],
    });
  }

  /**
   * Counts one send: against the project's per-minute limit, and for `otp` also against the
   * destination number and its country prefix. Over a limit: RATE_LIMITED with Retry-After, and
   * nothing is counted.
   */
  async take(projectId: string, to: string, kind: 'otp' | 'sms', settings: ProjectSettings): Promise<LimitTicket> {
    const { perNumber, perNumberWindowSeconds, perProjectPerMinute, perCountryPrefix, perCountryPrefixWindowSeconds } =
      settings.rateLimits;
    const keys: string[] = [];
    const args: number[] = [];
    const base = `${this.config.redisPrefix}:rl`;
    if (kind === 'otp' && perNumber > 0) {
      keys.push(`${base}:num:${projectId}:${to}`);
      args.push(perNumber, perNumberWindowSeconds * 1000);
    }
    const prefix = kind === 'otp' ? longestPrefix(perCountryPrefix, to) : undefined;
    if (prefix !== undefined) {
      if (perCountryPrefix[prefix] === 0)
        throw apiError('RATE_LIMITED', {
          message: `Sends to ${prefix} numbers are blocked for this project.`,
          retryAfter: perCountryPrefixWindowSeconds,
        });
      keys.push(`${base}:cc:${projectId}:${prefix}`);
      args.push(perCountryPrefix[prefix]!, perCountryPrefixWindowSeconds * 1000);
    }
    if (perProjectPerMinute > 0) {
      keys.push(`${base}:prj:${projectId}`);
      args.push(perProjectPerMinute, 60_000);
    }
    if (keys.length === 0) return NOTHING_TAKEN;
    const wait = Number(await TAKE.run(this.redis, keys, args));
    if (wait > 0) {
      const which =
        keys.length === 1 && keys[0]!.includes(':prj:')
          ? 'this project'
          : 'this number, its country prefix or this project';
      throw apiError('RATE_LIMITED', {
        message: `Too many sends to ${which}; retry after the time in Retry-After.`,
        retryAfter: Math.max(1, Math.ceil(wait / 1000)),
      });
    }
    return { release: () => this.giveBack(keys.map((key) => [key, 1])) };
  }

  /**
   * Counts a bulk request's `count` messages against the project's per-minute limit: as many as
   * the limit still allows are taken (the rest are rejected by the caller). Returns how many,
   * with the Retry-After seconds when not all could be.
   */
  async takeMany(
    projectId: string,
    count: number,
    settings: ProjectSettings,
  ): Promise<{ taken: number; retryAfter: number; release(): Promise<void> }> {
    const { perProjectPerMinute } = settings.rateLimits;
    if (perProjectPerMinute <= 0 || count === 0) return { taken: count, retryAfter: 0, release: NOTHING_TAKEN.release };
    const key = `${this.config.redisPrefix}:rl:prj:${projectId}`;
    const [taken, ttl] = (await this.redis.eval(TAKE_UP_TO_SCRIPT, 1, key, count, perProjectPerMinute, 60_000)) as [
      number,
      number,
    ];
    return {
      taken,
      retryAfter: taken < count ? Math.max(1, Math.ceil(ttl / 1000)) : 0,
      release: () => this.giveBack([[key, taken]]),
    };
  }

  private async giveBack(units: Array<[key: string, n: number]>): Promise<void> {
    const multi = this.redis.multi();
    for (const [key, n] of units) if (n > 0) multi.decrby(key, n);
    await multi.exec();
  }
}

/** The longest configured prefix that `e164` starts with. */
function longestPrefix(limits: Readonly<Record<string, number>>, e164: string): string | undefined {
  let best: string | undefined;
  for (const prefix of Object.keys(limits))
    if (e164.startsWith(prefix) && (best === undefined || prefix.length > best.length)) best = prefix;
  return best;
}
