/** Linking by a typed 6-digit code instead of the QR token, and its brute-force limit. */
import test from 'ava';
import { CODE_GUESS_LIMITS } from '../../core/services/link-tokens.js';
import { createProject, useSmx } from '../helpers/smx.js';

// Serial: every link from this test process comes from one source (127.0.0.1), which the code limit counts.
const current = useSmx(test, 'link-codes');

const link = (body: object) =>
  fetch(`${current().url}/v1/devices/link`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }).then(async (r) => ({
    status: r.status,
    headers: r.headers,
    body: (await r.json()) as any,
  }));

test.serial('a link code links a device once; a wrong or reused code is 401', async (t) => {
  const smx = current();
  const { projectId } = await createProject(smx);
  const created = await smx.admin('POST', `/admin/projects/${projectId}/link-codes`);
  t.is(created.status, 201);
  t.regex(created.body.data.code, /^\d{6}$/);
  const linked = await link({ code: created.body.data.code, name: 'typed phone' });
  t.is(linked.status, 201, JSON.stringify(linked.body));
  t.is(linked.body.data.projectId, projectId);
  t.regex(linked.body.data.mqtt.password, /.{20,}/);
  const reused = await link({ code: created.body.data.code, name: 'second phone' });
  t.is(reused.status, 401);
  t.is(reused.body.error.code, 'UNAUTHORIZED');
  const devices = await smx.admin('GET', `/admin/projects/${projectId}/devices`);
  t.is(devices.body.data.devices.length, 1);
});

test.serial('neither token nor code is VALIDATION_FAILED; a malformed code too', async (t) => {
  const none = await link({ name: 'x' });
  t.is(none.status, 400);
  t.true(none.body.error.details.some((d: { field: string }) => d.field === 'token'));
  const bad = await link({ code: '12ab', name: 'x' });
  t.is(bad.status, 400);
  t.true(bad.body.error.details.some((d: { field: string }) => d.field === 'code'));
  // Found by the HTTP fuzz: a token of another type beside a code went unchecked to the hash (500).
  for (const body of [
    { code: '123456', token: -5e-323, name: 'x' },
    { code: 123456, name: 'x' },
    { token: ['lt_x'], name: 'x' },
  ]) {
    const typed = await link(body);
    t.is(typed.status, 400, JSON.stringify(body));
    t.is(typed.body.error.code, 'VALIDATION_FAILED');
  }
});

test.serial('Bull Board accepts the admin token as a Basic password and asks browsers for it', async (t) => {
  const smx = current();
  const refused = await fetch(`${smx.url}/admin/queues`);
  t.is(refused.status, 401);
  t.regex(refused.headers.get('www-authenticate') ?? '', /^Basic /);
  const basic = Buffer.from(`admin:${smx.adminToken}`).toString('base64');
  const page = await fetch(`${smx.url}/admin/queues`, { headers: { authorization: `Basic ${basic}` } });
  t.is(page.status, 200);
  t.regex(await page.text(), /<html/i);
  const wrong = await fetch(`${smx.url}/admin/queues`, {
    headers: { authorization: `Basic ${Buffer.from('admin:nope').toString('base64')}` },
  });
  t.is(wrong.status, 401);
  const apiBasic = await fetch(`${smx.url}/admin/projects`, { headers: { authorization: `Basic ${basic}` } });
  t.is(apiBasic.status, 401, 'the admin API itself takes the bearer token only');
});

// Last: the wrong guesses it makes keep counting against this source for the rest of the window.
test.serial(
  'wrong codes from one source are limited: then 429 RATE_LIMITED with Retry-After, even for a right code',
  async (t) => {
    const smx = current();
    const { projectId } = await createProject(smx);
    const right = (await smx.admin('POST', `/admin/projects/${projectId}/link-codes`)).body.data.code as string;
    const wrong = right === '000000' ? '000001' : '000000';
    // The earlier tests' wrong code already counts against this source: guess until refused.
    const answers: number[] = [];
    while (answers.at(-1) !== 429 && answers.length <= CODE_GUESS_LIMITS.perSource)
      answers.push((await link({ code: wrong, name: 'guess' })).status);
    t.is(answers.at(-1), 429, `answers: ${answers.join(',')}`);
    t.true(answers.slice(0, -1).every((s) => s === 401));
    t.true(
      answers.length >= CODE_GUESS_LIMITS.perSource - 1,
      "at most the earlier tests' one wrong code counted before",
    );
    const limited = await link({ code: right, name: 'late' });
    t.is(limited.status, 429);
    t.is(limited.body.error.code, 'RATE_LIMITED');
    t.is(limited.body.error.origin, 'project');
    t.true(Number(limited.headers.get('retry-after')) > 0);
    // Without SMX_TRUST_PROXY an X-Forwarded-For header is the client's word only: it changes no source.
    const forged = await fetch(`${smx.url}/v1/devices/link`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '192.0.2.200' },
      body: JSON.stringify({ code: right, name: 'forged' }),
    });
    t.is(forged.status, 429);
  },
);
