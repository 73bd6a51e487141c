/**
 * Idempotency-Key on POST /v1/send-otp (docs/api.md "Idempotency"): a replay returns the first
 * response and sends nothing again, a different body is a mismatch, concurrent requests never make
 * two challenges, 4xx answers are replayed too, keys are scoped to the project, and a malformed
 * key is refused. "Sent once" is counted where it matters: on the phone and in the database.
 */
import test, { type ExecutionContext } from 'ava';
import type { OutboxMessage } from '../../protocol/payloads.js';
import { knexOf } from '../helpers/dump.js';
import {
  createProject,
  linkNewDevice,
  phoneMarker,
  startPhone,
  useSmx,
  type ApiResponse,
  type TestSmx,
} from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const current = useSmx(test, 'idempotency');

/** A project with a key and a running phone that records what it sends; no pacing so a duplicate would show at once. */
async function projectWithPhone(t: ExecutionContext, smx: TestSmx) {
  const { projectId, key } = await createProject(smx);
  const credentials = await linkNewDevice(smx, projectId);
  const patched = await smx.admin('PATCH', `/admin/devices/${credentials.deviceId}`, { sendRatePerMinute: 0 });
  if (patched.status !== 200) throw new Error(`patch device: ${patched.status} ${JSON.stringify(patched.body)}`);
  const received: OutboxMessage[] = [];
  await startPhone(t, credentials, { onSend: (m) => void received.push(m) });
  return { projectId, key, credentials, received };
}

function send(smx: TestSmx, key: string, body: unknown, idempotencyKey: string): Promise<ApiResponse> {
  return smx.api(key, 'POST', '/v1/send-otp', body, { 'idempotency-key': idempotencyKey });
}

async function verificationCount(smx: TestSmx, projectId: string, to: string): Promise<number> {
  const [row] = await knexOf(smx)('verifications').where({ project_id: projectId, to }).count({ n: '*' });
  return Number(row?.n);
}

async function messageCount(smx: TestSmx, projectId: string, to: string): Promise<number> {
  const [row] = await knexOf(smx)('messages').where({ project_id: projectId, to }).count({ n: '*' });
  return Number(row?.n);
}

test('same key and body: the first response again, marked replayed, and only one SMS reaches the phone', async (t) => {
  const smx = current();
  const { projectId, key, received } = await projectWithPhone(t, smx);
  const body = { to: '+14155550101', code: '482913', metadata: { order: 7 } };

  const first = await send(smx, key, body, 'order-7-otp');
  t.is(first.status, 201, JSON.stringify(first.body));
  t.is(first.headers.get('idempotent-replayed'), null, 'the first response is not a replay');
  const { verificationId, messageId } = first.body.data;

  await eventually(async () => received.some((m) => m.id === messageId), 10_000, 'the SMS on the phone');
  await eventually(
    async () => (await smx.api(key, 'GET', `/v1/messages/${messageId}`)).body.data.status === 'DELIVERED',
    10_000,
    'DELIVERED',
  );

  // Same body with its keys in another order is the same request.
  const replay = await send(smx, key, { metadata: { order: 7 }, code: '482913', to: '+14155550101' }, 'order-7-otp');
  t.is(replay.status, 201);
  t.is(replay.headers.get('idempotent-replayed'), 'true');
  t.deepEqual(replay.body, first.body, 'the same body, byte for byte as JSON');
  const again = await send(smx, key, body, 'order-7-otp');
  t.is(again.headers.get('idempotent-replayed'), 'true');
  t.is(again.body.data.verificationId, verificationId);

  // An SMS handed to the phone after everything above: a second copy would have arrived before it.
  const marker = await phoneMarker(smx, key, (id) => received.some((m) => m.id === id));
  const otps = received.filter((m) => m.id !== marker);
  t.is(otps.length, 1, `the phone sent one SMS: ${otps.map((m) => m.id).join(', ')}`);
  t.is(await verificationCount(smx, projectId, '+14155550101'), 1);
  t.is(await messageCount(smx, projectId, '+14155550101'), 1);
  // The replayed challenge is the one and only challenge: it verifies once.
  const verified = await smx.api(key, 'POST', '/v1/verify-otp', { verificationId, otp: '482913' });
  t.true(verified.body.data.verified);
});

test('same key, different body: 422 IDEMPOTENCY_KEY_MISMATCH and nothing new is created', async (t) => {
  const smx = current();
  const { projectId, key } = await projectWithPhone(t, smx);
  const first = await send(smx, key, { to: '+14155550102' }, 'mismatch-key');
  t.is(first.status, 201, JSON.stringify(first.body));
  for (const other of [
    { to: '+14155550103' },
    { to: '+14155550102', codeLength: 8 },
    { to: '+14155550102', metadata: {} },
  ]) {
    const response = await send(smx, key, other, 'mismatch-key');
    t.is(response.status, 422, JSON.stringify(other));
    t.is(response.body.error.code, 'IDEMPOTENCY_KEY_MISMATCH');
    t.is(response.body.error.origin, 'client');
    t.is(response.body.requestId, response.headers.get('x-request-id') ?? undefined);
    t.is(response.headers.get('idempotent-replayed'), null);
  }
  t.is(await verificationCount(smx, projectId, '+14155550103'), 0);
  t.is(await verificationCount(smx, projectId, '+14155550102'), 1);
  // The original is still replayable.
  const replay = await send(smx, key, { to: '+14155550102' }, 'mismatch-key');
  t.is(replay.headers.get('idempotent-replayed'), 'true');
  t.deepEqual(replay.body, first.body);
});

test('concurrent requests with one key make one challenge: one 201, the rest in progress or replays', async (t) => {
  const smx = current();
  const { projectId, key, received } = await projectWithPhone(t, smx);
  const body = { to: '+14155550104' };
  const responses = await Promise.all(Array.from({ length: 12 }, () => send(smx, key, body, 'race-key')));

  const originals = responses.filter((r) => r.status === 201 && r.headers.get('idempotent-replayed') !== 'true');
  const replays = responses.filter((r) => r.headers.get('idempotent-replayed') === 'true');
  const inProgress = responses.filter((r) => r.status === 409);
  t.is(originals.length, 1, `statuses: ${responses.map((r) => r.status).join(', ')}`);
  t.is(originals.length + replays.length + inProgress.length, responses.length, 'nothing else was answered');
  for (const r of inProgress) {
    t.is(r.body.error.code, 'IDEMPOTENCY_IN_PROGRESS');
    t.is(r.body.error.origin, 'client');
  }
  const verificationId = originals[0]!.body.data.verificationId;
  for (const r of replays) {
    t.is(r.status, 201);
    t.deepEqual(r.body, originals[0]!.body);
  }

  t.is(await verificationCount(smx, projectId, '+14155550104'), 1, 'one challenge in the database');
  t.is(await messageCount(smx, projectId, '+14155550104'), 1, 'one message in the database');
  // Once the first has finished, every retry is a replay.
  const later = await send(smx, key, body, 'race-key');
  t.is(later.headers.get('idempotent-replayed'), 'true');
  t.is(later.body.data.verificationId, verificationId);

  const messageId = originals[0]!.body.data.messageId;
  await eventually(
    async () => (await smx.api(key, 'GET', `/v1/messages/${messageId}`)).body.data.status === 'DELIVERED',
    10_000,
    'DELIVERED',
  );
  await phoneMarker(smx, key, (id) => received.some((m) => m.id === id));
  t.is(received.filter((m) => m.to === '+14155550104').length, 1, 'one SMS on the phone');
});

test('a 4xx answer is stored and replayed, even after the cause went away', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx);
  const body = { to: '+14155550105' };
  const first = await send(smx, key, body, 'no-device-yet');
  t.is(first.status, 409, JSON.stringify(first.body));
  t.is(first.body.error.code, 'DEVICE_NOT_LINKED');
  t.is(first.headers.get('idempotent-replayed'), null);

  // A device is linked now, so running the request anew would succeed; the key replays the 409.
  const credentials = await linkNewDevice(smx, projectId);
  t.truthy(credentials.deviceId);
  const replay = await send(smx, key, body, 'no-device-yet');
  t.is(replay.status, 409);
  t.is(replay.headers.get('idempotent-replayed'), 'true');
  t.deepEqual(replay.body, first.body, 'the same body, request id included');
  t.is(await verificationCount(smx, projectId, '+14155550105'), 0);

  // A validation failure is a 4xx too.
  const invalid = await send(smx, key, { to: '+14155550105', ttl: 1 }, 'invalid-body');
  t.is(invalid.status, 400);
  const invalidReplay = await send(smx, key, { to: '+14155550105', ttl: 1 }, 'invalid-body');
  t.is(invalidReplay.status, 400);
  t.is(invalidReplay.headers.get('idempotent-replayed'), 'true');
  t.deepEqual(invalidReplay.body, invalid.body);

  // Without the key the same request runs anew and succeeds.
  const fresh = await smx.api(key, 'POST', '/v1/send-otp', body);
  t.is(fresh.status, 201, JSON.stringify(fresh.body));
});

test('keys are scoped to the project: one key in two projects gives two independent results', async (t) => {
  const smx = current();
  const a = await projectWithPhone(t, smx);
  const b = await projectWithPhone(t, smx);
  const body = { to: '+14155550106' };
  const inA = await send(smx, a.key, body, 'shared-key');
  const inB = await send(smx, b.key, body, 'shared-key');
  t.is(inA.status, 201, JSON.stringify(inA.body));
  t.is(inB.status, 201, JSON.stringify(inB.body));
  t.is(inB.headers.get('idempotent-replayed'), null, "B's first use is not a replay of A's");
  t.not(inA.body.data.verificationId, inB.body.data.verificationId);
  t.is(inA.body.data.deviceId, a.credentials.deviceId);
  t.is(inB.body.data.deviceId, b.credentials.deviceId);
  // A different body under the same key in B is judged against B's request only.
  const bOther = await send(smx, b.key, { to: '+14155550107' }, 'shared-key');
  t.is(bOther.status, 422);
  const aReplay = await send(smx, a.key, body, 'shared-key');
  t.is(aReplay.headers.get('idempotent-replayed'), 'true');
  t.is(aReplay.body.data.verificationId, inA.body.data.verificationId);
  t.is(await verificationCount(smx, a.projectId, '+14155550106'), 1);
  t.is(await verificationCount(smx, b.projectId, '+14155550106'), 1);
});

test('a key that is not 1-255 printable ASCII is 400 VALIDATION_FAILED and nothing is sent', async (t) => {
  const smx = current();
  const { projectId, key } = await projectWithPhone(t, smx);
  const body = { to: '+14155550108' };
  for (const bad of ['x'.repeat(256), 'tab\there', 'caf\u00e9', '']) {
    const response = await send(smx, key, body, bad);
    t.is(response.status, 400, `${JSON.stringify(bad.slice(0, 20))}: ${JSON.stringify(response.body)}`);
    t.is(response.body.error.code, 'VALIDATION_FAILED');
    t.is(response.body.error.details[0]?.field, 'Idempotency-Key');
  }
  t.is(await verificationCount(smx, projectId, '+14155550108'), 0);
  // The limits themselves are fine: 255 characters, and every printable character.
  const longest = await send(smx, key, body, 'k'.repeat(255));
  t.is(longest.status, 201, JSON.stringify(longest.body));
  const printable = await send(smx, key, body, ' !"#$%&\'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~');
  t.is(printable.status, 201, JSON.stringify(printable.body));
  t.is(await verificationCount(smx, projectId, '+14155550108'), 2);
});

test('a replay is the first body byte for byte (keys in the same order)', async (t) => {
  const smx = current();
  const { key } = await projectWithPhone(t, smx);
  const post = async () => {
    const response = await fetch(`${smx.url}/v1/send-otp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-smx-api-key': key, 'idempotency-key': 'bytes-1' },
      body: JSON.stringify({ to: '+14155550109', metadata: { zeta: 1, alpha: 2 } }),
    });
    return { replayed: response.headers.get('idempotent-replayed'), text: await response.text() };
  };
  const first = await post();
  const replay = await post();
  t.is(replay.replayed, 'true');
  t.is(replay.text, first.text);
});
