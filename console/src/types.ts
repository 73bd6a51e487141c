/** The shapes of the API answers the console reads (spec/api.md; /openapi.json is the reference). */

export interface RateLimits {
  perNumber: number;
  perNumberWindowSeconds: number;
  perProjectPerMinute: number;
  perCountryPrefix: Record<string, number>;
  perCountryPrefixWindowSeconds: number;
  resendsPerVerification: number;
  resendIntervalSeconds: number;
}

export interface ProjectSettings {
  codeLength: number;
  codeType: 'numeric' | 'alpha' | 'alphanumeric';
  ttl: number;
  maxAttempts: number;
  defaultLanguage: string;
  routing: string;
  otpLeaseSeconds: number;
  allowedCountries: string[];
  rateLimits: RateLimits;
}

export interface Project {
  id: string;
  name: string;
  settings: ProjectSettings;
  createdAt: string;
  updatedAt: string;
}

export interface ApiKey {
  id: string;
  projectId: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface Sim {
  slot: number;
  number: string | null;
  carrier: string | null;
  rentable: boolean;
}

export interface Device {
  id: string;
  projectId: string;
  name: string;
  model: string | null;
  appVersion: string | null;
  transport: 'mqtt' | 'smsgate';
  status: 'active' | 'standby' | 'unlinked';
  active: boolean;
  sendRatePerMinute: number;
  sims: Sim[];
  linkedAt: string;
  online: boolean;
  lastSeenAt: string | null;
  battery: number | null;
}

export interface LinkToken {
  token: string;
  expiresAt: string;
  qr: { payload: string; svg: string; pngDataUrl: string };
}

export interface LinkCode {
  code: string;
  expiresAt: string;
}

export const MESSAGE_STATUSES = ['QUEUED', 'DISPATCHED', 'SENT', 'DELIVERED', 'FAILED', 'EXPIRED'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export interface Message {
  messageId: string;
  kind: 'otp' | 'sms';
  status: MessageStatus;
  to: string;
  message?: string;
  parts: number;
  deviceId: string | null;
  simSlot: number | null;
  verificationId: string | null;
  batchId: string | null;
  error: string | null;
  metadata: unknown;
  createdAt: string;
  expiresAt: string;
  dispatchedAt: string | null;
  sentAt: string | null;
  deliveredAt: string | null;
  failedAt: string | null;
}

export interface Verification {
  verificationId: string;
  status: 'PENDING' | 'VERIFIED' | 'FAILED' | 'EXPIRED' | 'CANCELED';
  to: string;
  countryIso: string | null;
  numberValid: boolean;
  test: boolean;
  messageId: string | null;
  deviceId: string | null;
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  expiresAt: string;
  verifiedAt: string | null;
  canceledAt: string | null;
  metadata: unknown;
}

export interface SmsAccepted {
  messageId: string;
  status: 'QUEUED';
  to: string;
  parts: number;
  deviceId: string;
  createdAt: string;
  expiresAt: string;
}

export interface OtpFigures {
  requested: number;
  sent: number;
  delivered: number;
  failed: number;
  verified: number;
  expired: number;
  conversionRate: number;
}

export interface SmsFigures {
  queued: number;
  sent: number;
  delivered: number;
  failed: number;
  expired: number;
}

export interface StatsReport {
  from: string;
  to: string;
  interval: 'hour' | 'day';
  totals: { otp: OtpFigures; sms: SmsFigures };
  series: Array<{ start: string; otp: OtpFigures; sms: SmsFigures }>;
}

export interface InboundSms {
  id: string;
  deviceId: string;
  simSlot: number | null;
  from: string;
  body: string;
  receivedAt: string;
}

export interface Rental {
  rentalId: string;
  number: string;
  country: string;
  service: string | null;
  status: 'active' | 'canceled' | 'expired';
  createdAt: string;
  expiresAt: string;
  endedAt: string | null;
}

export interface Webhook {
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
  disabledReason: string | null;
  createdAt: string;
}

export interface WebhookAttempt {
  eventId: string;
  type: string;
  webhookId: string | null;
  url: string;
  attempt: number;
  succeeded: boolean;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  nextAttemptAt: string | null;
  at: string;
}

/** Events a webhook endpoint may subscribe to (spec/api.md "Webhooks"); `*` is all. */
export const WEBHOOK_EVENTS = [
  'verification.verified',
  'verification.failed',
  'verification.expired',
  'verification.canceled',
  'message.dispatched',
  'message.sent',
  'message.delivered',
  'message.failed',
  'message.expired',
  'sms.received',
  'device.online',
  'device.offline',
] as const;
