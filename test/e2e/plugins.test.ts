/** The plugin API end to end: loading through SMX_PLUGINS, routing, plugin routes, hooks and failure isolation. */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import type { OutboxMessage } from '../../protocol/payloads.js';
import { createProject, linkNewDevice, startPhone, startTestSmxExpectingFailure, useSmx } from '../helpers/smx.js';
import { hookLog } from '../fixtures/plugins/test-hooks.js';
import { eventually } from '../helpers/eventually.js';

const here = dirname(fileURLToPath(import.meta.url));
const example = resolve(here, '../../examples/plugins/route-by-country.js');
const fixture = (name: string) => resolve(here, '../fixtures/plugins', `${name}.js`);

// The example reads its rules from its own env variable (this file runs in its own process).
process.env.ROUTE_BY_COUNTRY = '44=uk-phone,49=de-phone';
const current = useSmx(test, 'plugins', { env: { SMX_PLUGINS: `${example},${fixture('test-hooks')}` } });

async function projectWithPhone(t: ExecutionContext, name = 'Test phone') {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const credentials = await linkNewDevice(smx, projectId, name);
  await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 });
  const received: OutboxMessage[] = [];
  const phone = await startPhone(t, credentials, { onSend: (m) => void received.push(m) });
  return { projectId, key, credentials, received, phone };
}

async function statusOf(key: string, messageId: string, wanted: string) {
  return eventually(
    async () => {
      const m = await current().api(key, 'GET', `/v1/messages/${messageId}`);
      return m.body.data.status === wanted ? m.body.data : null;
    },
    10_000,
    `${messageId} ${wanted}`,
  );
}

test('the example plugin loads through SMX_PLUGINS and routes real messages by country', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const uk = await linkNewDevice(smx, projectId, 'uk-phone');
  const de = await linkNewDevice(smx, projectId, 'de-phone');
  const fr = await linkNewDevice(smx, projectId, 'fr-phone'); // linked last: the active device
  const received = new Map<string, OutboxMessage[]>();
  for (const phone of [uk, de, fr]) {
    received.set(phone.deviceId, []);
    await smx.admin('PATCH', `/admin/devices/${phone.deviceId}`, { sendRatePerMinute: 0 });
    await startPhone(t, phone, { onSend: (m) => void received.get(phone.deviceId)!.push(m) });
  }
  const patched = await smx.admin('PATCH', `/admin/projects/${projectId}`, { routing: 'by-country' });
  t.is(patched.status, 200, JSON.stringify(patched.body));

  const cases = [
    { to: '+447400123456', device: uk.deviceId },
    { to: '+4915112345678', device: de.deviceId },
    { to: '+14155550123', device: fr.deviceId },
  ];
  for (const c of cases) {
    const sent = await smx.api(key, 'POST', '/v1/send-sms', { to: c.to, message: `  to ${c.to}  ` });
    t.is(sent.status, 201, JSON.stringify(sent.body));
    t.is(sent.body.data.deviceId, c.device);
    const got = await eventually(
      async () => received.get(c.device)!.find((m) => m.id === sent.body.data.messageId),
      10_000,
      `SMS to ${c.to}`,
    );
    t.is(got.body, `to ${c.to}`, 'the example beforeSend trims the text');
  }
  t.is([...received.values()].flat().length, 3, 'each message reached exactly one phone');
});

test('a plugin route answers in the envelope, sees only its project, and uses the error catalogue', async (t) => {
  const smx = current();
  const a = await createProject(smx, 'A');
  await linkNewDevice(smx, a.projectId, 'uk-phone');
  const b = await createProject(smx, 'B');

  const infoA = await smx.api(a.key, 'GET', '/plugins/route-by-country/info');
  t.is(infoA.status, 200, JSON.stringify(infoA.body));
  t.true(infoA.body.success);
  t.truthy(infoA.body.requestId ?? infoA.headers.get('x-request-id'));
  t.is(infoA.body.data.projectId, a.projectId);
  t.deepEqual(infoA.body.data.rules, [
    { prefix: '44', device: 'uk-phone', linked: true },
    { prefix: '49', device: 'de-phone', linked: false },
  ]);

  const infoB = await smx.api(b.key, 'GET', '/plugins/route-by-country/info');
  t.is(infoB.body.data.projectId, b.projectId);
  t.false(infoB.body.data.rules[0].linked, "project B does not see project A's devices");

  const anonymous = await fetch(`${smx.url}/plugins/route-by-country/info`);
  t.is(anonymous.status, 401);
  t.is(((await anonymous.json()) as { error: { code: string } }).error.code, 'UNAUTHORIZED');

  const who = await smx.api(a.key, 'GET', '/plugins/test-hooks/whoami');
  t.like(who.body.data, { projectId: a.projectId, secretVisible: false }, 'ctx.config holds no secrets');
  t.deepEqual(
    who.body.data.context,
    ['config', 'hooks', 'http', 'log', 'name', 'routing'],
    'no container: ctx names all a plugin can reach',
  );
  t.deepEqual(who.body.data.config, [
    'dataDir',
    'databaseSchema',
    'databaseUrl',
    'host',
    'httpPort',
    'logLevel',
    'mqttPublicUrl',
    'plugins',
    'publicUrl',
    'redisPrefix',
    'redisUrl',
    'workerConcurrency',
  ]);
  const failed = await smx.api(a.key, 'POST', '/plugins/test-hooks/fail', {});
  t.is(failed.status, 400);
  t.is(failed.body.error.code, 'VALIDATION_FAILED');
  t.is(failed.body.error.details[0]!.field, 'x');
  const missing = await smx.api(a.key, 'GET', '/plugins/test-hooks/nope');
  t.is(missing.status, 404);
  t.is(missing.body.error.code, 'NOT_FOUND');
});

test('a duplicate plugin name fails start with an error naming both', async (t) => {
  const error = await startTestSmxExpectingFailure('plugins-duplicate', {
    env: { SMX_PLUGINS: `${fixture('dup-a')},${fixture('dup-b')}` },
  });
  t.is(error.name, 'PluginError');
  t.regex(error.message, /plugin name "duplicate-name" is used twice/);
  t.true(error.message.includes('dup-a.js') && error.message.includes('dup-b.js'), error.message);
});

test("an unknown hook name fails start with the plugin's name", async (t) => {
  const error = await startTestSmxExpectingFailure('plugins-unknown-hook', {
    env: { SMX_PLUGINS: fixture('unknown-hook') },
  });
  t.is(error.message, 'plugin "unknown-hook" failed to set up');
  t.regex(
    (error.cause as Error).message,
    /plugin "unknown-hook": unknown hook "beforeSned" \(known: beforeSend, afterStatus, onInbound, onVerification\)/,
  );
});

test('a plugin that cannot be imported or has no setup fails start clearly', async (t) => {
  const missing = await startTestSmxExpectingFailure('plugins-missing', {
    env: { SMX_PLUGINS: './no/such/plugin.js' },
  });
  t.regex(missing.message, /plugin \.\/no\/such\/plugin\.js: cannot import it/);
  const bad = await startTestSmxExpectingFailure('plugins-bad-shape', {
    env: { SMX_PLUGINS: resolve(here, '../helpers/smx.js') },
  });
  t.regex(bad.message, /the default export must be \{ name: string, setup\(ctx\) \}/);
});

test('throwing observer hooks do not break delivery, verification or inbound SMS', async (t) => {
  const smx = current();
  const { key, credentials, received, phone } = await projectWithPhone(t);
  const sent = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message: 'observed' });
  t.is(sent.status, 201);
  await eventually(async () => received.find((m) => m.id === sent.body.data.messageId));
  await statusOf(key, sent.body.data.messageId, 'DELIVERED');
  await eventually(async () =>
    hookLog.statuses.find((s) => s.id === sent.body.data.messageId && s.status === 'DELIVERED'),
  );
  // The phone may report sent and delivered in one publish: the first change seen is SENT or DELIVERED.
  const first = hookLog.statuses.find((s) => s.id === sent.body.data.messageId)!;
  t.like(first, { id: sent.body.data.messageId, deviceId: credentials.deviceId });
  t.true(['SENT', 'DELIVERED'].includes(first.status));

  const otp = await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345678' });
  t.is(otp.status, 201, JSON.stringify(otp.body));
  const sms = await eventually(async () => received.find((m) => m.id === otp.body.data.messageId));
  const code = /\d{4,}/.exec(sms.body)![0];
  const verified = await smx.api(key, 'POST', '/v1/verify-otp', {
    verificationId: otp.body.data.verificationId,
    otp: code,
  });
  t.is(verified.status, 200, JSON.stringify(verified.body));
  const seen = await eventually(async () =>
    hookLog.verifications.find((v) => v.verificationId === otp.body.data.verificationId),
  );
  t.is(seen.status, 'VERIFIED');
  t.false(JSON.stringify(seen).includes(code), 'onVerification never sees the code');

  await phone.publishInbound([{ from: '+14155550123', body: 'hello server', simSlot: 1 }]);
  const inbound = await eventually(async () => hookLog.inbound.find((s) => s.body === 'hello server'));
  t.is(inbound.deviceId, credentials.deviceId);
  t.is(inbound.from, '+14155550123');
  t.is(inbound.simSlot, 1);

  const logs = smx.logs();
  for (const hook of ['afterStatus', 'onVerification', 'onInbound'])
    t.true(
      logs.includes(`plugin \\"test-hooks\\" failed in hook ${hook}`) ||
        logs.includes(`plugin "test-hooks" failed in hook ${hook}`),
      hook,
    );

  // The worker is still fine: the next message goes through too.
  const next = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message: 'still fine' });
  await statusOf(key, next.body.data.messageId, 'DELIVERED');
});

test('a beforeSend that throws marks the message FAILED and the phone never gets it', async (t) => {
  const smx = current();
  const { key, received } = await projectWithPhone(t);
  const refused = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message: 'please REFUSE me' });
  t.is(refused.status, 201);
  const after = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message: 'after the refused one' });
  const failed = await statusOf(key, refused.body.data.messageId, 'FAILED');
  t.is(failed.error, 'PLUGIN_REFUSED:test-hooks:no thanks');
  await eventually(async () => received.find((m) => m.id === after.body.data.messageId));
  await statusOf(key, after.body.data.messageId, 'DELIVERED');
  t.falsy(received.find((m) => m.id === refused.body.data.messageId));
});

test('a beforeSend that rewrites the body: the phone gets the rewritten text, the log keeps the original', async (t) => {
  const smx = current();
  const { key, received } = await projectWithPhone(t);
  const sent = await smx.api(key, 'POST', '/v1/send-sms', { to: '+4915112345678', message: 'REWRITE me' });
  const got = await eventually(async () => received.find((m) => m.id === sent.body.data.messageId));
  t.is(got.body, 'rewritten by a plugin me');
  const stored = await statusOf(key, sent.body.data.messageId, 'DELIVERED');
  t.is(stored.message, 'REWRITE me');
});
