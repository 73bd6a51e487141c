/**
 * A broker node outage in split roles (issue 17): `smx broker`, `smx api` and `smx worker` as
 * processes, send-otp at a steady rate, the broker killed (SIGKILL) for a few seconds and started
 * again. The broker is not on the accept path: every request is answered 201 within the bound,
 * and every accepted OTP reaches the phone exactly once after the broker is back.
 */
import test from 'ava';
import { ReferenceDevice } from '../../device/reference-device.js';
import { Deployment } from '../helpers/deployment.js';
import { exited } from '../helpers/processes.js';
import { eventually } from '../helpers/eventually.js';

const RATE_PER_SECOND = 10;
const OUTAGE_MS = 4000;
const ANSWER_BOUND_MS = 3000;

test('the broker node killed for 4 s under steady send-otp: every answer a 201 within the bound, every OTP delivered once after it is back', async (t) => {
  t.timeout(120_000);
  const deployment = await Deployment.create(t, 'broker-outage');
  await deployment.migrate();
  let broker = deployment.start('broker');
  deployment.start('api');
  deployment.start('worker');
  await deployment.ready();
  const { projectId, key } = await deployment.project('broker outage');
  const credentials = await deployment.linkPhone(projectId, 'phone');
  const call = async (path: string, body: unknown, headers: Record<string, string>) => {
    const started = Date.now();
    const answer = await deployment.call('POST', path, body, headers);
    return { ...answer, ms: Date.now() - started };
  };
  const received = new Map<string, number>();
  let copies = 0;
  const phone = new ReferenceDevice({
    credentials,
    reconnectPeriodMs: 250,
    report: { sent: true, delivered: true },
    onSend: (m) => void received.set(m.id, (received.get(m.id) ?? 0) + 1),
    log: (line) => {
      if (line.startsWith('skipped ')) copies++;
    },
  });
  t.teardown(() => phone.stop());
  await phone.start();

  const total = Math.round((RATE_PER_SECOND * (OUTAGE_MS + 5000)) / 1000);
  const killAt = RATE_PER_SECOND * 2;
  const restartAt = killAt + Math.round((RATE_PER_SECOND * OUTAGE_MS) / 1000);
  const answers: Array<Promise<{ status: number; body: any; ms: number }>> = [];
  for (let i = 0; i < total; i++) {
    if (i === killAt) broker.kill('SIGKILL');
    if (i === restartAt) {
      await exited(broker);
      broker = deployment.start('broker');
    }
    answers.push(call('/v1/send-otp', { to: `+49151${String(40_000_000 + i)}` }, { 'x-smx-api-key': key }));
    await new Promise((resolve) => setTimeout(resolve, 1000 / RATE_PER_SECOND));
  }
  const outcomes = await Promise.all(answers);
  const accepted = outcomes.filter((o) => o.status === 201).map((o) => o.body.data.messageId as string);
  t.deepEqual(
    outcomes.filter((o) => o.status !== 201).map((o) => `${o.status} ${JSON.stringify(o.body)}`),
    [],
    'the broker is not on the accept path: every request is accepted',
  );
  t.deepEqual(
    outcomes.filter((o) => o.ms > ANSWER_BOUND_MS).map((o) => o.ms),
    [],
    `every answer within ${ANSWER_BOUND_MS} ms`,
  );
  await eventually(
    async () => accepted.every((messageId) => received.has(messageId)),
    60_000,
    'every accepted OTP at the phone',
  ).catch((error: Error) => {
    throw new Error(
      `${error.message}: ${accepted.filter((m) => !received.has(m)).length} of ${accepted.length} missing`,
    );
  });
  // An SMS handed to the phone after every OTP: a second copy of any of them would have arrived before it.
  const marker = (await call('/v1/send-sms', { to: '+4915199999990', message: 'marker' }, { 'x-smx-api-key': key }))
    .body.data.messageId as string;
  await eventually(() => received.has(marker), 30_000, 'the marker SMS at the phone');
  received.delete(marker);
  const twice = [...received.values()].filter((n) => n > 1).length;
  t.log(
    `${outcomes.length} requests during a ${OUTAGE_MS} ms broker outage: ${accepted.length} × 201 (slowest ${Math.max(...outcomes.map((o) => o.ms))} ms); phone sent ${received.size}, ${twice} twice; ${copies} redelivered copies skipped by the phone`,
  );
  t.is(twice, 0, 'no SMS sent twice');
  t.is(received.size, accepted.length);
});
