/**
 * Tenants never see or touch each other's resources (docs/api.md: "a resource of another project"
 * is 404, never 403, so existence does not leak). Project A's key is pointed at every id-taking
 * endpoint with project B's ids; B's state is checked untouched afterwards through B's own key.
 */
import test, { type ExecutionContext } from 'ava';
import { createProject, linkNewDevice, startPhone, useSmx, type ApiResponse, type TestSmx } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'tenant-isolation');

interface Tenant {
  projectId: string;
  key: string;
  keyId: string;
  deviceId: string;
  verificationId: string;
  messageId: string;
}

/** A project with a key, a linked running phone and one OTP challenge (sent, not verified). */
async function tenant(t: ExecutionContext, smx: TestSmx, name: string, to: string): Promise<Tenant> {
  const { projectId, key } = await createProject(smx, name);
  const keys = await smx.admin('GET', `/admin/projects/${projectId}/api-keys`);
  const keyId = keys.body.data.apiKeys[0].id as string;
  const credentials = await linkNewDevice(smx, projectId, `${name} phone`);
  await startPhone(t, credentials);
  const sent = await smx.api(key, 'POST', '/v1/send-otp', { to, code: '246810' });
  if (sent.status !== 201) throw new Error(`send-otp in ${name}: ${sent.status} ${JSON.stringify(sent.body)}`);
  return {
    projectId,
    key,
    keyId,
    deviceId: credentials.deviceId,
    verificationId: sent.body.data.verificationId,
    messageId: sent.body.data.messageId,
  };
}

/** 404 with the given code, and nothing of the other tenant in the answer. */
function assertHidden(t: ExecutionContext, response: ApiResponse, code: string, secrets: string[], what: string) {
  t.is(response.status, 404, `${what}: ${JSON.stringify(response.body)}`);
  t.not(response.status, 403);
  t.false(response.body.success);
  t.is(response.body.error.code, code, what);
  t.is(response.body.error.origin, 'client', what);
  t.is(response.body.data, undefined, what);
  const text = JSON.stringify(response.body);
  for (const secret of secrets) t.false(text.includes(secret), `${what}: the answer names nothing of B (${secret})`);
}

test("with A's key, B's verifications, messages and challenges answer 404 and stay untouched", async (t) => {
  const smx = current();
  const a = await tenant(t, smx, 'Tenant A', '+14155550111');
  const b = await tenant(t, smx, 'Tenant B', '+14155550222');
  const bSecrets = [b.projectId, b.deviceId, '+14155550222', 'Tenant B'];

  assertHidden(
    t,
    await smx.api(a.key, 'GET', `/v1/verifications/${b.verificationId}`),
    'VERIFICATION_NOT_FOUND',
    bSecrets,
    'GET verification',
  );
  assertHidden(
    t,
    await smx.api(a.key, 'POST', `/v1/verifications/${b.verificationId}/cancel`),
    'VERIFICATION_NOT_FOUND',
    bSecrets,
    'cancel',
  );
  // The right code, even: A must not be able to verify (or burn attempts of) B's challenge.
  assertHidden(
    t,
    await smx.api(a.key, 'POST', '/v1/verify-otp', { verificationId: b.verificationId, otp: '246810' }),
    'VERIFICATION_NOT_FOUND',
    bSecrets,
    'verify right code',
  );
  assertHidden(
    t,
    await smx.api(a.key, 'POST', '/v1/verify-otp', { verificationId: b.verificationId, otp: '000000' }),
    'VERIFICATION_NOT_FOUND',
    bSecrets,
    'verify wrong code',
  );
  assertHidden(t, await smx.api(a.key, 'GET', `/v1/messages/${b.messageId}`), 'NOT_FOUND', bSecrets, 'GET message');

  // The answers for B's ids are indistinguishable from ids that do not exist at all.
  const unknown = await smx.api(a.key, 'GET', '/v1/verifications/ver_AAAAAAAAAAAAAAAAAAAAAA');
  const foreign = await smx.api(a.key, 'GET', `/v1/verifications/${b.verificationId}`);
  t.deepEqual([foreign.status, foreign.body.error], [unknown.status, unknown.body.error]);
  const unknownMessage = await smx.api(a.key, 'GET', '/v1/messages/msg_AAAAAAAAAAAAAAAAAAAAAA');
  const foreignMessage = await smx.api(a.key, 'GET', `/v1/messages/${b.messageId}`);
  t.deepEqual([foreignMessage.status, foreignMessage.body.error], [unknownMessage.status, unknownMessage.body.error]);

  // B's challenge: still pending, no attempt used, and B can verify it.
  const bView = await smx.api(b.key, 'GET', `/v1/verifications/${b.verificationId}`);
  t.is(bView.status, 200);
  t.is(bView.body.data.status, 'PENDING');
  t.is(bView.body.data.attempts, 0);
  t.is(bView.body.data.canceledAt, null);
  const bVerify = await smx.api(b.key, 'POST', '/v1/verify-otp', { verificationId: b.verificationId, otp: '246810' });
  t.true(bVerify.body.data.verified);
  t.is(bVerify.body.data.attempts, 1);

  // And the reverse direction, for A's resources with B's key.
  assertHidden(
    t,
    await smx.api(b.key, 'GET', `/v1/verifications/${a.verificationId}`),
    'VERIFICATION_NOT_FOUND',
    [a.projectId, a.deviceId, '+14155550111'],
    'B reads A',
  );
  assertHidden(
    t,
    await smx.api(b.key, 'GET', `/v1/messages/${a.messageId}`),
    'NOT_FOUND',
    [a.projectId, a.deviceId, '+14155550111'],
    'B reads A message',
  );
  // A's own resources are of course readable with A's key.
  t.is((await smx.api(a.key, 'GET', `/v1/verifications/${a.verificationId}`)).status, 200);
  t.is((await smx.api(a.key, 'GET', `/v1/messages/${a.messageId}`)).status, 200);
});

test("admin: A's path cannot revoke B's API key (404), and B's key keeps working", async (t) => {
  const smx = current();
  const a = await createProject(smx, 'Admin A');
  const b = await createProject(smx, 'Admin B');
  const bKeys = await smx.admin('GET', `/admin/projects/${b.projectId}/api-keys`);
  const bKeyId = bKeys.body.data.apiKeys[0].id as string;

  const revoke = await smx.admin('DELETE', `/admin/projects/${a.projectId}/api-keys/${bKeyId}`);
  t.is(revoke.status, 404, JSON.stringify(revoke.body));
  t.is(revoke.body.error.code, 'NOT_FOUND');
  t.is((await smx.api(b.key, 'GET', '/v1/status')).status, 200, "B's key still works");
  const listed = await smx.admin('GET', `/admin/projects/${b.projectId}/api-keys`);
  t.deepEqual(
    listed.body.data.apiKeys.map((k: { id: string }) => k.id),
    [bKeyId],
  );
  // A's key list never shows B's key.
  const aKeys = await smx.admin('GET', `/admin/projects/${a.projectId}/api-keys`);
  t.false(aKeys.body.data.apiKeys.some((k: { id: string }) => k.id === bKeyId));
});

test("GET /v1/status with A's key shows A's device only", async (t) => {
  const smx = current();
  const a = await createProject(smx, 'Status A');
  const b = await createProject(smx, 'Status B');
  const aDevice = await linkNewDevice(smx, a.projectId, 'A phone');
  const bDevice = await linkNewDevice(smx, b.projectId, 'B phone');
  // Only B's phone is online: A's status must not borrow it.
  await startPhone(t, bDevice);
  await eventually(
    async () => (await smx.api(b.key, 'GET', '/v1/status')).body.data.device.online === true,
    10_000,
    "B's phone online",
  );

  const aStatus = await smx.api(a.key, 'GET', '/v1/status');
  t.is(aStatus.status, 200);
  t.is(aStatus.body.data.device.id, aDevice.deviceId);
  t.true(aStatus.body.data.device.linked);
  t.false(aStatus.body.data.device.online);
  t.false(aStatus.body.data.ready);
  t.false(JSON.stringify(aStatus.body).includes(bDevice.deviceId));
  t.false(JSON.stringify(aStatus.body).includes(b.projectId));

  // B's queued message does not show in A's queue figures.
  const sent = await smx.api(b.key, 'POST', '/v1/send-otp', { to: '+14155550333' });
  t.is(sent.status, 201);
  const aAgain = await smx.api(a.key, 'GET', '/v1/status');
  t.deepEqual(aAgain.body.data.queue, { waiting: 0, active: 0, delayed: 0, failed: 0 });

  const bStatus = await smx.api(b.key, 'GET', '/v1/status');
  t.is(bStatus.body.data.device.id, bDevice.deviceId);
  t.true(bStatus.body.data.device.online);
});
