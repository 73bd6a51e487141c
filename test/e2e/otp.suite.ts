/**
 * The OTP path end to end with the reference device as the phone, run once on PostgreSQL and
 * once on PGlite (otp.postgres.test.ts, otp.pglite.test.ts): the same migrations and queries.
 */
import type { ExecutionContext, TestFn } from 'ava';
import type { OutboxMessage } from '../../protocol/payloads.js';
import { createProject, linkNewDevice, startPhone, useSmx, type DbKind, type TestSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

export function otpSuite(test: TestFn, db: DbKind): void {
  const current = useSmx(test as never, `otp-${db}`, { db });
  let smx: TestSmx;
  test.beforeEach(() => {
    smx = current();
  });

  /** A project with a key and a running phone that records what it "sends". */
  async function projectWithPhone(t: ExecutionContext, report = { sent: true, delivered: true }) {
    const { projectId, key } = await createProject(smx);
    const credentials = await linkNewDevice(smx, projectId);
    const received: OutboxMessage[] = [];
    const phone = await startPhone(t, credentials, { report, onSend: (m) => void received.push(m) });
    return { projectId, key, credentials, phone, received };
  }

  const codeIn = (body: string) => /(\d{4,12})\s*$/.exec(body)?.[1] ?? '';

  test('send-otp reaches the phone on its topic, delivery is reported, and the right code verifies', async (t) => {
    const { key, credentials, received } = await projectWithPhone(t);
    const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345678' });
    t.is(sent.status, 201, JSON.stringify(sent.body));
    const data = sent.body.data;
    t.true(data.verificationId.startsWith('ver_'));
    t.is(data.status, 'PENDING');
    t.is(data.to, '+4915112345678');
    t.is(data.countryIso, 'DE');
    t.true(data.numberValid);
    t.false(data.test);
    t.true(data.messageId.startsWith('msg_'));
    t.is(data.deviceId, credentials.deviceId);
    t.is(data.attempts, 0);
    t.is(data.maxAttempts, 5);
    t.is(Date.parse(data.expiresAt) - Date.parse(data.createdAt), 300_000);
    t.false(JSON.stringify(sent.body).match(/"code"|"otp"/) !== null, 'the code is never in a /v1 response');

    const sms = await eventually(
      async () => received.find((m) => m.id === data.messageId),
      10_000,
      'the phone to receive the OTP',
    );
    t.is(sms.to, '+4915112345678');
    t.regex(sms.body, /^Ihr Bestätigungscode lautet \d{6}$/, 'German template chosen by the +49 prefix');

    const delivered = await eventually(
      async () => {
        const m = await smx.api(key, 'GET', `/v1/messages/${data.messageId}`);
        return m.body.data.status === 'DELIVERED' ? m.body.data : null;
      },
      10_000,
      'DELIVERED',
    );
    t.truthy(delivered.dispatchedAt);
    t.truthy(delivered.sentAt);
    t.truthy(delivered.deliveredAt);
    t.is(delivered.kind, 'otp');
    t.is(delivered.body, undefined, 'an OTP message body is never shown');

    const verified = await smx.api(key, 'POST', '/v1/verify-otp', {
      verificationId: data.verificationId,
      otp: codeIn(sms.body),
    });
    t.is(verified.status, 200);
    t.true(verified.body.success);
    t.true(verified.body.data.verified);
    t.is(verified.body.data.status, 'VERIFIED');
    t.is(verified.body.data.attempts, 1);
    t.truthy(verified.body.data.verifiedAt);

    const again = await smx.api(key, 'POST', '/v1/verify-otp', {
      verificationId: data.verificationId,
      otp: codeIn(sms.body),
    });
    t.is(again.status, 409);
    t.is(again.body.error.code, 'VERIFICATION_ALREADY_VERIFIED');

    const read = await smx.api(key, 'GET', `/v1/verifications/${data.verificationId}`);
    t.is(read.body.data.status, 'VERIFIED');
  });

  test('wrong codes count down, the last one fails the challenge, then VERIFICATION_FAILED', async (t) => {
    const { key } = await projectWithPhone(t);
    const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550123', maxAttempts: 3, code: '123456' });
    t.is(sent.status, 201, JSON.stringify(sent.body));
    const id = sent.body.data.verificationId;
    const first = await smx.api(key, 'POST', '/v1/verify-otp', { verificationId: id, otp: '000000' });
    t.deepEqual(
      [first.status, first.body.data.verified, first.body.data.status, first.body.data.attemptsRemaining],
      [200, false, 'PENDING', 2],
    );
    const second = await smx.api(key, 'POST', '/v1/verify-otp', { verificationId: id, code: '000001' });
    t.is(second.body.data.attemptsRemaining, 1);
    const third = await smx.api(key, 'POST', '/v1/verify-otp', { verificationId: id, otp: '000002' });
    t.deepEqual([third.status, third.body.data.status, third.body.data.attemptsRemaining], [200, 'FAILED', 0]);
    const right = await smx.api(key, 'POST', '/v1/verify-otp', { verificationId: id, otp: '123456' });
    t.is(right.status, 409);
    t.is(right.body.error.code, 'VERIFICATION_FAILED');
    t.is(right.body.error.origin, 'client');
  });

  test('50 concurrent wrong guesses consume at most maxAttempts', async (t) => {
    const { key } = await projectWithPhone(t);
    const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550124', maxAttempts: 5 });
    const id = sent.body.data.verificationId;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        smx.api(key, 'POST', '/v1/verify-otp', { verificationId: id, otp: `x${i}` }),
      ),
    );
    const compared = results.filter((r) => r.status === 200);
    t.is(compared.length, 5, 'exactly maxAttempts guesses were compared');
    t.true(compared.every((r) => r.body.data.verified === false));
    t.true(
      results
        .filter((r) => r.status !== 200)
        .every((r) => r.status === 409 && r.body.error.code === 'VERIFICATION_FAILED'),
    );
    const read = await smx.api(key, 'GET', `/v1/verifications/${id}`);
    t.is(read.body.data.attempts, 5);
    t.is(read.body.data.status, 'FAILED');
  });

  test('an expired challenge answers VERIFICATION_EXPIRED and reads EXPIRED', async (t) => {
    const { key } = await projectWithPhone(t);
    const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550125', ttl: 60, code: '4321' });
    const id = sent.body.data.verificationId;
    // Move the clock of this one challenge instead of waiting 60 s.
    await smx.smx.container
      .resolve<any>(Symbol.for('smx.Knex'))('verifications')
      .where({ id })
      .update({ expires_at: new Date(Date.now() - 1000) });
    const verify = await smx.api(key, 'POST', '/v1/verify-otp', { verificationId: id, otp: '4321' });
    t.is(verify.status, 410);
    t.is(verify.body.error.code, 'VERIFICATION_EXPIRED');
    const read = await smx.api(key, 'GET', `/v1/verifications/${id}`);
    t.is(read.body.data.status, 'EXPIRED');
  });

  test('a canceled challenge answers VERIFICATION_CANCELED', async (t) => {
    const { key } = await projectWithPhone(t);
    const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550126', code: '9876' });
    const id = sent.body.data.verificationId;
    const canceled = await smx.api(key, 'POST', `/v1/verifications/${id}/cancel`);
    t.is(canceled.status, 200);
    t.is(canceled.body.data.status, 'CANCELED');
    t.truthy(canceled.body.data.canceledAt);
    const verify = await smx.api(key, 'POST', '/v1/verify-otp', { verificationId: id, otp: '9876' });
    t.is(verify.status, 409);
    t.is(verify.body.error.code, 'VERIFICATION_CANCELED');
  });

  test('codes: alpha and alphanumeric types, lengths 4-12, caller-supplied codes must fit', async (t) => {
    const { key, received } = await projectWithPhone(t);
    const alpha = await smx.api(key, 'POST', '/v1/send-otp', {
      to: '+14155550127',
      codeType: 'alpha',
      codeLength: 8,
      language: 'en',
    });
    t.is(alpha.status, 201);
    const sms = await eventually(async () => received.find((m) => m.id === alpha.body.data.messageId));
    const code = /is ([A-Z]+)$/.exec(sms.body)?.[1] ?? '';
    t.is(code.length, 8);
    t.notRegex(code, /[IO]/, 'no look-alike letters');
    const lower = await smx.api(key, 'POST', '/v1/verify-otp', {
      verificationId: alpha.body.data.verificationId,
      otp: code.toLowerCase(),
    });
    t.true(lower.body.data.verified, 'letters compare case-insensitively');

    const alnum = await smx.api(key, 'POST', '/v1/send-otp', {
      to: '+14155550127',
      codeType: 'alphanumeric',
      codeLength: 12,
    });
    t.is(alnum.status, 201);
    const misfit = await smx.api(key, 'POST', '/v1/send-otp', {
      to: '+14155550127',
      codeType: 'numeric',
      code: 'ABCD',
    });
    t.is(misfit.status, 400);
    t.is(misfit.body.error.code, 'VALIDATION_FAILED');
    t.is(misfit.body.error.details[0]!.field, 'code');
    const wrongLength = await smx.api(key, 'POST', '/v1/send-otp', {
      to: '+14155550127',
      code: '12345',
      codeLength: 6,
    });
    t.is(wrongLength.status, 400);
  });

  test('templates: a custom template with {{pin}}, and a template without a placeholder is refused', async (t) => {
    const { key, received } = await projectWithPhone(t);
    const sent = await smx.api(key, 'POST', '/v1/send-otp', {
      to: '+33612345678',
      template: 'Code: {{pin}} (Acme)',
      code: '2468',
    });
    t.is(sent.status, 201);
    t.is(sent.body.data.countryIso, 'FR');
    const sms = await eventually(async () => received.find((m) => m.id === sent.body.data.messageId));
    t.is(sms.body, 'Code: 2468 (Acme)');
    const fr = await smx.api(key, 'POST', '/v1/send-otp', { to: '+33612345678', code: '1357' });
    const frSms = await eventually(async () => received.find((m) => m.id === fr.body.data.messageId));
    t.is(frSms.body, 'Votre code de vérification est 1357');
    const bad = await smx.api(key, 'POST', '/v1/send-otp', { to: '+33612345678', template: 'no placeholder' });
    t.is(bad.status, 400);
    t.is(bad.body.error.details[0]!.field, 'template');
  });

  test('a national number is read with countryCode; an invalid number is INVALID_PHONE_NUMBER', async (t) => {
    const { key } = await projectWithPhone(t);
    const national = await smx.api(key, 'POST', '/v1/send-otp', { to: '015112345678', countryCode: 'DE' });
    t.is(national.status, 201);
    t.is(national.body.data.to, '+4915112345678');
    const invalid = await smx.api(key, 'POST', '/v1/send-otp', { to: '+49123' });
    t.is(invalid.status, 422);
    t.is(invalid.body.error.code, 'INVALID_PHONE_NUMBER');
    t.is(invalid.body.error.origin, 'client');
  });
}
