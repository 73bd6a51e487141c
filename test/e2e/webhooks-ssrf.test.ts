/**
 * The webhook SSRF guard with its default (private targets refused): at registration, on the
 * request path for callback URLs, and at send time against what the host resolves to then.
 */
import { networkInterfaces } from 'node:os';
import test from 'ava';
import { createProject, linkNewDevice, useSmx } from '../helpers/smx.js';
import { startReceiver } from '../helpers/webhook-receiver.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'webhooks-ssrf');

test('endpoints whose host is or resolves to a loopback, private, link-local or metadata address are refused at registration', async (t) => {
  const smx = current();
  const { projectId } = await createProject(smx, 'SSRF');
  for (const url of [
    'http://127.0.0.1:8080/hook',
    'http://localhost:8080/hook',
    'https://169.254.169.254/latest/meta-data',
    'http://[::1]/hook',
    'http://10.1.2.3/hook',
    'http://192.168.1.1/',
    'http://100.64.0.1/',
    'http://[fd00:ec2::254]/',
    'http://[::ffff:127.0.0.1]/',
    'http://0.0.0.0/',
  ]) {
    const response = await smx.admin('POST', `/admin/projects/${projectId}/webhooks`, { url });
    t.is(response.status, 400, url);
    t.is(response.body.error.code, 'VALIDATION_FAILED', url);
    t.deepEqual(
      response.body.error.details.map((d) => d.field),
      ['url'],
      url,
    );
  }
  t.deepEqual((await smx.admin('GET', `/admin/projects/${projectId}/webhooks`)).body.data.webhooks, []);
});

test('callbackUrl must be https and not a literal private address; a name resolving to loopback is refused at send time', async (t) => {
  const smx = current();
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const { projectId, key } = await createProject(smx, 'SSRF callbacks');
  await linkNewDevice(smx, projectId);

  const http = await smx.api(key, 'POST', '/v1/send-sms', {
    to: '+14155550170',
    message: 'x',
    callbackUrl: 'http://example.com/hook',
  });
  t.is(http.status, 400);
  t.deepEqual(
    http.body.error.details.map((d) => d.field),
    ['callbackUrl'],
  );
  const metadata = await smx.api(key, 'POST', '/v1/send-otp', {
    to: '+14155550170',
    callbackUrl: 'https://169.254.169.254/latest',
  });
  t.is(metadata.status, 400);
  t.deepEqual(
    metadata.body.error.details.map((d) => d.field),
    ['callbackUrl'],
  );
  const bulk = await smx.api(key, 'POST', '/v1/send-sms/bulk', {
    to: ['+14155550170'],
    message: 'x',
    callbackUrl: 'https://[::1]/hook',
  });
  t.deepEqual(
    bulk.body.error.details.map((d) => d.field),
    ['callbackUrl'],
  );

  // `localhost` passes the request-path check (no DNS there) and is refused when sending.
  t.is((await smx.admin('POST', `/admin/projects/${projectId}/webhook-callback-secret`)).status, 201);
  const sent = await smx.api(key, 'POST', '/v1/send-otp', {
    to: '+14155550171',
    callbackUrl: `https://localhost:${receiver.port}/cb`,
  });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  t.is((await smx.api(key, 'POST', `/v1/verifications/${sent.body.data.verificationId}/cancel`)).status, 200);
  const attempts = await eventually(
    async () => {
      const page = await smx.api(key, 'GET', '/v1/webhook-deliveries');
      return page.body.data.deliveries.length >= 2 ? page.body.data.deliveries : null;
    },
    15_000,
    'refused attempts logged',
  );
  for (const a of attempts) {
    t.like(a, { succeeded: false, statusCode: null, nextAttemptAt: null, attempt: 1 });
    // Coarse for the tenant: not the address `localhost` resolved to, nor why (server log only).
    t.is(a.error, 'refused: address not allowed');
  }
  t.regex(
    smx.logs(),
    /resolves to a refused address \((127\.0\.0\.1|::1): loopback\)[^\n]*webhook attempt failed/,
    'the operator sees why',
  );
  t.is(receiver.received.length, 0, 'nothing reached the receiver');
});

/** The machine's own non-loopback addresses (bracketed for URLs when IPv6). */
function ownHosts(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((i) => i && !i.internal && !i.address.startsWith('fe80'))
    .map((i) => (i!.family === 'IPv6' ? `[${i!.address}]` : i!.address));
}

test("documentation, 6to4, IPv4-compatible and the server's own interface addresses are refused, as endpoints and as callbackUrl", async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx, 'SSRF special-purpose');
  const own = ownHosts();
  t.true(own.length > 0, 'the machine has a non-loopback interface');
  const hosts = [
    '192.0.2.1',
    '198.51.100.7',
    '203.0.113.9',
    '[2002:7f00:1::1]',
    '[::127.0.0.1]',
    '[2001:db8::1]',
    '[64:ff9b::a00:1]',
    ...own,
  ];
  for (const host of hosts) {
    const endpoint = await smx.admin('POST', `/admin/projects/${projectId}/webhooks`, {
      url: `https://${host}:8443/hook`,
    });
    t.is(endpoint.status, 400, `endpoint ${host}`);
    const callback = await smx.api(key, 'POST', '/v1/send-sms', {
      to: '+14155550172',
      message: 'x',
      callbackUrl: `https://${host}:22/`,
    });
    t.is(callback.status, 400, `callbackUrl ${host}`);
    t.deepEqual(
      callback.body.error.details.map((d) => d.field),
      ['callbackUrl'],
      host,
    );
  }
  t.deepEqual((await smx.admin('GET', `/admin/projects/${projectId}/webhooks`)).body.data.webhooks, []);
});
