import type { Redis } from 'ioredis';
import { inject, injectable } from '../di.js';
import { apiError } from '../errors.js';
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

/** What a successful `take` holds; `release()` gives the units back when the send is not accepted after all. */
export interface LimitTicket {
  release(): Promise<void>;
}

const NOTHING_TAKEN: LimitTicket = { release: async () => {} };

/**
 * The SMS pumping guard: per destination number (OTP), per project per minute (OTP and SMS),
 * and a per-project allow-list of destination countries. Counters live in Redis and are taken
 * atomically by one script, so N concurrent sends over a limit of L accept exactly L.
 */
@injectable()
export class AbuseLimits {
  constructor(
    @inject(TOKENS.Redis) private readonly redis: Redis,
    @inject(TOKENS.Config) private readonly config: RuntimeConfig,
  ) {}

  /** VALIDATION_FAILED (field `to`) when the project allows only some countries and this is not one. */
  checkCountry(settings: ProjectSettings, countryIso: string | null): void {
    const allowed = settings.allowedCountries;
    if (allowed.length === 0 || (countryIso !== null && allowed.includes(countryIso))) return;
    throw apiError('VALIDATION_FAILED', { details: [{ field: 'to', message: `destination country ${countryIso ?? 'unknown'} is not allowed for this project` }] });
  }

  /**
   * Counts one send (`otp` also counts against the destination number). Over a limit:
   * RATE_LIMITED with Retry-After, and nothing is counted.
   */
  async take(projectId: string, to: string, kind: 'otp' | 'sms', settings: ProjectSettings): Promise<LimitTicket> {
    const { perNumber, perNumberWindowSeconds, perProjectPerMinute } = settings.rateLimits;
    const keys: string[] = [];
    const args: number[] = [];
    const base = `${this.config.redisPrefix}:rl`;
    if (kind === 'otp' && perNumber > 0) {
      keys.push(`${base}:num:${projectId}:${to}`);
      args.push(perNumber, perNumberWindowSeconds * 1000);
    }
    if (perProjectPerMinute > 0) {
      keys.push(`${base}:prj:${projectId}`);
      args.push(perProjectPerMinute, 60_000);
    }
    if (keys.length === 0) return NOTHING_TAKEN;
    const wait = Number(await this.redis.eval(TAKE_SCRIPT, keys.length, ...keys, ...args));
    if (wait > 0) {
      const which = keys.length === 1 && keys[0]!.includes(':prj:') ? 'this project' : 'this number or project';
      throw apiError('RATE_LIMITED', { message: `Too many sends to ${which}; retry after the time in Retry-After.`, retryAfter: Math.max(1, Math.ceil(wait / 1000)) });
    }
    return {
      release: async () => {
        const multi = this.redis.multi();
        for (const key of keys) multi.decr(key);
        await multi.exec();
      },
    };
  }
}
