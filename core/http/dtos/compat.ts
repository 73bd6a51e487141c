import {
  IsIn,
  IsInt,
  IsISO31661Alpha2,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUrl,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { JSONSchema } from 'class-validator-jsonschema';
import { PIN_TYPES, type PinType } from '../../compat/otp-by-id.js';
import { LANGUAGES, type Language } from '../../services/projects.js';
import { HasCodePlaceholder } from './validators.js';

// Field names are the providers' own (reference/sms-verify-api.txt, reference/otp-by-id-api.txt).

export class SmsVerifyDto {
  @JSONSchema({ description: 'The phone number to send a verification code to.', example: '+4915112345678' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(32)
  'number'!: string;

  @JSONSchema({ description: 'Digits in the security code, 4-12. Default 5.', example: 6 })
  @IsOptional()
  @IsInt()
  @Min(4)
  @Max(12)
  'code-length'?: number;

  @JSONSchema({
    description: 'Your own security code (TOTP-style flows): 4-12 digits. Default: a secure random code.',
    example: '482913',
  })
  @IsOptional()
  @IsString()
  @Matches(/^\d{4,12}$/, { message: 'security-code must be 4 to 12 digits' })
  'security-code'?: string;

  @JSONSchema({
    description: 'ISO 2-letter country the number is read in when it is not in international format.',
    example: 'DE',
  })
  @IsOptional()
  @IsISO31661Alpha2()
  'country-code'?: string;

  @JSONSchema({ description: 'Language of the SMS: de, en, es, fr, it, pt, ru. Default en.', example: 'de' })
  @IsOptional()
  @IsIn(LANGUAGES)
  'language-code'?: Language;
}

export class VerifySecurityCodeDto {
  @JSONSchema({ description: 'The security code the user entered.', example: '482913' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  'security-code'!: string;
}

export class CompatOtpDto {
  @JSONSchema({ description: 'Destination number, international format.', example: '+33612424100' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(32)
  to!: string;

  @JSONSchema({
    description: 'Sender id. Accepted for compatibility; the phone sends from its own SIM number.',
    example: 'ACME',
  })
  @IsOptional()
  @IsString()
  @MaxLength(32)
  from?: string;

  @JSONSchema({
    description: "Message text; must contain {{pin}}. Default: the project template for the number's language.",
    example: 'Your ACME PIN is {{pin}}',
  })
  @IsOptional()
  @IsString()
  @Length(1, 1000)
  @HasCodePlaceholder({ message: 'template must contain {{pin}} (or {{code}})' })
  template?: string;

  @JSONSchema({ description: 'NUMERIC (default), ALPHA or ALPHANUMERIC.', example: 'NUMERIC' })
  @IsOptional()
  @IsIn(Object.keys(PIN_TYPES))
  pinType?: PinType;

  @JSONSchema({ description: 'PIN length, 4-10. Default: the project setting.', example: 6 })
  @IsOptional()
  @IsInt()
  @Min(4)
  @Max(10)
  pinLength?: number;

  @JSONSchema({
    description: 'PIN lifetime in seconds, 60-1800 (1-30 minutes). Default: the project setting.',
    example: 300,
  })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(1800)
  ttl?: number;

  @JSONSchema({ description: 'Wrong PINs allowed, 1-10. Default: the project setting.', example: 5 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10)
  maxAttempts?: number;

  @JSONSchema({
    description:
      "URL for this OTP's status updates (stored as the challenge's callback URL): https, or http where SMX_WEBHOOK_ALLOW_PRIVATE=true.",
    example: 'https://api.example.com/smx/callbacks',
  })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  @IsUrl({ protocols: ['https', 'http'], require_protocol: true, require_tld: false })
  otpCallbackUrl?: string;
}

export class CompatOtpCheckDto {
  @JSONSchema({ description: 'The PIN the user entered.', example: '482913' })
  @IsString()
  @Length(1, 64)
  pin!: string;
}

export class OAuthTokenDto {
  @JSONSchema({ description: 'client_credentials (the only grant).', example: 'client_credentials' })
  @IsOptional()
  @IsIn(['client_credentials'])
  grant_type?: string;

  @JSONSchema({
    description: 'Application id: the SMX API key id (key_...). Or send it with HTTP Basic auth.',
    example: 'key_VGNLaXL2SW7zbRwI3fdfDg',
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  client_id?: string;

  @JSONSchema({
    description: 'Application secret: the SMX API key. Or send it with HTTP Basic auth.',
    example: 'smx_sIWizS3SoTiYS7yary15g_QNflTh3o_kIuIMZdYq0V4',
  })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  client_secret?: string;
}
