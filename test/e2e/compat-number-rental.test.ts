/**
 * The number-rental partner surface (reference/number-rental-partner-api.txt), driven with the
 * requests its documentation shows: api_key in the query for GET, in the body for POST; answers
 * `{ "status": "success", ... }` in the contract's shapes. Switched off, its routes are 404.
 */
import test from 'ava';
import { cleanupTestSmx, createProject, linkNewDevice, startPhone, startTestSmx, useSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'compat-number-rental');

const US = '+14155552671';
const GB = '+447911234567';
const SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

/** A raw call, as a partner client makes it (no SMX headers). */
async function call(method: 'GET' | 'POST', path: string, body?: Record<string, string>, form = false) {
  const response = await fetch(`${current().url}${path}`, {
    method,
    headers:
      body === undefined ? {} : { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
    body: body === undefined ? undefined : form ? new URLSearchParams(body).toString() : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

test('getNumbers, rentNumber, getSMS and cancelNumber answer exactly as the partner contract shows', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const credentials = await linkNewDevice(smx, projectId);
  await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, {
    sims: [
      { slot: 0, number: US, rentable: true },
      { slot: 1, number: GB, rentable: true },
    ],
  });
  const phone = await startPhone(t, credentials);

  // GET https://api.yourservice.com/getNumbers?api_key=YOUR_API_KEY
  const numbers = await call('GET', `/compat/getNumbers?api_key=${key}`);
  t.is(numbers.status, 200);
  t.deepEqual(numbers.body, {
    status: 'success',
    numbers: [
      { country: 'GB', country_name: 'United Kingdom', available: 1, price_per_sms: 0 },
      { country: 'US', country_name: 'United States', available: 1, price_per_sms: 0 },
    ],
  });
  t.deepEqual(
    (await call('GET', `/compat/getNumbers?api_key=${key}&country=US`)).body.numbers.map(
      (n: { country: string }) => n.country,
    ),
    ['US'],
  );

  // POST rentNumber { api_key, country, service }
  const rented = await call('POST', '/compat/rentNumber', { api_key: key, country: 'US', service: 'facebook' });
  t.is(rented.status, 200);
  t.deepEqual(Object.keys(rented.body).sort(), ['country', 'expires_at', 'number', 'rental_id', 'status']);
  t.like(rented.body, { status: 'success', number: US, country: 'US' });
  t.regex(rented.body.expires_at, SECONDS);
  const rentalId: string = rented.body.rental_id;

  await phone.publishInbound([{ from: 'Facebook', body: 'Your verification code is: 123456', simSlot: 0 }]);
  // GET getSMS?api_key=...&rental_id=... — polled until a message arrives, as the contract says.
  const sms = await eventually(
    async () => {
      const r = await call('GET', `/compat/getSMS?api_key=${key}&rental_id=${rentalId}`);
      return r.body.messages?.length ? r : null;
    },
    15_000,
    'getSMS message',
  );
  t.is(sms.status, 200);
  t.deepEqual(Object.keys(sms.body).sort(), ['messages', 'number', 'status']);
  t.is(sms.body.status, 'success');
  t.is(sms.body.number, US);
  t.is(sms.body.messages.length, 1);
  t.deepEqual(Object.keys(sms.body.messages[0]).sort(), ['received_at', 'sender', 'text']);
  t.like(sms.body.messages[0], { sender: 'Facebook', text: 'Your verification code is: 123456' });
  t.regex(sms.body.messages[0].received_at, SECONDS);

  // POST cancelNumber as an HTML form body (partner clients post forms as often as JSON).
  const canceled = await call('POST', '/compat/cancelNumber', { api_key: key, rental_id: rentalId }, true);
  t.is(canceled.status, 200);
  t.deepEqual(canceled.body, {
    status: 'success',
    message: 'Number rental cancelled successfully',
    rental_id: rentalId,
    refund_amount: 0,
  });
  t.is(
    (await call('GET', `/compat/getNumbers?api_key=${key}&country=US`)).body.numbers[0].available,
    1,
    'the number is free again',
  );
  t.is(
    (await smx.api(key, 'GET', `/v1/rentals/${rentalId}`)).body.data.status,
    'canceled',
    'the same rental as /v1 sees it',
  );
});

test("errors keep the contract's status field, with the catalogue's code and HTTP status; projects stay apart", async (t) => {
  const smx = current();
  const a = await createProject(smx, 'A');
  const b = await createProject(smx, 'B');
  const credentials = await linkNewDevice(smx, a.projectId);
  await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, {
    sims: [{ slot: 0, number: US, rentable: true }],
  });

  const noKey = await call('GET', '/compat/getNumbers');
  t.is(noKey.status, 401);
  t.like(noKey.body, { status: 'error', code: 'UNAUTHORIZED' });
  t.truthy(noKey.body.requestId);
  t.is((await call('POST', '/compat/rentNumber', { api_key: 'smx_wrong', country: 'US' })).status, 401);
  t.is((await call('GET', `/compat/getNumbers?api_key=${a.key}&country=XX`)).body.code, 'VALIDATION_FAILED');
  const badRent = await call('POST', '/compat/rentNumber', { api_key: a.key, country: 'XX' });
  t.is(badRent.status, 400);
  t.like(badRent.body, { status: 'error', code: 'VALIDATION_FAILED' });
  t.is(badRent.body.details[0].field, 'country');
  t.like((await call('GET', `/compat/getSMS?api_key=${a.key}`)).body, { status: 'error', code: 'VALIDATION_FAILED' });

  const rental = (await call('POST', '/compat/rentNumber', { api_key: a.key, country: 'US' })).body;
  t.is(rental.status, 'success');
  const none = await call('POST', '/compat/rentNumber', { api_key: a.key, country: 'US' });
  t.is(none.status, 409);
  t.like(none.body, { status: 'error', code: 'NO_NUMBERS_AVAILABLE' });

  // B sees neither A's numbers nor A's rental.
  t.deepEqual((await call('GET', `/compat/getNumbers?api_key=${b.key}`)).body, { status: 'success', numbers: [] });
  for (const r of [
    await call('GET', `/compat/getSMS?api_key=${b.key}&rental_id=${rental.rental_id}`),
    await call('POST', '/compat/cancelNumber', { api_key: b.key, rental_id: rental.rental_id }),
    await call('GET', `/compat/getSMS?api_key=${a.key}&rental_id=rent_12345`),
  ]) {
    t.is(r.status, 404);
    t.like(r.body, { status: 'error', code: 'RENTAL_NOT_FOUND' });
  }
  t.is((await smx.api(a.key, 'GET', `/v1/rentals/${rental.rental_id}`)).body.data.status, 'active');
});

test('SMX_COMPAT_NUMBER_RENTAL=false: the surface is not there (404), /v1 rentals still are', async (t) => {
  const off = await startTestSmx('compat-number-rental-off', { env: { SMX_COMPAT_NUMBER_RENTAL: 'false' } });
  t.teardown(async () => {
    await off.close();
    await cleanupTestSmx(off);
  });
  const { key } = await createProject(off);
  for (const [method, path] of [
    ['GET', `/compat/getNumbers?api_key=${key}`],
    ['POST', '/compat/rentNumber'],
    ['GET', `/compat/getSMS?api_key=${key}&rental_id=x`],
    ['POST', '/compat/cancelNumber'],
  ] as const) {
    const response = await fetch(`${off.url}${path}`, {
      method,
      ...(method === 'POST'
        ? {
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ api_key: key, country: 'US', rental_id: 'x' }),
          }
        : {}),
    });
    t.is(response.status, 404, `${method} ${path}`);
  }
  t.is((await off.api(key, 'GET', '/v1/numbers')).status, 200);
  const doc = (await (await fetch(`${off.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
  t.false('/compat/getNumbers' in doc.paths);
});

test('the surface is in /openapi.json', async (t) => {
  const doc = (await (await fetch(`${current().url}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, unknown>>;
  };
  for (const [path, method] of [
    ['/compat/getNumbers', 'get'],
    ['/compat/rentNumber', 'post'],
    ['/compat/getSMS', 'get'],
    ['/compat/cancelNumber', 'post'],
  ] as const) {
    t.truthy(doc.paths[path]?.[method], `${method.toUpperCase()} ${path}`);
  }
});
