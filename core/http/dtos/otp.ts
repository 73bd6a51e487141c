import {
  IsIn,
  IsInt,
  IsISO31661Alpha2,
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
import { CODE_TYPES, LANGUAGES, type CodeType, type Language } from '../../services/projects.js';
import type { ErrorDetail } from '../../errors.js';
import { suppliedCodeProblems } from '../../otp-codes.js';
import { HasCodePlaceholder, MaxJsonBytes } from './validators.js';

@JSONSchema({
  'x-examples': {
    e164: {
      summary: "An E.164 number, the project's defaults",
      value: { to: '+4915112345678', metadata: { orderId: 'A-1042' } },
    },
    national: {
      summary: 'A national number with its country, own text and lifetime',
      value: { to: '015112345678', countryCode: 'DE', template: 'Your ACME code is {{code}}', ttl: 600 },
    },
  },
})
export class SendOtpDto {
  @JSONSchema({
    description: 'Destination: E.164, or a national number together with countryCode.',
    example: '+4915112345678',
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(32)
  to!: string;

  @JSONSchema({ description: 'ISO 3166-1 alpha-2 country used to read a national `to`.', example: 'DE' })
  @IsOptional()
  @IsISO31661Alpha2()
  countryCode?: string;

  @JSONSchema({ description: 'Code length, 4-12. Default: the project setting (6).', example: 6 })
  @IsOptional()
  @IsInt()
  @Min(4)
  @Max(12)
  codeLength?: number;

  @JSONSchema({
    description: 'numeric (default), alpha (A-Z without look-alikes) or alphanumeric.',
    example: 'numeric',
  })
  @IsOptional()
  @IsIn(CODE_TYPES)
  codeType?: CodeType;

  @JSONSchema({
    description: 'Caller-supplied code (TOTP-style flows); must fit codeType and codeLength.',
    example: '482913',
  })
  @IsOptional()
  @IsString()
  @Length(4, 12)
  code?: string;

  @JSONSchema({
    description: "Template language. Default: by the number's country, else the project default.",
    example: 'en',
  })
  @IsOptional()
  @IsIn(LANGUAGES)
  language?: Language;

  @JSONSchema({
    description: 'Message text; must contain {{code}} ({{pin}} is accepted as an alias).',
    example: 'Your ACME code is {{code}}. It expires in 5 minutes.',
  })
  @IsOptional()
  @IsString()
  @Length(1, 1000)
  @HasCodePlaceholder()
  template?: string;

  @JSONSchema({ description: 'Seconds the code is valid, 60-1800. Default 300.', example: 300 })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(1800)
  ttl?: number;

  @JSONSchema({ description: 'Wrong guesses allowed, 1-10. Default 5.', example: 5 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10)
  maxAttempts?: number;

  @JSONSchema({
    description:
      "https URL receiving this challenge's webhooks (verification.* and its SMS's message.*), signed with the project's callback secret. http only when the operator set SMX_WEBHOOK_ALLOW_PRIVATE=true.",
    example: 'https://api.example.com/smx/callbacks',
  })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  @IsUrl({ protocols: ['https', 'http'], require_protocol: true, require_tld: false })
  callbackUrl?: string;

  @JSONSchema({ description: 'Your JSON object (<= 1 KiB), echoed in webhooks.', example: { orderId: 'A-1042' } })
  @IsOptional()
  @IsObject()
  @MaxJsonBytes(1024)
  metadata?: Record<string, unknown>;
}

@JSONSchema({
  'x-examples': {
    verify: {
      summary: 'The code the user typed',
      value: { verificationId: 'ver_-mNYQE26ozocjCo9d3aovg', otp: '482913' },
    },
  },
})
export class VerifyOtpDto {
  @JSONSchema({ description: 'The verificationId returned by send-otp.', example: 'ver_-mNYQE26ozocjCo9d3aovg' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  verificationId!: string;

  @JSONSchema({ description: 'The code the user entered. `code` is accepted as an alias.', example: '482913' })
  @ValidateIf((o: VerifyOtpDto) => o.code === undefined)
  @IsString()
  @Length(1, 64)
  otp?: string;

  @JSONSchema({ description: 'Alias of `otp`.', example: '482913' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  code?: string;
}

/** A caller-supplied code against codeType (else the project's) and codeLength, as details. */
export function suppliedCodeDetails(dto: SendOtpDto, projectCodeType: CodeType | undefined): ErrorDetail[] {
  if (typeof dto.code !== 'string' || projectCodeType === undefined) return [];
  // Against a codeType or codeLength that is itself refused, the code cannot be judged yet.
  if (dto.codeType !== undefined && !(CODE_TYPES as readonly unknown[]).includes(dto.codeType)) return [];
  if (
    dto.codeLength !== undefined &&
    !(Number.isInteger(dto.codeLength) && dto.codeLength >= 4 && dto.codeLength <= 12)
  )
    return [];
  return suppliedCodeProblems(dto.code, dto.codeType ?? projectCodeType, dto.codeLength).map((message) => ({
    field: 'code',
    message,
  }));
}
