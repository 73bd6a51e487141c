/**
 * Per-source request limits (@fastify/rate-limit, core/http/rate-limits.ts) on the phone's link
 * and the OAuth token endpoint: past the limit, 429 RATE_LIMITED in the SMX envelope with
 * Retry-After and a request id; sources are client addresses behind SMX_TRUST_PROXY (IPv6 per
 * /64); other sources and other routes are not touched.
 */
import test from 'ava';
import { ROUTE_RATE_LIMITS } from '../../core/http/rate-limits.js';
import { createProject, useSmx, type TestSmx } from '../helpers/smx.js';

const current = useSmx(test, 'rate-limits', { env: { SMX_TRUST_PROXY: 'true' } });

async function post(smx: TestSmx, path: string, source: string, body: unknown) {
  const response = await fetch(`${smx.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': source },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as any };
}

/** `count` requests, 25 at a time, and their statuses. */
async function burst(count: number, send: () => Promise<{ status: number }>): Promise<number[]> {
  const statuses: number[] = [];
  for (let done = 0; done < count; done += 25) {
    const batch = await Promise.all(Array.from({ length: Math.min(25, count - done) }, send));
    statuses.push(...batch.map((r) => r.status));
  }
  return statuses;
}

const limitOf = (route: string) => ROUTE_RATE_LIMITS[route]!;

test.serial(
  'POST /v1/devices/link: past the per-source limit, 429 RATE_LIMITED with Retry-After; another source is not limited',
  async (t) => {
    const smx = current();
    const { max, windowSeconds } = limitOf('POST /v1/devices/link');
    const statuses = await burst(max, () => post(smx, '/v1/devices/link', '203.0.113.20', {}));
    t.deepEqual([...new Set(statuses)], [400], 'every request within the limit reaches the route');
    const limited = await post(smx, '/v1/devices/link', '203.0.113.20', { token: 'lt_x', name: 'phone' });
    t.is(limited.status, 429);
    t.is(limited.body.success, false);
    t.is(limited.body.error.code, 'RATE_LIMITED');
    t.is(limited.body.error.origin, 'project');
    t.truthy(limited.body.requestId);
    t.is(limited.headers.get('x-request-id'), limited.body.requestId);
    const retryAfter = Number(limited.headers.get('retry-after'));
    t.true(retryAfter >= 1 && retryAfter <= windowSeconds, `Retry-After ${retryAfter}`);
    // Another address, and another address in a different IPv6 /64, still reach the route.
    t.is((await post(smx, '/v1/devices/link', '203.0.113.21', {})).status, 400);
    t.is((await post(smx, '/v1/devices/link', '2001:db8:5:6::1', {})).status, 400);
  },
);

test.serial('IPv6 sources count per /64', async (t) => {
  const smx = current();
  const { max } = limitOf('POST /v1/devices/link');
  let i = 0;
  const statuses = await burst(max, () => post(smx, '/v1/devices/link', `2001:db8:7:8::${(++i).toString(16)}`, {}));
  t.deepEqual([...new Set(statuses)], [400]);
  t.is(
    (await post(smx, '/v1/devices/link', '2001:db8:7:8:ffff::1', {})).status,
    429,
    'the same /64 from another address',
  );
});

test.serial('POST /compat/oauth/token: past the per-source limit, 429 RATE_LIMITED with Retry-After', async (t) => {
  const smx = current();
  const { max } = limitOf('POST /compat/oauth/token');
  const statuses = await burst(max, () =>
    post(smx, '/compat/oauth/token', '198.51.100.30', {
      grant_type: 'client_credentials',
      client_id: 'key_unknown',
      client_secret: 'nope',
    }),
  );
  t.deepEqual([...new Set(statuses)], [401]);
  const limited = await post(smx, '/compat/oauth/token', '198.51.100.30', { grant_type: 'client_credentials' });
  t.is(limited.status, 429);
  t.is(limited.body.error.code, 'RATE_LIMITED');
  t.true(Number(limited.headers.get('retry-after')) >= 1);
  t.is(
    (
      await post(smx, '/compat/oauth/token', '198.51.100.31', {
        grant_type: 'client_credentials',
        client_id: 'key_unknown',
        client_secret: 'nope',
      })
    ).status,
    401,
  );
});

test('the hot routes carry no limit; the limited routes document their 429', async (t) => {
  const smx = current();
  const { key } = await createProject(smx);
  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345678' });
  t.not(sent.status, 429);
  t.is(sent.headers.get('x-ratelimit-limit'), null, "no request limit on send-otp (its limits are the project's)");
  const doc = (await (await fetch(`${smx.url}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  };
  for (const path of ['/v1/devices/link', '/compat/oauth/token'])
    t.truthy(doc.paths[path]!.post!.responses['429'], `${path} documents 429`);
});
