/**
 * Adversarial suite, authorization half: a matrix generated from the served route table. Every
 * operation is called with no credentials, a wrong key, a revoked key, the other family's
 * credentials and another project's key, with every `{id}` in its path owned by project A.
 * Expected: 401 without valid credentials, 403 for the other family, 404 (never 403) for another
 * project's ids, and nothing of A changed or shown. A new route whose path parameter has no owner
 * in FIXTURE_IDS fails this test until it is added here.
 */
import test, { type ExecutionContext } from 'ava';
import { createProject, linkNewDevice, useSmx, type TestSmx } from '../helpers/smx.js';
import type { OpenApiDocument } from './openapi-arbitraries.js';

// Private targets allowed so A can own a webhook endpoint on loopback (nothing listens there).
const current = useSmx(test, 'security-authz-matrix', { env: { SMX_WEBHOOK_ALLOW_PRIVATE: 'true' } });

/** Routes anyone may call (their own checks are tested elsewhere) and non-JSON pages. */
const PUBLIC = [/^\/health\//, /^\/openapi\.json$/, /^\/docs/, /^\/v1\/devices\/link$/, /^\/compat\/oauth\/token$/];
/** Authenticated by the SMSGate app's device token, not by a project key or the admin token. */
const DEVICE_TOKEN = /^\/compat\/smsgate\/mobile\//;

type Family = 'v1' | 'admin' | 'compat' | 'device';

function family(path: string): Family | 'public' {
  if (PUBLIC.some((p) => p.test(path))) return 'public';
  if (DEVICE_TOKEN.test(path)) return 'device';
  if (path.startsWith('/admin') || path === '/metrics') return 'admin';
  if (path.startsWith('/compat')) return 'compat';
  return 'v1';
}

interface ProjectA {
  projectId: string;
  key: string;
  keyId: string;
  revokedKey: string;
  deviceId: string;
  verificationId: string;
  messageId: string;
  batchId: string;
  rentalId: string;
  webhookId: string;
}

async function must(response: Promise<{ status: number; body: any }>, what: string): Promise<any> {
  const r = await response;
  if (r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.data;
}

async function projectA(smx: TestSmx): Promise<ProjectA> {
  const { projectId, key } = await createProject(smx, 'Matrix A');
  const keys = await must(smx.admin('GET', `/admin/projects/${projectId}/api-keys`), 'keys');
  const revoked = await must(
    smx.admin('POST', `/admin/projects/${projectId}/api-keys`, { name: 'revoked' }),
    'second key',
  );
  await must(smx.admin('DELETE', `/admin/projects/${projectId}/api-keys/${revoked.id}`), 'revoke');
  const device = await linkNewDevice(smx, projectId, 'Matrix phone');
  await must(
    smx.admin('PATCH', `/admin/devices/${device.deviceId}`, {
      sims: [{ slot: 0, number: '+14155550177', rentable: true }],
    }),
    'sims',
  );
  const otp = await must(smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345678' }), 'send-otp');
  const bulk = await must(
    smx.api(key, 'POST', '/v1/send-sms/bulk', { to: ['+4915112345601'], message: 'bulk' }),
    'bulk',
  );
  const rental = await must(smx.api(key, 'POST', '/v1/rentals', { country: 'US' }), 'rental');
  const webhook = await must(
    smx.admin('POST', `/admin/projects/${projectId}/webhooks`, {
      url: 'http://127.0.0.1:9/a',
      events: ['message.sent'],
    }),
    'webhook',
  );
  await must(
    smx.admin('POST', `/admin/projects/${projectId}/test-numbers`, { number: '+15555550100', code: '123456' }),
    'test number',
  );
  await must(smx.admin('PUT', `/admin/projects/${projectId}/templates/de`, { text: 'Code {{code}}' }), 'template');
  return {
    projectId,
    key,
    keyId: keys.apiKeys[0].id,
    revokedKey: revoked.key,
    deviceId: device.deviceId,
    verificationId: otp.verificationId,
    messageId: otp.messageId,
    batchId: bulk.batchId,
    rentalId: rental.rentalId,
    webhookId: webhook.id,
  };
}

/** A's resource for a path parameter, by the path it stands in. */
function ownedId(a: ProjectA, path: string, parameter: string): string | undefined {
  if (parameter === 'keyId') return a.keyId;
  if (parameter === 'webhookId') return a.webhookId;
  if (parameter === 'language') return 'de';
  if (parameter === 'number') return encodeURIComponent('+15555550100');
  if (parameter === 'deviceId') return a.deviceId;
  if (parameter === 'otpId' || parameter === 'verificationId') return a.verificationId;
  if (parameter === 'messageId') return a.messageId;
  if (parameter !== 'id') return undefined;
  if (path.startsWith('/admin/projects/')) return a.projectId;
  if (path.startsWith('/admin/devices/')) return a.deviceId;
  if (path.startsWith('/v1/verifications/')) return a.verificationId;
  if (path.startsWith('/v1/messages/')) return a.messageId;
  if (path.startsWith('/v1/batches/')) return a.batchId;
  if (path.startsWith('/v1/rentals/')) return a.rentalId;
  return undefined;
}

/** A body that passes validation, so the request reaches the ownership check (validation does not depend on the id). */
const VALID_BODIES: Record<string, unknown> = { '/compat/otp/{otpId}': { pin: '000000' } };

type Credential = 'none' | 'wrong' | 'revoked' | 'otherFamily' | 'otherProject';

function headersFor(
  credential: Credential,
  fam: Family,
  a: ProjectA,
  otherKey: string,
  adminToken: string,
): Record<string, string> {
  const key = (value: string): Record<string, string> =>
    fam === 'admin' ? { authorization: `Bearer ${value}` } : { 'x-smx-api-key': value };
  switch (credential) {
    case 'none':
      return {};
    case 'wrong':
      return fam === 'device'
        ? { authorization: 'Bearer not-a-device-token' }
        : key('smx_live_wrongwrongwrongwrongwrong');
    case 'revoked':
      return key(a.revokedKey);
    case 'otherFamily':
      return fam === 'admin'
        ? { authorization: `Bearer ${a.key}` }
        : fam === 'device'
          ? { authorization: `Bearer ${a.key}` }
          : { authorization: `Bearer ${adminToken}` };
    case 'otherProject':
      return key(otherKey);
  }
}

/** What each credential must get, per family; undefined = not part of this family's matrix. */
function expected(credential: Credential, fam: Family, hasOwnedIds: boolean): number[] | undefined {
  if (credential === 'none' || credential === 'wrong' || credential === 'revoked') return [401];
  if (credential === 'otherFamily') return fam === 'admin' || fam === 'v1' ? [403] : [401, 403];
  // Another project's key: only /v1 and /compat are tenant-scoped; on A's ids it is 404.
  if (fam === 'v1' || fam === 'compat') return hasOwnedIds ? [404] : undefined;
  return undefined;
}

async function call(smx: TestSmx, method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const response = await fetch(`${smx.url}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  return { status: response.status, text: await response.text() };
}

async function assertAUntouched(t: ExecutionContext, smx: TestSmx, a: ProjectA) {
  const verification = await smx.api(a.key, 'GET', `/v1/verifications/${a.verificationId}`);
  t.is(verification.status, 200, 'A still reads its challenge with its key');
  t.is(verification.body.data.status, 'PENDING', 'A challenge untouched');
  t.is(verification.body.data.attempts, 0, 'no attempt of A was used');
  const rental = await smx.api(a.key, 'GET', `/v1/rentals/${a.rentalId}`);
  t.is(rental.body.data.status, 'active', 'A rental still active');
  const project = await smx.admin('GET', `/admin/projects/${a.projectId}`);
  t.is(project.status, 200, 'A project still there');
  const devices = await smx.admin('GET', `/admin/projects/${a.projectId}/devices`);
  t.true(JSON.stringify(devices.body).includes(a.deviceId), 'A device still linked');
  const webhooks = await smx.admin('GET', `/admin/projects/${a.projectId}/webhooks`);
  t.true(JSON.stringify(webhooks.body).includes(a.webhookId), 'A webhook still there');
}

test('every route × {no credentials, wrong key, revoked key, other family, other project} with A-owned ids: 401 / 403 / 404, A untouched', async (t) => {
  t.timeout(120_000);
  const smx = current();
  const a = await projectA(smx);
  const b = await createProject(smx, 'Matrix B');
  const doc = (await (await fetch(`${smx.url}/openapi.json`)).json()) as OpenApiDocument;
  const aSecrets = [
    a.projectId,
    a.deviceId,
    a.verificationId,
    a.messageId,
    a.batchId,
    a.rentalId,
    a.webhookId,
    '+4915112345678',
    'Matrix A',
  ];

  const cells: Array<{ method: string; path: string; credential: Credential; status: number; ok: boolean }> = [];
  const failures: string[] = [];
  const credentials: Credential[] = ['none', 'wrong', 'revoked', 'otherFamily', 'otherProject'];
  for (const [template, methods] of Object.entries(doc.paths)) {
    const fam = family(template);
    if (fam === 'public') continue;
    const parameters = [...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
    const ids = parameters.map((name) => ownedId(a, template, name));
    const unknown = parameters.filter((_, i) => ids[i] === undefined);
    if (unknown.length) {
      failures.push(`${template}: no A-owned fixture for {${unknown.join('}, {')}} — add it to ownedId()`);
      continue;
    }
    let i = 0;
    const path = template.replace(/\{[^}]+\}/g, () => ids[i++]!);
    for (const method of Object.keys(methods).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))) {
      for (const credential of credentials) {
        const want = expected(credential, fam, parameters.length > 0);
        if (!want) continue;
        const { status, text } = await call(
          smx,
          method.toUpperCase(),
          path,
          headersFor(credential, fam, a, b.key, smx.adminToken),
          method === 'get' || method === 'delete' ? undefined : (VALID_BODIES[template] ?? {}),
        );
        const leaked =
          credential !== 'otherFamily' ? aSecrets.filter((s) => !path.includes(s) && text.includes(s)) : [];
        const ok = want.includes(status) && leaked.length === 0;
        cells.push({ method, path: template, credential, status, ok });
        if (!ok)
          failures.push(
            `${method.toUpperCase()} ${template} as ${credential}: ${status} (want ${want.join('/')})${leaked.length ? ` leaks ${leaked.join(', ')}` : ''} ${text.slice(0, 160)}`,
          );
      }
    }
  }
  // Body-borne ids: A's challenge verified (even with the right-looking code) through B's key.
  const verify = await call(
    smx,
    'POST',
    '/v1/verify-otp',
    { 'x-smx-api-key': b.key },
    { verificationId: a.verificationId, otp: '000000' },
  );
  cells.push({
    method: 'post',
    path: '/v1/verify-otp (A id in body)',
    credential: 'otherProject',
    status: verify.status,
    ok: verify.status === 404,
  });
  if (verify.status !== 404) failures.push(`verify-otp with A's verificationId through B's key: ${verify.status}`);

  t.log(
    `authorization matrix: ${cells.length} cells over ${new Set(cells.map((c) => `${c.method} ${c.path}`)).size} operations; ${cells.filter((c) => !c.ok).length} wrong`,
  );
  t.deepEqual(failures, []);
  t.true(cells.length > 150, `the matrix covers the route table (${cells.length} cells)`);
  await assertAUntouched(t, smx, a);
});
