/**
 * MessageTransitions against real PostgreSQL (the migrated schema, in a schema of this file's
 * own): every status change after QUEUED, never backwards, times in order (dispatched <= sent <=
 * delivered), rows another statement holds skipped, and the hourly counters and the outbox's
 * webhook events written by the same statement as the change (all of it or none of it).
 */
import { randomBytes } from 'node:crypto';
import test from 'ava';
import type { Knex } from 'knex';
import { Registry } from 'prom-client';
import { createDatabase, migrateLatest } from '../../core/db.js';
import { MessageTransitions } from '../../core/delivery/transitions.js';
import type { MessageChanged } from '../../core/message-changed.js';
import type { MessageKind, MessageStatus } from '../../core/services/messages.js';
import { StatsService } from '../../core/services/stats.js';
import { SmxMetrics } from '../../core/smx-metrics.js';
import type { OutboxRelay } from '../../core/outbox.js';
import { isolationId, PG_URL } from '../helpers/smx.js';

const schema = `u_${isolationId('unit/transitions')}`;
const db: Knex = createDatabase({ url: PG_URL, schema, dataDir: ':memory:', poolMax: 6 });
let pokes = 0;
const relay = { poke: () => void pokes++ } as unknown as OutboxRelay;
const transitions = new MessageTransitions(db, new StatsService(db), relay, new SmxMetrics(new Registry()));

/** A marker the outbox refuses (see before): a change carrying it makes its statement fail. */
const BOOM = 'BOOM';

test.before(async () => {
  await db.raw('drop schema if exists ?? cascade', [schema]);
  await migrateLatest(db, schema);
  // Lets a test make the outbox insert fail, to see the change and its counters roll back with it.
  await db.raw(`alter table outbox add constraint refuses_boom check (position('${BOOM}' in payload::text) = 0)`);
});
test.after.always(async () => {
  await db.raw('drop schema if exists ?? cascade', [schema]);
  await db.destroy();
});

const rand = () => randomBytes(6).toString('hex');
const MINUTE = 60_000;

/** A project with its active phone (and a standby one); each test gets its own. */
async function project(): Promise<{ projectId: string; deviceId: string; otherDeviceId: string }> {
  const now = new Date();
  const projectId = `prj_${rand()}`;
  await db('projects').insert({ id: projectId, name: 'unit', settings: '{}', created_at: now, updated_at: now });
  const deviceId = `dev_${rand()}`;
  const otherDeviceId = `dev_${rand()}`;
  await db('devices').insert([
    {
      id: deviceId,
      project_id: projectId,
      name: 'phone',
      secret_hash: rand(),
      status: 'active',
      linked_at: now,
      updated_at: now,
    },
    {
      id: otherDeviceId,
      project_id: projectId,
      name: 'other',
      secret_hash: rand(),
      status: 'standby',
      linked_at: now,
      updated_at: now,
    },
  ]);
  return { projectId, deviceId, otherDeviceId };
}

interface MessageRow {
  id: string;
  kind: MessageKind;
  status: MessageStatus;
  error: string | null;
  body: string | null;
  device_id: string | null;
  created_at: Date;
  dispatched_at: Date | null;
  sent_at: Date | null;
  delivered_at: Date | null;
  failed_at: Date | null;
}

/** Inserts a message of the project's phone (QUEUED, sms, with a callback URL unless told otherwise). */
async function message(
  p: { projectId: string; deviceId: string },
  over: Record<string, unknown> = {},
): Promise<string> {
  const now = Date.now();
  const id = (over.id as string | undefined) ?? `msg_${rand()}`;
  await db('messages').insert({
    id,
    project_id: p.projectId,
    kind: 'sms',
    device_id: p.deviceId,
    to: '+4915112345678',
    body: 'hello',
    status: 'QUEUED',
    callback_url: 'https://example.test/cb',
    created_at: new Date(now - MINUTE),
    expires_at: new Date(now + 60 * MINUTE),
    updated_at: new Date(now - MINUTE),
    ...over,
  });
  return id;
}

const row = async (id: string): Promise<MessageRow> => db('messages').where({ id }).first();
const statusOf = async (id: string) => (await row(id)).status;

/** The project's hourly counters, added up over shards and hours. */
async function counters(projectId: string): Promise<Record<string, number>> {
  const rows: Array<{ metric: string; n: number }> = await db('stats_hourly')
    .select('metric', db.raw('sum(count)::int as n'))
    .where({ project_id: projectId })
    .groupBy('metric');
  return Object.fromEntries(rows.map((r) => [r.metric, r.n]));
}

/** The webhook events in the outbox for the project, as `id status error`, in the order they were written. */
async function outbox(projectId: string): Promise<string[]> {
  const rows: Array<{ payload: Array<{ id: string; projectId: string; status: string; error: string | null }> }> =
    await db('outbox').select('payload').orderBy('id');
  return rows.flatMap((r) =>
    r.payload.filter((c) => c.projectId === projectId).map((c) => `${c.id} ${c.status}${c.error ? ` ${c.error}` : ''}`),
  );
}

/** What the tests compare of the returned MessageChanged events. */
const ids = (changes: MessageChanged[]) => changes.map((c) => c.id);
const moves = (changes: MessageChanged[]) => changes.map(({ id, status }) => ({ id, status }));
const cancels = (changes: Array<MessageChanged & { was: string }>) =>
  changes.filter((c) => c.was === 'DISPATCHED').map((c) => ({ id: c.id, deviceId: c.deviceId }));

test('dispatched: QUEUED moves to DISPATCHED at the given time, with its outbox event; any other status is left and not returned', async (t) => {
  const p = await project();
  const queued = [await message(p), await message(p)];
  const sent = await message(p, { status: 'SENT', dispatched_at: new Date(), sent_at: new Date() });
  const failed = await message(p, { status: 'FAILED', error: 'X' });
  const at = new Date(Date.now() - 1_000);
  const before = pokes;
  const moved = ids(await transitions.dispatched([...queued, sent, failed, 'msg_unknown'], at));
  t.deepEqual(moved.sort(), [...queued].sort());
  for (const id of queued) {
    const r = await row(id);
    t.is(r.status, 'DISPATCHED');
    t.is(r.dispatched_at?.getTime(), at.getTime());
  }
  t.is(await statusOf(sent), 'SENT');
  t.is(await statusOf(failed), 'FAILED');
  t.deepEqual((await outbox(p.projectId)).sort(), queued.map((id) => `${id} DISPATCHED`).sort());
  t.deepEqual(await counters(p.projectId), {}, 'a hand-over is not counted');
  t.true(pokes > before, 'the relay was told');

  t.deepEqual(ids(await transitions.dispatched(queued, new Date())), [], 'a second hand-over changes nothing');
  t.is((await row(queued[0]!)).dispatched_at?.getTime(), at.getTime());
  t.deepEqual(ids(await transitions.dispatched([])), []);
});

test('dispatched skips a row another transaction holds (no wait) and moves it once the lock is gone', async (t) => {
  const p = await project();
  const free = await message(p);
  const held = await message(p);
  const trx = await db.transaction();
  try {
    await trx('messages').where({ id: held }).forUpdate().select('id');
    let timer: NodeJS.Timeout | undefined;
    const moved = await Promise.race([
      transitions.dispatched([free, held]),
      new Promise<never>(
        (_, reject) => (timer = setTimeout(() => reject(new Error('dispatched waited for the lock')), 5_000)),
      ),
    ]).finally(() => clearTimeout(timer));
    t.deepEqual(ids(moved), [free], 'the held row is skipped, not waited for');
    t.is(await statusOf(held), 'QUEUED');
    t.deepEqual(await outbox(p.projectId), [`${free} DISPATCHED`], 'no event for the skipped row');
  } finally {
    await trx.commit();
  }
  t.deepEqual(ids(await transitions.dispatched([held])), [held]);
});

test('failed: every not-final message becomes FAILED with the error, its body wiped, counted per kind; final ones stay', async (t) => {
  const p = await project();
  const queued = await message(p);
  const dispatched = await message(p, {
    kind: 'otp',
    status: 'DISPATCHED',
    dispatched_at: new Date(),
    body: 'sealed',
    body_sealed: true,
  });
  const sent = await message(p, { status: 'SENT', dispatched_at: new Date(), sent_at: new Date() });
  const delivered = await message(p, { status: 'DELIVERED', delivered_at: new Date() });
  const expired = await message(p, { status: 'EXPIRED', error: 'EXPIRED' });
  const at = new Date();
  t.is((await transitions.failed([queued, dispatched, sent, delivered, expired], 'NO_ROUTE', at)).length, 3);
  for (const id of [queued, dispatched, sent]) {
    const r = await row(id);
    t.like(r, { status: 'FAILED', error: 'NO_ROUTE', body: null });
    t.is(r.failed_at?.getTime(), at.getTime());
  }
  t.like(await row(delivered), { status: 'DELIVERED', error: null, body: 'hello' });
  t.like(await row(expired), { status: 'EXPIRED', error: 'EXPIRED' });
  t.deepEqual(await counters(p.projectId), { 'sms.failed': 2, 'otp.failed': 1 });
  t.deepEqual(
    (await outbox(p.projectId)).sort(),
    [queued, dispatched, sent].map((id) => `${id} FAILED NO_ROUTE`).sort(),
  );
  t.is((await transitions.failed([queued], 'AGAIN')).length, 0, 'FAILED is final');
  t.is((await transitions.failed([], 'NOTHING')).length, 0);
});

test('withdrawn: only QUEUED and DISPATCHED become FAILED with the reason, not counted; the DISPATCHED ones come back with their phone', async (t) => {
  const p = await project();
  const queued = await message(p, { kind: 'otp' });
  const dispatched = await message(p, { kind: 'otp', status: 'DISPATCHED', dispatched_at: new Date() });
  const sent = await message(p, { kind: 'otp', status: 'SENT', dispatched_at: new Date(), sent_at: new Date() });
  const cancel = cancels(await transitions.withdrawn([queued, dispatched, sent], 'VERIFIED'));
  t.deepEqual(cancel, [{ id: dispatched, deviceId: p.deviceId }]);
  t.like(await row(queued), { status: 'FAILED', error: 'VERIFIED', body: null });
  t.like(await row(dispatched), { status: 'FAILED', error: 'VERIFIED' });
  t.like(await row(sent), { status: 'SENT', error: null }, 'the phone already sent it: too late to withdraw');
  t.deepEqual(await counters(p.projectId), {}, 'nothing went wrong with the delivery');
  t.deepEqual(
    (await outbox(p.projectId)).sort(),
    [`${queued} FAILED VERIFIED`, `${dispatched} FAILED VERIFIED`].sort(),
  );
});

test("expired: QUEUED and DISPATCHED become EXPIRED; an SMS's expiry is counted, an OTP message's is not (its verification's is)", async (t) => {
  const p = await project();
  const sms = await message(p);
  const otp = await message(p, { kind: 'otp', status: 'DISPATCHED', dispatched_at: new Date() });
  const sent = await message(p, { status: 'SENT', dispatched_at: new Date(), sent_at: new Date() });
  t.is((await transitions.expired([sms, otp, sent])).length, 2);
  t.like(await row(sms), { status: 'EXPIRED', error: 'EXPIRED', body: null });
  t.like(await row(otp), { status: 'EXPIRED' });
  t.is(await statusOf(sent), 'SENT');
  t.deepEqual(await counters(p.projectId), { 'sms.expired': 1 });
  t.deepEqual((await outbox(p.projectId)).sort(), [`${sms} EXPIRED EXPIRED`, `${otp} EXPIRED EXPIRED`].sort());
});

// Serial: expiredDue looks at every message of the schema (the other tests' expire in an hour).
test.serial(
  'expiredDue: QUEUED past its TTL expires; DISPATCHED only after the grace (its report may be on the way)',
  async (t) => {
    const p = await project();
    const now = new Date();
    const ago = (ms: number) => new Date(now.getTime() - ms);
    const due = await message(p, { expires_at: ago(1) });
    const notYet = await message(p, { expires_at: new Date(now.getTime() + MINUTE) });
    const inGrace = await message(p, { status: 'DISPATCHED', dispatched_at: ago(5 * MINUTE), expires_at: ago(30_000) });
    const pastGrace = await message(p, {
      status: 'DISPATCHED',
      dispatched_at: ago(5 * MINUTE),
      expires_at: ago(61_000),
    });
    const sentLate = await message(p, {
      status: 'SENT',
      dispatched_at: ago(5 * MINUTE),
      sent_at: ago(MINUTE),
      expires_at: ago(2 * MINUTE),
    });
    t.is((await transitions.expiredDue(now, 60_000)).length, 2);
    t.is(await statusOf(due), 'EXPIRED');
    t.is(await statusOf(notYet), 'QUEUED');
    t.is(await statusOf(inGrace), 'DISPATCHED');
    t.is(await statusOf(pastGrace), 'EXPIRED');
    t.is(await statusOf(sentLate), 'SENT', "sent before it expired: the phone's delivery report decides");
    t.deepEqual(await counters(p.projectId), { 'sms.expired': 2 });
    t.is((await transitions.expiredDue(now, 60_000)).length, 0, 'nothing left to expire');
  },
);

test('reported: sent then delivered moves forward once; late, repeated and backward reports change nothing and count nothing', async (t) => {
  const p = await project();
  const id = await message(p, { status: 'DISPATCHED', dispatched_at: new Date(Date.now() - 10_000) });
  const t1 = new Date(Date.now() - 8_000);
  const t2 = new Date(Date.now() - 5_000);
  t.deepEqual(moves(await transitions.reported(p.deviceId, [{ id, state: 'sent', at: t1.toISOString() }])), [
    { id, status: 'SENT' },
  ]);
  t.deepEqual(moves(await transitions.reported(p.deviceId, [{ id, state: 'delivered', at: t2.toISOString() }])), [
    { id, status: 'DELIVERED' },
  ]);
  const counted = { 'sms.sent': 1, 'sms.delivered': 1 };
  t.deepEqual(await counters(p.projectId), counted);

  t.deepEqual(moves(await transitions.reported(p.deviceId, [{ id, state: 'sent' }])), [], 'a late sent is backwards');
  t.deepEqual(moves(await transitions.reported(p.deviceId, [{ id, state: 'delivered' }])), [], 'a repeat');
  t.deepEqual(
    moves(await transitions.reported(p.deviceId, [{ id, state: 'failed', error: 'LATE' }])),
    [],
    'DELIVERED is final: no failure after it',
  );
  const r = await row(id);
  t.like(r, { status: 'DELIVERED', error: null });
  t.is(r.sent_at?.getTime(), t1.getTime());
  t.is(r.delivered_at?.getTime(), t2.getTime());
  t.deepEqual(await counters(p.projectId), counted);
  t.deepEqual(
    await outbox(p.projectId),
    [`${id} SENT`, `${id} DELIVERED`],
    'one event per change, none for the refused reports',
  );
});

test('reported: a failure may follow SENT (a failed delivery report); a report from another phone, or for an unknown id, moves nothing', async (t) => {
  const p = await project();
  const id = await message(p, {
    kind: 'otp',
    status: 'SENT',
    dispatched_at: new Date(Date.now() - 2_000),
    sent_at: new Date(Date.now() - 1_000),
    body: 'sealed',
    body_sealed: true,
  });
  t.deepEqual(
    moves(await transitions.reported(p.otherDeviceId, [{ id, state: 'failed', error: 'FORGED' }])),
    [],
    "not the message's phone",
  );
  t.deepEqual(moves(await transitions.reported(p.deviceId, [{ id: 'msg_nobody', state: 'sent' }])), []);
  t.is(await statusOf(id), 'SENT');
  t.deepEqual(moves(await transitions.reported(p.deviceId, [{ id, state: 'failed', error: 'RADIO_OFF' }])), [
    { id, status: 'FAILED' },
  ]);
  t.like(await row(id), { status: 'FAILED', error: 'RADIO_OFF', body: null });
  t.deepEqual(await counters(p.projectId), { 'otp.failed': 1 });
  t.deepEqual(await outbox(p.projectId), [`${id} FAILED RADIO_OFF`]);
  t.deepEqual(
    moves(await transitions.reported(p.deviceId, [{ id, state: 'failed', error: 'AGAIN' }])),
    [],
    'FAILED is final',
  );
});

test('reportedByDevices: the reports of several phones in one statement; each moves only the messages routed to its own phone', async (t) => {
  const p = await project();
  const other = { projectId: p.projectId, deviceId: p.otherDeviceId };
  const dispatched = { status: 'DISPATCHED', dispatched_at: new Date(Date.now() - 10_000) };
  const mine = await message(p, dispatched);
  const theirs = await message(other, dispatched);
  const receivedAt = new Date(Date.now() - 1_000);
  const changes = await transitions.reportedByDevices([
    { deviceId: p.deviceId, updates: [{ id: mine, state: 'sent' }], receivedAt },
    // Each phone also claims the other's message: refused, in the same statement.
    { deviceId: p.otherDeviceId, updates: [{ id: mine, state: 'failed', error: 'FORGED' }], receivedAt },
    { deviceId: p.otherDeviceId, updates: [{ id: theirs, state: 'delivered' }], receivedAt },
    { deviceId: p.deviceId, updates: [{ id: theirs, state: 'failed', error: 'FORGED' }], receivedAt },
  ]);
  t.deepEqual(
    changes
      .map((c) => `${c.id === mine ? 'mine' : 'theirs'} ${c.deviceId === p.deviceId ? 'device' : 'other'} ${c.status}`)
      .sort(),
    ['mine device SENT', 'theirs other DELIVERED'],
  );
  t.like(await row(mine), { status: 'SENT', error: null });
  t.like(await row(theirs), { status: 'DELIVERED', error: null });
  t.is(
    (await row(mine)).sent_at?.getTime(),
    receivedAt.getTime(),
    "an update without a time takes its report's receipt",
  );
  t.deepEqual(await counters(p.projectId), { 'sms.sent': 2, 'sms.delivered': 1 });
});

test('reported: a jump straight to DELIVERED counts the message sent too and writes both events; one batch may carry sent and delivered', async (t) => {
  const p = await project();
  const jump = await message(p, { status: 'DISPATCHED', dispatched_at: new Date(Date.now() - 10_000) });
  const both = await message(p, { status: 'DISPATCHED', dispatched_at: new Date(Date.now() - 10_000) });
  const sentAt = new Date(Date.now() - 6_000);
  const deliveredAt = new Date(Date.now() - 3_000);
  const changed = moves(
    await transitions.reported(p.deviceId, [
      { id: jump, state: 'delivered', at: deliveredAt.toISOString() },
      { id: both, state: 'sent', at: sentAt.toISOString() },
      { id: both, state: 'delivered', at: deliveredAt.toISOString() },
      { id: both, state: 'failed', error: 'AFTER_DELIVERED' },
    ]),
  );
  t.deepEqual(
    changed.sort((a, b) => a.id.localeCompare(b.id)),
    [
      { id: jump, status: 'DELIVERED' as const },
      { id: both, status: 'DELIVERED' as const },
    ].sort((a, b) => a.id.localeCompare(b.id)),
  );
  t.is((await row(both)).sent_at?.getTime(), sentAt.getTime(), 'the time it was sent, from the same batch');
  t.is(
    (await row(jump)).sent_at?.getTime(),
    deliveredAt.getTime(),
    'never reported sent: sent when it was delivered at the latest',
  );
  t.deepEqual(await counters(p.projectId), { 'sms.sent': 2, 'sms.delivered': 2 });
  t.deepEqual(
    (await outbox(p.projectId)).sort(),
    [`${jump} SENT`, `${jump} DELIVERED`, `${both} SENT`, `${both} DELIVERED`].sort(),
  );
});

test("reported: times never run backwards whatever the phone's clock says (dispatched <= sent <= delivered)", async (t) => {
  const p = await project();
  const receivedAt = new Date();
  // The dispatcher marked it at D; the phone's clock is 30 s behind.
  const dispatchedAt = new Date(receivedAt.getTime() - 5_000);
  const behind = await message(p, { status: 'DISPATCHED', dispatched_at: dispatchedAt });
  moves(
    await transitions.reported(
      p.deviceId,
      [{ id: behind, state: 'sent', at: new Date(dispatchedAt.getTime() - 30_000).toISOString() }],
      receivedAt,
    ),
  );
  moves(
    await transitions.reported(
      p.deviceId,
      [{ id: behind, state: 'delivered', at: new Date(dispatchedAt.getTime() - 29_000).toISOString() }],
      receivedAt,
    ),
  );
  const b = await row(behind);
  t.is(b.status, 'DELIVERED');
  t.is(b.sent_at!.getTime(), dispatchedAt.getTime(), 'not before it was handed over');
  t.true(b.delivered_at!.getTime() >= b.sent_at!.getTime());

  // A report that overtook the dispatcher's own mark: handed over by the time it was sent.
  const overtaken = await message(p);
  const sentAt = new Date(receivedAt.getTime() - 2_000);
  t.deepEqual(
    moves(
      await transitions.reported(p.deviceId, [{ id: overtaken, state: 'sent', at: sentAt.toISOString() }], receivedAt),
    ),
    [{ id: overtaken, status: 'SENT' }],
  );
  const o = await row(overtaken);
  t.is(o.dispatched_at?.getTime(), sentAt.getTime());
  t.is(o.sent_at?.getTime(), sentAt.getTime());
  t.deepEqual(ids(await transitions.dispatched([overtaken])), [], 'the late mark finds it SENT and leaves it');

  // The same from a phone whose clock is behind: not handed over, sent or delivered before it was created.
  const early = await message(p);
  const createdAt = (await row(early)).created_at;
  moves(
    await transitions.reported(
      p.deviceId,
      [
        { id: early, state: 'sent', at: new Date(createdAt.getTime() - 3_000).toISOString() },
        { id: early, state: 'delivered', at: new Date(createdAt.getTime() - 4_000).toISOString() },
      ],
      receivedAt,
    ),
  );
  const e = await row(early);
  t.is(e.status, 'DELIVERED');
  t.is(e.dispatched_at?.getTime(), createdAt.getTime(), 'created <= dispatched');
  t.is(e.sent_at?.getTime(), createdAt.getTime(), 'dispatched <= sent');
  t.is(e.delivered_at?.getTime(), createdAt.getTime(), 'sent <= delivered');

  // A time from the future (beyond 5 minutes) or an unreadable one is replaced by the receipt time.
  const future = await message(p, { status: 'DISPATCHED', dispatched_at: new Date(receivedAt.getTime() - 1_000) });
  moves(
    await transitions.reported(
      p.deviceId,
      [{ id: future, state: 'sent', at: new Date(receivedAt.getTime() + 3_600_000).toISOString() }],
      receivedAt,
    ),
  );
  t.is((await row(future)).sent_at?.getTime(), receivedAt.getTime());
  const garbled = await message(p, { status: 'DISPATCHED', dispatched_at: new Date(receivedAt.getTime() - 1_000) });
  moves(await transitions.reported(p.deviceId, [{ id: garbled, state: 'sent', at: 'yesterday' }], receivedAt));
  t.is((await row(garbled)).sent_at?.getTime(), receivedAt.getTime());
});

test('the change, its counters and its outbox events are one: when the outbox insert fails nothing changes', async (t) => {
  const p = await project();
  // reported(): one statement for two messages, one of whose events the outbox refuses.
  const fine = await message(p, { status: 'DISPATCHED', dispatched_at: new Date(Date.now() - 5_000) });
  const doomed = await message(p, { status: 'DISPATCHED', dispatched_at: new Date(Date.now() - 5_000) });
  await t.throwsAsync(
    transitions.reported(p.deviceId, [
      { id: fine, state: 'delivered' },
      { id: doomed, state: 'failed', error: BOOM },
    ]),
    { message: /refuses_boom/ },
  );
  t.is(await statusOf(fine), 'DISPATCHED', 'the other message of the statement did not move either');
  t.is(await statusOf(doomed), 'DISPATCHED');

  // failed(): a transaction of the update, the counters and the outbox.
  await t.throwsAsync(transitions.failed([fine], BOOM), { message: /refuses_boom/ });
  t.like(await row(fine), { status: 'DISPATCHED', error: null, body: 'hello' });

  // dispatched(): one statement.
  const queued = await message(p, { id: `msg_${BOOM}_${rand()}` });
  await t.throwsAsync(transitions.dispatched([queued]), { message: /refuses_boom/ });
  t.like(await row(queued), { status: 'QUEUED', dispatched_at: null });

  t.deepEqual(await counters(p.projectId), {}, 'no counter moved');
  t.deepEqual(await outbox(p.projectId), [], 'no event was written');
});

test('a change nobody listens to (no callback URL, no webhook endpoint) writes no outbox row, and still counts', async (t) => {
  const p = await project();
  const quiet = await message(p, {
    callback_url: null,
    status: 'DISPATCHED',
    dispatched_at: new Date(Date.now() - 1_000),
  });
  t.deepEqual(moves(await transitions.reported(p.deviceId, [{ id: quiet, state: 'sent' }])), [
    { id: quiet, status: 'SENT' },
  ]);
  t.deepEqual(await counters(p.projectId), { 'sms.sent': 1 });
  const [{ n }] = await db('outbox')
    .whereRaw(`payload::text like ?`, [`%${quiet}%`])
    .count({ n: '*' });
  t.is(Number(n), 0);
});
