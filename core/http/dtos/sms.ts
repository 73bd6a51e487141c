import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsISO31661Alpha2,
  IsISO8601,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  IsUrl,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateIf,
} from 'class-validator';
import { JSONSchema } from 'class-validator-jsonschema';
import { MESSAGE_STATUSES, type MessageQuery, type MessageStatus } from '../../services/messages.js';
import { SMS_LIMITS, type BulkEntry, type SendSmsInput, type SmsOptions } from '../../sending/sms.js';

/** A time with its zone (`Z` or an offset): without one, "10:00" would be read in the server's zone. */
const WITH_ZONE = /(?:Z|[+-]\d{2}:?\d{2})$/i;
const ttlRange = `${SMS_LIMITS.ttl.min}-${SMS_LIMITS.ttl.max}`;
import { PageQuery } from './pages.js';
import { MaxJsonBytes } from './validators.js';

/** Options a custom SMS request may set, for one message or every message of a bulk request. */
export class SmsOptionsDto {
  @JSONSchema({ description: 'ISO 3166-1 alpha-2 country used to read national numbers.', example: 'DE' })
  @IsOptional()
  @IsISO31661Alpha2()
  countryCode?: string;

  @JSONSchema({
    description: `Seconds the message may wait for its phone, ${SMS_LIMITS.ttl.min}-${SMS_LIMITS.ttl.max}. Default ${SMS_LIMITS.ttl.default}.`,
    example: 86400,
  })
  @IsOptional()
  @IsInt()
  @Min(SMS_LIMITS.ttl.min)
  @Max(SMS_LIMITS.ttl.max)
  ttl?: number;

  @JSONSchema({
    description: `The same as \`ttl\` (give one of \`ttl\`, \`ttlSeconds\`, \`validUntil\`): seconds, ${ttlRange}, counted from \`scheduleAt\` when given.`,
    example: 3600,
  })
  @IsOptional()
  @IsInt()
  @Min(SMS_LIMITS.ttl.min)
  @Max(SMS_LIMITS.ttl.max)
  ttlSeconds?: number;

  @JSONSchema({
    description: `An absolute expiry instead of a TTL (ISO-8601 with a zone): after \`scheduleAt\` (else now), at most ${SMS_LIMITS.ttl.max} s after it. Not with \`ttl\`/\`ttlSeconds\`.`,
    example: '2026-11-21T18:00:00Z',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  @Matches(WITH_ZONE, { message: 'validUntil must end with Z or an offset' })
  validUntil?: string;

  @JSONSchema({
    description: `Hold the message until this time (ISO-8601 with a zone; in the future, at most ${SMS_LIMITS.scheduleMaxSeconds / 86_400} days ahead): no phone gets it before. Survives restarts; cancel it with POST /v1/messages/{id}/cancel. The TTL counts from it.`,
    example: '2026-11-21T09:00:00Z',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  @Matches(WITH_ZONE, { message: 'scheduleAt must end with Z or an offset' })
  scheduleAt?: string;

  @JSONSchema({
    description:
      "The SIM slot of the phone to send from (0-7); the phone must list a SIM in that slot. Default: the route's, else the phone's default SIM.",
    example: 1,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(7)
  simSlot?: number;

  @JSONSchema({
    description:
      "Send through this phone of the project (dev_...) and no other: it is never re-routed. Another project's id: 404 NOT_FOUND; an unlinked phone: 409 DEVICE_NOT_LINKED.",
    example: 'dev_a3UpGdIy30uilSzOHqkNwg',
  })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  deviceId?: string;

  @JSONSchema({
    description: `${SMS_LIMITS.priority.min} to ${SMS_LIMITS.priority.max}, default ${SMS_LIMITS.priority.default}: a phone gets its waiting SMS highest priority first, then in the order they were accepted. OTPs go before every SMS.`,
    example: 10,
  })
  @IsOptional()
  @IsInt()
  @Min(SMS_LIMITS.priority.min)
  @Max(SMS_LIMITS.priority.max)
  priority?: number;

  @JSONSchema({
    description:
      "https URL receiving the message's webhooks (message.*), signed with the project's callback secret. http only when the operator set SMX_WEBHOOK_ALLOW_PRIVATE=true.",
    example: 'https://api.example.com/smx/callbacks',
  })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  @IsUrl({ protocols: ['https', 'http'], require_protocol: true, require_tld: false })
  callbackUrl?: string;

  @JSONSchema({
    description: 'Your JSON object (<= 1 KiB), echoed in webhooks; in bulk, for every recipient in `to`.',
    example: { campaign: 'delivery-notice' },
  })
  @IsOptional()
  @IsObject()
  @MaxJsonBytes(SMS_LIMITS.metadataBytes)
  metadata?: Record<string, unknown>;
}

@JSONSchema({
  'x-examples': {
    sms: {
      summary: 'One SMS',
      value: {
        to: '+4915112345678',
        message: 'Your parcel arrives today between 2 and 4 pm.',
        metadata: { orderId: 'A-1042' },
      },
    },
  },
})
export class SendSmsDto extends SmsOptionsDto {
  @JSONSchema({
    description: 'Destination: E.164, or a national number together with countryCode.',
    example: '+4915112345678',
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(32)
  to!: string;

  @JSONSchema({
    description: 'The text, 1-1600 characters; `parts` in the answer counts GSM-7/UCS-2 segments. Give this or `data`.',
    example: 'Your parcel arrives today between 2 and 4 pm.',
  })
  @ValidateIf((o: SendSmsDto) => o.data === undefined)
  @IsString()
  @Length(1, SMS_LIMITS.maxLength)
  message?: string;

  @JSONSchema({
    description: `A binary (data) SMS instead of \`message\`: base64 of ${SMS_LIMITS.dataBytes.min}-${SMS_LIMITS.dataBytes.max} bytes (one SMS), sent to \`dataPort\`. Only phones that declared the \`data-sms\` capability get it; none in the project: 409 DEVICE_NOT_LINKED.`,
    example: 'SGVsbG8=',
  })
  @IsOptional()
  @IsString()
  @Length(4, 200)
  data?: string;

  @JSONSchema({
    description: `The destination port of a data SMS, ${SMS_LIMITS.dataPort.min}-${SMS_LIMITS.dataPort.max}.`,
    example: 8200,
  })
  @ValidateIf((o: SendSmsDto) => o.data !== undefined || o.dataPort !== undefined)
  @IsInt()
  @Min(SMS_LIMITS.dataPort.min)
  @Max(SMS_LIMITS.dataPort.max)
  dataPort?: number;
}

@JSONSchema({
  'x-examples': {
    messages: {
      summary: 'A text per recipient',
      value: {
        messages: [
          { to: '+4915112345678', message: 'Your parcel arrives today between 2 and 4 pm.' },
          { to: '+4915112345679', message: 'Your parcel arrives tomorrow.' },
        ],
      },
    },
    to: {
      summary: 'One text to many recipients',
      value: { to: ['+4915112345678', '+4915112345679'], message: 'Our store opens at 9 am on Saturday.' },
    },
  },
})
export class SendBulkSmsDto extends SmsOptionsDto {
  @JSONSchema({
    description:
      'One entry per recipient: `{ "to", "message", "metadata"? }`, or `{ "to", "data", "dataPort", "metadata"? }` for a binary SMS; an entry may also set its own `scheduleAt`, `ttl`/`ttlSeconds`/`validUntil`, `simSlot`, `deviceId` and `priority` over the request\'s. Invalid entries are rejected by index; the others go ahead.',
    example: [
      { to: '+4915112345678', message: 'Your parcel arrives today between 2 and 4 pm.' },
      { to: '+4915112345679', message: 'Your parcel arrives tomorrow.' },
    ],
  })
  @ValidateIf((o: SendBulkSmsDto) => o.to === undefined)
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(SMS_LIMITS.maxRecipients)
  messages?: BulkEntry[];

  @JSONSchema({
    description: 'Recipients of one `message` (the other body form).',
    example: ['+4915112345678', '+4915112345679'],
  })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(SMS_LIMITS.maxRecipients)
  to?: unknown[];

  @JSONSchema({
    description: 'The text for every recipient in `to` (or `data` with `dataPort`).',
    example: 'Our store opens at 9 am on Saturday.',
  })
  @ValidateIf((o: SendBulkSmsDto) => o.to !== undefined && o.data === undefined)
  @IsString()
  @Length(1, SMS_LIMITS.maxLength)
  message?: string;

  @JSONSchema({
    description: 'A binary SMS for every recipient in `to`, instead of `message` (as for POST /v1/send-sms).',
    example: 'SGVsbG8=',
  })
  @IsOptional()
  @IsString()
  @Length(4, 200)
  data?: string;

  @JSONSchema({ description: 'The port of `data`.', example: 8200 })
  @ValidateIf((o: SendBulkSmsDto) => o.data !== undefined || o.dataPort !== undefined)
  @IsInt()
  @Min(SMS_LIMITS.dataPort.min)
  @Max(SMS_LIMITS.dataPort.max)
  dataPort?: number;
}

/** The problems of an SMS request's options that no single field shows (both ttl forms, text and data). */
export function smsOptionProblems(
  dto: SmsOptionsDto & { message?: unknown; data?: unknown },
): Array<{ field: string; message: string } | null> {
  const expiries = [dto.ttl, dto.ttlSeconds, dto.validUntil].filter((v) => v !== undefined).length;
  return [
    expiries > 1 ? { field: 'ttl', message: 'give one of ttl, ttlSeconds and validUntil' } : null,
    dto.message !== undefined && dto.data !== undefined
      ? { field: 'data', message: 'give message or data (with dataPort), not both' }
      : null,
  ];
}

/** The service's options from a validated request (`ttlSeconds` is `ttl`; times as dates). */
export function smsOptionsOf(dto: SmsOptionsDto): SmsOptions {
  return {
    countryCode: dto.countryCode,
    ttl: dto.ttl ?? dto.ttlSeconds,
    validUntil: dto.validUntil === undefined ? undefined : new Date(dto.validUntil),
    scheduleAt: dto.scheduleAt === undefined ? undefined : new Date(dto.scheduleAt),
    simSlot: dto.simSlot,
    deviceId: dto.deviceId,
    priority: dto.priority,
    callbackUrl: dto.callbackUrl,
  };
}

export class ListMessagesQuery extends PageQuery {
  @JSONSchema({ example: 'DELIVERED' })
  @IsOptional()
  @IsIn(MESSAGE_STATUSES)
  status?: MessageStatus;

  @JSONSchema({ example: 'sms' })
  @IsOptional()
  @IsIn(['otp', 'sms'])
  kind?: 'otp' | 'sms';

  @JSONSchema({ description: 'Only messages created at or after this ISO-8601 time.', example: '2026-11-20T00:00:00Z' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @JSONSchema({ description: 'Only messages created before this ISO-8601 time.', example: '2026-11-21T00:00:00Z' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;
}

/** A validated message-log query as MessageService.list takes it (/v1 and the console's admin read alike). */
export function messageQueryOf(q: ListMessagesQuery): MessageQuery {
  return {
    limit: q.limit === undefined ? undefined : Number(q.limit),
    cursor: q.cursor,
    status: q.status,
    kind: q.kind,
    from: q.from ? new Date(q.from) : undefined,
    to: q.to ? new Date(q.to) : undefined,
  };
}

export class StatsQuery {
  @JSONSchema({
    description:
      'Start (ISO-8601, inclusive), rounded down to the hour (counters are hourly; the answer gives the window counted). Default: 24 hours (interval=hour) or 30 days (interval=day) before `to`.',
    example: '2026-11-20T00:00:00Z',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @JSONSchema({
    description:
      'End (ISO-8601, exclusive), rounded up to the hour (counters are hourly; the answer gives the window counted). Default: now.',
    example: '2026-11-21T00:00:00Z',
  })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @JSONSchema({ example: 'hour' })
  @IsOptional()
  @IsIn(['hour', 'day'])
  interval?: 'hour' | 'day';
}

/** The service's input for one SMS from a validated request. */
export function sendSmsInputOf(dto: SendSmsDto): SendSmsInput {
  return {
    ...smsOptionsOf(dto),
    to: dto.to,
    message: dto.message,
    data: dto.data,
    dataPort: dto.dataPort,
    metadata: dto.metadata,
  };
}
