/**
 * Status reports before and around SQL: which updates are unusable, and what happens when a
 * group's statement fails anyway (each report alone, its error without the SQL). The statement
 * itself is a stand-in here; test/e2e/status-reports.test.ts drives the real one over MQTT.
 */
import test from 'ava';
import { DatabaseFailure, StatusReports, statusUpdateProblem } from '../../core/delivery/status-reports.js';
import { newId } from '../../core/ids.js';
import { createLogger } from '../../core/logger.js';
import type { DeviceReport, MessageTransitions } from '../../core/delivery/transitions.js';
import type { StatusUpdate } from '../../core/services/messages.js';
import { PassThrough } from 'node:stream';
import { UnrecoverableError, type Job } from 'bullmq';
import knex from 'knex';
import type { DeviceEventJob } from '../../core/queues.js';
import { deviceEventsProcessor } from '../../workers/device-events-worker.js';
import { DeviceEvents } from '../../core/delivery/device-events.js';
import type { InboxService } from '../../core/services/inbox.js';
import type { HookRunner } from '../../core/hook-runner.js';
import { PG_URL } from '../helpers/smx.js';

test('statusUpdateProblem: an id SMX made, a known state, a short error without control characters', (t) => {
  const id = newId('msg');
  t.is(statusUpdateProblem({ id, state: 'sent' }), null);
  t.is(statusUpdateProblem({ id, state: 'failed', error: 'RADIO_OFF', at: new Date().toISOString() }), null);
  t.is(
    statusUpdateProblem({ id, state: 'failed', error: 'Échec d’envoi: RESULT_ERROR_GENERIC_FAILURE' }),
    null,
    'any printable text',
  );
  for (const [update, problem] of [
    [null, 'shape'],
    ['msg_x', 'shape'],
    [[id], 'shape'],
    [{ id: `msg_\u0000${id.slice(5)}`, state: 'sent' }, 'id'],
    [{ id: `${id}x`, state: 'sent' }, 'id'],
    [{ id: id.slice(0, -1), state: 'sent' }, 'id'],
    [{ id: id.replace('msg_', 'ver_'), state: 'sent' }, 'id'],
    [{ id: `msg_${'é'.repeat(22)}`, state: 'sent' }, 'id'],
    [{ id: 42, state: 'sent' }, 'id'],
    [{ id, state: 'SENT' }, 'state'],
    [{ id, state: 'sent\u0000' }, 'state'],
    [{ id, state: 'failed', error: 'A\u0000B' }, 'error'],
    [{ id, state: 'failed', error: 'line\nbreak' }, 'error'],
    [{ id, state: 'failed', error: '\u009b' }, 'error'],
    [{ id, state: 'failed', error: 'x'.repeat(101) }, 'error'],
    [{ id, state: 'failed', error: 7 }, 'error'],
    [{ id, state: 'sent', at: 'x'.repeat(65) }, 'at'],
  ] as const)
    t.is(statusUpdateProblem(update), problem, JSON.stringify(update));
});

test('DatabaseFailure keeps the SQLSTATE, drops the SQL and its values, and knows what a retry cannot fix', (t) => {
  const knexError = Object.assign(
    new Error(
      'with v(id, status) as (values ($1, $2)) update messages set error = \'secret\' - invalid byte sequence for encoding "UTF8": 0x00',
    ),
    {
      code: '22021',
      detail: 'Key (id)=(msg_secret) already exists.',
      sql: 'update messages ...',
      bindings: ['msg_secret'],
    },
  );
  const failure = DatabaseFailure.from('status report not applied', knexError);
  t.is(failure.message, 'status report not applied: database error 22021');
  t.is(failure.dbCode, '22021');
  t.true(failure.permanent);
  t.is(failure.cause, undefined, 'no cause: the logger would print it');
  t.false(JSON.stringify(failure).includes('secret'));
  t.false(
    new DatabaseFailure('x', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })).permanent,
    'a lost connection is retried',
  );
  t.false(new DatabaseFailure('x', Object.assign(new Error('deadlock'), { code: '40P01' })).permanent);
  t.is(new DatabaseFailure('x', Object.assign(new Error('odd'), { code: 'not a code; drop table' })).dbCode, null);
  t.is(DatabaseFailure.from('y', failure), failure);
});

test('a group whose statement fails is retried report by report: the good reports apply, the bad one fails alone without SQL', async (t) => {
  const poison = newId('msg');
  const good = [newId('msg'), newId('msg')];
  const calls: string[][] = [];
  // Stands in for the one statement: fails like PostgreSQL whenever the poison id is in it.
  const transitions = {
    async reportedByDevices(group: DeviceReport[]) {
      const updates = group.flatMap((r) => r.updates);
      calls.push(updates.map((u) => u.id));
      if (updates.some((u) => u.id === poison)) {
        throw Object.assign(new Error(`update messages set id = '${poison}' - invalid input value`), { code: '22P02' });
      }
      return updates.map((u) => ({ id: u.id, deviceId: 'dev_a', status: u.state.toUpperCase() as 'SENT' }));
    },
  } as unknown as MessageTransitions;
  const logs = new PassThrough();
  const reports = new StatusReports(transitions, createLogger('info', logs));
  const at = new Date();
  const [a, bad, b] = await Promise.allSettled([
    reports.apply('dev_a', [{ id: good[0]!, state: 'sent' }], at),
    reports.apply('dev_a', [{ id: poison, state: 'sent' }], at),
    reports.apply('dev_a', [{ id: good[1]!, state: 'sent' }], at),
  ]);
  t.is(calls[0]!.length, 3, 'first as one group');
  t.deepEqual(calls.slice(1), [[good[0]], [poison], [good[1]]], 'then one by one');
  t.deepEqual(a.status === 'fulfilled' ? a.value.map((c) => c.id) : a.reason, [good[0]]);
  t.deepEqual(b.status === 'fulfilled' ? b.value.map((c) => c.id) : b.reason, [good[1]]);
  t.is(bad.status, 'rejected');
  const reason = (bad as PromiseRejectedResult).reason as DatabaseFailure;
  t.true(reason instanceof DatabaseFailure);
  t.is(reason.message, 'status report not applied: database error 22P02');
  t.false(reason.message.includes(poison));
});

test('apply drops unusable updates before the statement and logs counts, not the payload', async (t) => {
  const seen: StatusUpdate[][] = [];
  const transitions = {
    async reportedByDevices(group: DeviceReport[]) {
      seen.push(group.flatMap((r) => r.updates));
      return [];
    },
  } as unknown as MessageTransitions;
  const chunks: Buffer[] = [];
  const logs = new PassThrough();
  logs.on('data', (c: Buffer) => chunks.push(c));
  const reports = new StatusReports(transitions, createLogger('info', logs));
  const id = newId('msg');
  await reports.apply(
    'dev_a',
    [
      { id, state: 'sent' },
      { id: 'msg_\u0000SECRET', state: 'sent' },
      { id, state: 'failed', error: 'SECRET\u0000' },
    ],
    new Date(),
  );
  t.deepEqual(seen, [[{ id, state: 'sent' }]]);
  const text = Buffer.concat(chunks).toString('utf8');
  t.regex(text, /status updates dropped: malformed/);
  t.regex(text, /"problems":\{"id":1,"error":1\}/);
  t.false(text.includes('SECRET'));
  t.deepEqual(
    await reports.apply('dev_a', [{ id: 'nope', state: 'sent' }], new Date()),
    [],
    'nothing usable: no statement',
  );
  t.is(seen.length, 1);
});

test('a real knex/PostgreSQL error (a NUL byte in a value) is recognised and reduced to its SQLSTATE', async (t) => {
  const db = knex({ client: 'pg', connection: PG_URL, pool: { min: 0, max: 1 } });
  t.teardown(() => db.destroy());
  const error = await db.raw('select ?::text as v', ['msg_\u0000secret']).then(
    () => null,
    (e: unknown) => e as Error,
  );
  t.truthy(error);
  t.regex(error!.message, /select/, 'knex puts the statement into the message');
  t.true(DatabaseFailure.isDatabaseError(error));
  const failure = DatabaseFailure.from('status report not applied', error);
  t.is(failure.message, 'status report not applied: database error 22021');
  t.true(failure.permanent);
  t.false(DatabaseFailure.isDatabaseError(new Error('a plugin failed')));
});

test('the device-events job fails without SQL: a data exception is not retried, a lost connection is', async (t) => {
  const db = knex({ client: 'pg', connection: PG_URL, pool: { min: 0, max: 1 } });
  t.teardown(() => db.destroy());
  const dataError = await db.raw('select ?::text as v', ['\u0000secret-sms']).then(
    () => null,
    (e: unknown) => e,
  );
  let failWith: unknown = dataError;
  const inbox = {
    store: async () => {
      throw failWith;
    },
  } as unknown as InboxService;
  const hooks = { has: () => false, notify: async () => undefined } as unknown as HookRunner;
  const unused = {} as never;
  const events = new DeviceEvents(unused, inbox, unused, unused, hooks, createLogger('silent'), unused);
  const job = {
    data: {
      deviceId: 'dev_a',
      channel: 'inbox',
      payload: { messages: [{ from: '+4915100000000', body: 'secret-sms' }] },
      receivedAt: new Date().toISOString(),
    },
  } as Job<DeviceEventJob>;
  const permanent = await t.throwsAsync(deviceEventsProcessor(events)(job));
  t.true(permanent instanceof UnrecoverableError);
  t.is(permanent!.message, 'inbound SMS not stored: database error 22021');
  failWith = Object.assign(new Error('select * from secret - Connection terminated unexpectedly'), {
    severity: 'FATAL',
    code: '57P01',
  });
  const transient = await t.throwsAsync(deviceEventsProcessor(events)(job));
  t.false(transient instanceof UnrecoverableError, 'retried');
  t.is(transient!.message, 'inbound SMS not stored: database error 57P01');
});
