/** Device publishes handled where they were received: before the PUBACK, or handed to the queue. */
import { PassThrough } from 'node:stream';
import test from 'ava';
import { LocalDeviceEvents } from '../../core/delivery/local-device-events.js';
import { PermanentFailure } from '../../core/jobs.js';
import { createLogger } from '../../core/logger.js';
import type { DeviceEventJob } from '../../core/queues.js';

const event: DeviceEventJob = {
  deviceId: 'dev_a',
  channel: 'status',
  payload: { updates: [] },
  receivedAt: new Date().toISOString(),
};

function local() {
  const lines: string[] = [];
  const out = new PassThrough();
  out.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
  return { events: new LocalDeviceEvents(createLogger('info', out)), lines };
}

test('without an attached worker the event goes to the queue', async (t) => {
  t.false(await local().events.handle(event));
});

test('handled here: true once the handler is done; a failure a retry may fix goes to the queue, a permanent one is dropped', async (t) => {
  const { events, lines } = local();
  const seen: DeviceEventJob[] = [];
  let failWith: Error | undefined;
  events.attach(async (e) => {
    seen.push(e);
    if (failWith) throw failWith;
  });
  t.true(await events.handle(event));
  failWith = new Error('connection refused');
  t.false(await events.handle(event), 'the queue retries it');
  failWith = new PermanentFailure('status report not applied: database error 22021');
  t.true(await events.handle(event), 'retrying cannot help: dropped');
  t.is(seen.length, 3);
  await new Promise((resolve) => setImmediate(resolve));
  t.regex(lines.join(''), /device event failed here; the queue retries it/);
  t.regex(lines.join(''), /device event dropped/);
});

test('detach waits for the events in progress; later ones go to the queue', async (t) => {
  const { events } = local();
  let finish!: () => void;
  events.attach(() => new Promise<void>((resolve) => (finish = resolve)));
  const inProgress = events.handle(event);
  let detached = false;
  const detaching = events.detach().then(() => (detached = true));
  t.false(await events.handle(event), 'detached: to the queue');
  await new Promise((resolve) => setImmediate(resolve));
  t.false(detached);
  finish();
  t.true(await inProgress);
  await detaching;
  t.true(detached);
});
