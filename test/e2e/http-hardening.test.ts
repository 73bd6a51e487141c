/**
 * Issue 10 (and 16's request ids) on the HTTP surface: deep JSON refused before validation,
 * Fastify's router and Node's HTTP parser errors in the envelope with a request id, an incoming
 * X-Request-Id kept, security headers on every answer, and Bull Board's write actions closed to
 * other sites while a browser holds Basic credentials.
 */
import { connect } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { ERROR_CATALOGUE } from '../../core/errors.js';
import { MAX_JSON_DEPTH } from '../../core/json-depth.js';
import { cleanupTestSmx, createProject, linkNewDevice, startTestSmx, useSmx, type TestSmx } from '../helpers/smx.js';

const current = useSmx(test, 'http-hardening');

async function raw(
  smx: TestSmx,
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: string } = {},
) {
  const response = await fetch(`${smx.url}${path}`, { method, headers: init.headers, body: init.body });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** `[[[...]]]` or `{"a":{"a":...}}` nested `depth` levels. */
const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const deepObject = (depth: number) => '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);

function assertEnvelope(
  t: ExecutionContext,
  r: { status: number; headers: Headers; text: string },
  status: number,
  code: string,
) {
  t.is(r.status, status, r.text);
  const body = JSON.parse(r.text);
  t.false(body.success);
  t.is(body.error.code, code);
  t.is(ERROR_CATALOGUE[code as keyof typeof ERROR_CATALOGUE].status, status);
  t.truthy(r.headers.get('x-request-id'));
  t.is(body.requestId, r.headers.get('x-request-id'));
  t.notRegex(r.text, /FST_ERR|RangeError|Maximum call stack|\bat\s+\S+\s+\(/);
  return body;
}

/** Raw bytes over TCP (what fetch will not send): returns everything the server wrote before closing. */
function rawHttp(smx: TestSmx, bytes: string): Promise<string> {
  const { hostname, port } = new URL(smx.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.setTimeout(5000, () => socket.destroy());
  });
}

/** The HTTP responses in what rawHttp read: status, lower-cased headers, body. */
function responsesIn(text: string): Array<{ status: number; headers: Record<string, string>; body: string }> {
  const out: Array<{ status: number; headers: Record<string, string>; body: string }> = [];
  let rest = text;
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n');
    const lines = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1))
      headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
    const length = Number(headers['content-length'] ?? 0);
    out.push({ status: Number(lines[0]!.split(' ')[1]), headers, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

test('JSON nested thousands of levels deep is 400 VALIDATION_FAILED on every JSON route, also without login', async (t) => {
  const smx = current();
  const { key } = await createProject(smx);
  const json = { 'content-type': 'application/json' };
  for (const depth of [1500, 5000]) {
    for (const body of [deepArray(depth), deepObject(depth)]) {
      const link = assertEnvelope(
        t,
        await raw(smx, 'POST', '/v1/devices/link', { headers: json, body }),
        400,
        'VALIDATION_FAILED',
      );
      t.deepEqual(link.error.details, [{ field: 'body', message: `nested deeper than ${MAX_JSON_DEPTH} levels` }]);
      assertEnvelope(
        t,
        await raw(smx, 'POST', '/compat/oauth/token', { headers: json, body }),
        400,
        'VALIDATION_FAILED',
      );
      assertEnvelope(
        t,
        await raw(smx, 'POST', '/v1/send-otp', { headers: { ...json, 'x-smx-api-key': key }, body }),
        400,
        'VALIDATION_FAILED',
      );
      assertEnvelope(
        t,
        await raw(smx, 'POST', '/admin/projects', {
          headers: { ...json, authorization: `Bearer ${smx.adminToken}` },
          body,
        }),
        400,
        'VALIDATION_FAILED',
      );
    }
  }
  // Deep inside a field (metadata), still refused before validation.
  const metadata = `{"to":"+4915112345678","metadata":${deepObject(3000)}}`;
  assertEnvelope(
    t,
    await raw(smx, 'POST', '/v1/send-sms', { headers: { ...json, 'x-smx-api-key': key }, body: metadata }),
    400,
    'VALIDATION_FAILED',
  );
  // The SMSGate mobile API parses JSON itself: the same limit there.
  assertEnvelope(
    t,
    await raw(smx, 'POST', '/compat/smsgate/mobile/v1/device', { headers: json, body: deepArray(3000) }),
    400,
    'VALIDATION_FAILED',
  );
  t.notRegex(smx.logs(), /Maximum call stack/);
});

test('the depth limit is exactly MAX_JSON_DEPTH: 32 levels are read, 33 are refused', async (t) => {
  const smx = current();
  const json = { 'content-type': 'application/json' };
  const at = (depth: number) => `{"name":"p","metadata":${deepObject(depth - 1)}}`;
  const ok = await raw(smx, 'POST', '/v1/devices/link', { headers: json, body: at(MAX_JSON_DEPTH) });
  t.is(ok.status, 400);
  t.false(
    JSON.parse(ok.text).error.details.some((d: { field: string }) => d.field === 'body'),
    'read and validated as usual',
  );
  const deep = await raw(smx, 'POST', '/v1/devices/link', { headers: json, body: at(MAX_JSON_DEPTH + 1) });
  t.deepEqual(JSON.parse(deep.text).error.details, [
    { field: 'body', message: `nested deeper than ${MAX_JSON_DEPTH} levels` },
  ]);
});

test('router errors are in the envelope with x-request-id: bad percent-encoding, an over-long path parameter (no URL echo)', async (t) => {
  const smx = current();
  const { key } = await createProject(smx);
  const bad = assertEnvelope(
    t,
    await raw(smx, 'GET', '/v1/messages/%E0%A4%A', { headers: { 'x-smx-api-key': key } }),
    404,
    'NOT_FOUND',
  );
  t.notRegex(bad.error.message, /%E0/);
  const long = `msg_${'a'.repeat(400)}`;
  const tooLong = await raw(smx, 'GET', `/v1/messages/${long}`, { headers: { 'x-smx-api-key': key } });
  assertEnvelope(t, tooLong, 404, 'NOT_FOUND');
  t.false(tooLong.text.includes(long), 'the URL is not echoed');
  t.is(tooLong.headers.get('x-content-type-options'), 'nosniff');
  t.is(tooLong.headers.get('cache-control'), 'no-store');
});

test('a NUL character in a path parameter is 404 NOT_FOUND, never a database error', async (t) => {
  const smx = current();
  const admin = { authorization: `Bearer ${smx.adminToken}` };
  for (const [method, path] of [
    ['GET', '/admin/projects/%00/templates'],
    ['GET', '/admin/devices/%00'],
    ['GET', '/admin/projects/prj_%00abc/api-keys'],
    ['POST', '/admin/projects/prj_%00/link-tokens'],
  ] as const) {
    assertEnvelope(t, await raw(smx, method, path, { headers: admin }), 404, 'NOT_FOUND');
  }
});

test('a Content-Length shorter than the body, and malformed HTTP, are answered in the envelope with a request id', async (t) => {
  const smx = current();
  const body = '{"code":"123456","name":"x"}GARBAGE-THAT-IS-NOT-HTTP';
  const text = await rawHttp(
    smx,
    `POST /v1/devices/link HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 28\r\n\r\n${body}`,
  );
  const answers = responsesIn(text);
  t.true(answers.length >= 1, text);
  for (const answer of answers) {
    t.truthy(answer.headers['x-request-id'], text);
    const parsed = JSON.parse(answer.body);
    t.false(parsed.success, text);
    t.is(parsed.requestId, answer.headers['x-request-id']);
    t.truthy(ERROR_CATALOGUE[parsed.error.code as keyof typeof ERROR_CATALOGUE]);
  }
  const garbage = responsesIn(await rawHttp(smx, 'NOT HTTP AT ALL\r\n\r\n'));
  t.is(garbage.length, 1);
  t.is(garbage[0]!.status, 400);
  t.is(JSON.parse(garbage[0]!.body).error.code, 'VALIDATION_FAILED');
  t.regex(garbage[0]!.headers['x-request-id'] ?? '', /^req_/);
  t.is(garbage[0]!.headers['x-content-type-options'], 'nosniff');
  const huge = responsesIn(
    await rawHttp(smx, `GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
  );
  t.is(huge[0]?.status, 413);
  t.is(JSON.parse(huge[0]!.body).error.code, 'PAYLOAD_TOO_LARGE');
});

test('a request still arriving on an open connection while the server closes is 503 UNAVAILABLE in the envelope', async (t) => {
  const smx = await startTestSmx('http-hardening-closing', { roles: { api: true, worker: false, broker: false } });
  t.teardown(async () => {
    await smx.close();
    await cleanupTestSmx(smx);
  });
  const { hostname, port } = new URL(smx.url);
  const socket = connect(Number(port), hostname);
  await new Promise((resolve) => socket.once('connect', resolve));
  const chunks: Buffer[] = [];
  socket.on('data', (chunk) => chunks.push(chunk));
  const ended = new Promise((resolve) => socket.once('close', resolve));
  // A request in flight (its body not sent yet) keeps the connection busy while the server starts to close…
  socket.write(
    'POST /v1/devices/link HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n',
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  const closing = smx.smx.http!.close();
  await new Promise((resolve) => setTimeout(resolve, 100));
  // …then its body and a second, pipelined request arrive.
  socket.write('{}GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n');
  const timer = setTimeout(() => socket.destroy(), 5000);
  await ended;
  clearTimeout(timer);
  await closing;
  const answers = responsesIn(Buffer.concat(chunks).toString('utf8'));
  t.is(answers.length, 2, Buffer.concat(chunks).toString('utf8'));
  const late = answers[1]!;
  t.is(late.status, 503);
  const body = JSON.parse(late.body);
  t.is(body.error.code, 'UNAVAILABLE');
  t.is(body.requestId, late.headers['x-request-id']);
  t.truthy(late.headers['retry-after']);
});

test('an incoming X-Request-Id is kept when it is 1-128 of [A-Za-z0-9._:-]; anything else gets a new req_ id', async (t) => {
  const smx = current();
  const kept = await raw(smx, 'GET', '/health/live', { headers: { 'x-request-id': 'trace-1234.abc:def_X' } });
  t.is(kept.headers.get('x-request-id'), 'trace-1234.abc:def_X');
  const onError = await raw(smx, 'GET', '/nope', { headers: { 'x-request-id': 'abc-123' } });
  t.is(onError.headers.get('x-request-id'), 'abc-123');
  t.is(JSON.parse(onError.text).requestId, 'abc-123');
  for (const bad of ['a'.repeat(129), 'has space', 'semi;colon', 'new\u00e9line']) {
    const r = await raw(smx, 'GET', '/health/live', { headers: { 'x-request-id': bad } });
    t.regex(r.headers.get('x-request-id') ?? '', /^req_[A-Za-z0-9_-]{16,}$/, bad);
  }
  const routerError = await raw(smx, 'GET', '/v1/messages/%zz', { headers: { 'x-request-id': 'from-the-proxy' } });
  t.is(routerError.headers.get('x-request-id'), 'from-the-proxy');
});

test('security headers: nosniff on every answer, no-store on /admin, /v1 and /compat answers', async (t) => {
  const smx = current();
  const { key } = await createProject(smx);
  const answers = await Promise.all([
    raw(smx, 'GET', '/v1/status', { headers: { 'x-smx-api-key': key } }),
    raw(smx, 'GET', '/v1/status'),
    raw(smx, 'GET', '/admin/projects', { headers: { authorization: `Bearer ${smx.adminToken}` } }),
    raw(smx, 'POST', '/compat/oauth/token', { headers: { 'content-type': 'application/json' }, body: '{}' }),
    raw(smx, 'GET', '/health/live'),
    raw(smx, 'GET', '/nope'),
    raw(smx, 'GET', '/openapi.json'),
  ]);
  for (const [i, answer] of answers.entries()) {
    t.is(answer.headers.get('x-content-type-options'), 'nosniff', `answer ${i}`);
    t.is(answer.headers.get('cache-control'), 'no-store', `answer ${i}`);
  }
  const token = await smx.admin('POST', `/admin/projects/${(await createProject(smx)).projectId}/link-tokens`);
  t.is(token.headers.get('cache-control'), 'no-store', 'a link token is a secret');
});

test('HTML pages (/docs, Bull Board) are not framable, carry a CSP that lets their own scripts and styles load, and still render', async (t) => {
  const smx = current();
  const basic = `Basic ${Buffer.from(`admin:${smx.adminToken}`).toString('base64')}`;
  for (const [path, headers] of [
    ['/docs', {}],
    ['/docs/', {}],
    ['/admin/queues', { authorization: basic }],
  ] as const) {
    const page = await fetch(`${smx.url}${path}`, { headers });
    t.is(page.status, 200, path);
    t.regex(page.headers.get('content-type') ?? '', /text\/html/, path);
    const html = await page.text();
    t.regex(html, /<html/i, path);
    t.is(page.headers.get('x-frame-options'), 'DENY', path);
    t.is(page.headers.get('x-content-type-options'), 'nosniff', path);
    const csp = page.headers.get('content-security-policy') ?? '';
    t.regex(csp, /frame-ancestors 'none'/, path);
    t.regex(csp, /script-src 'self'(;|$)/, `${path}: no inline or remote scripts allowed`);
    t.regex(csp, /object-src 'none'/, path);
    // Every script the page loads is same-origin and no inline script is executable (CSP would block it).
    for (const [, attrs, inline] of html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/gi)) {
      const src = /src="([^"]+)"/.exec(attrs!)?.[1];
      if (src) {
        t.false(/^(https?:)?\/\//.test(src), `${path}: ${src} is same-origin`);
        const base = new URL(/<base href="([^"]+)"/.exec(html)?.[1] ?? path, smx.url);
        const asset = await fetch(new URL(src, new URL(path.endsWith('/') ? path : `${path}/`, base)), { headers });
        t.is(asset.status, 200, `${path}: ${src} loads`);
        await asset.arrayBuffer();
      } else {
        t.true(
          /type="application\/json"/.test(attrs!) || inline!.trim() === '',
          `${path}: inline script is a data block`,
        );
      }
    }
    // Stylesheets: same-origin, or Google Fonts (allowed in style-src).
    for (const [, href] of html.matchAll(
      /<link[^>]+rel="stylesheet"[^>]*href="([^"]+)"|<link[^>]+href="([^"]+)"[^>]*rel="stylesheet"/gi,
    )) {
      if (href && /^https?:/.test(href))
        t.true(csp.includes(new URL(href).origin), `${path}: ${href} allowed by the CSP`);
    }
  }
  const json = await fetch(`${smx.url}/openapi.json`);
  t.is(json.headers.get('x-frame-options'), null, 'JSON answers need no framing policy');
});

test('Bull Board write actions with Basic credentials need a same-origin browser request; the bearer token needs nothing more', async (t) => {
  const smx = current();
  const basic = `Basic ${Buffer.from(`admin:${smx.adminToken}`).toString('base64')}`;
  const origin = new URL(smx.url).origin;
  // An unknown queue: the action reaches Bull Board (which answers 404) without touching a real queue.
  const action = '/admin/queues/api/queues/no-such-queue/pause';
  const put = (headers: Record<string, string>) => raw(smx, 'PUT', action, { headers });
  // Reads stay open to the browser (the page itself, its API reads).
  t.is((await raw(smx, 'GET', '/admin/queues/api/queues', { headers: { authorization: basic } })).status, 200);
  // Cross-site, or with no browser origin at all: refused.
  const refusedHeaders: Array<Record<string, string>> = [
    { authorization: basic },
    { authorization: basic, origin: 'https://evil.example' },
    { authorization: basic, 'sec-fetch-site': 'cross-site' },
    { authorization: basic, 'sec-fetch-site': 'same-site', origin: 'https://admin.evil.example' },
    { authorization: basic, 'sec-fetch-site': 'same-origin', origin: 'https://evil.example' },
    { authorization: basic, origin: 'null' },
  ];
  for (const headers of refusedHeaders) {
    const refused = await put(headers);
    assertEnvelope(t, refused, 403, 'FORBIDDEN');
  }
  t.is(
    (
      await raw(smx, 'POST', '/admin/queues/api/queues/no-such-queue/add', {
        headers: { authorization: basic, origin: 'https://evil.example' },
      })
    ).status,
    403,
  );
  // From the page itself: passes the guard (Bull Board answers the action; not 401/403).
  const allowedHeaders: Array<Record<string, string>> = [
    { authorization: basic, origin, 'sec-fetch-site': 'same-origin' },
    { authorization: basic, 'sec-fetch-site': 'same-origin' },
    { authorization: basic, origin },
    { authorization: `Bearer ${smx.adminToken}` },
    { authorization: `Bearer ${smx.adminToken}`, origin: 'https://evil.example' },
  ];
  for (const headers of allowedHeaders) {
    const allowed = await put(headers);
    t.false([401, 403].includes(allowed.status), `${JSON.stringify(headers)}: ${allowed.status} ${allowed.text}`);
  }
});

test('a string PostgreSQL cannot store (NUL, an unpaired surrogate) anywhere in a JSON body is 400 VALIDATION_FAILED naming the field (the fuzz found a 500 through PATCH sims)', async (t) => {
  const smx = current();
  const { projectId } = await createProject(smx, 'Unstorable strings');
  const device = await linkNewDevice(smx, projectId, 'Phone');
  const cases: Array<[unknown, string]> = [
    [{ sims: [{ slot: 0, number: '+14155550100', carrier: 'T-\u0000Mobile', rentable: false }] }, 'sims[0].carrier'],
    [{ name: 'phone \uD800' }, 'name'],
    [{ name: 'ok', ['k\u0000']: 1 }, 'k\u0000'],
  ];
  for (const [body, field] of cases) {
    const answer = await smx.admin('PATCH', `/admin/devices/${device.deviceId}`, body);
    t.is(answer.status, 400, JSON.stringify(answer.body));
    t.is(answer.body.error.code, 'VALIDATION_FAILED');
    t.is(answer.body.error.details[0]?.field, field);
  }
  const fine = await smx.admin('PATCH', `/admin/devices/${device.deviceId}`, { name: 'phone 📱 ok' });
  t.is(fine.status, 200, 'a well-formed emoji (a surrogate pair) is fine');
});
