/**
 * A request whose accept committed although its client got a 503 (the database connection dropped
 * after the commit, before the answer came back) is replayed on a retry with the same
 * Idempotency-Key: one challenge, one SMS at the phone. The answer is committed with the accept.
 */
import test from 'ava';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { createProject, linkNewDevice, phoneMarker, startPhone, useSmx, PG_URL } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

const pgPort = Number(new URL(PG_URL).port || 5432);
let proxy: FaultProxy;
test.before(async () => {
  proxy = await FaultProxy.start(pgPort);
});
test.after.always(async () => {
  await proxy?.close();
});

const databaseUrl = () => {
  const url = new URL(PG_URL);
  url.port = String(proxy.port);
  return url.toString();
};
// The env is read when the first test starts SMX (after the proxy is up).
const current = useSmx(test, 'idempotency-commit', {
  get env() {
    return { DATABASE_URL: databaseUrl() };
  },
} as never);

test('an accept that committed before its connection dropped answers 503, and the retry with its key replays the 201: one SMS', async (t) => {
  const smx = current();
  const { projectId, key } = await createProject(smx, 'Ambiguous commit');
  const phone = await startPhone(t, await linkNewDevice(smx, projectId, 'Phone'));
  const received: string[] = [];
  phone.on('sms', (m: { id: string }) => received.push(m.id));
  const headers = { 'idempotency-key': 'order-4711-otp' };

  const sprung = proxy.dropAfterRequest('insert into "verifications"', 300);
  const first = await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345678' }, headers);
  await sprung;
  t.is(first.status, 503, `the client saw a failure: ${JSON.stringify(first.body)}`);
  t.is(first.body.error.code, 'UNAVAILABLE');

  const retry = await eventually(
    async () => {
      const r = await smx.api(key, 'POST', '/v1/send-otp', { to: '+4915112345678' }, headers);
      return r.status === 201 ? r : undefined;
    },
    20_000,
    'the retry to succeed',
  );
  t.is(retry.headers.get('idempotent-replayed'), 'true', 'the retry is a replay of the committed accept');

  const listed = await smx.api(key, 'GET', '/v1/messages?limit=10');
  t.is(listed.body.data.messages.length, 1, 'one message was created');
  t.is(listed.body.data.messages[0].messageId, retry.body.data.messageId);
  // An SMS handed to the phone after the OTP: a second copy of the OTP would have arrived before it.
  const marker = await phoneMarker(smx, key, (id) => received.includes(id));
  t.deepEqual(
    received.filter((id) => id !== marker),
    [retry.body.data.messageId],
    'exactly one SMS reached the phone',
  );
});
