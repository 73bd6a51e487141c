import { inject, injectable } from '../di.js';
import { isApiError } from '../errors.js';
import type { Logger } from '../logger.js';
import { ChallengeService, type VerificationView } from '../sending/challenges.js';
import { MessageService } from '../services/messages.js';
import type { CodeType } from '../services/projects.js';
import { TOKENS } from '../tokens.js';

/** The provider's PIN types and the SMX code types they are. */
export const PIN_TYPES = { NUMERIC: 'numeric', ALPHA: 'alpha', ALPHANUMERIC: 'alphanumeric' } as const satisfies Record<
  string,
  CodeType
>;
export type PinType = keyof typeof PIN_TYPES;

export interface CompatOtpInput {
  to: string;
  /** Sender id: accepted for compatibility; a phone sends from its own SIM number. */
  from?: string;
  template?: string;
  pinType?: PinType;
  pinLength?: number;
  ttl?: number;
  maxAttempts?: number;
  otpCallbackUrl?: string;
}

/** The provider's OTP object (reference/otp-by-id-api.txt), field names as it spells them. */
export interface CompatOtpView {
  otpId: string;
  phoneNumber: string;
  countryIso: string | null;
  status: 'PENDING' | 'VERIFIED' | 'FAILED' | 'EXPIRED' | 'CANCELED';
  /** The provider's price of the SMS; always 0 (a self-hosted SMX does not bill). */
  cost: number;
  parts: number;
  maxAttempts: number;
  attempts: number;
  ttl: number;
  otpCallbackUrl: string | null;
  dateCreated: string;
  dateExpires: string;
}

export interface CompatOtpCheck {
  status: 'VERIFIED' | 'PENDING' | 'FAILED' | 'EXPIRED';
}

/** The provider's date format, `2022-10-18 09:01:47`, in UTC. */
export function providerDate(iso: string): string {
  return iso.slice(0, 19).replace('T', ' ');
}

/**
 * The OTP-by-id surface over SMX challenges: `otpId` is the challenge's `ver_` id, the PIN is its
 * code, and `otpCallbackUrl` is stored as the challenge's `callback_url` (what per-challenge
 * status webhooks are delivered to).
 */
@injectable()
export class OtpByIdCompat {
  constructor(
    @inject(TOKENS.Logger) private readonly log: Logger,
    private readonly challenges: ChallengeService,
    private readonly messages: MessageService,
  ) {}

  async create(projectId: string, input: CompatOtpInput): Promise<CompatOtpView> {
    const view = await this.challenges.send(projectId, {
      to: input.to,
      codeType: input.pinType === undefined ? undefined : PIN_TYPES[input.pinType],
      codeLength: input.pinLength,
      template: input.template,
      ttl: input.ttl,
      maxAttempts: input.maxAttempts,
      callbackUrl: input.otpCallbackUrl,
    });
    // A test number's challenge sends nothing: no message, no parts.
    const parts = view.messageId === null ? 0 : (await this.messages.get(projectId, view.messageId)).parts;
    return toCompatView(view, parts, input.otpCallbackUrl ?? null);
  }

  /**
   * Checks a PIN. The provider answers a status for every outcome it has one for: a wrong PIN
   * with attempts left is PENDING, the last wrong one (and any try after it) FAILED, a try after
   * the TTL EXPIRED. A PIN for an already verified, or canceled, challenge stays the SMX error:
   * answering VERIFIED again would accept a code twice.
   */
  async check(projectId: string, otpId: string, pin: string): Promise<CompatOtpCheck> {
    try {
      return { status: (await this.challenges.verify(projectId, otpId, pin)).status };
    } catch (error) {
      if (isApiError(error) && error.code === 'VERIFICATION_EXPIRED') return { status: 'EXPIRED' };
      if (isApiError(error) && error.code === 'VERIFICATION_FAILED') return { status: 'FAILED' };
      if (isApiError(error)) this.log.debug({ otpId, code: error.code }, 'compat otp: check refused');
      throw error;
    }
  }
}

function toCompatView(view: VerificationView, parts: number, otpCallbackUrl: string | null): CompatOtpView {
  return {
    otpId: view.verificationId,
    phoneNumber: view.to,
    countryIso: view.countryIso,
    status: view.status,
    cost: 0,
    parts,
    maxAttempts: view.maxAttempts,
    attempts: view.attempts,
    ttl: Math.round((Date.parse(view.expiresAt) - Date.parse(view.createdAt)) / 1000),
    otpCallbackUrl,
    dateCreated: providerDate(view.createdAt),
    dateExpires: providerDate(view.expiresAt),
  };
}
