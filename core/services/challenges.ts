import type { Knex } from 'knex';
import { inject, injectable } from '../di.js';
import { hmac, sameDigest } from '../crypto.js';
import { apiError } from '../errors.js';
import { isId, newId } from '../ids.js';
import type { Logger } from '../logger.js';
import { generateCode, normalizeCode, suppliedCodeProblems } from '../otp-codes.js';
import { parsePhone } from '../phone.js';
import type { VerificationStatus, VerificationView } from '../plugin-api.js';
import { HookRunner } from '../plugins/hook-runner.js';
import { Router } from '../delivery/router.js';
import type { RuntimeConfig } from '../secrets.js';
import { countParts } from '../sms-parts.js';
import { hasCodePlaceholder, languageForCountry, renderTemplate } from '../templates.js';
import { TOKENS } from '../tokens.js';
import { AbuseLimits } from './abuse-limits.js';
import { DispatchService } from '../delivery/dispatch.js';
import { answerOnAccept } from './idempotency.js';
import { MessageWriter } from '../delivery/message-writer.js';
import { ProjectService, type CodeType, type Language, type ProjectSettings } from './projects.js';
import { StatsService } from './stats.js';
import { TemplateService } from './templates.js';
import { TestNumberService } from './test-numbers.js';
import { WebhookEmitter } from '../webhooks/emitter.js';
import { WebhookEndpoints } from '../webhooks/endpoints.js';
import { SmxMetrics } from '../smx-metrics.js';

/** OTP messages go before custom SMS waiting for the same device (a code is time-critical). */
export const OTP_PRIORITY = 1;

// A verification as the API and the `onVerification` hook show it is the plugin contract's type.
export type { VerificationStatus, VerificationView };

export interface SendOtpInput {
  to: string;
  countryCode?: string;
  codeLength?: number;
  codeType?: CodeType;
  code?: string;
  language?: Language;
  template?: string;
  ttl?: number;
  maxAttempts?: number;
  callbackUrl?: string;
  metadata?: Record<string, unknown>;
}

export type VerifyResult =
  | { verified: true; status: 'VERIFIED'; verificationId: string; attempts: number; maxAttempts: number; verifiedAt: string }
  | { verified: false; status: 'PENDING' | 'FAILED'; verificationId: string; attempts: number; maxAttempts: number; attemptsRemaining: number };

interface VerificationRow {
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

/** OTP challenges: create and send, verify with atomically counted attempts, read, cancel. */
@injectable()
export class ChallengeService {
  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    @inject(TOKENS.Config) private readonly config: RuntimeConfig,
    @inject(TOKENS.Logger) private readonly log: Logger,
    private readonly projects: ProjectService,
    private readonly writer: MessageWriter,
    private readonly router: Router,
    private readonly dispatch: DispatchService,
    private readonly stats: StatsService,
    private readonly hooks: HookRunner,
    private readonly templates: TemplateService,
    private readonly testNumbers: TestNumberService,
    private readonly limits: AbuseLimits,
    private readonly webhooks: WebhookEmitter,
    private readonly webhookEndpoints: WebhookEndpoints,
    private readonly metrics: SmxMetrics,
  ) {}

  /**
   * Tells `onVerification` plugins and webhooks (`verification.*`, to the project's endpoints and
   * the challenge's callbackUrl) that a challenge reached an end state. Not awaited on request
   * paths (an observer must not slow or fail the API call); the view never holds the code.
   */
  private announce(source: VerificationRow | { projectId: string; verificationId: string; callbackUrl: string | null }): Promise<void> {
    const projectId = 'id' in source ? source.project_id : source.projectId;
    const callbackUrl = 'id' in source ? source.callback_url : source.callbackUrl;
    const hooks = this.hooks.has('onVerification');
    const run = async () => {
      const listened = callbackUrl !== null || (await this.webhookEndpoints.subscribers(projectId)).length > 0;
      if (!hooks && !listened) return;
      const view = 'id' in source ? toView(source) : await this.get(source.projectId, source.verificationId);
      if (hooks) await this.hooks.notify('onVerification', view);
      if (listened) await this.webhooks.emit(projectId, [{ type: `verification.${view.status.toLowerCase()}` as `verification.${'verified' | 'failed' | 'expired' | 'canceled'}`, data: view, callbackUrl }]);
    };
    const verificationId = 'id' in source ? source.id : source.verificationId;
    return run().catch((error) => this.log.warn({ err: error, projectId, verificationId }, 'onVerification: cannot read the verification'));
  }

  /**
   * Creates a challenge and queues its SMS to the routed device. With no device to route to:
   * DEVICE_NOT_LINKED and nothing is created. An offline device does not fail the call.
   */
  async send(projectId: string, input: SendOtpInput): Promise<VerificationView> {
    const project = await this.projects.get(projectId);
    const s = project.settings;
    // A test number is matched as given (E.164) before any number checks: it may be fictional.
    const testCodeHash = await this.testNumbers.match(projectId, input.to);
    if (testCodeHash !== undefined) return this.sendTest(projectId, s, input, testCodeHash);
    const phone = parsePhone(input.to, input.countryCode);
    this.limits.checkCountry(s, phone.countryIso);
    const codeType = input.codeType ?? s.codeType;
    const code = input.code !== undefined ? this.suppliedCode(input.code, codeType, input.codeLength) : generateCode(codeType, input.codeLength ?? s.codeLength);
    const language = input.language ?? languageForCountry(phone.countryIso, s.defaultLanguage);
    if (input.template !== undefined && !hasCodePlaceholder(input.template)) {
      throw apiError('VALIDATION_FAILED', { details: [{ field: 'template', message: 'template must contain {{code}} (or {{pin}})' }] });
    }
    // The request's template, else the project's for this language, else the built-in one.
    const template = input.template ?? (await this.templates.forLanguage(projectId, language));
    const body = renderTemplate(template, code);
    const now = new Date();
    const verificationId = newId('ver');
    const messageId = newId('msg');

    const route = await this.router.route({ id: messageId, projectId, to: phone.e164, body, kind: 'otp', attempt: 1 }, s.routing);
    if (!('deviceId' in route)) throw apiError('DEVICE_NOT_LINKED');
    // Counted only once the send can go ahead, and given back if it is not accepted after all.
    const ticket = await this.limits.take(projectId, phone.e164, 'otp', s);

    const row = challengeRow(input, s, now, {
      id: verificationId,
      project_id: projectId,
      message_id: messageId,
      device_id: route.deviceId,
      to: phone.e164,
      country_iso: phone.countryIso,
      number_valid: phone.valid,
      code_hash: this.codeHash(verificationId, code),
      code_type: codeType,
      code_length: code.length,
      language,
      test: false,
    });
    const view = toView({ ...row, metadata: input.metadata ?? null, verified_at: null, canceled_at: null });
    await this.writer.accept({
      answer: answerOnAccept(view),
      verification: row,
      // The challenge's callbackUrl also hears its SMS's progress (message.*).
      message: { id: messageId, projectId, kind: 'otp', verificationId, deviceId: route.deviceId, simSlot: route.simSlot ?? null, to: phone.e164, body, parts: countParts(body).parts, priority: OTP_PRIORITY, callbackUrl: input.callbackUrl ?? null, metadata: input.metadata, createdAt: now, expiresAt: row.expires_at },
    }).catch(async (error: unknown) => {
      await ticket.release().catch(() => undefined);
      throw error;
    });
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
    const outcome = await this.db.transaction(async (trx) => {
      const [taken]: VerificationRow[] = await trx('verifications')
        .where({ id: verificationId, project_id: projectId, status: 'PENDING' })
        .where('expires_at', '>', now)
        .whereRaw('attempts < max_attempts')
        .update({ attempts: trx.raw('attempts + 1'), updated_at: now })
        .returning(['id', 'message_id', 'code_hash', 'previous_code_hashes', 'attempts', 'max_attempts', 'test', 'to', 'callback_url']);
      if (!taken) return null;
      // A test challenge holds its test number's code hash (see TestNumberService), hashed the same way here.
      const guess = taken.test ? this.testNumbers.testCodeHash(projectId, taken.to, otp) : this.codeHash(verificationId, normalizeCode(otp));
      // Codes of earlier sends stay valid after a resend (the earlier SMS may arrive last).
      if ([taken.code_hash, ...(taken.previous_code_hashes ?? [])].some((hash) => sameDigest(guess, hash))) {
        await trx('verifications').where({ id: verificationId }).update({ status: 'VERIFIED', verified_at: now, updated_at: now });
        await this.stats.record(trx, [{ projectId, metric: 'otp.verified', at: now }]);
        return { taken, verified: true, remaining: taken.max_attempts - taken.attempts };
      }
      const remaining = taken.max_attempts - taken.attempts;
      if (remaining <= 0) await trx('verifications').where({ id: verificationId }).update({ status: 'FAILED', updated_at: now });
      return { taken, verified: false, remaining };
    });
    // Read after the commit (and after any concurrent verify's): the settled state explains the refusal.
    if (!outcome) {
      this.metrics.otpVerifications.inc({ result: 'refused' });
      throw await this.whyNotVerifiable(projectId, verificationId, now);
    }

    const { taken, verified, remaining } = outcome;
    this.metrics.otpVerifications.inc({ result: verified ? 'verified' : remaining <= 0 ? 'failed' : 'wrong_code' });
    if (verified) {
      // An SMS its phone has not sent yet (a resend, an offline or slow phone) is not needed any more.
      if (taken.message_id) void this.dispatch.withdraw(taken.message_id, 'VERIFICATION_VERIFIED');
      void this.announce({ projectId, verificationId, callbackUrl: taken.callback_url });
      return { verified: true, status: 'VERIFIED', verificationId, attempts: taken.attempts, maxAttempts: taken.max_attempts, verifiedAt: now.toISOString() };
    }
    if (remaining <= 0) {
      if (taken.message_id) void this.dispatch.withdraw(taken.message_id, 'VERIFICATION_FAILED');
      void this.announce({ projectId, verificationId, callbackUrl: taken.callback_url });
    }
    return { verified: false, status: remaining <= 0 ? 'FAILED' : 'PENDING', verificationId, attempts: taken.attempts, maxAttempts: taken.max_attempts, attemptsRemaining: Math.max(0, remaining) };
  }

  async get(projectId: string, verificationId: string): Promise<VerificationView> {
    return toView(await this.row(projectId, verificationId));
  }

  /** Cancels a pending challenge and withdraws its SMS if the phone has not sent it yet. Canceling twice is harmless. */
  async cancel(projectId: string, verificationId: string): Promise<VerificationView> {
    if (!isId('ver', verificationId)) throw apiError('VERIFICATION_NOT_FOUND');
    const now = new Date();
    const [row]: VerificationRow[] = await this.db('verifications')
      .where({ id: verificationId, project_id: projectId, status: 'PENDING' })
      .where('expires_at', '>', now)
      .update({ status: 'CANCELED', canceled_at: now, updated_at: now })
      .returning('*');
    if (!row) {
      const current = await this.row(projectId, verificationId);
      if (effectiveStatus(current, now) === 'CANCELED') return toView(current);
      throw await this.whyNotVerifiable(projectId, verificationId, now);
    }
    if (row.message_id) await this.dispatch.withdraw(row.message_id, 'CANCELED');
    void this.announce(row);
    return toView(row);
  }

  /** Expires pending challenges whose TTL passed (maintenance queue). */
  async expireDue(now = new Date()): Promise<number> {
    const rows = await this.db.transaction(async (trx) => {
      const expired: VerificationRow[] = await trx('verifications')
        .where({ status: 'PENDING' })
        .where('expires_at', '<=', now)
        .update({ status: 'EXPIRED', updated_at: now }, '*');
      await this.stats.record(trx, expired.map((r) => ({ projectId: r.project_id, metric: 'otp.expired' as const, at: now })));
      return expired;
    });
    for (const row of rows) await this.announce(row);
    return rows.length;
  }

  /**
   * A challenge to one of the project's test numbers: created like any other but `test: true`,
   * with no message, no device and no SMS (so no DEVICE_NOT_LINKED and no send limits). Its
   * code_hash is the test number's (the fixed code is only known as that hash).
   */
  private async sendTest(projectId: string, s: ProjectSettings, input: SendOtpInput, testCodeHash: string): Promise<VerificationView> {
    const to = input.to.trim();
    let countryIso: string | null = null;
    let numberValid = false;
    try {
      ({ countryIso, valid: numberValid } = parsePhone(to));
    } catch {
      // fictional numbers are expected here
    }
    const row = challengeRow(input, s, new Date(), {
      id: newId('ver'),
      project_id: projectId,
      message_id: null,
      device_id: null,
      to,
      country_iso: countryIso,
      number_valid: numberValid,
      code_hash: testCodeHash,
      code_type: input.codeType ?? s.codeType,
      // The fixed code's length is not known (it is kept hashed); 0 marks "fixed by the test number".
      code_length: 0,
      language: input.language ?? languageForCountry(countryIso, s.defaultLanguage),
      test: true,
    });
    await this.db.transaction(async (trx) => {
      await trx('verifications').insert(row);
      await this.stats.record(trx, [{ projectId, metric: 'otp.requested', at: row.created_at }]);
    });
    this.metrics.otpRequests.inc();
    return toView({ ...row, metadata: input.metadata ?? null, verified_at: null, canceled_at: null });
  }

  private suppliedCode(code: string, type: CodeType, length: number | undefined): string {
    const problems = suppliedCodeProblems(code, type, length);
    if (problems.length > 0) throw apiError('VALIDATION_FAILED', { details: problems.map((message) => ({ field: 'code', message })) });
    return normalizeCode(code);
  }

  /** Keyed with the server secret and bound to the challenge, so equal codes never share a hash. */
  /** A code as stored: HMAC with the server secret, bound to its challenge (never the code itself). */
  codeHash(verificationId: string, code: string): string {
    return hmac(this.config.secret, `otp:${verificationId}:${normalizeCode(code)}`);
  }

  private async row(projectId: string, verificationId: string): Promise<VerificationRow> {
    if (!isId('ver', verificationId)) throw apiError('VERIFICATION_NOT_FOUND');
    const row: VerificationRow | undefined = await this.db('verifications').where({ id: verificationId, project_id: projectId }).first();
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

/** A new PENDING challenge row: what differs per kind of send, plus what the request and project settle. */
function challengeRow<T extends object>(input: SendOtpInput, s: ProjectSettings, now: Date, own: T) {
  return {
    ...own,
    status: 'PENDING' as const,
    attempts: 0,
    max_attempts: input.maxAttempts ?? s.maxAttempts,
    callback_url: input.callbackUrl ?? null,
    metadata: input.metadata === undefined ? null : JSON.stringify(input.metadata),
    created_at: now,
    expires_at: new Date(now.getTime() + (input.ttl ?? s.ttl) * 1000),
    updated_at: now,
  };
}

/** PENDING past its TTL reads as EXPIRED even before the maintenance job writes it. */
function effectiveStatus(row: Pick<VerificationRow, 'status' | 'expires_at'>, now = new Date()): VerificationStatus {
  return row.status === 'PENDING' && new Date(row.expires_at) <= now ? 'EXPIRED' : row.status;
}

function toView(row: Omit<VerificationRow, 'code_hash'> & { code_hash?: string }): VerificationView {
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
