import type { Redis } from 'ioredis';
import ipaddr from 'ipaddr.js';
import { apiError } from '../errors.js';

/**
 * Brute-force limits on 6-digit link codes (one in a million per guess; the spec fixes 6 digits).
 *
 * - `perSource`: code attempts one source may make in its window. Taken atomically BEFORE the
 *   code is compared (as OTP attempts are), so N concurrent guesses compare at most `perSource`
 *   codes; a right code gives its attempt back.
 * - `pressureAfter` / `perSourceUnderPressure`: once that many attempts from anywhere are held
 *   in the window (wrong codes, since right ones are given back: a guesser spread over many
 *   sources), each source gets `perSourceUnderPressure` attempts per window instead. A source
 *   that has not tried yet always gets its first attempt, so a right code typed from a fresh
 *   source always links: there is no server-wide lockout.
 *
 * Odds (README "Security"): a code lives 10 minutes, which overlaps at most two windows of a
 * source and two of the whole server, so one source compares at most 2 × perSource = 20 codes
 * against it (1 in 50,000), and S sources at most min(20 × S, 2 × pressureAfter + 2 × S): about
 * 1 in 2,500 for 100 sources, 1 in 450 for 1,000. Six digits cannot do better against a large
 * botnet without locking everyone out; the QR link token (256 bits) is the strong way to pair.
 * @defaultValue `{ perSource: 10, pressureAfter: 100, perSourceUnderPressure: 1, windowSeconds: 600 }`
 */
export const CODE_GUESS_LIMITS = {
  perSource: 10,
  pressureAfter: 100,
  perSourceUnderPressure: 1,
  windowSeconds: 600,
} as const;

/**
 * Takes one attempt from a source's budget and from the server-wide count, or none. Both are
 * fixed windows that start with their first attempt.
 *
 * KEYS[1]  the source's attempts in its window
 * KEYS[2]  attempts held from any source in the server-wide window
 * ARGV[1]  attempts per source per window
 * ARGV[2]  attempts per source per window while KEYS[2] >= ARGV[3]
 * ARGV[3]  attempts held server-wide that mean a distributed guesser
 * ARGV[4]  window in milliseconds
 * Returns 0 when taken, else the milliseconds until the source's window frees.
 */
const TAKE = `
local limit = tonumber(ARGV[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[3]) then limit = tonumber(ARGV[2]) end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= limit then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then
    ttl = tonumber(ARGV[4])
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
  return ttl
end
for _, key in ipairs(KEYS) do
  redis.call('INCR', key)
  -- A window starts with its first attempt (not at 1: a given-back count may be 0 mid-window).
  if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, tonumber(ARGV[4])) end
end
return 0
`;

/**
 * Gives an attempt back (a right code): KEYS as in TAKE, each decremented when above zero.
 */
const GIVE_BACK = `
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0
`;

/**
 * The source a limit counts: the client address (X-Forwarded-For through trusted proxies only,
 * see SMX_TRUST_PROXY). IPv6 counts per /64, the block one subscriber or host usually holds,
 * so one machine cannot turn its 2^64 addresses into as many sources.
 */
export function sourceOf(address: string | undefined): string {
  if (!address || !ipaddr.isValid(address)) return 'unknown';
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const parts = (parsed as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16));
  return `${parts.join(':')}::/64`;
}

/** One taken attempt. A wrong code keeps it; a right one gives it back. */
export interface CodeAttempt {
  /** A right code: the attempt is given back (an office linking many phones is not limited). */
  succeeded(): Promise<void>;
}

/** The per-source link-code budget in Redis (keys share one hash slot: a script may touch both). */
export class LinkCodeLimits {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Takes an attempt for `address` before its code is compared; 429 RATE_LIMITED (with Retry-After) past the budget. */
  async take(address: string | undefined): Promise<CodeAttempt> {
    const source = this.sourceKey(sourceOf(address));
    const all = this.allKey();
    const { perSource, perSourceUnderPressure, pressureAfter, windowSeconds } = CODE_GUESS_LIMITS;
    const wait = Number(
      await this.redis.eval(
        TAKE,
        2,
        source,
        all,
        perSource,
        perSourceUnderPressure,
        pressureAfter,
        windowSeconds * 1000,
      ),
    );
    if (wait > 0) {
      throw apiError('RATE_LIMITED', {
        message: 'Too many link code attempts from this address; try again later.',
        retryAfter: Math.max(1, Math.ceil(wait / 1000)),
      });
    }
    return {
      succeeded: async () => {
        await this.redis.eval(GIVE_BACK, 2, source, all);
      },
    };
  }

  private sourceKey(source: string): string {
    return `${this.prefix}:{link-codes}:source:${source}`;
  }

  private allKey(): string {
    return `${this.prefix}:{link-codes}:all`;
  }
}
