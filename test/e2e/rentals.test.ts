/**
 * Number rental over /v1 with real phones: the pool is the project's rentable SIMs; a rented
 * number's received SMS (published by the reference device) belong to the rental, with the
 * verification code extracted; cancel and expiry free the number; renting is atomic; projects
 * never see each other's numbers, rentals or messages.
 */
import test, { type ExecutionContext } from 'ava';
import type { Knex } from 'knex';
import { TOKENS } from '../../core/tokens.js';
import type { ReferenceDevice } from '../../device/reference-device.js';
import { SmsGateApp } from '../helpers/smsgate-app.js';
import { createProject, linkNewDevice, startPhone, useSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'rentals');

const US = '+14155552671';
const DE = '+4915112345678';
const GB = '+447911234567';

type SimSpec = { slot: number; number: string; rentable: boolean };

/** A project whose phones have these SIMs (one phone per entry), each phone started and linked. */
async function projectWithPhones(t: ExecutionContext, phonesSims: SimSpec[][]) {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const phones: Array<{ deviceId: string; phone: ReferenceDevice }> = [];
  for (const sims of phonesSims) {
    const credentials = await linkNewDevice(smx, projectId);
    const patched = await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sims });
    if (patched.status !== 200) throw new Error(`PATCH sims: ${patched.status} ${JSON.stringify(patched.body)}`);
    phones.push({ deviceId: credentials.deviceId, phone: await startPhone(t, credentials) });
  }
  return { projectId, key, phones };
}

async function inboxHas(key: string, body: string) {
  return eventually(
    async () => {
      const inbox = await current().api(key, 'GET', '/v1/inbox?limit=200');
      return inbox.body.data.messages.find((m: { body: string }) => m.body === body);
    },
    15_000,
    `inbound SMS "${body}" stored`,
  );
}

test('lifecycle: list numbers, rent, SMS on the rented SIM land in the rental with their code, cancel frees the number', async (t) => {
  const smx = current();
  const { key, phones } = await projectWithPhones(t, [
    [
      { slot: 0, number: US, rentable: true },
      { slot: 1, number: DE, rentable: true },
      { slot: 2, number: GB, rentable: false },
    ],
  ]);
  const phone = phones[0]!.phone;

  const numbers = await smx.api(key, 'GET', '/v1/numbers');
  t.is(numbers.status, 200);
  t.deepEqual(
    numbers.body.data.numbers,
    [
      { country: 'DE', countryName: 'Germany', available: 1, pricePerSms: 0 },
      { country: 'US', countryName: 'United States', available: 1, pricePerSms: 0 },
    ],
    'rentable SIMs only, by country',
  );
  t.deepEqual(
    (await smx.api(key, 'GET', '/v1/numbers?country=us')).body.data.numbers.map((n: { country: string }) => n.country),
    ['US'],
  );
  const badCountry = await smx.api(key, 'GET', '/v1/numbers?country=XX');
  t.is(badCountry.status, 400);
  t.is(badCountry.body.error.code, 'VALIDATION_FAILED');
  t.is(badCountry.body.error.details[0]?.field, 'country');

  const rented = await smx.api(key, 'POST', '/v1/rentals', { country: 'US', service: 'facebook' });
  t.is(rented.status, 201);
  const rental = rented.body.data;
  t.regex(rental.rentalId, /^rnt_[A-Za-z0-9_-]{22}$/);
  t.like(rental, { number: US, country: 'US', service: 'facebook', status: 'active', endedAt: null });
  t.is(Date.parse(rental.expiresAt) - Date.parse(rental.createdAt), 20 * 60_000, 'default duration: 20 minutes');
  t.deepEqual((await smx.api(key, 'GET', '/v1/numbers?country=US')).body.data.numbers, [
    { country: 'US', countryName: 'United States', available: 0, pricePerSms: 0 },
  ]);

  const taken = await smx.api(key, 'POST', '/v1/rentals', { country: 'US' });
  t.is(taken.status, 409);
  t.is(taken.body.error.code, 'NO_NUMBERS_AVAILABLE');
  t.is(
    (await smx.api(key, 'POST', '/v1/rentals', { country: 'GB' })).body.error.code,
    'NO_NUMBERS_AVAILABLE',
    'a SIM not marked rentable is not in the pool',
  );
  const invalid = await smx.api(key, 'POST', '/v1/rentals', { country: 'ZZ', duration: 5 });
  t.is(invalid.status, 400);
  t.deepEqual(invalid.body.error.details.map((d) => d.field).sort(), ['country', 'duration']);

  await phone.publishInbound([
    { from: 'Facebook', body: 'Your verification code is: 482913', simSlot: 0 },
    { from: '+4930123456', body: 'On the other SIM: 771122', simSlot: 1 },
  ]);
  const messages = await eventually(
    async () => {
      const r = await smx.api(key, 'GET', `/v1/rentals/${rental.rentalId}/messages`);
      return r.body.data.messages.length > 0 ? r.body.data : null;
    },
    15_000,
    "the rental's message",
  );
  await inboxHas(key, 'On the other SIM: 771122');
  const after = (await smx.api(key, 'GET', `/v1/rentals/${rental.rentalId}/messages`)).body.data;
  t.is(after.number, US);
  t.is(after.messages.length, 1, "only the rented SIM's SMS");
  t.like(after.messages[0], { sender: 'Facebook', text: 'Your verification code is: 482913', code: '482913' });
  t.true(Date.parse(messages.messages[0].receivedAt) >= Date.parse(rental.createdAt));

  const canceled = await smx.api(key, 'POST', `/v1/rentals/${rental.rentalId}/cancel`);
  t.is(canceled.status, 200);
  t.like(canceled.body.data, { rentalId: rental.rentalId, status: 'canceled', refundAmount: 0 });
  t.truthy(canceled.body.data.endedAt);
  t.like(
    (await smx.api(key, 'POST', `/v1/rentals/${rental.rentalId}/cancel`)).body.data,
    { status: 'canceled' },
    'a second cancel answers the state',
  );
  t.is(
    (await smx.api(key, 'GET', '/v1/numbers?country=US')).body.data.numbers[0].available,
    1,
    'cancel frees the number',
  );

  await phone.publishInbound([{ from: 'Facebook', body: 'After the cancel: 909090', simSlot: 0 }]);
  await inboxHas(key, 'After the cancel: 909090');
  t.is(
    (await smx.api(key, 'GET', `/v1/rentals/${rental.rentalId}/messages`)).body.data.messages.length,
    1,
    'nothing after the rental ended',
  );

  const again = await smx.api(key, 'POST', '/v1/rentals', { country: 'US' });
  t.is(again.status, 201);
  t.is(again.body.data.number, US);
  t.not(again.body.data.rentalId, rental.rentalId);
  t.deepEqual(
    (await smx.api(key, 'GET', `/v1/rentals/${again.body.data.rentalId}/messages`)).body.data.messages,
    [],
    "the next renter sees none of the previous rental's SMS",
  );
});

test('expiry frees the number: the rental reads expired, the maintenance worker marks it, and the SIM rents again', async (t) => {
  const smx = current();
  const { key, phones } = await projectWithPhones(t, [[{ slot: 0, number: DE, rentable: true }]]);
  const rented = await smx.api(key, 'POST', '/v1/rentals', { country: 'DE', duration: 60 });
  t.is(rented.status, 201);
  const { rentalId } = rented.body.data;
  t.is(Date.parse(rented.body.data.expiresAt) - Date.parse(rented.body.data.createdAt), 60_000);
  t.is((await smx.api(key, 'POST', '/v1/rentals', { country: 'DE' })).status, 409);

  // Let the rental's minute pass: move its window into the past (the database is the clock's only reader).
  const db = smx.smx.container.resolve<Knex>(TOKENS.Knex);
  await db('rentals')
    .where({ id: rentalId })
    .update({
      created_at: db.raw(`created_at - interval '2 minutes'`),
      expires_at: db.raw(`expires_at - interval '2 minutes'`),
    });

  const read = await smx.api(key, 'GET', `/v1/rentals/${rentalId}`);
  t.is(read.body.data.status, 'expired');
  t.is(read.body.data.endedAt, read.body.data.expiresAt);
  t.is((await smx.api(key, 'GET', '/v1/numbers?country=DE')).body.data.numbers[0].available, 1);
  await eventually(
    async () => (await db('rentals').where({ id: rentalId }).first())?.status === 'expired',
    15_000,
    'the maintenance worker to mark the rental expired',
  );

  await phones[0]!.phone.publishInbound([{ from: 'Shop', body: 'Code 5511 after the expiry', simSlot: 0 }]);
  await inboxHas(key, 'Code 5511 after the expiry');
  t.deepEqual((await smx.api(key, 'GET', `/v1/rentals/${rentalId}/messages`)).body.data.messages, []);
  const next = await smx.api(key, 'POST', '/v1/rentals', { country: 'DE' });
  t.is(next.status, 201);
  t.is(next.body.data.number, DE);
});

test('concurrent rentals: 12 at once on a pool of 3 numbers, exactly 3 succeed with distinct numbers', async (t) => {
  const smx = current();
  const pool = ['+14155552671', '+14155552672', '+14155552673'];
  const { key } = await projectWithPhones(t, [
    [
      { slot: 0, number: pool[0]!, rentable: true },
      { slot: 1, number: pool[1]!, rentable: true },
    ],
    [{ slot: 0, number: pool[2]!, rentable: true }],
  ]);
  const results = await Promise.all(
    Array.from({ length: 12 }, () => smx.api(key, 'POST', '/v1/rentals', { country: 'US' })),
  );
  const won = results.filter((r) => r.status === 201);
  const lost = results.filter((r) => r.status !== 201);
  t.is(won.length, 3);
  t.deepEqual(won.map((r) => r.body.data.number).sort(), pool);
  t.true(
    lost.every((r) => r.status === 409 && r.body.error.code === 'NO_NUMBERS_AVAILABLE'),
    JSON.stringify(lost.map((r) => r.body)),
  );
});

test("two projects never see each other's numbers, rentals or messages", async (t) => {
  const smx = current();
  const a = await projectWithPhones(t, [[{ slot: 0, number: US, rentable: true }]]);
  const b = await projectWithPhones(t, [[{ slot: 0, number: DE, rentable: true }]]);

  t.deepEqual(
    (await smx.api(a.key, 'GET', '/v1/numbers')).body.data.numbers.map((n: { country: string }) => n.country),
    ['US'],
  );
  t.deepEqual(
    (await smx.api(b.key, 'GET', '/v1/numbers')).body.data.numbers.map((n: { country: string }) => n.country),
    ['DE'],
  );
  t.is(
    (await smx.api(b.key, 'POST', '/v1/rentals', { country: 'US' })).body.error.code,
    'NO_NUMBERS_AVAILABLE',
    "B cannot rent A's number",
  );

  const rental = (await smx.api(a.key, 'POST', '/v1/rentals', { country: 'US' })).body.data;
  await a.phones[0]!.phone.publishInbound([{ from: 'Bank', body: 'Your code: 314159', simSlot: 0 }]);
  await eventually(
    async () =>
      (await smx.api(a.key, 'GET', `/v1/rentals/${rental.rentalId}/messages`)).body.data.messages.length === 1,
    15_000,
    "A's rental message",
  );

  for (const [method, path] of [
    ['GET', `/v1/rentals/${rental.rentalId}`],
    ['GET', `/v1/rentals/${rental.rentalId}/messages`],
    ['POST', `/v1/rentals/${rental.rentalId}/cancel`],
  ] as const) {
    const r = await smx.api(b.key, method, path);
    t.is(r.status, 404, `${method} ${path}`);
    t.is(r.body.error.code, 'RENTAL_NOT_FOUND');
  }
  t.is(
    (await smx.api(a.key, 'GET', `/v1/rentals/${rental.rentalId}`)).body.data.status,
    'active',
    "B's cancel changed nothing",
  );
  t.false(
    (await smx.api(b.key, 'GET', '/v1/inbox')).body.data.messages.some((m: { body: string }) =>
      m.body.includes('314159'),
    ),
  );
  t.is((await smx.api(a.key, 'GET', '/v1/rentals/rnt_doesnotexist0000000000')).body.error.code, 'RENTAL_NOT_FOUND');
  t.is((await smx.api(a.key, 'GET', '/v1/rentals/nope/messages')).body.error.code, 'RENTAL_NOT_FOUND');
});

test("an SMSGate phone's SIM rents too: its signed inbound webhook lands in the rental, and the app's SIM report keeps the operator's number and flag", async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const token = JSON.parse((await smx.admin('POST', `/admin/projects/${projectId}/link-tokens`)).body.data.qr.payload)
    .token as string;
  const app = new SmsGateApp(smx.url);
  t.is((await app.register({ token })).status, 201);
  await smx.admin('PATCH', `/admin/devices/${app.id}`, {
    sims: [{ slot: 0, number: DE, carrier: 'Telekom', rentable: true }],
  });
  t.is((await app.patchDevice()).status, 204, 'the app reports its SIM again (masked number, no flag)');
  t.like((await smx.admin('GET', `/admin/devices/${app.id}`)).body.data.sims[0], {
    slot: 0,
    number: DE,
    rentable: true,
  });

  const rental = (await smx.api(key, 'POST', '/v1/rentals', { country: 'DE' })).body.data;
  t.is(rental.number, DE);
  const hooks = await app.webhooks();
  const signingKey = (await app.settings()).body.webhooks.signing_key as string;
  t.is(
    await app.receivedSms(hooks.body[0].url, signingKey, { sender: 'WhatsApp', message: 'WhatsApp code 271-828' }),
    204,
  );
  const got = await eventually(
    async () => (await smx.api(key, 'GET', `/v1/rentals/${rental.rentalId}/messages`)).body.data.messages[0],
    15_000,
    'the SMSGate SMS in the rental',
  );
  t.like(got, { sender: 'WhatsApp', text: 'WhatsApp code 271-828', code: '271828' });
});

test('the rental endpoints are in /openapi.json', async (t) => {
  const doc = (await (await fetch(`${current().url}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, unknown>>;
  };
  for (const [path, method] of [
    ['/v1/numbers', 'get'],
    ['/v1/rentals', 'post'],
    ['/v1/rentals/{id}', 'get'],
    ['/v1/rentals/{id}/messages', 'get'],
    ['/v1/rentals/{id}/cancel', 'post'],
  ] as const) {
    t.truthy(doc.paths[path]?.[method], `${method.toUpperCase()} ${path}`);
  }
});
