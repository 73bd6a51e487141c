import { apiError } from '../errors.js';
import { injectable } from '../di.js';
import { newId } from '../ids.js';
import { generateCode, normalizeCode, suppliedCodeProblems } from '../otp-codes.js';
import { parsePhone } from '../phone.js';
import { Router } from '../delivery/router.js';
import type { NewMessage } from '../services/messages.js';
import { countParts } from '../sms-parts.js';
import { hasCodePlaceholder, languageForCountry, renderTemplate } from '../templates.js';
import { AbuseLimits } from '../services/abuse-limits.js';
import { OTP_MESSAGE_PRIORITY } from './sms-options.js';
import { ChallengeRecords, type VerificationRow } from './challenge-records.js';
import { ProjectService, type CodeType, type Language, type ProjectSettings } from '../services/projects.js';
import { TemplateService } from '../services/templates.js';
import { TestNumberService } from '../services/test-numbers.js';

/**
 * OTP messages go before custom SMS waiting for the same device (a code is time-critical): above
 * every priority a custom SMS may have (-128..127, core/sending/sms-options.ts).
 */
export const OTP_PRIORITY = OTP_MESSAGE_PRIORITY;

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

/** What differs per kind of send (see challengeRow). */
export type ChallengeOwnColumns = Pick<
  VerificationRow,
  'id' | 'project_id' | 'message_id' | 'device_id' | 'to' | 'country_iso' | 'number_valid' | 'code_hash' | 'test'
> & { code_type: CodeType; code_length: number; language: Language };

/** A challenge ready to be accepted: its row, its SMS (none for a test number), and the send-limit ticket to give back if the accept fails. */
export type ComposedChallenge =
  | {
      test: false;
      row: ReturnType<typeof challengeRow<ChallengeOwnColumns>>;
      message: NewMessage;
      release: () => Promise<void>;
    }
  | { test: true; row: ReturnType<typeof challengeRow<ChallengeOwnColumns>> };

/**
 * Turns a send-otp request into a challenge and its SMS: the project's settings and limits, the
 * number, the code (generated or supplied), the template in the right language, and the route.
 * Nothing is written here (ChallengeService accepts the result in one statement).
 */
@injectable()
export class ChallengeComposer {
  constructor(
    private readonly projects: ProjectService,
    private readonly router: Router,
    private readonly templates: TemplateService,
    private readonly testNumbers: TestNumberService,
    private readonly limits: AbuseLimits,
    private readonly records: ChallengeRecords,
  ) {}

  /** With no device to route to: DEVICE_NOT_LINKED. The send limits are taken last, once the send can go ahead. */
  async compose(projectId: string, input: SendOtpInput, now = new Date()): Promise<ComposedChallenge> {
    const project = await this.projects.get(projectId);
    const s = project.settings;
    // A test number is matched as given (E.164) before any number checks: it may be fictional.
    const testCodeHash = await this.testNumbers.match(projectId, input.to);
    if (testCodeHash !== undefined) return { test: true, row: testChallenge(projectId, s, input, testCodeHash, now) };
    const phone = parsePhone(input.to, input.countryCode);
    this.limits.checkCountry(s, phone.countryIso);
    const codeType = input.codeType ?? s.codeType;
    const code =
      input.code !== undefined
        ? suppliedCode(input.code, codeType, input.codeLength)
        : generateCode(codeType, input.codeLength ?? s.codeLength);
    const language = input.language ?? languageForCountry(phone.countryIso, s.defaultLanguage);
    if (input.template !== undefined && !hasCodePlaceholder(input.template)) {
      throw apiError('VALIDATION_FAILED', {
        details: [{ field: 'template', message: 'template must contain {{code}} (or {{pin}})' }],
      });
    }
    // The request's template, else the project's for this language, else the built-in one.
    const template = input.template ?? (await this.templates.forLanguage(projectId, language));
    const body = renderTemplate(template, code);
    const verificationId = newId('ver');
    const messageId = newId('msg');

    const route = await this.router.route(
      { id: messageId, projectId, to: phone.e164, body, kind: 'otp', attempt: 1 },
      s.routing,
    );
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
      code_hash: this.records.codeHash(verificationId, code),
      code_type: codeType,
      code_length: code.length,
      language,
      test: false,
    });
    // The challenge's callbackUrl also hears its SMS's progress (message.*).
    const message: NewMessage = {
      id: messageId,
      projectId,
      kind: 'otp',
      verificationId,
      deviceId: route.deviceId,
      simSlot: route.simSlot ?? null,
      to: phone.e164,
      body,
      parts: countParts(body).parts,
      priority: OTP_PRIORITY,
      callbackUrl: input.callbackUrl ?? null,
      metadata: input.metadata,
      createdAt: now,
      expiresAt: row.expires_at,
    };
    return { test: false, row, message, release: () => ticket.release() };
  }
}

/**
 * A challenge to one of the project's test numbers: like any other but `test: true`, with no
 * message, no device and no SMS (so no DEVICE_NOT_LINKED and no send limits). Its code_hash is
 * the test number's (the fixed code is only known as that hash).
 */
function testChallenge(projectId: string, s: ProjectSettings, input: SendOtpInput, testCodeHash: string, now: Date) {
  const to = input.to.trim();
  let countryIso: string | null = null;
  let numberValid = false;
  try {
    ({ countryIso, valid: numberValid } = parsePhone(to));
  } catch {
    // fictional numbers are expected here
  }
  return challengeRow(input, s, now, {
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
}

function suppliedCode(code: string, type: CodeType, length: number | undefined): string {
  const problems = suppliedCodeProblems(code, type, length);
  if (problems.length > 0)
    throw apiError('VALIDATION_FAILED', { details: problems.map((message) => ({ field: 'code', message })) });
  return normalizeCode(code);
}

/** A new PENDING challenge row: what differs per kind of send, plus what the request and project settle. */
export function challengeRow<T extends object>(input: SendOtpInput, s: ProjectSettings, now: Date, own: T) {
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
