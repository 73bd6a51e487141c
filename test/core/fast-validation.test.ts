import 'reflect-metadata';
import test from 'ava';
import { isApiError } from '../../core/errors.js';
import { SendOtpDto, VerifyOtpDto } from '../../core/http/dtos/otp.js';
import { SendBulkSmsDto, SendSmsDto } from '../../core/http/dtos/sms.js';
import { validateFast } from '../../core/http/fast-validation.js';
import { validateBody } from '../../core/http/validation.js';

type Dto = new () => object;

/** What validateBody answers: the kept fields, or the VALIDATION_FAILED details. */
async function outcome(dto: Dto, body: unknown, fast: boolean): Promise<unknown> {
  try {
    return { ok: { ...(await validateBody(dto, body, undefined, { fast })) } };
  } catch (error) {
    if (!isApiError(error)) throw error;
    return { code: error.code, details: error.details };
  }
}

const bodies: Array<[Dto, unknown]> = [
  [SendOtpDto, { to: '+4915112345678' }],
  [
    SendOtpDto,
    {
      to: '+4915112345678',
      countryCode: 'DE',
      codeLength: 8,
      codeType: 'alpha',
      language: 'de',
      ttl: 600,
      maxAttempts: 3,
      metadata: { a: 1 },
      extra: 'dropped',
    },
  ],
  [
    SendOtpDto,
    { to: '015112345678', countryCode: 'de', template: 'Code {{code}}', callbackUrl: 'https://example.com/hook' },
  ],
  [SendOtpDto, { to: '' }],
  [SendOtpDto, {}],
  [SendOtpDto, { to: 12345 }],
  [SendOtpDto, { to: 'x'.repeat(33) }],
  [
    SendOtpDto,
    { to: '+4915112345678', countryCode: 'XX', codeLength: 3, codeType: 'emoji', ttl: 59.5, maxAttempts: 11 },
  ],
  [SendOtpDto, { to: '+4915112345678', code: 'abc' }],
  [SendOtpDto, { to: '+4915112345678', callbackUrl: 'ftp://example.com' }],
  [SendOtpDto, { to: '+4915112345678', metadata: [1, 2] }],
  [SendOtpDto, { to: '+4915112345678', metadata: { big: 'x'.repeat(2000) } }],
  [SendOtpDto, { to: '+4915112345678', template: 'a\u0000{{code}}' }],
  [SendOtpDto, { to: '+4915112345678', countryCode: null }],
  [SendSmsDto, { to: '+4915112345678', message: 'hello' }],
  [SendSmsDto, { to: '+4915112345678', message: '' }],
  [SendSmsDto, { to: '+4915112345678', message: 'x'.repeat(1601), ttl: 30 }],
  [SendBulkSmsDto, { messages: [{ to: '+4915112345678', message: 'a' }] }],
  [SendBulkSmsDto, { to: ['+4915112345678'], message: 'a' }],
  [SendBulkSmsDto, { messages: [] }],
  [SendBulkSmsDto, { to: ['+4915112345678'] }],
  [VerifyOtpDto, { verificationId: 'ver_x', otp: '123456' }],
  [VerifyOtpDto, { verificationId: 'ver_x', code: '123456' }],
  [VerifyOtpDto, { verificationId: 'ver_x' }],
  [VerifyOtpDto, { verificationId: '', otp: 5 }],
];

test('the fast path answers exactly what the full class-validator path answers', async (t) => {
  for (const [dto, body] of bodies) {
    t.deepEqual(
      await outcome(dto, body, true),
      await outcome(dto, body, false),
      `${dto.name} ${JSON.stringify(body).slice(0, 80)}`,
    );
  }
});

test('the fast path accepts only valid bodies and keeps only decorated fields', (t) => {
  const kept = validateFast(SendOtpDto, { to: '+4915112345678', ttl: 600, unknown: true });
  t.true(kept instanceof SendOtpDto);
  t.deepEqual({ ...kept }, { ...new SendOtpDto(), to: '+4915112345678', ttl: 600 });
  t.is(validateFast(SendOtpDto, { to: '+4915112345678', ttl: 10 }), undefined);
  t.is(validateFast(SendOtpDto, { ttl: 600 }), undefined);
  t.is(validateFast(SendSmsDto, { to: '+4915112345678', message: 'x'.repeat(1601) }), undefined);
});
