/** The SMS pumping guard: per-number and per-project limits in Redis, and the country allow-list. */
import test from 'ava';
import { createProject, linkNewDevice, useSmx, type TestSmx } from '../helpers/smx.js';

const current = useSmx(test, 'abuse-limits');

/** A project with a linked (offline) device: sends are accepted and queue for it. */
async function project(smx: TestSmx, settings?: Record<string, unknown>) {
  const { projectId, key } = await createProject(smx);
  await linkNewDevice(smx, projectId);
  if (settings) {
    const patched = await smx.admin('PATCH', `/admin/projects/${projectId}`, settings);
    if (patched.status !== 200) throw new Error(JSON.stringify(patched.body));
  }
  return { projectId, key };
}

test('20 concurrent send-otp to one number with the default limit 5: exactly 5 accepted, 15 RATE_LIMITED with Retry-After', async (t) => {
  const smx = current();
  const { projectId, key } = await project(smx);
  const results = await Promise.all(
    Array.from({ length: 20 }, () => smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345670' })),
  );
  t.is(results.filter((r) => r.status === 201).length, 5);
  const limited = results.filter((r) => r.status === 429);
  t.is(limited.length, 15);
  for (const r of limited) {
    t.is(r.body.error.code, 'RATE_LIMITED');
    const after = Number(r.headers.get('retry-after'));
    t.true(after > 0 && after <= 600, `Retry-After ${after}`);
  }
  const db = smx.smx.container.resolve<any>(Symbol.for('smx.Knex'));
  t.is((await db('verifications').where({ project_id: projectId })).length, 5, 'nothing created for refused sends');
  t.is((await db('messages').where({ project_id: projectId })).length, 5);

  const otherNumber = await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345671' });
  t.is(otherNumber.status, 201, 'the limit is per number');
});

test('the per-number window frees after perNumberWindowSeconds; 0 turns it off', async (t) => {
  const smx = current();
  const { projectId, key } = await project(smx, { rateLimits: { perNumber: 2, perNumberWindowSeconds: 2 } });
  const send = () => smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345672' });
  t.is((await send()).status, 201);
  t.is((await send()).status, 201);
  const limited = await send();
  t.is(limited.status, 429);
  t.true(Number(limited.headers.get('retry-after')) >= 1 && Number(limited.headers.get('retry-after')) <= 2);
  await new Promise((r) => setTimeout(r, 2100));
  t.is((await send()).status, 201, 'a new window');

  await smx.admin('PATCH', `/admin/projects/${projectId}`, { rateLimits: { perNumber: 0 } });
  const many = await Promise.all(Array.from({ length: 6 }, send));
  t.true(many.every((r) => r.status === 201));
});

test('per project per minute covers send-otp and send-sms', async (t) => {
  const smx = current();
  const { key } = await project(smx, { rateLimits: { perProjectPerMinute: 4 } });
  const results = await Promise.all([
    ...Array.from({ length: 5 }, (_, i) => smx.api(key, 'POST', '/v1/send-otp', { to: `+491511234568${i}` })),
    ...Array.from({ length: 5 }, (_, i) =>
      smx.api(key, 'POST', '/v1/send-sms', { to: `+491511234569${i}`, message: 'hello' }),
    ),
  ]);
  t.is(
    results.filter((r) => r.status === 201 || r.status === 202).length,
    4,
    JSON.stringify(results.map((r) => r.status)),
  );
  const limited = results.filter((r) => r.status === 429);
  t.is(limited.length, 6);
  t.true(
    limited.every(
      (r) =>
        r.body.error.code === 'RATE_LIMITED' &&
        Number(r.headers.get('retry-after')) > 0 &&
        Number(r.headers.get('retry-after')) <= 60,
    ),
  );
});

test('a refused send (DEVICE_NOT_LINKED) does not use up the limit', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  await smx.admin('PATCH', `/admin/projects/${projectId}`, { rateLimits: { perNumber: 1 } });
  for (let i = 0; i < 3; i++) t.is((await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345673' })).status, 409);
  await linkNewDevice(smx, projectId);
  t.is((await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345673' })).status, 201);
  t.is((await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345673' })).status, 429);
});

test('allowedCountries: validated, normalized, and destinations outside it are refused with field to', async (t) => {
  const smx = current();
  const { projectId, key } = await project(smx);
  const bad = await smx.admin('PATCH', `/admin/projects/${projectId}`, { allowedCountries: ['DE', 'XX'] });
  t.is(bad.status, 400);
  t.is(bad.body.error.code, 'VALIDATION_FAILED');
  t.regex(bad.body.error.details[0]!.field ?? '', /allowedCountries/);

  const set = await smx.admin('PATCH', `/admin/projects/${projectId}`, { allowedCountries: ['de', 'AT'] });
  t.is(set.status, 200);
  t.deepEqual(set.body.data.settings.allowedCountries, ['DE', 'AT']);

  t.is((await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345674' })).status, 201);
  const us = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550199' });
  t.is(us.status, 400);
  t.is(us.body.error.code, 'VALIDATION_FAILED');
  t.is(us.body.error.details[0]!.field, 'to');
  t.is(us.body.error.details[0]!.message, 'destination country US is not allowed for this project');
  const sms = await smx.api(key, 'POST', '/v1/send-sms', { to: '+14155550199', message: 'hi' });
  t.is(sms.status, 400);

  const cleared = await smx.admin('PATCH', `/admin/projects/${projectId}`, { allowedCountries: [] });
  t.deepEqual(cleared.body.data.settings.allowedCountries, []);
  t.is((await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550199' })).status, 201);
});

test('per country prefix: concurrent OTP sends across numbers of one prefix stop at its limit; the longest prefix counts; 0 blocks', async (t) => {
  const smx = current();
  const { key } = await project(smx, { rateLimits: { perCountryPrefix: { '+234': 4, '+2348': 0, '+44': 100 } } });
  // Nigerian numbers outside +2348: 12 concurrent sends to 12 different numbers, 4 accepted.
  const numbers = Array.from({ length: 12 }, (_, i) => `+23470312345${String(i).padStart(2, '0')}`);
  const results = await Promise.all(numbers.map((to) => smx.api(key, 'POST', '/v1/send-otp', { to })));
  t.is(
    results.filter((r) => r.status === 201).length,
    4,
    JSON.stringify(results.map((r) => r.body.error?.code ?? r.status)),
  );
  for (const r of results.filter((r) => r.status !== 201)) {
    t.is(r.body.error.code, 'RATE_LIMITED');
    t.true(Number(r.headers.get('retry-after')) > 0);
  }
  const blocked = await smx.api(key, 'POST', '/v1/send-otp', { to: '+2348031234567' });
  t.is(blocked.status, 429, 'the longer prefix +2348 (0 = blocked) wins over +234');
  t.is(
    (await smx.api(key, 'POST', '/v1/send-otp', { to: '+447911123456' })).status,
    201,
    'another prefix has its own budget',
  );
  t.is(
    (
      await smx.api(key, 'POST', '/v1/send-sms', {
        to: '+2347031234599',
        message: 'custom SMS are not OTP-pumping targets',
      })
    ).status,
    201,
  );
});

test('per country prefix limits are validated', async (t) => {
  const smx = current();
  const { projectId } = await project(smx);
  const bad = await smx.admin('PATCH', `/admin/projects/${projectId}`, {
    rateLimits: { perCountryPrefix: { '234': 5, '+1': -1, '+44': 'x' } },
  });
  t.is(bad.status, 400);
  t.is(bad.body.error.code, 'VALIDATION_FAILED');
  t.deepEqual(bad.body.error.details.map((d: { field?: string }) => d.field).sort(), [
    'rateLimits.perCountryPrefix.+1',
    'rateLimits.perCountryPrefix.+44',
    'rateLimits.perCountryPrefix.234',
  ]);
});

test('bulk counts every message against the per-minute project limit; the ones over it are rejected by index; allowedCountries applies per entry', async (t) => {
  const smx = current();
  const { key } = await project(smx, { rateLimits: { perProjectPerMinute: 5 }, allowedCountries: ['DE'] });
  const messages = [
    { to: '+4915112345601', message: 'a' },
    { to: '+14155550123', message: 'US is not allowed' },
    { to: '+4915112345602', message: 'b' },
    { to: '+4915112345603', message: 'c' },
    { to: '+4915112345604', message: 'd' },
    { to: '+4915112345605', message: 'e' },
    { to: '+4915112345606', message: 'over the limit' },
    { to: '+4915112345607', message: 'over the limit' },
  ];
  const res = await smx.api(key, 'POST', '/v1/send-sms/bulk', { messages });
  t.is(res.status, 202);
  t.is(res.body.data.accepted, 5);
  t.deepEqual(
    res.body.data.rejected.map((r: { index: number; code: string }) => [r.index, r.code]),
    [
      [1, 'VALIDATION_FAILED'],
      [6, 'RATE_LIMITED'],
      [7, 'RATE_LIMITED'],
    ],
  );

  const none = await smx.api(key, 'POST', '/v1/send-sms/bulk', { to: ['+4915112345608'], message: 'no budget left' });
  t.is(none.status, 429);
  t.is(none.body.error.code, 'RATE_LIMITED');
  t.true(Number(none.headers.get('retry-after')) > 0);
  t.is(
    (await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345609', message: 'single' })).status,
    429,
    'the same budget',
  );
});
