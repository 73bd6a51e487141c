/** Test numbers: fixed code, `test: true`, no SMS, no device needed, code kept only as a hash. */
import test from 'ava';
import type { Knex } from 'knex';
import type { OutboxMessage } from '../../protocol/payloads.js';
import { createProject, linkNewDevice, startPhone, useSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'test-numbers');
const db = () => current().smx.container.resolve<Knex>(Symbol.for('smx.Knex'));

test('admin API: add (code never echoed), list, replace, delete with an encoded +, validation', async (t) => {
  const smx = current();
  const { projectId } = await createProject(smx);
  const added = await smx.admin('POST', `/admin/projects/${projectId}/test-numbers`, {
    number: '+15555550100',
    code: '123456',
  });
  t.is(added.status, 201, JSON.stringify(added.body));
  t.is(added.body.data.number, '+15555550100');
  t.truthy(Date.parse(added.body.data.createdAt));
  t.false(JSON.stringify(added.body).includes('123456'), 'the code is never echoed');

  const list = await smx.admin('GET', `/admin/projects/${projectId}/test-numbers`);
  t.deepEqual(
    list.body.data.testNumbers.map((x: { number: string }) => x.number),
    ['+15555550100'],
  );
  t.false(JSON.stringify(list.body).includes('123456'));

  const replaced = await smx.admin('POST', `/admin/projects/${projectId}/test-numbers`, {
    number: '+15555550100',
    code: '123456',
  });
  t.is(replaced.status, 201, 'adding again replaces the code');
  const rows = await db()('test_numbers').where({ project_id: projectId });
  t.is(rows.length, 1);
  t.false(JSON.stringify(rows).includes('123456'), 'never stored in plain text');
  t.regex(rows[0].code_hash, /^[0-9a-f]{64}$|^[A-Za-z0-9_-]{40,}$/);

  for (const [body, field] of [
    [{ number: '15555550100', code: '123456' }, 'number'],
    [{ number: '+15555550100', code: '12' }, 'code'],
    [{ number: '+15555550100', code: '12-34' }, 'code'],
  ] as const) {
    const bad = await smx.admin('POST', `/admin/projects/${projectId}/test-numbers`, body);
    t.is(bad.status, 400);
    t.is(bad.body.error.code, 'VALIDATION_FAILED');
    t.is(bad.body.error.details[0]!.field, field);
  }

  const removed = await smx.admin(
    'DELETE',
    `/admin/projects/${projectId}/test-numbers/${encodeURIComponent('+15555550100')}`,
  );
  t.is(removed.status, 200);
  const gone = await smx.admin(
    'DELETE',
    `/admin/projects/${projectId}/test-numbers/${encodeURIComponent('+15555550100')}`,
  );
  t.is(gone.status, 404);
  t.deepEqual((await smx.admin('GET', `/admin/projects/${projectId}/test-numbers`)).body.data.testNumbers, []);
});

test('send-otp to a test number needs no device, sends nothing and verifies with the fixed code', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  await smx.admin('POST', `/admin/projects/${projectId}/test-numbers`, { number: '+15555550100', code: 'Ab12Cd' });

  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+15555550100' });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  t.true(sent.body.data.test);
  t.is(sent.body.data.messageId, null);
  t.is(sent.body.data.deviceId, null);
  t.is(sent.body.data.status, 'PENDING');
  t.is(sent.body.data.to, '+15555550100');
  const id = sent.body.data.verificationId;
  t.is((await db()('messages').where({ project_id: projectId })).length, 0, 'no message row');

  const wrong = await smx.api(key, 'POST', '/v1/verify-otp', { verificationId: id, otp: '000000' });
  t.deepEqual(
    [wrong.status, wrong.body.data.verified, wrong.body.data.attempts, wrong.body.data.attemptsRemaining],
    [200, false, 1, 4],
  );
  const right = await smx.api(key, 'POST', '/v1/verify-otp', { verificationId: id, otp: 'ab12cd' });
  t.is(right.status, 200);
  t.true(right.body.data.verified, 'the fixed code verifies (case-insensitively, like other codes)');
  t.is(right.body.data.attempts, 2);
  const read = await smx.api(key, 'GET', `/v1/verifications/${id}`);
  t.true(read.body.data.test);
  t.is(read.body.data.status, 'VERIFIED');

  const row = await db()('verifications').where({ id }).first();
  t.false(JSON.stringify(row).toUpperCase().includes('AB12CD'), 'the challenge holds no plain code');

  // A normal number in the same project without a device is still DEVICE_NOT_LINKED.
  const normal = await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345678' });
  t.is(normal.status, 409);
  t.is(normal.body.error.code, 'DEVICE_NOT_LINKED');
});

test('with a phone linked, no SMS reaches it for a test number; test numbers are not rate limited; projects do not share them', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const other = await createProject(smx, 'other');
  const received: OutboxMessage[] = [];
  await startPhone(t, await linkNewDevice(smx, projectId), { onSend: (m) => void received.push(m) });
  await smx.admin('POST', `/admin/projects/${projectId}/test-numbers`, { number: '+15555550101', code: '9999' });

  const sends = [];
  for (let i = 0; i < 8; i++) sends.push(await smx.api(key, 'POST', '/v1/send-otp', { to: '+15555550101' }));
  t.true(
    sends.every((s) => s.status === 201 && s.body.data.test === true),
    'over the per-number default of 5, still accepted',
  );
  // A real send afterwards proves the phone is listening; the test sends never arrived.
  const real = await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345678' });
  t.is(real.status, 201);
  await eventually(() => received.some((m) => m.id === real.body.data.messageId), 10_000, 'the real OTP at the phone');
  t.deepEqual(
    received.map((m) => m.to),
    ['+4915112345678'],
  );

  const wrong = await smx.api(key, 'POST', '/v1/verify-otp', {
    verificationId: sends[0]!.body.data.verificationId,
    otp: '9998',
  });
  t.false(wrong.body.data.verified);

  // In another project the same number is an ordinary (here invalid) number.
  const elsewhere = await smx.api(other.key, 'POST', '/v1/send-otp', { to: '+15555550101' });
  t.not(elsewhere.status, 201);
});
