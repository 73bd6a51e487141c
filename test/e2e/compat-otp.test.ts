/**
 * The OTP-by-id compatibility surface, driven with the requests its document shows
 * (reference/otp-by-id-api.txt): a bearer token from application id + secret, POST /otp,
 * POST /otp/{otpId} with the PIN the real phone sent.
 */
import test, { type ExecutionContext } from 'ava';
import type { Knex } from 'knex';
import type { OutboxMessage } from '../../protocol/payloads.js';
import { cleanupTestSmx, linkNewDevice, startPhone, startTestSmx, useSmx, type TestSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'compat-otp');
const db = () => current().smx.container.resolve<Knex>(Symbol.for('smx.Knex'));

interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

async function request(
  smx: TestSmx,
  path: string,
  init: { body?: string; headers?: Record<string, string> },
): Promise<Reply> {
  const response = await fetch(`${smx.url}${path}`, { method: 'POST', body: init.body, headers: init.headers });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

/** `POST {path}` with a JSON body and `Authorization: Bearer`, as the document shows. */
function postJson(smx: TestSmx, path: string, body: unknown, token?: string): Promise<Reply> {
  return request(smx, path, {
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
}

/** A project and an API key as an "application": id = key id, secret = key. */
async function application(smx: TestSmx, name: string): Promise<{ projectId: string; id: string; secret: string }> {
  const project = await smx.admin('POST', '/admin/projects', { name });
  const key = await smx.admin('POST', `/admin/projects/${project.body.data.id}/api-keys`, { name: 'otp app' });
  return { projectId: project.body.data.id, id: key.body.data.id, secret: key.body.data.key };
}

/** The OAuth2 client-credentials form request. */
async function token(smx: TestSmx, app: { id: string; secret: string }): Promise<string> {
  const res = await request(smx, '/compat/oauth/token', {
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: app.id,
      client_secret: app.secret,
    }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.access_token;
}

async function withPhone(t: ExecutionContext, smx: TestSmx, projectId: string) {
  const received: OutboxMessage[] = [];
  await startPhone(t, await linkNewDevice(smx, projectId), { onSend: (m) => void received.push(m) });
  return (to: string, count = 1) =>
    eventually(async () => received.filter((m) => m.to === to)[count - 1], 15_000, `an SMS to ${to}`);
}

const PROVIDER_DATE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

test('oauth/token: client credentials as a form, as JSON and with HTTP Basic; a wrong secret or id is 401', async (t) => {
  const smx = current();
  const app = await application(smx, 'oauth');
  const other = await application(smx, 'oauth-other');

  const form = await request(smx, '/compat/oauth/token', {
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: app.id,
      client_secret: app.secret,
    }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  t.is(form.status, 200, JSON.stringify(form.body));
  t.deepEqual(Object.keys(form.body).sort(), ['access_token', 'expires_in', 'token_type']);
  t.is(form.body.token_type, 'Bearer');
  t.is(form.body.expires_in, 3600);
  t.is(form.headers.get('cache-control'), 'no-store');

  const json = await postJson(smx, '/compat/oauth/token', {
    grant_type: 'client_credentials',
    client_id: app.id,
    client_secret: app.secret,
  });
  t.is(json.status, 200);
  t.not(json.body.access_token, form.body.access_token);

  const basic = await request(smx, '/compat/oauth/token', {
    body: 'grant_type=client_credentials',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${app.id}:${app.secret}`).toString('base64')}`,
    },
  });
  t.is(basic.status, 200, JSON.stringify(basic.body));

  const stored = await current()
    .smx.container.resolve<any>(Symbol.for('smx.Redis'))
    .keys(`${smx.redisPrefix}:compat:oauth:*`);
  t.is(stored.length, 3);
  t.false(
    stored.some((k: string) => k.includes(form.body.access_token)),
    'tokens are stored hashed',
  );

  for (const [body, why] of [
    [{ client_id: app.id, client_secret: `${app.secret}x` }, 'wrong secret'],
    [{ client_id: other.id, client_secret: app.secret }, "another key's id"],
    [{ client_id: app.id }, 'no secret'],
  ] as const) {
    const refused = await postJson(smx, '/compat/oauth/token', { grant_type: 'client_credentials', ...body });
    t.deepEqual([refused.status, refused.body.error.code], [401, 'UNAUTHORIZED'], why);
  }
  const grant = await postJson(smx, '/compat/oauth/token', {
    grant_type: 'password',
    client_id: app.id,
    client_secret: app.secret,
  });
  t.deepEqual([grant.status, grant.body.error.details[0].field], [400, 'grant_type']);
});

test('the documented flow: POST /otp {to, from} then POST /otp/{otpId} {pin} with the PIN the phone sent', async (t) => {
  const smx = current();
  const app = await application(smx, 'flow');
  const smsTo = await withPhone(t, smx, app.projectId);
  const bearer = await token(smx, app);

  const created = await postJson(smx, '/compat/otp', { to: '+33612424100', from: 'Verify' }, bearer);
  t.is(created.status, 201, JSON.stringify(created.body));
  const otp = created.body;
  t.deepEqual(Object.keys(otp).sort(), [
    'attempts',
    'cost',
    'countryIso',
    'dateCreated',
    'dateExpires',
    'maxAttempts',
    'otpCallbackUrl',
    'otpId',
    'parts',
    'phoneNumber',
    'status',
    'ttl',
  ]);
  t.like(otp, {
    phoneNumber: '+33612424100',
    countryIso: 'FR',
    status: 'PENDING',
    parts: 1,
    maxAttempts: 5,
    attempts: 0,
    ttl: 300,
    otpCallbackUrl: null,
  });
  t.regex(otp.otpId, /^ver_/);
  t.regex(otp.dateCreated, PROVIDER_DATE);
  t.regex(otp.dateExpires, PROVIDER_DATE);
  t.is(Date.parse(`${otp.dateExpires}Z`) - Date.parse(`${otp.dateCreated}Z`), 300_000, 'dates in UTC, ttl apart');

  const sms = await smsTo('+33612424100');
  t.regex(sms.body, /^Votre code de vérification est \d{6}$/, "the project template in the number's language");
  const pin = /(\d{6})$/.exec(sms.body)![1]!;

  const wrong = await postJson(
    smx,
    `/compat/otp/${otp.otpId}`,
    { pin: pin === '000000' ? '111111' : '000000' },
    bearer,
  );
  t.deepEqual([wrong.status, wrong.body], [200, { status: 'PENDING' }]);
  const right = await postJson(smx, `/compat/otp/${otp.otpId}`, { pin }, bearer);
  t.deepEqual([right.status, right.body], [200, { status: 'VERIFIED' }]);
  const reused = await postJson(smx, `/compat/otp/${otp.otpId}`, { pin }, bearer);
  t.deepEqual([reused.status, reused.body.error.code], [409, 'VERIFICATION_ALREADY_VERIFIED'], 'a PIN is single use');

  const read = await smx.api(app.secret, 'GET', `/v1/verifications/${otp.otpId}`);
  t.like(read.body.data, { status: 'VERIFIED', attempts: 2 });
});

test('settings in the request: template with {{pin}}, ALPHA pin of 8, ttl, maxAttempts, otpCallbackUrl; the last wrong PIN is FAILED', async (t) => {
  const smx = current();
  const app = await application(smx, 'settings');
  const smsTo = await withPhone(t, smx, app.projectId);
  const bearer = await token(smx, app);

  const created = await postJson(
    smx,
    '/compat/otp',
    {
      to: '+4915112345610',
      from: 'Verify',
      template: 'Your Acme PIN: {{pin}}',
      pinType: 'ALPHA',
      pinLength: 8,
      ttl: 120,
      maxAttempts: 2,
      otpCallbackUrl: 'https://my-webhook.example/receive-otp-status',
    },
    bearer,
  );
  t.is(created.status, 201, JSON.stringify(created.body));
  t.like(created.body, {
    maxAttempts: 2,
    ttl: 120,
    otpCallbackUrl: 'https://my-webhook.example/receive-otp-status',
    countryIso: 'DE',
  });
  const row = await db()('verifications').where({ id: created.body.otpId }).first();
  t.is(row.callback_url, 'https://my-webhook.example/receive-otp-status', "stored as the challenge's callback URL");
  t.deepEqual([row.code_type, row.code_length], ['alpha', 8]);

  const sms = await smsTo('+4915112345610');
  t.regex(sms.body, /^Your Acme PIN: [A-Z]{8}$/);
  const pin = sms.body.slice(-8);

  t.deepEqual((await postJson(smx, `/compat/otp/${created.body.otpId}`, { pin: 'AAAAAAAA' }, bearer)).body, {
    status: 'PENDING',
  });
  t.deepEqual((await postJson(smx, `/compat/otp/${created.body.otpId}`, { pin: 'BBBBBBBB' }, bearer)).body, {
    status: 'FAILED',
  });
  t.deepEqual(
    (await postJson(smx, `/compat/otp/${created.body.otpId}`, { pin }, bearer)).body,
    { status: 'FAILED' },
    'out of attempts: even the right PIN',
  );

  const expiring = await postJson(smx, '/compat/otp', { to: '+4915112345611', pinType: 'numeric' }, bearer);
  t.is(expiring.status, 201, 'pinType is read case-insensitively');
  const expiringPin = (await smsTo('+4915112345611')).body.slice(-6);
  await db()('verifications')
    .where({ id: expiring.body.otpId })
    .update({ expires_at: new Date(Date.now() - 1000) });
  t.deepEqual((await postJson(smx, `/compat/otp/${expiring.body.otpId}`, { pin: expiringPin }, bearer)).body, {
    status: 'EXPIRED',
  });
});

test('validation and auth errors are catalogue errors in the SMX envelope', async (t) => {
  const smx = current();
  const app = await application(smx, 'errors');
  await withPhone(t, smx, app.projectId);
  const bearer = await token(smx, app);

  const bad = await postJson(
    smx,
    '/compat/otp',
    {
      to: '+4915112345612',
      pinType: 'HEX',
      pinLength: 11,
      ttl: 30,
      maxAttempts: 0,
      otpCallbackUrl: 'http://insecure.example/cb',
    },
    bearer,
  );
  t.is(bad.status, 400);
  t.is(bad.body.error.code, 'VALIDATION_FAILED');
  t.deepEqual(bad.body.error.details.map((d: { field: string }) => d.field).sort(), [
    'maxAttempts',
    'otpCallbackUrl',
    'pinLength',
    'pinType',
    'ttl',
  ]);
  const noPin = await postJson(smx, '/compat/otp', { to: '+4915112345612', template: 'no placeholder' }, bearer);
  t.deepEqual([noPin.status, noPin.body.error.details[0].field], [400, 'template']);
  // Every field at once: the placeholder rule joins the others (docs/api.md: details lists every field).
  const both = await postJson(smx, '/compat/otp', { to: '+33612424100', template: 'no pin', pinType: 'X' }, bearer);
  t.is(both.status, 400);
  t.is(both.body.error.code, 'VALIDATION_FAILED');
  t.deepEqual(both.body.error.details.map((d: { field: string }) => d.field).sort(), ['pinType', 'template']);
  const invalid = await postJson(smx, '/compat/otp', { to: '+33612' }, bearer);
  t.deepEqual([invalid.status, invalid.body.error.code], [422, 'INVALID_PHONE_NUMBER']);

  const anonymous = await postJson(smx, '/compat/otp', { to: '+4915112345612' });
  t.deepEqual([anonymous.status, anonymous.body.error.code], [401, 'UNAUTHORIZED']);
  const forged = await postJson(smx, '/compat/otp', { to: '+4915112345612' }, 'smxat_forged');
  t.deepEqual([forged.status, forged.body.error.code], [401, 'UNAUTHORIZED']);
  const unknown = await postJson(smx, '/compat/otp/ver_AAAAAAAAAAAAAAAAAAAAAA', { pin: '123456' }, bearer);
  t.deepEqual([unknown.status, unknown.body.error.code], [404, 'VERIFICATION_NOT_FOUND']);
  const noPinField = await postJson(smx, '/compat/otp/ver_AAAAAAAAAAAAAAAAAAAAAA', {}, bearer);
  t.deepEqual([noPinField.status, noPinField.body.error.details[0].field], [400, 'pin']);
});

test('revoking the API key revokes its tokens at once; a new token is refused', async (t) => {
  const smx = current();
  const app = await application(smx, 'revoke');
  await withPhone(t, smx, app.projectId);
  const bearer = await token(smx, app);
  const before = await postJson(smx, '/compat/otp', { to: '+4915112345613' }, bearer);
  t.is(before.status, 201);

  const revoked = await smx.admin('DELETE', `/admin/projects/${app.projectId}/api-keys/${app.id}`);
  t.is(revoked.status, 200);
  const after = await postJson(smx, `/compat/otp/${before.body.otpId}`, { pin: '123456' }, bearer);
  t.deepEqual([after.status, after.body.error.code], [401, 'UNAUTHORIZED']);
  const fresh = await postJson(smx, '/compat/oauth/token', {
    grant_type: 'client_credentials',
    client_id: app.id,
    client_secret: app.secret,
  });
  t.is(fresh.status, 401);
});

test("project isolation: project B cannot check project A's otpId (404) and uses none of its attempts", async (t) => {
  const smx = current();
  const a = await application(smx, 'A');
  const b = await application(smx, 'B');
  const smsTo = await withPhone(t, smx, a.projectId);
  const tokenA = await token(smx, a);
  const tokenB = await token(smx, b);
  const created = await postJson(smx, '/compat/otp', { to: '+4915112345614' }, tokenA);
  const pin = (await smsTo('+4915112345614')).body.slice(-6);

  const fromB = await postJson(smx, `/compat/otp/${created.body.otpId}`, { pin }, tokenB);
  t.deepEqual([fromB.status, fromB.body.error.code], [404, 'VERIFICATION_NOT_FOUND']);
  const row = await db()('verifications').where({ id: created.body.otpId }).first();
  t.deepEqual([row.status, row.attempts], ['PENDING', 0]);
  t.deepEqual((await postJson(smx, `/compat/otp/${created.body.otpId}`, { pin }, tokenA)).body, { status: 'VERIFIED' });
});

test('the routes are in /openapi.json', async (t) => {
  const doc = (await (await fetch(`${current().url}/openapi.json`)).json()) as {
    paths: Record<string, { post?: unknown }>;
  };
  for (const path of ['/compat/oauth/token', '/compat/otp', '/compat/otp/{otpId}'])
    t.truthy(doc.paths[path]?.post, path);
});

test('SMX_COMPAT_OTP=false: the routes are not there (404 NOT_FOUND)', async (t) => {
  const off = await startTestSmx('compat-otp-off', { env: { SMX_COMPAT_OTP: 'off' } });
  try {
    const app = await application(off, 'off');
    const tokenRes = await postJson(off, '/compat/oauth/token', {
      grant_type: 'client_credentials',
      client_id: app.id,
      client_secret: app.secret,
    });
    t.deepEqual([tokenRes.status, tokenRes.body.error.code], [404, 'NOT_FOUND']);
    for (const path of ['/compat/otp', '/compat/otp/ver_AAAAAAAAAAAAAAAAAAAAAA']) {
      const res = await postJson(off, path, { to: '+4915112345615', pin: '123456' }, app.secret);
      t.deepEqual([res.status, res.body.error.code], [404, 'NOT_FOUND'], path);
    }
  } finally {
    await off.close();
    await cleanupTestSmx(off);
  }
});
