/**
 * The hot path caches keys, project settings and devices per process; a change made through one
 * SMX process takes effect at once in another that shares its Redis and PostgreSQL.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { cleanupTestSmx, createProject, linkNewDevice, startTestSmx, type TestSmx } from '../helpers/smx.js';

let first: TestSmx;
let second: TestSmx;

test.before(async () => {
  first = await startTestSmx('cache-invalidation');
  const config = first.smx.config;
  second = await startTestSmx('cache-invalidation', {
    roles: { api: true, worker: false, broker: false },
    env: { SMX_BROKER_URL: `mqtt://127.0.0.1:${first.smx.broker!.tcpPort}` },
    reuse: {
      redisPrefix: first.redisPrefix,
      schema: config.databaseSchema,
      dataDir: await mkdtemp(join(tmpdir(), 'smx-test-')),
      adminToken: first.adminToken,
    },
  });
});

test.after.always(async () => {
  await second?.close();
  await first?.close();
  if (first) await cleanupTestSmx(first);
});

test('a key revoked through one process is refused by the other on the next request', async (t) => {
  const { projectId, key } = await createProject(first);
  await linkNewDevice(first, projectId);
  // Warm both caches.
  t.is((await first.api(key, 'GET', '/v1/status')).status, 200);
  t.is((await second.api(key, 'GET', '/v1/status')).status, 200);
  const keys = await first.admin('GET', `/admin/projects/${projectId}/api-keys`);
  const revoked = await first.admin('DELETE', `/admin/projects/${projectId}/api-keys/${keys.body.data.apiKeys[0].id}`);
  t.is(revoked.status, 200);
  const refused = await second.api(key, 'GET', '/v1/status');
  t.is(refused.status, 401);
  t.is(refused.body.error.code, 'UNAUTHORIZED');
});

test('settings and devices changed through one process are used by the other at once', async (t) => {
  const { projectId, key } = await createProject(first);
  const device = await linkNewDevice(first, projectId);
  const before = await second.api(key, 'POST', '/v1/send-otp', { to: '+14155550401' });
  t.is(before.body.data.maxAttempts, 5);
  t.is(before.body.data.deviceId, device.deviceId);
  await first.admin('PATCH', `/admin/projects/${projectId}`, { maxAttempts: 3 });
  const after = await second.api(key, 'POST', '/v1/send-otp', { to: '+14155550401' });
  t.is(after.body.data.maxAttempts, 3);
  await first.admin('DELETE', `/admin/devices/${device.deviceId}`);
  const none = await second.api(key, 'POST', '/v1/send-otp', { to: '+14155550401' });
  t.is(none.status, 409);
  t.is(none.body.error.code, 'DEVICE_NOT_LINKED');
});
