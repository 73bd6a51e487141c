/**
 * Compile-time checks of the generated client (`npm run check`): fields SMX always answers are
 * typed as present, optional ones as optional, and wrong paths or bodies do not compile.
 */
import { createSmxClient, unwrap, type ErrorCode } from '../src/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | void {}

export async function usage(code: string): Promise<void> {
  const smx = createSmxClient({ baseUrl: 'https://smx.example.com', apiKey: 'smx_key' });

  const otp = await unwrap(
    smx.POST('/v1/send-otp', { body: { to: '+4915112345678' }, params: { header: { 'idempotency-key': 'order-1' } } }),
  );
  expectType<Equal<typeof otp.verificationId, string>>();
  expectType<Equal<typeof otp.messageId, string | null>>();
  expectType<Equal<typeof otp.status, 'PENDING' | 'VERIFIED' | 'FAILED' | 'EXPIRED' | 'CANCELED'>>();

  const check = await unwrap(smx.POST('/v1/verify-otp', { body: { verificationId: otp.verificationId, otp: code } }));
  expectType<Equal<typeof check.verified, boolean>>();
  expectType<Equal<typeof check.attempts, number>>();
  expectType<Equal<typeof check.attemptsRemaining, number | undefined>>();

  const read = await unwrap(smx.GET('/v1/verifications/{id}', { params: { path: { id: otp.verificationId } } }));
  expectType<Equal<typeof read.expiresAt, string>>();

  const page = await unwrap(smx.GET('/v1/messages', { params: { query: { limit: '10', kind: 'sms' } } }));
  expectType<Equal<typeof page.nextCursor, string | null>>();
  expectType<Equal<(typeof page.messages)[number]['message'], string | undefined>>();

  const codes: ErrorCode[] = ['DEVICE_NOT_LINKED', 'RATE_LIMITED'];
  void codes;

  // @ts-expect-error: no such path
  void smx.POST('/v1/send-otpx', { body: { to: '+4915112345678' } });
  // @ts-expect-error: `to` is required
  void smx.POST('/v1/send-otp', { body: { codeLength: 6 } });
  // @ts-expect-error: codeType is one of three
  void smx.POST('/v1/send-otp', { body: { to: '+4915112345678', codeType: 'emoji' } });
}
