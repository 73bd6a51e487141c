import type { Knex } from 'knex';
import { hmac, sameDigest } from '../crypto.js';
import { inject, injectable } from '../di.js';
import { apiError } from '../errors.js';
import { isId, newId } from '../ids.js';
import type { Logger } from '../logger.js';
import { normalizeCode } from '../otp-codes.js';
import type { VerificationStatus, VerificationView } from '../plugin-api.js';
import type { RuntimeConfig } from '../secrets.js';
import { OutboxRelay, writeWebhookEvents, type OutboxWebhookEvent } from '../outbox.js';
import { TOKENS } from '../tokens.js';
import { StatsService } from '../services/stats.js';
import { TestNumberService } from '../services/test-numbers.js';

export interface VerificationRow {
  id: string;
  project_id: string;
  message_id: string | null;
  device_id: string | null;
  to: string;
  country_iso: string | null;
  number_valid: boolean;
  code_hash: string;
  status: VerificationStatus;
  attempts: number;
  max_attempts: number;
  previous_code_hashes?: string[] | null;
  test: boolean;
  callback_url: string | null;
  metadata: Record<string, unknown> | null;
  created_at: Date;
  expires_at: Date;
  verified_at: Date | null;
  canceled_at: Date | null;
}

/** The outcome of taking one attempt: null when the challenge could not take one. */
export interface Attempt {
  taken: Pick<VerificationRow, 'id' | 'message_id' | 'attempts' | 'max_attempts' | 'callback_url'>;
  verified: boolean;
  remaining: number;
}

/**
 * The verifications table: attempts taken atomically, end states written with their counters,
 * codes kept only as keyed hashes, and the catalogue error that explains a refusal.
 */
@injectable()
export class ChallengeRecords {
  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    @inject(TOKENS.Config) private readonly config: RuntimeConfig,
    @inject(TOKENS.Logger) private readonly log: Logger,
    private readonly stats: StatsService,
    private readonly testNumbers: TestNumberService,
    private readonly outbox: OutboxRelay,
  ) {}

  /**
   * The `verification.*` webhook events of challenges that reached an end state, written into the
   * outbox in the transaction that ended them (so a crash after the commit loses none).
   */
  private async ended(trx: Knex.Transaction, rows: VerificationRow[]): Promise<void> {
    // One outbox row per project (an expiry sweep ends many challenges at once).
    const byProject = new Map<string, OutboxWebhookEvent[]>();
    for (const row of rows) {
      const view = toView(row);
      const type =
        `verification.${view.status.toLowerCase()}` as `verification.${'verified' | 'failed' | 'expired' | 'canceled'}`;
      const events = byProject.get(row.project_id) ?? [];
      events.push({ id: newId('evt'), type, data: view, callbackUrl: row.callback_url });
      byProject.set(row.project_id, events);
    }
    for (const [projectId, events] of byProject) await writeWebhookEvents(trx, projectId, events);
  }

  /**
   * Takes one attempt and compares the code. The attempt is taken in one UPDATE that also checks status, expiry and the
   * attempt budget, so N concurrent guesses consume N attempts and never more than maxAttempts
   * codes are ever compared. That UPDATE's row lock is held until the outcome (VERIFIED, FAILED
   * or still PENDING) is committed in the same transaction: a concurrent verify of the same
   * challenge waits for it and then sees the settled state, so the losers of N concurrent right
   * codes get VERIFICATION_ALREADY_VERIFIED (never VERIFICATION_FAILED from a half-done race),
   * and a wrong code that takes the last attempt cannot fail a right one that came first.
   */
  async attempt(projectId: string, verificationId: string, otp: string, now: Date): Promise<Attempt | null> {
    const outcome = await this.db.transaction(async (trx): Promise<Attempt | null> => {
      const [taken]: VerificationRow[] = await trx('verifications')
        .where({ id: verificationId, project_id: projectId, status: 'PENDING' })
        .where('expires_at', '>', now)
        .whereRaw('attempts < max_attempts')
        .update({ attempts: trx.raw('attempts + 1'), updated_at: now })
        .returning([
          'id',
          'message_id',
          'code_hash',
          'previous_code_hashes',
          'attempts',
          'max_attempts',
          'test',
          'to',
          'callback_url',
        ]);
      if (!taken) return null;
      // A test challenge holds its test number's code hash (see TestNumberService), hashed the same way here.
      const guess = taken.test
        ? this.testNumbers.testCodeHash(projectId, taken.to, otp)
        : this.codeHash(verificationId, normalizeCode(otp));
      // Codes of earlier sends stay valid after a resend (the earlier SMS may arrive last).
      if ([taken.code_hash, ...(taken.previous_code_hashes ?? [])].some((hash) => sameDigest(guess, hash))) {
        await this.ended(
          trx,
          await trx('verifications')
            .where({ id: verificationId })
            .update({ status: 'VERIFIED', verified_at: now, updated_at: now }, '*'),
        );
        await this.stats.record(trx, [{ projectId, metric: 'otp.verified', at: now }]);
        return { taken, verified: true, remaining: taken.max_attempts - taken.attempts };
      }
      const remaining = taken.max_attempts - taken.attempts;
      if (remaining <= 0)
        await this.ended(
          trx,
          await trx('verifications').where({ id: verificationId }).update({ status: 'FAILED', updated_at: now }, '*'),
        );
      return { taken, verified: false, remaining };
    });
    if (outcome && (outcome.verified || outcome.remaining <= 0)) this.outbox.poke();
    return outcome;
  }

  /** PENDING → CANCELED; the row, or null when it was not pending. */
  async cancel(projectId: string, verificationId: string, now: Date): Promise<VerificationRow | null> {
    const row = await this.db.transaction(async (trx) => {
      const rows: VerificationRow[] = await trx('verifications')
        .where({ id: verificationId, project_id: projectId, status: 'PENDING' })
        .where('expires_at', '>', now)
        .update({ status: 'CANCELED', canceled_at: now, updated_at: now })
        .returning('*');
      await this.ended(trx, rows);
      return rows[0] ?? null;
    });
    if (row) this.outbox.poke();
    return row;
  }

  /** PENDING past their TTL → EXPIRED, counted; the rows that moved. */
  async expireDue(now: Date): Promise<VerificationRow[]> {
    const expired = await this.db.transaction(async (trx) => {
      const expired: VerificationRow[] = await trx('verifications')
        .where({ status: 'PENDING' })
        .where('expires_at', '<=', now)
        .update({ status: 'EXPIRED', updated_at: now }, '*');
      await this.stats.record(
        trx,
        expired.map((r) => ({ projectId: r.project_id, metric: 'otp.expired' as const, at: now })),
      );
      await this.ended(trx, expired);
      return expired;
    });
    if (expired.length > 0) this.outbox.poke();
    return expired;
  }

  /** Stores a test-number challenge (no message: nothing goes through delivery), counted as requested. */
  async insertTest(row: { project_id: string; created_at: Date } & object): Promise<void> {
    await this.db.transaction(async (trx) => {
      await trx('verifications').insert(row);
      await this.stats.record(trx, [{ projectId: row.project_id, metric: 'otp.requested', at: row.created_at }]);
    });
  }

  /** A code as stored: HMAC with the server secret, bound to its challenge (never the code itself), so equal codes never share a hash. */
  codeHash(verificationId: string, code: string): string {
    return hmac(this.config.secret, `otp:${verificationId}:${normalizeCode(code)}`);
  }

  async row(projectId: string, verificationId: string): Promise<VerificationRow> {
    if (!isId('ver', verificationId)) throw apiError('VERIFICATION_NOT_FOUND');
    const row: VerificationRow | undefined = await this.db('verifications')
      .where({ id: verificationId, project_id: projectId })
      .first();
    if (!row) throw apiError('VERIFICATION_NOT_FOUND');
    return row;
  }

  /** The catalogue error that explains why a challenge cannot take an attempt. */
  async whyNotVerifiable(projectId: string, verificationId: string, now: Date) {
    const row = await this.row(projectId, verificationId);
    switch (effectiveStatus(row, now)) {
      case 'VERIFIED':
        return apiError('VERIFICATION_ALREADY_VERIFIED');
      case 'CANCELED':
        return apiError('VERIFICATION_CANCELED');
      case 'EXPIRED':
        return apiError('VERIFICATION_EXPIRED');
      case 'FAILED':
        return apiError('VERIFICATION_FAILED');
      default:
        // PENDING with its attempts used up: verify settles FAILED in the transaction that takes
        // the last attempt, so only a row written elsewhere looks like this.
        this.log.debug({ projectId, verificationId }, 'attempt budget exhausted but not settled');
        return apiError('VERIFICATION_FAILED');
    }
  }
}

/** PENDING past its TTL reads as EXPIRED even before the maintenance job writes it. */
export function effectiveStatus(
  row: Pick<VerificationRow, 'status' | 'expires_at'>,
  now = new Date(),
): VerificationStatus {
  return row.status === 'PENDING' && new Date(row.expires_at) <= now ? 'EXPIRED' : row.status;
}

export function toView(row: Omit<VerificationRow, 'code_hash'> & { code_hash?: string }): VerificationView {
  return {
    verificationId: row.id,
    status: effectiveStatus(row),
    to: row.to,
    countryIso: row.country_iso,
    numberValid: row.number_valid,
    test: row.test,
    messageId: row.message_id,
    deviceId: row.device_id,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    createdAt: new Date(row.created_at).toISOString(),
    expiresAt: new Date(row.expires_at).toISOString(),
    verifiedAt: row.verified_at ? new Date(row.verified_at).toISOString() : null,
    canceledAt: row.canceled_at ? new Date(row.canceled_at).toISOString() : null,
    metadata: typeof row.metadata === 'string' ? JSON.parse(row.metadata) : (row.metadata ?? null),
  };
}
