import type { Knex } from 'knex';
import { inject, injectable } from '../di.js';
import { apiError } from '../errors.js';
import { isId, newId } from '../ids.js';
import { generateCode } from '../otp-codes.js';
import { Router, type Route } from '../delivery/router.js';
import { countParts } from '../sms-parts.js';
import { renderTemplate } from '../templates.js';
import { TOKENS } from '../tokens.js';
import { AbuseLimits } from '../services/abuse-limits.js';
import { ChallengeService, OTP_PRIORITY, type VerificationView } from './challenges.js';
import { DispatchService } from '../delivery/dispatch.js';
import { MessageService } from '../services/messages.js';
import { ProjectService, type CodeType, type Language, type ProjectSettings } from '../services/projects.js';
import { TemplateService } from '../services/templates.js';
import { SmxMetrics } from '../smx-metrics.js';

interface PendingChallenge {
  id: string;
  project_id: string;
  to: string;
  message_id: string | null;
  code_type: CodeType;
  code_length: number;
  language: Language;
  test: boolean;
  resends: number;
  created_at: Date;
  last_sent_at: Date | null;
  expires_at: Date;
  callback_url: string | null;
  metadata: Record<string, unknown> | string | null;
}

/**
 * `POST /v1/verifications/:id/resend`: the challenge's SMS again, with a new code, through another
 * route than the last one when one exists (another device, else another SIM). The codes sent
 * before stay valid until the challenge ends (the earlier SMS may still arrive, and last); all are
 * stored only as hashes. Limited per challenge (`rateLimits.resendsPerVerification` and
 * `resendIntervalSeconds`) and by the per-number and per-project send limits.
 */
@injectable()
export class ResendService {
  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    private readonly challenges: ChallengeService,
    private readonly projects: ProjectService,
    private readonly messages: MessageService,
    private readonly router: Router,
    private readonly dispatch: DispatchService,
    private readonly templates: TemplateService,
    private readonly limits: AbuseLimits,
    private readonly metrics: SmxMetrics,
  ) {}

  async resend(projectId: string, verificationId: string): Promise<VerificationView> {
    if (!isId('ver', verificationId)) throw apiError('VERIFICATION_NOT_FOUND');
    const now = new Date();
    const challenge: PendingChallenge | undefined = await this.db('verifications')
      .where({ id: verificationId, project_id: projectId, status: 'PENDING' })
      .where('expires_at', '>', now)
      .first();
    if (!challenge) throw await this.challenges.whyNotVerifiable(projectId, verificationId, now);
    const { settings } = await this.projects.get(projectId);
    checkBudget(challenge, settings, now);
    // A test challenge sends no SMS; its resend only counts (and its fixed code stays the code).
    if (challenge.test) {
      await this.takeBudget(this.db, challenge, settings, now, {});
      return this.challenges.get(projectId, verificationId);
    }

    const [last] = challenge.message_id ? await this.messages.loadOutbound([challenge.message_id]) : [];
    const code = generateCode(challenge.code_type, challenge.code_length);
    const body = renderTemplate(await this.templates.forLanguage(projectId, challenge.language), code);
    const messageId = newId('msg');
    const routing = {
      id: messageId,
      projectId,
      to: challenge.to,
      body,
      kind: 'otp' as const,
      attempt: (last?.attempt ?? 0) + 1,
    };
    const route = await this.route(
      routing,
      settings.routing,
      last?.deviceId ? { deviceId: last.deviceId, simSlot: last.simSlot } : undefined,
    );
    const ticket = await this.limits.take(projectId, challenge.to, 'otp', settings);
    try {
      await this.db.transaction(async (trx) => {
        await this.takeBudget(trx, challenge, settings, now, {
          previous_code_hashes: trx.raw(`array_append(coalesce(previous_code_hashes, '{}'), code_hash)`),
          code_hash: this.challenges.codeHash(verificationId, code),
          message_id: messageId,
          device_id: route.deviceId,
        });
        await this.messages.insert(trx, [
          {
            id: messageId,
            projectId,
            kind: 'otp',
            verificationId,
            deviceId: route.deviceId,
            simSlot: route.simSlot,
            to: challenge.to,
            body,
            parts: countParts(body).parts,
            priority: OTP_PRIORITY,
            callbackUrl: challenge.callback_url,
            metadata:
              typeof challenge.metadata === 'string'
                ? JSON.parse(challenge.metadata)
                : (challenge.metadata ?? undefined),
            createdAt: now,
            expiresAt: new Date(challenge.expires_at),
          },
        ]);
      });
    } catch (error) {
      await ticket.release().catch(() => undefined);
      throw error;
    }
    this.metrics.messages.inc({ kind: 'otp', status: 'QUEUED' });
    await this.dispatch.signal([route.deviceId]);
    // The earlier SMS, if it never left the server, is not sent any more: the new one replaces it.
    if (last?.status === 'QUEUED') await this.dispatch.withdraw(last.id, 'RESENT');
    return this.challenges.get(projectId, verificationId);
  }

  /**
   * Another route than the last one when one exists: the strategy's, else another online device
   * of the project (e.g. a standby under `active-device`, whose strategy only knows the active
   * phone: the user asked again because the first SMS did not arrive); else the strategy's usual.
   */
  private async route(
    message: Parameters<Router['route']>[0],
    strategy: string,
    last: Route | undefined,
  ): Promise<Route> {
    const away = last ? await this.router.routeAway(message, strategy, last) : undefined;
    if (away) return away;
    if (last) {
      const online = (await this.router.devicesOf(message.projectId)).filter((d) => d.online && d.id !== last.deviceId);
      online.sort((a, b) => (b.lastSeenAt ?? '').localeCompare(a.lastSeenAt ?? ''));
      if (online[0]) return { deviceId: online[0].id, simSlot: null };
    }
    const decision = await this.router.route(message, strategy);
    if (!('deviceId' in decision)) throw apiError('DEVICE_NOT_LINKED');
    return { deviceId: decision.deviceId, simSlot: decision.simSlot ?? null };
  }

  /**
   * Counts the resend in the same UPDATE that checks the budget, so concurrent resends never
   * exceed it; `changes` are written with it.
   */
  private async takeBudget(
    db: Knex | Knex.Transaction,
    challenge: PendingChallenge,
    s: ProjectSettings,
    now: Date,
    changes: Record<string, unknown>,
  ): Promise<void> {
    const { resendsPerVerification, resendIntervalSeconds } = s.rateLimits;
    const taken = await db('verifications')
      .where({ id: challenge.id, status: 'PENDING' })
      .where('expires_at', '>', now)
      .where('resends', '<', resendsPerVerification)
      .whereRaw('coalesce(last_sent_at, created_at) <= ?', [new Date(now.getTime() - resendIntervalSeconds * 1000)])
      .update({ ...changes, resends: db.raw('resends + 1'), last_sent_at: now, updated_at: now });
    if (taken === 0) {
      // A concurrent resend (or verify, cancel) got there first: answer as if it had come before us.
      const current: PendingChallenge | undefined = await db('verifications')
        .where({ id: challenge.id, status: 'PENDING' })
        .where('expires_at', '>', now)
        .first();
      if (!current) throw await this.challenges.whyNotVerifiable(challenge.project_id, challenge.id, now);
      checkBudget(current, s, now);
      throw apiError('RATE_LIMITED', {
        message: 'This verification was just sent again; retry after the time in Retry-After.',
        retryAfter: 1,
      });
    }
  }
}

/** RATE_LIMITED with Retry-After when the challenge used up its resends or was sent too recently. */
function checkBudget(c: PendingChallenge, s: ProjectSettings, now: Date): void {
  const { resendsPerVerification, resendIntervalSeconds } = s.rateLimits;
  if (c.resends >= resendsPerVerification) {
    const untilExpiry = Math.ceil((new Date(c.expires_at).getTime() - now.getTime()) / 1000);
    throw apiError('RATE_LIMITED', {
      message: `This verification was sent ${c.resends + 1} times, the most allowed; start a new one after it expires.`,
      retryAfter: Math.max(1, untilExpiry),
    });
  }
  const lastSent = new Date(c.last_sent_at ?? c.created_at).getTime();
  const wait = lastSent + resendIntervalSeconds * 1000 - now.getTime();
  if (wait > 0)
    throw apiError('RATE_LIMITED', {
      message: 'This verification was sent moments ago; retry after the time in Retry-After.',
      retryAfter: Math.max(1, Math.ceil(wait / 1000)),
    });
}
