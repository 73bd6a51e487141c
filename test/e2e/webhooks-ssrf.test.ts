/**
 * The webhook SSRF guard with its default (private targets refused): at registration, on the
 * request path for callback URLs, and at send time against what the host resolves to then.
 */
import test from 'ava';
import { createProject, eventually, linkNewDevice, useSmx } from '../helpers/smx.js';
import { startReceiver } from '../helpers/webhook-receiver.js';

const current = useSmx(test, 'webhooks-ssrf');

test('endpoints whose host is or resolves to a loopback, private, link-local or metadata address are refused at registration', async (t) => {
  const smx = current();
  const { projectId } = await createProject(smx, 'SSRF');
  for (const url of [
    'http://127.0.0.1:8080/hook', 'http://localhost:8080/hook', 'https://169.254.169.254/latest/meta-data', 'http://[::1]/hook',
    'http://10.1.2.3/hook', 'http://192.168.1.1/', 'http://100.64.0.1/', 'http://[fd00:ec2::254]/', 'http://[::ffff:127.0.0.1]/', 'http://0.0.0.0/',
  ]) {
    const response = await smx.admin('POST', `/admin/projects/${projectId}/webhooks`, { url });
    t.is(response.status, 400, url);
    t.is(response.body.error.code, 'VALIDATION_FAILED', url);
    t.deepEqual(response.body.error.details.map((d) => d.field), ['url'], url);
  }
  t.deepEqual((await smx.admin('GET', `/admin/projects/${projectId}/webhooks`)).body.data.webhooks, []);
});

test('callbackUrl must be https and not a literal private address; a name resolving to loopback is refused at send time', async (t) => {
  const smx = current();
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const { projectId, key } = await createProject(smx, 'SSRF callbacks');
  await linkNewDevice(smx, projectId);

  const http = await smx.api(key, 'POST', '/v1/send-sms', { to: '+14155550170', message: 'x', callbackUrl: 'http://example.com/hook' });
  t.is(http.status, 400);
  t.deepEqual(http.body.error.details.map((d) => d.field), ['callbackUrl']);
  const metadata = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550170', callbackUrl: 'https://169.254.169.254/latest' });
  t.is(metadata.status, 400);
  t.deepEqual(metadata.body.error.details.map((d) => d.field), ['callbackUrl']);
  const bulk = await smx.api(key, 'POST', '/v1/send-sms/bulk', { to: ['+14155550170'], message: 'x', callbackUrl: 'https://[::1]/hook' });
  t.deepEqual(bulk.body.error.details.map((d) => d.field), ['callbackUrl']);

  // `localhost` passes the request-path check (no DNS there) and is refused when sending.
  t.is((await smx.admin('POST', `/admin/projects/${projectId}/webhook-callback-secret`)).status, 201);
  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to: '+14155550171', callbackUrl: `https://localhost:${receiver.port}/cb` });
  t.is(sent.status, 201, JSON.stringify(sent.body));
  t.is((await smx.api(key, 'POST', `/v1/verifications/${sent.body.data.verificationId}/cancel`)).status, 200);
  const attempts = await eventually(async () => {
    const page = await smx.api(key, 'GET', '/v1/webhook-deliveries');
    return page.body.data.deliveries.length >= 2 ? page.body.data.deliveries : null;
  }, 15_000, 'refused attempts logged');
  for (const a of attempts) {
    t.like(a, { succeeded: false, statusCode: null, nextAttemptAt: null, attempt: 1 });
    t.regex(a.error, /^refused: .*loopback/);
  }
  t.is(receiver.received.length, 0, 'nothing reached the receiver');
});
