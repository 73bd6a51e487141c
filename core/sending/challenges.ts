import { inject, injectable } from '../di.js';
import { DispatchService } from '../delivery/dispatch.js';
import { MessageWriter } from '../delivery/message-writer.js';
import { apiError } from '../errors.js';
import { isId } from '../ids.js';
import type { VerificationStatus, VerificationView } from '../plugin-api.js';
import { SmxMetrics } from '../smx-metrics.js';
import { ChallengeComposer, type SendOtpInput } from './challenge-composer.js';
import { ChallengeNotices } from './challenge-notices.js';
import { ChallengeRecords, effectiveStatus, toView } from './challenge-records.js';
import { answerOnAccept } from '../services/idempotency.js';

// A verification as the API and the `onVerification` hook show it is the plugin contract's type.
export type { VerificationStatus, VerificationView };
export { OTP_PRIORITY, type SendOtpInput } from './challenge-composer.js';

export type VerifyResult =
  | {
      verified: true;
      status: 'VERIFIED';
      verificationId: string;
      attempts: number;
      maxAttempts: number;
      verifiedAt: string;
    }
  | {
      verified: false;
      status: 'PENDING' | 'FAILED';
      verificationId: string;
      attempts: number;
      maxAttempts: number;
      attemptsRemaining: number;
    };

/**
 * OTP challenges: create and send, verify with atomically counted attempts, read, cancel, expire.
 * The parts: ChallengeComposer (request → challenge and SMS), ChallengeRecords (the table),
 * ChallengeNotices (hooks and webhooks at an end state); the SMS goes through delivery
 * (MessageWriter to accept, DispatchService to withdraw one no longer needed).
 */
@injectable()
export class ChallengeService {
  constructor(
    private readonly composer: ChallengeComposer,
    private readonly records: ChallengeRecords,
    private readonly notices: ChallengeNotices,
    private readonly writer: MessageWriter,
    private readonly dispatch: DispatchService,
    @inject(SmxMetrics) private readonly metrics: SmxMetrics,
  ) {}

  /**
   * Creates a challenge and queues its SMS to the routed device. With no device to route to:
   * DEVICE_NOT_LINKED and nothing is created. An offline device does not fail the call.
   */
  async send(projectId: string, input: SendOtpInput): Promise<VerificationView> {
    const composed = await this.composer.compose(projectId, input);
    const view = toView({ ...composed.row, metadata: input.metadata ?? null, verified_at: null, canceled_at: null });
    if (composed.test) await this.records.insertTest(composed.row);
    else {
      await this.writer
        .accept({ answer: answerOnAccept(view), verification: composed.row, message: composed.message })
        .catch(async (error: unknown) => {
          await composed.release().catch(() => undefined);
          throw error;
        });
    }
    this.metrics.otpRequests.inc();
    return view;
  }

  /**
   * Checks a code. The attempt is taken in one UPDATE that also checks status, expiry and the
   * attempt budget, so N concurrent guesses consume N attempts and never more than maxAttempts
   * codes are ever compared. That UPDATE's row lock is held until the outcome (VERIFIED, FAILED
   * or still PENDING) is committed in the same transaction: a concurrent verify of the same
   * challenge waits for it and then sees the settled state, so the losers of N concurrent right
   * codes get VERIFICATION_ALREADY_VERIFIED (never VERIFICATION_FAILED from a half-done race),
   * and a wrong code that takes the last attempt cannot fail a right one that came first.
   */
  async verify(projectId: string, verificationId: string, otp: string): Promise<VerifyResult> {
    // An id of another shape cannot exist (and a NUL byte in it would make PostgreSQL throw).
    if (!isId('ver', verificationId)) throw apiError('VERIFICATION_NOT_FOUND');
    const now = new Date();
    const outcome = await this.records.attempt(projectId, verificationId, otp, now);
    // Read after the commit (and after any concurrent verify's): the settled state explains the refusal.
    if (!outcome) {
      this.metrics.otpVerifications.inc({ result: 'refused' });
      throw await this.records.whyNotVerifiable(projectId, verificationId, now);
    }

    const { taken, verified, remaining } = outcome;
    this.metrics.otpVerifications.inc({ result: verified ? 'verified' : remaining <= 0 ? 'failed' : 'wrong_code' });
    if (verified) {
      // An SMS its phone has not sent yet (a resend, an offline or slow phone) is not needed any more.
      if (taken.message_id) void this.dispatch.withdraw(taken.message_id, 'VERIFICATION_VERIFIED');
      void this.notices.ended({ projectId, verificationId });
      return {
        verified: true,
        status: 'VERIFIED',
        verificationId,
        attempts: taken.attempts,
        maxAttempts: taken.max_attempts,
        verifiedAt: now.toISOString(),
      };
    }
    if (remaining <= 0) {
      if (taken.message_id) void this.dispatch.withdraw(taken.message_id, 'VERIFICATION_FAILED');
      void this.notices.ended({ projectId, verificationId });
    }
    return {
      verified: false,
      status: remaining <= 0 ? 'FAILED' : 'PENDING',
      verificationId,
      attempts: taken.attempts,
      maxAttempts: taken.max_attempts,
      attemptsRemaining: Math.max(0, remaining),
    };
  }

  async get(projectId: string, verificationId: string): Promise<VerificationView> {
    return toView(await this.records.row(projectId, verificationId));
  }

  /** Cancels a pending challenge and withdraws its SMS if the phone has not sent it yet. Canceling twice is harmless. */
  async cancel(projectId: string, verificationId: string): Promise<VerificationView> {
    if (!isId('ver', verificationId)) throw apiError('VERIFICATION_NOT_FOUND');
    const now = new Date();
    const row = await this.records.cancel(projectId, verificationId, now);
    if (!row) {
      const current = await this.records.row(projectId, verificationId);
      if (effectiveStatus(current, now) === 'CANCELED') return toView(current);
      throw await this.records.whyNotVerifiable(projectId, verificationId, now);
    }
    if (row.message_id) await this.dispatch.withdraw(row.message_id, 'CANCELED');
    void this.notices.ended(row);
    return toView(row);
  }

  /** Expires pending challenges whose TTL passed (maintenance queue). */
  async expireDue(now = new Date()): Promise<number> {
    const rows = await this.records.expireDue(now);
    for (const row of rows) await this.notices.ended(row);
    return rows.length;
  }

  /** The catalogue error that explains why a challenge cannot take an attempt. */
  whyNotVerifiable(projectId: string, verificationId: string, now: Date) {
    return this.records.whyNotVerifiable(projectId, verificationId, now);
  }

  /** A code as stored (see ChallengeRecords.codeHash). */
  codeHash(verificationId: string, code: string): string {
    return this.records.codeHash(verificationId, code);
  }
}
