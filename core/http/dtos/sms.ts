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
  Max,
  MaxLength,
  Min,
  ValidateIf,
} from 'class-validator';
import { JSONSchema } from 'class-validator-jsonschema';
import { MESSAGE_STATUSES, type MessageStatus } from '../../services/messages.js';
import { SMS_LIMITS } from '../../sending/sms.js';
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
    description: 'The text, 1-1600 characters; `parts` in the answer counts GSM-7/UCS-2 segments.',
    example: 'Your parcel arrives today between 2 and 4 pm.',
  })
  @IsString()
  @Length(1, SMS_LIMITS.maxLength)
  message!: string;
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
      'One entry per recipient: `{ "to", "message", "metadata"? }`. Invalid entries are rejected by index; the others go ahead.',
    example: [
      { to: '+4915112345678', message: 'Your parcel arrives today between 2 and 4 pm.' },
      { to: '+4915112345679', message: 'Your parcel arrives tomorrow.' },
    ],
  })
  @ValidateIf((o: SendBulkSmsDto) => o.to === undefined)
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(SMS_LIMITS.maxRecipients)
  messages?: Array<{ to: unknown; message: unknown; metadata?: unknown }>;

  @JSONSchema({
    description: 'Recipients of one `message` (the other body form).',
    example: ['+4915112345678', '+4915112345679'],
  })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(SMS_LIMITS.maxRecipients)
  to?: unknown[];

  @JSONSchema({ description: 'The text for every recipient in `to`.', example: 'Our store opens at 9 am on Saturday.' })
  @ValidateIf((o: SendBulkSmsDto) => o.to !== undefined)
  @IsString()
  @Length(1, SMS_LIMITS.maxLength)
  message?: string;
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
