/**
 * The HTTP surface of docs/api.md "Conventions", "Envelope", "Error catalogue" and "Authentication":
 * request ids, the error envelope for framework-level failures (routing, JSON, content type, body
 * size), validation listing every field, nothing internal leaking, API-key and admin auth, and
 * the operator surfaces (health, OpenAPI, docs, metrics, Bull Board).
 */
import test, { type ExecutionContext } from 'ava';
import { createProject, linkNewDevice, startPhone, useSmx, type ApiResponse, type TestSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'http-errors');

/** A raw request (the harness helper parses every body as JSON; here some are not). */
async function raw(
  smx: TestSmx,
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: string | Buffer } = {},
) {
  const response = await fetch(`${smx.url}${path}`, { method, headers: init.headers, body: init.body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text };
}

function json(text: string): ApiResponse['body'] {
  return JSON.parse(text) as ApiResponse['body'];
}

/** Stack frames, SQL, library names or parser messages: none may reach a client. */
const INTERNALS: Array<[string, RegExp]> = [
  ['a stack frame', /\bat\s+\S+\s+\(|\bat\s+\S*:\d+:\d+|\n\s+at\s/],
  ['SQL', /\bselect\b[\s\S]*\bfrom\b|\binsert into\b|\bupdate\b\s+"?\w+"?\s+set\b/i],
  ['knex', /knex/i],
  ['node_modules', /node_modules/],
  ['a file path', /\/(?:work|home|usr|tmp)\/|\.[jt]s:\d+/],
  ['a fastify error code', /FST_ERR/],
  ['a JSON parser message', /Unexpected token|JSON\.parse|SyntaxError|in JSON at position/],
  ['a PostgreSQL message', /invalid byte sequence|violates|relation "|syntax error at/i],
];

/** The error envelope of docs/api.md, its request id equal to the header, and nothing internal in it. */
function assertErrorEnvelope(
  t: ExecutionContext,
  response: { status: number; headers: Headers; text: string },
  status: number,
  code: string,
  origin: string,
) {
  t.is(response.status, status, response.text);
  const body = json(response.text);
  t.false(body.success);
  t.is(body.error.code, code);
  t.is(body.error.origin, origin);
  t.is(typeof body.error.message, 'string');
  t.true(body.error.message.length > 0);
  t.true(Array.isArray(body.error.details));
  const requestId = response.headers.get('x-request-id');
  t.truthy(requestId, 'x-request-id header');
  t.is(body.requestId, requestId ?? undefined, 'the body repeats the x-request-id header');
  t.deepEqual(Object.keys(body).sort(), ['error', 'requestId', 'success']);
  t.deepEqual(Object.keys(body.error).sort(), ['code', 'details', 'message', 'origin']);
  for (const [what, pattern] of INTERNALS) t.notRegex(response.text, pattern, `no ${what} in ${code}`);
  return body;
}

test('every response carries x-request-id, unique per request, success or not', async (t) => {
  const smx = current();
  const { key } = await createProject(smx);
  const responses = await Promise.all([
    raw(smx, 'GET', '/health/live'),
    raw(smx, 'GET', '/health/live'),
    raw(smx, 'GET', '/v1/status', { headers: { 'x-smx-api-key': key } }),
    raw(smx, 'GET', '/nope'),
    raw(smx, 'GET', '/openapi.json'),
    raw(smx, 'GET', '/metrics'),
    raw(smx, 'GET', '/metrics', { headers: { authorization: `Bearer ${smx.adminToken}` } }),
  ]);
  const ids = responses.map((r) => r.headers.get('x-request-id'));
  for (const [i, id] of ids.entries())
    t.regex(id ?? '', /^req_[A-Za-z0-9_-]{16,}$/, `response ${i} (${responses[i]!.status})`);
  t.is(new Set(ids).size, ids.length, 'request ids are unique');
});

test('an unknown route is 404 NOT_FOUND in the envelope, for any method', async (t) => {
  const smx = current();
  assertErrorEnvelope(t, await raw(smx, 'GET', '/no/such/route'), 404, 'NOT_FOUND', 'client');
  assertErrorEnvelope(t, await raw(smx, 'DELETE', '/v2/send-otp'), 404, 'NOT_FOUND', 'client');
  assertErrorEnvelope(
    t,
    await raw(smx, 'POST', '/nope', { headers: { 'content-type': 'application/json' }, body: '{}' }),
    404,
    'NOT_FOUND',
    'client',
  );
});

test('malformed JSON and a non-JSON content type are 400 INVALID_JSON; an empty JSON body is no body', async (t) => {
  const smx = current();
  const { key } = await createProject(smx);
  const json = { 'x-smx-api-key': key, 'content-type': 'application/json' };
  assertErrorEnvelope(
    t,
    await raw(smx, 'POST', '/v1/send-otp', { headers: json, body: '{"to": "+14155550100",' }),
    400,
    'INVALID_JSON',
    'client',
  );
  assertErrorEnvelope(
    t,
    await raw(smx, 'POST', '/v1/send-otp', { headers: json, body: "{'to': 1}" }),
    400,
    'INVALID_JSON',
    'client',
  );
  // No body where one is needed: the fields it lacks, by name.
  const empty = await raw(smx, 'POST', '/v1/send-otp', { headers: json, body: '' });
  assertErrorEnvelope(t, empty, 400, 'VALIDATION_FAILED', 'client');
  t.true(
    (JSON.parse(empty.text) as ApiResponse['body']).error.details.some((d: { field?: string }) => d.field === 'to'),
  );
  // No body where none is needed (a cancel sent by a client that always sets Content-Type).
  const cancel = await raw(smx, 'POST', '/v1/verifications/ver_AAAAAAAAAAAAAAAAAAAAAA/cancel', {
    headers: json,
    body: '',
  });
  assertErrorEnvelope(t, cancel, 404, 'VERIFICATION_NOT_FOUND', 'client');
  const text = { 'x-smx-api-key': key, 'content-type': 'text/plain' };
  assertErrorEnvelope(
    t,
    await raw(smx, 'POST', '/v1/send-otp', { headers: text, body: JSON.stringify({ to: '+14155550100' }) }),
    400,
    'INVALID_JSON',
    'client',
  );
  const form = { 'x-smx-api-key': key, 'content-type': 'application/x-www-form-urlencoded' };
  assertErrorEnvelope(
    t,
    await raw(smx, 'POST', '/v1/send-otp', { headers: form, body: 'to=%2B14155550100' }),
    400,
    'INVALID_JSON',
    'client',
  );
  // The same on an unauthenticated route (the phone's link call).
  assertErrorEnvelope(
    t,
    await raw(smx, 'POST', '/v1/devices/link', { headers: { 'content-type': 'application/json' }, body: '{' }),
    400,
    'INVALID_JSON',
    'client',
  );
});

test('a body over 1 MiB is 413 PAYLOAD_TOO_LARGE; just under the limit is read', async (t) => {
  const smx = current();
  const { key } = await createProject(smx);
  const headers = { 'x-smx-api-key': key, 'content-type': 'application/json' };
  const padding = (bytes: number) => JSON.stringify({ to: '+14155550100', pad: 'x'.repeat(bytes) });
  const over = padding(1024 * 1024);
  t.true(Buffer.byteLength(over) > 1024 * 1024);
  assertErrorEnvelope(
    t,
    await raw(smx, 'POST', '/v1/send-otp', { headers, body: over }),
    413,
    'PAYLOAD_TOO_LARGE',
    'client',
  );
  // Under the limit the body is parsed: this project has no device, so the call gets that far.
  const under = padding(1024 * 1024 - 100);
  t.true(Buffer.byteLength(under) <= 1024 * 1024);
  assertErrorEnvelope(
    t,
    await raw(smx, 'POST', '/v1/send-otp', { headers, body: under }),
    409,
    'DEVICE_NOT_LINKED',
    'device',
  );
});

test('VALIDATION_FAILED lists every failing field in details at once', async (t) => {
  const smx = current();
  const { key } = await createProject(smx);
  const response = await raw(smx, 'POST', '/v1/send-otp', {
    headers: { 'x-smx-api-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({
      codeLength: 3,
      ttl: 5000,
      maxAttempts: 0,
      codeType: 'x',
      language: 'xx',
      callbackUrl: 'http://example.com/hook',
      metadata: { blob: 'y'.repeat(1100) },
    }),
  });
  const body = assertErrorEnvelope(t, response, 400, 'VALIDATION_FAILED', 'client');
  const fields = new Set(body.error.details.map((d) => d.field));
  for (const field of ['to', 'codeLength', 'ttl', 'maxAttempts', 'codeType', 'language', 'callbackUrl', 'metadata']) {
    t.true(fields.has(field), `details name ${field}: ${JSON.stringify(body.error.details)}`);
  }
  t.is(fields.size, 8, `only the failing fields: ${[...fields].join(', ')}`);
  for (const detail of body.error.details) {
    t.is(typeof detail.message, 'string');
    t.true(detail.message.length > 0);
  }
  // A valid https callback and small metadata are not reported.
  const fine = await smx.api(key, 'POST', '/v1/send-otp', {
    codeLength: 3,
    callbackUrl: 'https://example.com/hook',
    metadata: { a: 1 },
  });
  t.deepEqual(new Set(fine.body.error.details.map((d) => d.field)), new Set(['to', 'codeLength']));
});

/** The fields VALIDATION_FAILED names, sorted. */
function failingFields(response: { status: number; text: string }): string[] {
  const body = json(response.text);
  return body.error.details.map((d: { field?: string }) => d.field ?? '').sort();
}

test('VALIDATION_FAILED: the checks beyond the DTO (ranges, cursors, placeholders, supplied codes, path parameters) join its details', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const api = { 'x-smx-api-key': key };
  const post = (path: string, body: unknown) =>
    raw(smx, 'POST', path, { headers: { ...api, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const admin = (method: string, path: string, body: unknown) =>
    raw(smx, method, path, {
      headers: { authorization: `Bearer ${smx.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const cases: Array<[string, Promise<{ status: number; headers: Headers; text: string }>, string[]]> = [
    [
      'messages: a bad status and an out-of-range limit',
      raw(smx, 'GET', '/v1/messages?status=bogus&limit=0', { headers: api }),
      ['limit', 'status'],
    ],
    [
      'messages: a foreign cursor and a bad kind',
      raw(smx, 'GET', `/v1/messages?kind=fax&cursor=${Buffer.from('i12').toString('base64url')}`, { headers: api }),
      ['cursor', 'kind'],
    ],
    [
      'inbox: limit and cursor',
      raw(smx, 'GET', '/v1/inbox?limit=0&cursor=nope', { headers: api }),
      ['cursor', 'limit'],
    ],
    [
      'webhook deliveries: limit, cursor and eventId',
      raw(smx, 'GET', '/v1/webhook-deliveries?limit=500&cursor=x&eventId=evt_1', { headers: api }),
      ['cursor', 'eventId', 'limit'],
    ],
    [
      'stats: a bad interval and a reversed range',
      raw(smx, 'GET', '/v1/stats?interval=week&from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', { headers: api }),
      ['interval', 'to'],
    ],
    [
      'stats: a bad from is reported once',
      raw(smx, 'GET', '/v1/stats?from=yesterday&interval=hour', { headers: api }),
      ['from'],
    ],
    [
      'send-otp: no placeholder, a code of the wrong type, a bad ttl',
      post('/v1/send-otp', { to: '+4915112345678', template: 'no placeholder', code: 'ABCD', ttl: 1 }),
      ['code', 'template', 'ttl'],
    ],
    [
      'send-otp: a code longer than codeLength and a bad language',
      post('/v1/send-otp', { to: '+4915112345678', code: '1234567', codeLength: 6, language: 'xx' }),
      ['code', 'language'],
    ],
    [
      'PUT template: unknown language and no placeholder',
      admin('PUT', `/admin/projects/${projectId}/templates/xx`, { text: 'no placeholder' }),
      ['language', 'text'],
    ],
    [
      'PATCH project: unknown routing, a bad prefix limit, a bad codeLength',
      admin('PATCH', `/admin/projects/${projectId}`, {
        routing: 'nope',
        codeLength: 3,
        rateLimits: { perCountryPrefix: { '+1': -1 } },
      }),
      ['codeLength', 'rateLimits.perCountryPrefix.+1', 'routing'],
    ],
    [
      'webhook: a refused URL and bad events',
      admin('POST', `/admin/projects/${projectId}/webhooks`, { url: 'http://127.0.0.1:9/hook', events: ['nope'] }),
      ['events', 'url'],
    ],
  ];
  for (const [what, pending, fields] of cases) {
    const response = await pending;
    assertErrorEnvelope(t, response, 400, 'VALIDATION_FAILED', 'client');
    t.deepEqual(failingFields(response), fields, `${what}: ${response.text}`);
  }
  // Each second-stage rule still holds alone.
  t.deepEqual(failingFields(await raw(smx, 'GET', '/v1/messages?limit=0', { headers: api })), ['limit']);
  t.deepEqual(failingFields(await post('/v1/send-otp', { to: '+4915112345678', template: 'no placeholder' })), [
    'template',
  ]);
  t.deepEqual(
    failingFields(
      await raw(smx, 'GET', '/v1/stats?from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z', { headers: api }),
    ),
    ['from'],
    'over 31 days of hours',
  );
  // A phone number problem stays its own error once the fields are valid.
  const phone = await post('/v1/send-otp', { to: '+1', template: 'Code {{code}}' });
  assertErrorEnvelope(t, phone, 422, 'INVALID_PHONE_NUMBER', 'client');
});

test('a body that is JSON but not an object is VALIDATION_FAILED, not a crash', async (t) => {
  const smx = current();
  const { key } = await createProject(smx);
  for (const body of ['[]', '"text"', '42', 'null']) {
    const response = await raw(smx, 'POST', '/v1/send-otp', {
      headers: { 'x-smx-api-key': key, 'content-type': 'application/json' },
      body,
    });
    assertErrorEnvelope(t, response, 400, 'VALIDATION_FAILED', 'client');
  }
});

test('input PostgreSQL cannot store (a NUL byte) is a 4xx, never a 500 or a database message', async (t) => {
  const smx = current();
  const { key } = await createProject(smx);
  const headers = { 'x-smx-api-key': key };
  const post = (path: string, body: unknown) =>
    raw(smx, 'POST', path, { headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  // In a path id: no such resource.
  assertErrorEnvelope(
    t,
    await raw(smx, 'GET', '/v1/verifications/ver_%00x', { headers }),
    404,
    'VERIFICATION_NOT_FOUND',
    'client',
  );
  assertErrorEnvelope(
    t,
    await raw(smx, 'POST', '/v1/verifications/ver_%00x/cancel', { headers }),
    404,
    'VERIFICATION_NOT_FOUND',
    'client',
  );
  assertErrorEnvelope(t, await raw(smx, 'GET', '/v1/messages/msg_%00x', { headers }), 404, 'NOT_FOUND', 'client');
  // In a body field (valid JSON: "\u0000"): that field fails validation.
  const verify = assertErrorEnvelope(
    t,
    await post('/v1/verify-otp', { verificationId: 'ver_\u0000', otp: '123456' }),
    400,
    'VALIDATION_FAILED',
    'client',
  );
  t.deepEqual(
    verify.error.details.map((d) => d.field),
    ['verificationId'],
  );
  const send = assertErrorEnvelope(
    t,
    await post('/v1/send-otp', { to: '+14155550100', metadata: { note: 'a\u0000b' } }),
    400,
    'VALIDATION_FAILED',
    'client',
  );
  t.deepEqual(
    send.error.details.map((d) => d.field),
    ['metadata.note'],
    'the field is named down to the string',
  );
  // A well-formed but unknown id is simply not found.
  assertErrorEnvelope(
    t,
    await post('/v1/verify-otp', { verificationId: 'ver_AAAAAAAAAAAAAAAAAAAAAA', otp: '123456' }),
    404,
    'VERIFICATION_NOT_FOUND',
    'client',
  );
});

test('a missing, unknown, malformed or revoked API key is 401 UNAUTHORIZED with origin auth', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  assertErrorEnvelope(t, await raw(smx, 'GET', '/v1/status'), 401, 'UNAUTHORIZED', 'auth');
  assertErrorEnvelope(
    t,
    await raw(smx, 'GET', '/v1/status', { headers: { 'x-smx-api-key': 'smx_unknownunknownunknownunknownunknown' } }),
    401,
    'UNAUTHORIZED',
    'auth',
  );
  assertErrorEnvelope(
    t,
    await raw(smx, 'GET', '/v1/status', { headers: { 'x-smx-api-key': 'not-even-a-key' } }),
    401,
    'UNAUTHORIZED',
    'auth',
  );
  assertErrorEnvelope(
    t,
    await raw(smx, 'GET', '/v1/status', { headers: { authorization: 'Basic Zm9vOmJhcg==' } }),
    401,
    'UNAUTHORIZED',
    'auth',
  );
  assertErrorEnvelope(
    t,
    await raw(smx, 'GET', '/v1/status', { headers: { authorization: `Bearer ${smx.adminToken}x` } }),
    401,
    'UNAUTHORIZED',
    'auth',
  );
  // Auth runs before the body is read: a bad body with no key is still 401, not 400.
  assertErrorEnvelope(
    t,
    await raw(smx, 'POST', '/v1/send-otp', { headers: { 'content-type': 'application/json' }, body: '{' }),
    401,
    'UNAUTHORIZED',
    'auth',
  );

  const second = await smx.admin('POST', `/admin/projects/${projectId}/api-keys`, { name: 'to revoke' });
  t.is(second.status, 201);
  t.is((await smx.api(second.body.data.key, 'GET', '/v1/status')).status, 200, 'the new key works');
  const revoked = await smx.admin('DELETE', `/admin/projects/${projectId}/api-keys/${second.body.data.id}`);
  t.is(revoked.status, 200, JSON.stringify(revoked.body));
  assertErrorEnvelope(
    t,
    await raw(smx, 'GET', '/v1/status', { headers: { 'x-smx-api-key': second.body.data.key } }),
    401,
    'UNAUTHORIZED',
    'auth',
  );
  t.is((await smx.api(key, 'GET', '/v1/status')).status, 200, 'the other key of the project still works');
});

test('Authorization: Bearer <key> is accepted as an alias of X-SMX-API-Key', async (t) => {
  const smx = current();
  const { key } = await createProject(smx);
  const viaBearer = await raw(smx, 'GET', '/v1/status', { headers: { authorization: `Bearer ${key}` } });
  t.is(viaBearer.status, 200, viaBearer.text);
  t.true(json(viaBearer.text).success);
  const lowerCase = await raw(smx, 'GET', '/v1/status', { headers: { authorization: `bearer ${key}` } });
  t.is(lowerCase.status, 200, lowerCase.text);
  // The admin token is a valid credential without rights to /v1 (as an API key is on /admin).
  assertErrorEnvelope(
    t,
    await raw(smx, 'GET', '/v1/status', { headers: { authorization: `Bearer ${smx.adminToken}` } }),
    403,
    'FORBIDDEN',
    'auth',
  );
  assertErrorEnvelope(
    t,
    await raw(smx, 'GET', '/v1/status', { headers: { 'x-smx-api-key': smx.adminToken } }),
    403,
    'FORBIDDEN',
    'auth',
  );
});

test('admin endpoints, /metrics and Bull Board answer 401 without or with a wrong admin token, 403 to a project API key', async (t) => {
  const smx = current();
  const { key } = await createProject(smx);
  for (const path of ['/admin/projects', '/metrics', '/admin/queues']) {
    assertErrorEnvelope(t, await raw(smx, 'GET', path), 401, 'UNAUTHORIZED', 'auth');
    assertErrorEnvelope(
      t,
      await raw(smx, 'GET', path, { headers: { authorization: `Bearer ${smx.adminToken}x` } }),
      401,
      'UNAUTHORIZED',
      'auth',
    );
    // A valid credential without rights to this resource family (docs/api.md catalogue: FORBIDDEN).
    assertErrorEnvelope(
      t,
      await raw(smx, 'GET', path, { headers: { authorization: `Bearer ${key}` } }),
      403,
      'FORBIDDEN',
      'auth',
    );
    assertErrorEnvelope(
      t,
      await raw(smx, 'GET', path, { headers: { 'x-smx-api-key': key } }),
      403,
      'FORBIDDEN',
      'auth',
    );
  }
  assertErrorEnvelope(
    t,
    await raw(smx, 'POST', '/admin/projects', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'sneaky' }),
    }),
    401,
    'UNAUTHORIZED',
    'auth',
  );
  const projects = await smx.admin('GET', '/admin/projects');
  t.false(
    projects.body.data.projects.some((p: { name: string }) => p.name === 'sneaky'),
    'nothing was created without the token',
  );
});

test('/health/live and /health/ready answer 200 without auth, with every dependency up', async (t) => {
  const smx = current();
  const live = await raw(smx, 'GET', '/health/live');
  t.is(live.status, 200);
  t.true(json(live.text).success);
  const ready = await raw(smx, 'GET', '/health/ready');
  t.is(ready.status, 200, ready.text);
  const data = json(ready.text).data as { checks: Record<string, string> };
  t.deepEqual(data.checks, { redis: 'up', database: 'up', broker: 'up' });
});

test('/openapi.json is an OpenAPI 3 document with the /v1 and admin paths; /docs serves HTML', async (t) => {
  const smx = current();
  const response = await raw(smx, 'GET', '/openapi.json');
  t.is(response.status, 200);
  t.regex(response.headers.get('content-type') ?? '', /application\/json/);
  const doc = JSON.parse(response.text) as {
    openapi: string;
    info: { title: string; version: string };
    paths: Record<string, Record<string, unknown>>;
    components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
  };
  t.regex(doc.openapi, /^3\.\d+\.\d+$/);
  t.truthy(doc.info.title);
  t.truthy(doc.info.version);
  t.truthy(doc.paths['/v1/send-otp']?.post, 'POST /v1/send-otp is documented');
  t.truthy(doc.paths['/v1/verify-otp']?.post, 'POST /v1/verify-otp is documented');
  t.truthy(doc.paths['/v1/devices/link']?.post, 'POST /v1/devices/link is documented');
  t.truthy(doc.paths['/admin/projects']?.post, 'POST /admin/projects is documented');
  t.truthy(doc.components.schemas.ErrorEnvelope);
  t.truthy(
    (doc.paths['/v1/send-otp']?.post as { requestBody?: unknown } | undefined)?.requestBody,
    'send-otp documents its body',
  );
  t.truthy(doc.components.securitySchemes.apiKey);

  const docs = await fetch(`${smx.url}/docs`);
  t.is(docs.status, 200);
  t.regex(docs.headers.get('content-type') ?? '', /text\/html/);
  t.regex(await docs.text(), /<html[\s>]/i);
});

test('/metrics with the admin token is Prometheus text with the SMX metrics', async (t) => {
  const smx = current();
  // One message and one online phone, so the gauges have samples, not just their HELP lines.
  const { projectId, key } = await createProject(smx);
  const credentials = await linkNewDevice(smx, projectId);
  const phone = await startPhone(t, credentials);
  t.true(phone.connected);
  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550100' });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  await eventually(
    async () =>
      (await smx.api(key, 'GET', `/v1/messages/${sent.body.data.messageId}`)).body.data.status === 'DELIVERED',
    10_000,
    'DELIVERED',
  );

  const response = await raw(smx, 'GET', '/metrics', { headers: { authorization: `Bearer ${smx.adminToken}` } });
  t.is(response.status, 200);
  t.regex(response.headers.get('content-type') ?? '', /^text\/plain/);
  const text = response.text;
  t.regex(text, /^# TYPE smx_http_request_duration_seconds histogram$/m);
  t.regex(
    text,
    /^smx_http_request_duration_seconds_count\{[^}]*route="\/v1\/send-otp"[^}]*\} [1-9]/m,
    'the send-otp call was observed under its route pattern',
  );
  t.regex(text, /^# TYPE smx_queue_jobs gauge$/m);
  t.regex(text, /^smx_queue_jobs\{[^}]*queue="dispatch"[^}]*\} \d+$/m);
  t.regex(text, /^# TYPE smx_devices_online gauge$/m);
  t.regex(text, /^smx_devices_online\{transport="mqtt"\} [1-9]\d*$/m, 'the phone is counted online');
  t.regex(text, /^# TYPE smx_messages_total counter$/m);
  t.regex(text, /^smx_messages_total\{[^}]*status="DELIVERED"[^}]*\} [1-9]\d*$/m);
  t.notRegex(text, /route="\/v1\/messages\/msg_/, 'routes are labelled by pattern, not by URL');
});

test('/admin/queues (Bull Board) answers 200 HTML with the admin token', async (t) => {
  const smx = current();
  const response = await raw(smx, 'GET', '/admin/queues', { headers: { authorization: `Bearer ${smx.adminToken}` } });
  t.is(response.status, 200, response.text.slice(0, 200));
  t.regex(response.headers.get('content-type') ?? '', /text\/html/);
  t.regex(response.text, /<html[\s>]/i);
  // The board's own API lists every SMX queue.
  const api = await raw(smx, 'GET', '/admin/queues/api/queues', {
    headers: { authorization: `Bearer ${smx.adminToken}` },
  });
  t.is(api.status, 200, api.text.slice(0, 200));
  const names = (JSON.parse(api.text) as { queues: Array<{ name: string }> }).queues.map((q) => q.name).sort();
  t.deepEqual(names, ['device-events', 'dispatch', 'maintenance', 'webhooks']);
});
