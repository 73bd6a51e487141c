import { randomInt } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { inject, injectable } from '../di.js';
import { hmac, randomSecret, sha256 } from '../crypto.js';
import { newId } from '../ids.js';
import type { RuntimeConfig } from '../secrets.js';
import { TOKENS } from '../tokens.js';
import { LinkCodeLimits, type CodeAttempt } from './link-code-limits.js';

export { CODE_GUESS_LIMITS, sourceOf, type CodeAttempt } from './link-code-limits.js';

/** Link tokens and codes live 10 minutes and work once (docs/api.md "Admin API"). */
export const LINK_TTL_MS = 10 * 60 * 1000;

export type LinkKind = 'token' | 'code';

/** One-time credentials that link a phone to a project: QR tokens (`lt_...`) and 6-digit codes. */
@injectable()
export class LinkTokenService {
  private readonly limits: LinkCodeLimits;
  private comparisons = 0;

  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    @inject(TOKENS.Config) private readonly config: RuntimeConfig,
    @inject(TOKENS.Redis) redis: Redis,
  ) {
    this.limits = new LinkCodeLimits(redis, config.redisPrefix);
  }

  /**
   * Takes a link-code attempt for the client address before the code is compared (see
   * CODE_GUESS_LIMITS); 429 RATE_LIMITED past the source's budget. Call `succeeded()` on the
   * result when the code linked.
   */
  async takeCodeAttempt(address: string | undefined): Promise<CodeAttempt> {
    return this.limits.take(address);
  }

  /** How many link codes this process has compared with the live ones (tests prove the limit holds under concurrency). */
  get codeComparisons(): number {
    return this.comparisons;
  }

  /** Creates a QR link token (32 random bytes); the plain token is returned only here. */
  async createToken(projectId: string): Promise<{ token: string; expiresAt: string }> {
    const token = randomSecret(32, 'lt_');
    const expiresAt = await this.insert(projectId, 'token', this.hash('token', token));
    return { token, expiresAt };
  }

  /** Creates a 6-digit code; retries on the rare collision with another live code. */
  async createCode(projectId: string): Promise<{ code: string; expiresAt: string }> {
    for (let tries = 0; ; tries++) {
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      const hash = this.hash('code', code);
      // An expired, unused code no longer blocks its digits.
      await this.db('link_tokens')
        .where({ token_hash: hash })
        .whereNull('used_at')
        .where('expires_at', '<=', new Date())
        .delete();
      try {
        return { code, expiresAt: await this.insert(projectId, 'code', hash) };
      } catch (error) {
        if (tries >= 5 || (error as { code?: string }).code !== '23505') throw error;
      }
    }
  }

  /**
   * Marks a live token or code used, atomically (two phones racing for one token: one wins).
   * Returns the project it links to, or null if unknown, used or expired.
   */
  async consume(
    trx: Knex.Transaction,
    plain: string,
    deviceId: string,
    now: Date,
    kind: LinkKind = 'token',
  ): Promise<{ projectId: string } | null> {
    if (kind === 'code') this.comparisons++;
    const [row] = await trx('link_tokens')
      .where({ token_hash: this.hash(kind, plain), kind })
      .whereNull('used_at')
      .where('expires_at', '>', now)
      .update({ used_at: now, device_id: deviceId })
      .returning(['project_id']);
    return row ? { projectId: row.project_id } : null;
  }

  /** Tokens carry 256 bits, so SHA-256 is enough; 6-digit codes are keyed with the server secret. */
  private hash(kind: LinkKind, plain: string): string {
    return kind === 'token' ? sha256(plain) : hmac(this.config.secret, `link-code:${plain}`);
  }

  private async insert(projectId: string, kind: LinkKind, tokenHash: string): Promise<string> {
    const now = new Date();
    const expires = new Date(now.getTime() + LINK_TTL_MS);
    await this.db('link_tokens').insert({
      id: newId('lt'),
      project_id: projectId,
      kind,
      token_hash: tokenHash,
      created_at: now,
      expires_at: expires,
    });
    return expires.toISOString();
  }
}
