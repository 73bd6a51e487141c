/**
 * Webhooks end to end: real SMX (Redis, PostgreSQL, embedded broker), the reference device as the
 * phone, and real HTTP receivers on 127.0.0.1 (so this file allows private targets; the SSRF
 * guard is tested in webhooks-ssrf.test.ts). Signatures are checked with an independent Standard
 * Webhooks verifier (test/helpers/webhook-receiver.ts). The retry base is 200 ms so retries come
 * within the test; nothing here asserts on timing.
 */
import test from 'ava';
import { dumpDatabase, dumpRedis } from '../helpers/dump.js';
import { createProject, linkNewDevice, startPhone, useSmx, type TestSmx } from '../helpers/smx.js';
import { startReceiver, verifyStandardWebhook, type Receiver } from '../helpers/webhook-receiver.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'webhooks', {
  env: { SMX_WEBHOOK_ALLOW_PRIVATE: 'true', SMX_WEBHOOK_RETRY_BASE_MS: '200' },
});

async function receiver(t: { teardown: (fn: () => Promise<void>) => void }): Promise<Receiver> {
  const r = await startReceiver();
  t.teardown(() => r.close());
  return r;
}

async function addWebhook(
  smx: TestSmx,
  projectId: string,
  url: string,
  events?: string[],
): Promise<{ id: string; secret: string }> {
  const created = await smx.admin('POST', `/admin/projects/${projectId}/webhooks`, {
    url,
    ...(events ? { events } : {}),
  });
  if (created.status !== 201) throw new Error(`webhook: ${created.status} ${JSON.stringify(created.body)}`);
  return created.body.data;
}

/** A challenge to a linked (offline) phone, canceled: verification.canceled and message.failed. */
async function cancelAChallenge(
  smx: TestSmx,
  key: string,
  body: Record<string, unknown> = {},
): Promise<{ verificationId: string; messageId: string }> {
  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550160', ...body });
  if (sent.status !== 201) throw new Error(`send-otp: ${sent.status} ${JSON.stringify(sent.body)}`);
  const canceled = await smx.api(key, 'POST', `/v1/verifications/${sent.body.data.verificationId}/cancel`);
  if (canceled.status !== 200) throw new Error(`cancel: ${canceled.status}`);
  return sent.body.data;
}

const CODE = '86420913';

test('a project endpoint gets every event, each signed as Standard Webhooks, never with the OTP code', async (t) => {
  const smx = current();
  const hooks = await receiver(t);
  const { projectId, key } = await createProject(smx, 'Hooks');
  const { id, secret } = await addWebhook(smx, projectId, `${hooks.url}/smx`, ['*']);
  t.regex(id, /^whk_/);
  t.regex(secret, /^whsec_[A-Za-z0-9+/]+=*$/);
  const of = (type: string, match: (data: Record<string, any>) => boolean = () => true) =>
    hooks.received.find((r) => r.json.type === type && match(r.json.data));

  const credentials = await linkNewDevice(smx, projectId);
  const phone = await startPhone(t, credentials);
  await eventually(
    async () => of('device.online', (d) => d.deviceId === credentials.deviceId),
    15_000,
    'device.online',
  );

  const sms = await smx.api(key, 'POST', '/v1/send-sms', {
    to: '+14155550100',
    message: 'Hello webhooks',
    metadata: { order: 42 },
  });
  t.is(sms.status, 201);
  const messageId = sms.body.data.messageId;
  for (const type of ['message.dispatched', 'message.sent', 'message.delivered']) {
    await eventually(async () => of(type, (d) => d.messageId === messageId), 15_000, type);
  }
  t.like(of('message.delivered', (d) => d.messageId === messageId)!.json.data, {
    status: 'DELIVERED',
    to: '+14155550100',
    kind: 'sms',
    error: null,
    metadata: { order: 42 },
    deviceId: credentials.deviceId,
  });

  const otp = await smx.api(key, 'POST', '/v1/send-otp', {
    to: '+14155550101',
    code: CODE,
    metadata: { purpose: 'login' },
  });
  t.is(otp.status, 201);
  await eventually(
    async () => of('message.delivered', (d) => d.messageId === otp.body.data.messageId),
    15_000,
    'the OTP delivered',
  );
  const verified = await smx.api(key, 'POST', '/v1/verify-otp', {
    verificationId: otp.body.data.verificationId,
    otp: CODE,
  });
  t.true(verified.body.data.verified);
  const verification = await eventually(
    async () => of('verification.verified', (d) => d.verificationId === otp.body.data.verificationId),
    15_000,
    'verification.verified',
  );
  t.like(verification.json.data, {
    status: 'VERIFIED',
    to: '+14155550101',
    metadata: { purpose: 'login' },
    messageId: otp.body.data.messageId,
  });

  await phone.publishInbound([
    { from: '+14155550199', body: 'Hi there', receivedAt: new Date().toISOString(), simSlot: 0 },
  ]);
  const inbound = await eventually(async () => of('sms.received'), 15_000, 'sms.received');
  t.like(inbound.json.data, { from: '+14155550199', body: 'Hi there', deviceId: credentials.deviceId });

  await phone.stop();
  await eventually(
    async () => of('device.offline', (d) => d.deviceId === credentials.deviceId),
    15_000,
    'device.offline',
  );

  for (const r of hooks.received) {
    t.true(verifyStandardWebhook(secret, r.headers, r.body), `${r.json.type} is signed with the endpoint secret`);
    t.regex(String(r.headers['webhook-id']), /^evt_/);
    t.is(r.path, '/smx');
    t.deepEqual(Object.keys(r.json).sort(), ['data', 'timestamp', 'type']);
    t.is(new Date(r.json.timestamp).toISOString(), r.json.timestamp);
    t.false(r.body.includes(CODE), `${r.json.type} does not hold the OTP code`);
  }
  const first = hooks.received[0]!;
  t.false(
    verifyStandardWebhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, first.headers, first.body),
    'another secret does not verify',
  );
  t.false(
    verifyStandardWebhook(secret, first.headers, first.body.replace('}', ', "x": 1}')),
    'a changed body does not verify',
  );
  t.is(new Set(hooks.received.map((r) => r.headers['webhook-id'])).size, hooks.received.length, 'one id per event');

  // The endpoint listing never shows the secret again; every attempt is listed.
  const listed = await smx.admin('GET', `/admin/projects/${projectId}/webhooks`);
  t.like(listed.body.data.webhooks[0], { id, url: `${hooks.url}/smx`, events: ['*'], enabled: true });
  t.false(JSON.stringify(listed.body).includes(secret));
  const deliveries = await eventually(
    async () => {
      const page = await smx.admin('GET', `/admin/projects/${projectId}/webhooks/${id}/deliveries?limit=200`);
      return page.body.data.deliveries.length >= hooks.received.length ? page.body.data.deliveries : null;
    },
    10_000,
    'every attempt logged',
  );
  t.true(
    deliveries.every(
      (d: any) => d.succeeded && d.statusCode === 200 && d.webhookId === id && d.attempt === 1 && d.error === null,
    ),
  );
  t.deepEqual(
    deliveries.map((d: any) => d.eventId).sort(),
    hooks.received.map((r) => String(r.headers['webhook-id'])).sort(),
    'one attempt per event received',
  );

  // The secret rests sealed: not in the database, Redis or the logs.
  t.false((await dumpDatabase(smx)).text.includes(secret.slice('whsec_'.length)), 'not in the database');
  t.false((await dumpRedis(smx.redisPrefix)).bytes.includes(secret.slice('whsec_'.length)), 'not in Redis');
  t.false(smx.logs().includes(secret.slice('whsec_'.length)), 'not in the logs');
  t.false((await dumpRedis(smx.redisPrefix)).bytes.includes(CODE), 'the code is not in a queued webhook');
});

test('a failed delivery is retried under the same webhook-id until a 2xx; every attempt is listed', async (t) => {
  const smx = current();
  const hooks = await receiver(t);
  hooks.respond = (_r, index) => ({ status: index < 2 ? 500 : 204 });
  const { projectId, key } = await createProject(smx, 'Retries');
  await linkNewDevice(smx, projectId);
  const { id, secret } = await addWebhook(smx, projectId, hooks.url, ['verification.canceled']);
  const { verificationId } = await cancelAChallenge(smx, key);

  await eventually(async () => hooks.received.length >= 3, 20_000, 'two failures and a success');
  const ids = new Set(hooks.received.map((r) => r.headers['webhook-id']));
  t.is(ids.size, 1, 'the same webhook-id on every attempt');
  t.true(
    hooks.received.every(
      (r) => r.json.type === 'verification.canceled' && r.json.data.verificationId === verificationId,
    ),
    'only the subscribed event',
  );
  t.true(
    hooks.received.every((r) => verifyStandardWebhook(secret, r.headers, r.body)),
    'each attempt is signed',
  );

  const page = await eventually(
    async () => {
      const p = await smx.admin('GET', `/admin/projects/${projectId}/webhooks/${id}/deliveries`);
      return p.body.data.deliveries.length >= 3 ? p.body.data.deliveries : null;
    },
    10_000,
    'three attempts logged',
  );
  t.deepEqual(
    page.map((d: any) => d.attempt),
    [3, 2, 1],
    'newest first',
  );
  t.like(page[0], {
    succeeded: true,
    statusCode: 204,
    error: null,
    nextAttemptAt: null,
    type: 'verification.canceled',
  });
  for (const failed of page.slice(1)) {
    t.like(failed, { succeeded: false, statusCode: 500, error: 'HTTP 500' });
    t.truthy(failed.nextAttemptAt, 'a failed attempt says when the next one is due');
  }
  t.is(new Set(page.map((d: any) => d.eventId)).size, 1);

  // The API user sees the same attempts, and can page them.
  const first = await smx.api(key, 'GET', '/v1/webhook-deliveries?limit=2');
  const second = await smx.api(key, 'GET', `/v1/webhook-deliveries?limit=2&cursor=${first.body.data.nextCursor}`);
  t.deepEqual(
    [...first.body.data.deliveries, ...second.body.data.deliveries].map((d: any) => d.attempt),
    [3, 2, 1],
  );
  t.is(second.body.data.nextCursor, null);
  t.is((await smx.api(key, 'GET', '/v1/webhook-deliveries?cursor=nope')).status, 400);
});

test('a 410 Gone disables the endpoint: no retry and no further events', async (t) => {
  const smx = current();
  const gone = await receiver(t);
  gone.respond = () => ({ status: 410 });
  const alive = await receiver(t);
  const { projectId, key } = await createProject(smx, 'Gone');
  await linkNewDevice(smx, projectId);
  const dead = await addWebhook(smx, projectId, gone.url, ['verification.canceled']);
  await addWebhook(smx, projectId, alive.url, ['verification.canceled']);

  await cancelAChallenge(smx, key);
  const disabled = await eventually(
    async () => {
      const list = await smx.admin('GET', `/admin/projects/${projectId}/webhooks`);
      return list.body.data.webhooks.find((w: any) => w.id === dead.id && !w.enabled);
    },
    15_000,
    'the endpoint disabled',
  );
  t.regex(disabled.disabledReason, /410/);
  const attempts = (await smx.admin('GET', `/admin/projects/${projectId}/webhooks/${dead.id}/deliveries`)).body.data
    .deliveries;
  t.is(attempts.length, 1);
  t.like(attempts[0], { statusCode: 410, succeeded: false, nextAttemptAt: null });

  await cancelAChallenge(smx, key);
  await eventually(async () => alive.received.length >= 2, 15_000, 'the other endpoint gets both events');
  t.is(gone.received.length, 1, 'the disabled endpoint got nothing more');
});

test('redirects are not followed: a 3xx is a failed attempt', async (t) => {
  const smx = current();
  const hooks = await receiver(t);
  hooks.respond = (r) =>
    r.path === '/moved' ? { status: 200 } : { status: 302, headers: { location: `${hooks.url}/moved` } };
  const { projectId, key } = await createProject(smx, 'Redirects');
  await linkNewDevice(smx, projectId);
  const { id } = await addWebhook(smx, projectId, `${hooks.url}/hook`, ['verification.canceled']);
  await cancelAChallenge(smx, key);

  const attempts = await eventually(
    async () => {
      const page = await smx.admin('GET', `/admin/projects/${projectId}/webhooks/${id}/deliveries`);
      return page.body.data.deliveries.length >= 2 ? page.body.data.deliveries : null;
    },
    15_000,
    'two attempts',
  );
  for (const a of attempts) t.like(a, { statusCode: 302, succeeded: false });
  t.regex(attempts[0].error, /redirect/);
  t.false(
    hooks.received.some((r) => r.path === '/moved'),
    'the Location was never requested',
  );
  t.is((await smx.admin('DELETE', `/admin/projects/${projectId}/webhooks/${id}`)).status, 200);
});

test("a per-request callbackUrl gets its challenge's and its SMS's events, signed with the project's callback secret", async (t) => {
  const smx = current();
  const callback = await receiver(t);
  const { projectId, key } = await createProject(smx, 'Callbacks');
  const other = await createProject(smx, 'Other');
  await linkNewDevice(smx, projectId);
  const rotated = await smx.admin('POST', `/admin/projects/${projectId}/webhook-callback-secret`);
  t.is(rotated.status, 201);
  const secret = rotated.body.data.secret as string;
  t.regex(secret, /^whsec_/);

  const { verificationId, messageId } = await cancelAChallenge(smx, key, {
    callbackUrl: `${callback.url}/cb?ref=1`,
    metadata: { user: 'u1' },
  });
  await eventually(async () => callback.received.length >= 2, 15_000, 'verification.canceled and message.failed');
  const types = callback.received.map((r) => r.json.type).sort();
  t.deepEqual(types, ['message.failed', 'verification.canceled']);
  t.like(callback.received.find((r) => r.json.type === 'verification.canceled')!.json.data, {
    verificationId,
    status: 'CANCELED',
    metadata: { user: 'u1' },
  });
  t.like(callback.received.find((r) => r.json.type === 'message.failed')!.json.data, {
    messageId,
    status: 'FAILED',
    error: 'CANCELED',
    verificationId,
  });
  t.true(callback.received.every((r) => r.path === '/cb?ref=1' && verifyStandardWebhook(secret, r.headers, r.body)));

  const listed = await eventually(
    async () => {
      const page = await smx.api(key, 'GET', '/v1/webhook-deliveries');
      return page.body.data.deliveries.length >= 2 ? page.body.data.deliveries : null;
    },
    10_000,
    'callback attempts listed',
  );
  t.true(listed.every((d: any) => d.webhookId === null && d.url === `${callback.url}/cb?ref=1` && d.succeeded));
  const eventId = String(callback.received[0]!.headers['webhook-id']);
  const one = await smx.api(key, 'GET', `/v1/webhook-deliveries?eventId=${eventId}`);
  t.deepEqual(
    one.body.data.deliveries.map((d: any) => d.eventId),
    [eventId],
  );
  t.deepEqual(
    (await smx.api(other.key, 'GET', '/v1/webhook-deliveries')).body.data.deliveries,
    [],
    'another project sees none of them',
  );

  // Rotating replaces the secret: later deliveries verify with the new one only.
  const next = (await smx.admin('POST', `/admin/projects/${projectId}/webhook-callback-secret`)).body.data
    .secret as string;
  t.not(next, secret);
  await cancelAChallenge(smx, key, { callbackUrl: `${callback.url}/cb` });
  await eventually(async () => callback.received.length >= 4, 15_000, 'events after rotation');
  for (const r of callback.received.slice(2)) {
    t.true(verifyStandardWebhook(next, r.headers, r.body));
    t.false(verifyStandardWebhook(secret, r.headers, r.body));
  }
});

test('a callbackUrl before any callback secret exists is still delivered, signed with one made on first use; rotating shows the one to verify with', async (t) => {
  const smx = current();
  const callback = await receiver(t);
  const { projectId, key } = await createProject(smx, 'No secret yet');
  await linkNewDevice(smx, projectId);
  await cancelAChallenge(smx, key, { callbackUrl: `${callback.url}/first` });
  await eventually(
    async () => callback.received.length >= 2,
    15_000,
    'delivered without a secret made by the operator',
  );
  for (const r of callback.received) t.regex(String(r.headers['webhook-signature']), /^v1,/);

  const secret = (await smx.admin('POST', `/admin/projects/${projectId}/webhook-callback-secret`)).body.data
    .secret as string;
  await cancelAChallenge(smx, key, { callbackUrl: `${callback.url}/second` });
  await eventually(async () => callback.received.length >= 4, 15_000, 'delivered after rotation');
  for (const r of callback.received.slice(2)) t.true(verifyStandardWebhook(secret, r.headers, r.body));
});

test("webhook admin paths: validation from the catalogue, and another project's webhook is NOT_FOUND", async (t) => {
  const smx = current();
  const hooks = await receiver(t);
  const a = await createProject(smx, 'A');
  const b = await createProject(smx, 'B');
  const { id } = await addWebhook(smx, a.projectId, hooks.url, ['message.delivered', 'sms.received']);

  const badEvents = await smx.admin('POST', `/admin/projects/${a.projectId}/webhooks`, {
    url: hooks.url,
    events: ['message.delivered', 'nope'],
  });
  t.is(badEvents.status, 400);
  t.is(badEvents.body.error.code, 'VALIDATION_FAILED');
  t.deepEqual(
    badEvents.body.error.details.map((d) => d.field),
    ['events'],
  );
  const badUrl = await smx.admin('POST', `/admin/projects/${a.projectId}/webhooks`, { url: 'ftp://example.com/x' });
  t.deepEqual(
    badUrl.body.error.details.map((d) => d.field),
    ['url'],
  );
  t.is((await smx.admin('POST', `/admin/projects/${a.projectId}/webhooks`, {})).body.error.details[0]!.field, 'url');
  t.is((await smx.admin('POST', '/admin/projects/prj_unknown/webhooks', { url: hooks.url })).status, 404);

  t.is((await smx.admin('GET', `/admin/projects/${b.projectId}/webhooks`)).body.data.webhooks.length, 0);
  for (const [method, path] of [
    ['GET', `/admin/projects/${b.projectId}/webhooks/${id}/deliveries`],
    ['DELETE', `/admin/projects/${b.projectId}/webhooks/${id}`],
    ['GET', `/admin/projects/${a.projectId}/webhooks/whk_nope/deliveries`],
  ] as const) {
    const response = await smx.admin(method, path);
    t.is(response.status, 404, `${method} ${path}`);
    t.is(response.body.error.code, 'NOT_FOUND');
  }
  t.is((await smx.admin('GET', `/admin/projects/${a.projectId}/webhooks`)).body.data.webhooks.length, 1, 'still there');
  t.is((await smx.admin('DELETE', `/admin/projects/${a.projectId}/webhooks/${id}`)).status, 200);
  t.is((await smx.admin('GET', `/admin/projects/${a.projectId}/webhooks`)).body.data.webhooks.length, 0);
  t.is((await smx.api(a.key, 'GET', '/v1/webhook-deliveries?eventId=bad')).status, 400);

  const doc = (await fetch(`${smx.url}/openapi.json`).then((r) => r.json())) as {
    paths: Record<string, Record<string, unknown>>;
  };
  for (const path of [
    '/admin/projects/{id}/webhooks',
    '/admin/projects/{id}/webhooks/{webhookId}',
    '/admin/projects/{id}/webhooks/{webhookId}/deliveries',
    '/admin/projects/{id}/webhook-callback-secret',
    '/v1/webhook-deliveries',
  ]) {
    t.truthy(doc.paths[path], `${path} is in /openapi.json`);
  }
});
