import { Type } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateNested,
  ArrayMaxSize,
  IsObject,
  Matches,
  ValidateIf,
  IsISO31661Alpha2,
} from 'class-validator';
import { JSONSchema } from 'class-validator-jsonschema';
import type { Sim } from '../../services/devices.js';
import { CODE_TYPES, LANGUAGES, type CodeType, type Language } from '../../services/projects.js';

@JSONSchema({ 'x-examples': { project: { summary: 'A project', value: { name: 'Shop backend' } } } })
export class CreateProjectDto {
  @JSONSchema({ example: 'Shop backend' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;
}

export class RateLimitsDto {
  @JSONSchema({ description: 'OTP sends allowed per destination number per window.', example: 5 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100000)
  perNumber?: number;

  @JSONSchema({ example: 600 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(86400)
  perNumberWindowSeconds?: number;

  @JSONSchema({ description: 'Sends per project per minute; 0 = no limit.', example: 600 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1000000)
  perProjectPerMinute?: number;

  @JSONSchema({
    description:
      'OTP sends per destination prefix per window (perCountryPrefixWindowSeconds), across the project; the longest matching prefix counts. Keys are "+" and 1-6 digits; a value of 0 refuses the prefix.',
    type: 'object',
    additionalProperties: { type: 'integer', minimum: 0, maximum: 1000000 },
    example: { '+234': 50, '+7': 100 },
  })
  @IsOptional()
  @IsObject()
  perCountryPrefix?: Record<string, number>;

  @JSONSchema({ example: 3600 })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(86400)
  perCountryPrefixWindowSeconds?: number;

  @JSONSchema({ description: 'Resends allowed per verification (POST /v1/verifications/:id/resend).', example: 3 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(20)
  resendsPerVerification?: number;

  @JSONSchema({ description: 'Seconds a verification waits between two sends of its SMS.', example: 30 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(3600)
  resendIntervalSeconds?: number;
}

@JSONSchema({
  'x-examples': {
    defaults: {
      summary: 'OTP defaults and limits',
      value: { codeLength: 6, ttl: 300, defaultLanguage: 'de', rateLimits: { perNumber: 5, perProjectPerMinute: 600 } },
    },
  },
})
export class UpdateProjectDto {
  @JSONSchema({ example: 'Shop backend' })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name?: string;

  @JSONSchema({ example: 6 })
  @IsOptional()
  @IsInt()
  @Min(4)
  @Max(12)
  codeLength?: number;

  @JSONSchema({ example: 'numeric' })
  @IsOptional()
  @IsIn(CODE_TYPES)
  codeType?: CodeType;

  @JSONSchema({ example: 300 })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(1800)
  ttl?: number;

  @JSONSchema({ example: 5 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10)
  maxAttempts?: number;

  @JSONSchema({ description: "Template language used when the number's country gives none.", example: 'en' })
  @IsOptional()
  @IsIn(LANGUAGES)
  defaultLanguage?: Language;

  @JSONSchema({ description: 'Alias of defaultLanguage.', example: 'en' })
  @IsOptional()
  @IsIn(LANGUAGES)
  language?: Language;

  @JSONSchema({ description: 'Routing strategy name (default active-device).', example: 'failover' })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  routing?: string;

  @JSONSchema({
    description:
      'Seconds a phone has to report an OTP sent before it is re-routed to another device or SIM; 0 = never.',
    example: 30,
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(3600)
  otpLeaseSeconds?: number;

  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => RateLimitsDto)
  rateLimits?: RateLimitsDto;

  @JSONSchema({ description: 'ISO 3166-1 alpha-2 destination countries allowed; empty = all.', example: ['DE', 'AT'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(250)
  @IsISO31661Alpha2({ each: true })
  allowedCountries?: string[];
}

@JSONSchema({ 'x-examples': { key: { summary: 'A key for one backend', value: { name: 'backend' } } } })
export class CreateApiKeyDto {
  @JSONSchema({ example: 'backend' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;
}

export class SimDto {
  @JSONSchema({ description: '0-based SIM slot.', example: 0 })
  @IsInt()
  @Min(0)
  @Max(7)
  slot!: number;

  @JSONSchema({ description: "The SIM's number in E.164, if known.", example: '+14155550100' })
  @IsOptional()
  @IsString()
  @MaxLength(32)
  number?: string | null;

  @JSONSchema({ example: 'T-Mobile' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  carrier?: string | null;

  @JSONSchema({ description: "Whether the number joins the project's rentable pool.", example: false })
  @IsOptional()
  @IsBoolean()
  rentable?: boolean;
}

/** SIMs as given, with the optional fields made explicit (the shape devices store). */
export function toSims(sims: SimDto[] | undefined): Sim[] | undefined {
  return sims?.map((s) => ({
    slot: s.slot,
    number: s.number ?? null,
    carrier: s.carrier ?? null,
    rentable: s.rentable ?? false,
  }));
}

/** A device's optional `sims` (on link and on update): up to 8, each a valid SimDto. */
function SimsField(): PropertyDecorator {
  const decorators = [IsOptional(), IsArray(), ArrayMaxSize(8), ValidateNested({ each: true }), Type(() => SimDto)];
  return (target, key) => decorators.forEach((decorate) => decorate(target, key));
}

@JSONSchema({
  'x-examples': {
    pace: {
      summary: "A slower pace and the SIM's number",
      value: {
        sendRatePerMinute: 20,
        sims: [{ slot: 0, number: '+14155550100', carrier: 'T-Mobile', rentable: false }],
      },
    },
  },
})
export class UpdateDeviceDto {
  @JSONSchema({ example: 'Pixel 7 (front desk)' })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name?: string;

  @JSONSchema({ description: 'SMS per minute the server paces this device to; 0 = no limit. Default 30.', example: 30 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100000)
  sendRatePerMinute?: number;

  @JSONSchema({ example: [{ slot: 0, number: '+14155550100', carrier: 'T-Mobile', rentable: false }] })
  @SimsField()
  sims?: SimDto[];
}

@JSONSchema({
  'x-examples': {
    token: {
      summary: 'With the token from the QR code',
      value: {
        token: 'lt_tsiGGnwAH1b8ZE8AVYyjQfCvVnO-okoHgesbsRbAWGo',
        name: 'Pixel 7',
        model: 'GP4BC',
        appVersion: '1.0.0',
        sims: [{ slot: 0, number: '+14155550100', carrier: 'T-Mobile', rentable: false }],
      },
    },
    code: { summary: 'With a typed 6-digit link code', value: { code: '482913', name: 'Pixel 7' } },
  },
})
export class LinkDeviceDto {
  @JSONSchema({
    description: 'The link token from the QR code. Give this or `code`.',
    example: 'lt_tsiGGnwAH1b8ZE8AVYyjQfCvVnO-okoHgesbsRbAWGo',
  })
  // Required without a code, and checked whenever it is given (a token beside a code too).
  @ValidateIf((o: LinkDeviceDto) => o.code === undefined || o.token !== undefined)
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  token?: string;

  @JSONSchema({
    description: 'A 6-digit link code typed on the phone (POST /admin/projects/:id/link-codes), instead of `token`.',
    example: '482913',
  })
  @IsOptional()
  @IsString()
  @Matches(/^\d{6}$/, { message: 'code must be 6 digits' })
  code?: string;

  @JSONSchema({ example: 'Pixel 7' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name!: string;

  @JSONSchema({ example: 'GP4BC' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  model?: string;

  @JSONSchema({ example: '1.0.0' })
  @IsOptional()
  @IsString()
  @MaxLength(50)
  appVersion?: string;

  @JSONSchema({ example: [{ slot: 0, number: '+14155550100', carrier: 'T-Mobile', rentable: false }] })
  @SimsField()
  sims?: SimDto[];

  @JSONSchema({
    description:
      'What the phone can do beyond texts (device-protocol.md §1): `data-sms` = it sends binary SMS to a port. Unknown names are ignored.',
    example: ['data-sms'],
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(32)
  @IsString({ each: true })
  @MaxLength(50, { each: true })
  capabilities?: string[];
}
