import type { Redis } from 'ioredis';
import { hmac, sameDigest } from '../crypto.js';
import { inject, injectable } from '../di.js';
import { apiError, isApiError } from '../errors.js';
import type { Logger } from '../logger.js';
import { generateCode, normalizeCode } from '../otp-codes.js';
import type { RuntimeConfig } from '../secrets.js';
import { ChallengeService, type VerificationView } from '../sending/challenges.js';
import type { Language } from '../services/projects.js';
import { TestNumberService } from '../services/test-numbers.js';
import { TOKENS } from '../tokens.js';

/** The provider's defaults (reference/sms-verify-api.txt). */
export const SMS_VERIFY_DEFAULTS = { codeLength: 5, language: 'en' as Language };

/**
 * Wrong codes a project may try per minute on `verify-security-code`. That call has no
 * challenge id, so a guess may match any of the project's pending codes: the budget is the
 * project's, taken before any comparison.
 */
export const WRONG_CODES_PER_MINUTE = 30;

export interface SmsVerifyInput {
  number: string;
  codeLength?: number;
  securityCode?: string;
  countryCode?: string;
  language?: Language;
}

/** The provider's response, field names as it spells them. */
export interface SmsVerifyResponse {
  sent: boolean;
  'number-valid': boolean;
  'security-code': string;
}

/**
 * Takes one guess from the project's budget, atomically (N concurrent guesses over a budget of
 * L compare at most L codes).
 *
 * KEYS[1]  the project's guess counter
 * ARGV[1]  the budget
 * ARGV[2]  the window in milliseconds
 * Returns 0 when taken, else the milliseconds until the window frees.
 */
const TAKE_GUESS = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then ttl = tonumber(ARGV[2]); redis.call('PEXPIRE', KEYS[1], ttl) end
  return ttl
end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2])) end
return 0
`;

/**
 * Adds a challenge to an index set that lives as long as its longest-lived member.
 *
 * KEYS[1]  the index set
 * ARGV[1]  the verification id
 * ARGV[2]  the challenge's remaining lifetime in milliseconds
 */
const INDEX = `
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`;

/** Gives one guess back (a right code is not a wrong guess); never below zero, never outliving its window. */
const GIVE_BACK = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used > 0 then redis.call('DECR', KEYS[1]) end
return 1
`;

/**
 * The SMS Verify surface: a code sent as an ordinary SMX challenge (templates, test numbers,
 * limits, routing and stats all apply), and verified by the code alone.
 *
 * Lookup by code stays hashed: each challenge is indexed in Redis under an HMAC (server secret)
 * of (project, code), living as long as the challenge; the challenge itself then checks the code
 * with its own counted attempt. Test-number challenges have no known code (only its hash), so
 * they are indexed per project and matched through the test number's hash.
 */
@injectable()
export class SmsVerifyCompat {
  constructor(
    @inject(TOKENS.Redis) private readonly redis: Redis,
    @inject(TOKENS.Config) private readonly config: RuntimeConfig,
    @inject(TOKENS.Logger) private readonly log: Logger,
    private readonly challenges: ChallengeService,
    private readonly testNumbers: TestNumberService,
  ) {}

  /** Sends a code. An invalid number is an answer (`number-valid: false`), not an error, as the provider does. */
  async send(projectId: string, input: SmsVerifyInput): Promise<SmsVerifyResponse> {
    const code = input.securityCode ?? generateCode('numeric', input.codeLength ?? SMS_VERIFY_DEFAULTS.codeLength);
    let view: VerificationView;
    try {
      view = await this.challenges.send(projectId, {
        to: international(input.number, input.countryCode),
        countryCode: input.countryCode,
        codeType: 'numeric',
        code,
        language: input.language ?? SMS_VERIFY_DEFAULTS.language,
      });
    } catch (error) {
      if (isApiError(error) && error.code === 'INVALID_PHONE_NUMBER')
        return { sent: false, 'number-valid': false, 'security-code': '' };
      throw error;
    }
    const ttlMs = Math.max(1000, Date.parse(view.expiresAt) - Date.now());
    const key = view.test ? this.testKey(projectId) : this.codeKey(projectId, code);
    await this.redis.eval(INDEX, 1, key, view.verificationId, ttlMs);
    // A test number's fixed code is known only as a hash: the caller gets no code back for it.
    return { sent: true, 'number-valid': true, 'security-code': view.test ? '' : code };
  }

  /** True when the code belongs to one of the project's pending SMS Verify challenges (which it then completes). */
  async verify(projectId: string, securityCode: string): Promise<boolean> {
    const code = normalizeCode(securityCode);
    await this.takeGuess(projectId);
    const codeKey = this.codeKey(projectId, code);
    for (const id of await this.redis.smembers(codeKey)) {
      if (await this.complete(projectId, id, code)) {
        await this.redis.srem(codeKey, id);
        await this.giveBackGuess(projectId);
        return true;
      }
    }
    for (const id of await this.redis.smembers(this.testKey(projectId))) {
      const view = await this.challenges.get(projectId, id).catch(() => undefined);
      if (!view || view.status !== 'PENDING') {
        await this.redis.srem(this.testKey(projectId), id);
        continue;
      }
      const fixed = await this.testNumbers.match(projectId, view.to);
      if (fixed === undefined || !sameDigest(this.testNumbers.testCodeHash(projectId, view.to, code), fixed)) continue;
      if (await this.complete(projectId, id, code)) {
        await this.redis.srem(this.testKey(projectId), id);
        await this.giveBackGuess(projectId);
        return true;
      }
    }
    return false;
  }

  /** Verifies one candidate challenge; a challenge past its end (used, expired, failed) is no match. */
  private async complete(projectId: string, verificationId: string, code: string): Promise<boolean> {
    try {
      return (await this.challenges.verify(projectId, verificationId, code)).verified;
    } catch (error) {
      if (isApiError(error) && error.code.startsWith('VERIFICATION_')) {
        this.log.debug({ verificationId, code: error.code }, 'sms-verify: candidate challenge no longer verifiable');
        return false;
      }
      throw error;
    }
  }

  private async takeGuess(projectId: string): Promise<void> {
    const wait = Number(await this.redis.eval(TAKE_GUESS, 1, this.guessKey(projectId), WRONG_CODES_PER_MINUTE, 60_000));
    if (wait > 0) {
      throw apiError('RATE_LIMITED', {
        message: 'Too many wrong security codes for this project; retry after the time in Retry-After.',
        retryAfter: Math.max(1, Math.ceil(wait / 1000)),
      });
    }
  }

  /** A right code does not count against the wrong-code budget. */
  private async giveBackGuess(projectId: string): Promise<void> {
    await this.redis.eval(GIVE_BACK, 1, this.guessKey(projectId));
  }

  private codeKey(projectId: string, code: string): string {
    return `${this.config.redisPrefix}:compat:sv:code:${projectId}:${hmac(this.config.secret, `compat-sv:${projectId}:${normalizeCode(code)}`)}`;
  }

  private testKey(projectId: string): string {
    return `${this.config.redisPrefix}:compat:sv:test:${projectId}`;
  }

  private guessKey(projectId: string): string {
    return `${this.config.redisPrefix}:compat:sv:guesses:${projectId}`;
  }
}

/**
 * The provider reads a number without `country-code` as international "with or without the
 * leading + sign": `14155550123` is `+14155550123`.
 */
function international(number: string, countryCode: string | undefined): string {
  const trimmed = number.trim();
  return countryCode === undefined && /^\d/.test(trimmed) ? `+${trimmed}` : trimmed;
}
