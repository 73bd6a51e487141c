/**
 * The SMS Verify compatibility surface, driven with the requests its document shows
 * (reference/sms-verify-api.txt): form-encoded and JSON, a real phone receiving the SMS.
 */
import test, { type ExecutionContext } from 'ava';
import type { Knex } from 'knex';
import type { OutboxMessage } from '../../protocol/payloads.js';
import {
  cleanupTestSmx,
  createProject,
  linkNewDevice,
  startPhone,
  startTestSmx,
  useSmx,
  type TestSmx,
} from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'compat-sms-verify');
const db = () => current().smx.container.resolve<Knex>(Symbol.for('smx.Knex'));

interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

/** A POST as the provider's clients send it: an HTML-form body (or JSON), optional extra headers. */
async function post(
  smx: TestSmx,
  path: string,
  body: Record<string, string> | object,
  options: { json?: boolean; headers?: Record<string, string>; query?: string } = {},
): Promise<Reply> {
  const response = await fetch(`${smx.url}${path}${options.query ? `?${options.query}` : ''}`, {
    method: 'POST',
    headers: {
      'content-type': options.json ? 'application/json' : 'application/x-www-form-urlencoded',
      ...options.headers,
    },
    body: options.json ? JSON.stringify(body) : new URLSearchParams(body as Record<string, string>).toString(),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

/** A project with its phone; `received` collects the SMS the phone sends. */
async function projectWithPhone(t: ExecutionContext, name: string) {
  const smx = current();
  const project = await createProject(smx, name);
  const received: OutboxMessage[] = [];
  await startPhone(t, await linkNewDevice(smx, project.projectId), { onSend: (m) => void received.push(m) });
  const smsTo = (to: string, count = 1) =>
    eventually(
      async () =>
        received.filter((m) => m.to === to).length >= count ? received.filter((m) => m.to === to)[count - 1] : null,
      15_000,
      `an SMS to ${to}`,
    );
  return { ...project, received, smsTo };
}

test('form-encoded sms-verify with user-id + api-key: the phone sends the code in the asked language, verify-security-code accepts it once', async (t) => {
  const smx = current();
  const p = await projectWithPhone(t, 'form');
  const sent = await post(smx, '/compat/sms-verify', {
    'user-id': 'my-user',
    'api-key': p.key,
    number: '+4915112345601',
    'code-length': '6',
    'language-code': 'de',
  });
  t.is(sent.status, 200, JSON.stringify(sent.body));
  t.is(sent.body.sent, true);
  t.is(sent.body['number-valid'], true);
  t.regex(sent.body['security-code'], /^\d{6}$/);
  t.deepEqual(
    Object.keys(sent.body).sort(),
    ['number-valid', 'security-code', 'sent'],
    "the provider's shape, no envelope",
  );

  const sms = await p.smsTo('+4915112345601');
  t.regex(sms.body, /^Ihr Bestätigungscode lautet \d{6}$/, 'the German template');
  const code = /(\d{6})/.exec(sms.body)![1]!;
  t.is(code, sent.body['security-code'], 'the code returned to the caller is the one the phone sent');

  const row = await db()('verifications').where({ project_id: p.projectId }).first();
  t.false(JSON.stringify(row).includes(code), 'the challenge holds no plain code');
  t.is(row.language, 'de');

  const wrong = await post(smx, '/compat/verify-security-code', {
    'user-id': 'my-user',
    'api-key': p.key,
    'security-code': code === '000000' ? '111111' : '000000',
  });
  t.deepEqual([wrong.status, wrong.body], [200, { verified: false }]);
  const right = await post(smx, '/compat/verify-security-code', {
    'user-id': 'my-user',
    'api-key': p.key,
    'security-code': code,
  });
  t.deepEqual([right.status, right.body], [200, { verified: true }]);
  const again = await post(smx, '/compat/verify-security-code', {
    'user-id': 'my-user',
    'api-key': p.key,
    'security-code': code,
  });
  t.deepEqual(again.body, { verified: false }, 'a code verifies once');
  const read = await smx.api(p.key, 'GET', `/v1/verifications/${row.id}`);
  t.is(read.body.data.status, 'VERIFIED', 'it is an ordinary SMX challenge');
});

test('JSON with X-SMX-API-Key: own security-code (TOTP style), national number with country-code, default language en; query parameters are read too', async (t) => {
  const smx = current();
  const p = await projectWithPhone(t, 'json');
  const sent = await post(
    smx,
    '/compat/sms-verify',
    { number: '0151 12345602', 'country-code': 'DE', 'security-code': 482913 },
    { json: true, headers: { 'x-smx-api-key': p.key } },
  );
  t.is(sent.status, 200, JSON.stringify(sent.body));
  t.deepEqual(sent.body, { sent: true, 'number-valid': true, 'security-code': '482913' });
  const sms = await p.smsTo('+4915112345602');
  t.is(sms.body, 'Your verification code is 482913', "the caller's code, English by default as the provider does");

  // Default code length is the provider's 5; credentials and fields in the query string.
  const byQuery = await post(
    smx,
    '/compat/sms-verify',
    {},
    { query: new URLSearchParams({ 'api-key': p.key, number: '+4915112345603' }).toString() },
  );
  t.is(byQuery.status, 200, JSON.stringify(byQuery.body));
  t.regex(byQuery.body['security-code'], /^\d{5}$/);
  t.true((await p.smsTo('+4915112345603')).body.endsWith(byQuery.body['security-code']));

  const verified = await post(
    smx,
    '/compat/verify-security-code',
    { 'security-code': '482913' },
    { json: true, headers: { 'x-smx-api-key': p.key } },
  );
  t.deepEqual(verified.body, { verified: true });
  const verifiedNumeric = await post(
    smx,
    '/compat/verify-security-code',
    { 'security-code': Number(byQuery.body['security-code']) },
    { json: true, headers: { 'x-smx-api-key': p.key } },
  );
  t.deepEqual(
    verifiedNumeric.body,
    { verified: byQuery.body['security-code'][0] !== '0' },
    'a JSON number is read as the code (leading zeros cannot survive a number)',
  );
  t.false(smx.logs().includes(p.key), 'an api-key given in the query string never reaches the logs');
  t.false(smx.logs().includes('482913'), 'nor does the code');

  // Without country-code a number is international "with or without the leading + sign", also as a JSON number.
  for (const number of ['4915112345604', 4915112345605]) {
    const plain = await post(
      smx,
      '/compat/sms-verify',
      { number },
      { json: true, headers: { 'x-smx-api-key': p.key } },
    );
    t.like(plain.body, { sent: true, 'number-valid': true }, String(number));
    t.true((await p.smsTo(`+${number}`)).body.endsWith(plain.body['security-code']));
  }
});

test('an invalid number answers sent: false, number-valid: false (not an error) and sends nothing', async (t) => {
  const smx = current();
  const p = await projectWithPhone(t, 'invalid');
  const invalid = await post(smx, '/compat/sms-verify', { 'api-key': p.key, number: '12345' });
  t.deepEqual([invalid.status, invalid.body], [200, { sent: false, 'number-valid': false, 'security-code': '' }]);
  t.is((await db()('verifications').where({ project_id: p.projectId })).length, 0);
  t.is(p.received.length, 0);
});

test('bad input and bad credentials get catalogue errors in the SMX envelope', async (t) => {
  const smx = current();
  const p = await createProject(smx, 'errors');
  const noKey = await post(smx, '/compat/sms-verify', { number: '+4915112345604' });
  t.deepEqual([noKey.status, noKey.body.error.code, noKey.body.success], [401, 'UNAUTHORIZED', false]);
  const badKey = await post(smx, '/compat/verify-security-code', { 'api-key': 'smx_nope', 'security-code': '12345' });
  t.deepEqual([badKey.status, badKey.body.error.code], [401, 'UNAUTHORIZED']);

  const bad = await post(smx, '/compat/sms-verify', {
    'api-key': p.key,
    number: '+4915112345604',
    'code-length': '3',
    'language-code': 'xx',
    'security-code': '12ab',
    'country-code': 'Germany',
  });
  t.is(bad.status, 400);
  t.is(bad.body.error.code, 'VALIDATION_FAILED');
  t.deepEqual(bad.body.error.details.map((d: { field: string }) => d.field).sort(), [
    'code-length',
    'country-code',
    'language-code',
    'security-code',
  ]);
  const missing = await post(smx, '/compat/verify-security-code', { 'api-key': p.key });
  t.deepEqual([missing.status, missing.body.error.details[0].field], [400, 'security-code']);

  const noDevice = await post(smx, '/compat/sms-verify', { 'api-key': p.key, number: '+4915112345604' });
  t.deepEqual([noDevice.status, noDevice.body.error.code], [409, 'DEVICE_NOT_LINKED']);
  const text = await fetch(`${smx.url}/compat/sms-verify`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: 'number=1',
  });
  t.is(text.status, 400, 'other content types are refused');
});

test("a project never verifies another project's code; an expired challenge does not verify", async (t) => {
  const smx = current();
  const a = await projectWithPhone(t, 'A');
  const b = await createProject(smx, 'B');
  const sent = await post(smx, '/compat/sms-verify', {
    'api-key': a.key,
    number: '+4915112345605',
    'security-code': '55667788',
  });
  t.is(sent.body.sent, true);
  const fromB = await post(smx, '/compat/verify-security-code', { 'api-key': b.key, 'security-code': '55667788' });
  t.deepEqual(fromB.body, { verified: false });

  // Expired: the TTL passed (the maintenance job need not have run).
  const expiring = await post(smx, '/compat/sms-verify', {
    'api-key': a.key,
    number: '+4915112345606',
    'security-code': '99887766',
  });
  t.is(expiring.body.sent, true);
  await db()('verifications')
    .where({ project_id: a.projectId, to: '+4915112345606' })
    .update({ expires_at: new Date(Date.now() - 1000) });
  t.deepEqual(
    (await post(smx, '/compat/verify-security-code', { 'api-key': a.key, 'security-code': '99887766' })).body,
    { verified: false },
  );

  t.deepEqual(
    (await post(smx, '/compat/verify-security-code', { 'api-key': a.key, 'security-code': '55667788' })).body,
    { verified: true },
    "B's try did not use up A's code",
  );
});

test('wrong codes are counted per project, atomically: over the budget RATE_LIMITED with Retry-After, other projects unaffected', async (t) => {
  const smx = current();
  const p = await createProject(smx, 'guessing');
  const other = await createProject(smx, 'bystander');
  const guesses = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      post(smx, '/compat/verify-security-code', { 'api-key': p.key, 'security-code': String(10000 + i) }),
    ),
  );
  t.is(
    guesses.filter((g) => g.status === 200 && g.body.verified === false).length,
    30,
    'exactly the budget was compared',
  );
  const limited = guesses.filter((g) => g.status === 429);
  t.is(limited.length, 10);
  t.is(limited[0]!.body.error.code, 'RATE_LIMITED');
  t.true(Number(limited[0]!.headers.get('retry-after')) >= 1);
  t.is(
    (await post(smx, '/compat/verify-security-code', { 'api-key': other.key, 'security-code': '12345' })).status,
    200,
  );
});

test('a test number: no SMS, no code returned, verifies with its fixed code', async (t) => {
  const smx = current();
  const p = await projectWithPhone(t, 'test-number');
  await smx.admin('POST', `/admin/projects/${p.projectId}/test-numbers`, { number: '+15555550142', code: '424242' });
  const sent = await post(smx, '/compat/sms-verify', { 'api-key': p.key, number: '+15555550142' });
  t.deepEqual(sent.body, { sent: true, 'number-valid': true, 'security-code': '' });
  t.deepEqual((await post(smx, '/compat/verify-security-code', { 'api-key': p.key, 'security-code': '424243' })).body, {
    verified: false,
  });
  t.deepEqual((await post(smx, '/compat/verify-security-code', { 'api-key': p.key, 'security-code': '424242' })).body, {
    verified: true,
  });
  const row = await db()('verifications').where({ project_id: p.projectId }).first();
  t.true(row.test);
  t.is(p.received.length, 0);
});

test('the routes are in /openapi.json', async (t) => {
  const doc = (await (await fetch(`${current().url}/openapi.json`)).json()) as {
    paths: Record<string, { post?: unknown }>;
  };
  t.truthy(doc.paths['/compat/sms-verify']?.post);
  t.truthy(doc.paths['/compat/verify-security-code']?.post);
});

test('SMX_COMPAT_SMS_VERIFY=false: the routes are not there (404 NOT_FOUND)', async (t) => {
  const off = await startTestSmx('compat-sms-verify-off', { env: { SMX_COMPAT_SMS_VERIFY: 'false' } });
  try {
    const { key } = await createProject(off);
    for (const path of ['/compat/sms-verify', '/compat/verify-security-code']) {
      const res = await post(off, path, { 'api-key': key, number: '+4915112345607', 'security-code': '12345' });
      t.deepEqual([res.status, res.body.error.code], [404, 'NOT_FOUND'], path);
    }
  } finally {
    await off.close();
    await cleanupTestSmx(off);
  }
});
