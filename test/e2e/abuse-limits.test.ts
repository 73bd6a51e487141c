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
  const results = await Promise.all(Array.from({ length: 20 }, () => smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345670' })));
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
    ...Array.from({ length: 5 }, (_, i) => smx.api(key, 'POST', '/v1/send-sms', { to: `+491511234569${i}`, message: 'hello' })),
  ]);
  t.is(results.filter((r) => r.status === 201 || r.status === 202).length, 4, JSON.stringify(results.map((r) => r.status)));
  const limited = results.filter((r) => r.status === 429);
  t.is(limited.length, 6);
  t.true(limited.every((r) => r.body.error.code === 'RATE_LIMITED' && Number(r.headers.get('retry-after')) > 0 && Number(r.headers.get('retry-after')) <= 60));
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
