/** Dispatch signals served in the process that made them: bounded, absorbed, served again, handed back. */
import test from 'ava';
import { LOCAL_RETRY_DELAY_MS, LocalDispatch, type LocalDispatchRunner } from '../../core/delivery/local-dispatch.js';

/** A runner whose serves end when the test says so. */
function runner(concurrency: number) {
  const serves: string[] = [];
  const requeued: Array<[string[], number]> = [];
  const ends = new Map<string, Array<(error?: Error) => void>>();
  const r: LocalDispatchRunner = {
    concurrency,
    serve: (deviceId) => {
      serves.push(deviceId);
      return new Promise<void>((resolve, reject) => {
        const list = ends.get(deviceId) ?? [];
        list.push((error) => (error ? reject(error) : resolve()));
        ends.set(deviceId, list);
      });
    },
    requeue: async (deviceIds, delayMs) => void requeued.push([deviceIds, delayMs]),
  };
  /** Ends the oldest serve of the device (with an error to fail it), then lets the follow-ups run. */
  const end = async (deviceId: string, error?: Error) => {
    ends.get(deviceId)!.shift()!(error);
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  return { r, serves, requeued, end };
}

test('without an attached worker nothing is taken: the signal goes to the queue', (t) => {
  t.false(new LocalDispatch().take('dev_a'));
});

test('at most `concurrency` devices are served at once; the others wait once each, in signal order', async (t) => {
  const local = new LocalDispatch();
  const { r, serves, end } = runner(2);
  local.attach(r);
  for (const id of ['dev_a', 'dev_b', 'dev_c', 'dev_d', 'dev_c']) t.true(local.take(id));
  t.deepEqual(serves, ['dev_a', 'dev_b']);
  t.deepEqual(local.load, { running: 2, waiting: 2 }, 'dev_c signalled twice waits once');
  await end('dev_a');
  t.deepEqual(serves, ['dev_a', 'dev_b', 'dev_c']);
  await end('dev_b');
  t.deepEqual(serves, ['dev_a', 'dev_b', 'dev_c', 'dev_d']);
  await end('dev_c');
  await end('dev_d');
  t.deepEqual(local.load, { running: 0, waiting: 0 });
});

test('a signal during a serve of the same device serves it again right after, once however many came', async (t) => {
  const local = new LocalDispatch();
  const { r, serves, end } = runner(4);
  local.attach(r);
  local.take('dev_a');
  local.take('dev_a');
  local.take('dev_a');
  t.deepEqual(serves, ['dev_a'], 'never two serves of one device at once');
  await end('dev_a');
  t.deepEqual(serves, ['dev_a', 'dev_a']);
  await end('dev_a');
  t.deepEqual(serves, ['dev_a', 'dev_a'], 'nothing came during the second');
});

test('a failed serve goes to the queue with a delay (the queue retries it); the slot is freed', async (t) => {
  const local = new LocalDispatch();
  const { r, serves, requeued, end } = runner(1);
  local.attach(r);
  local.take('dev_a');
  local.take('dev_b');
  await end('dev_a', new Error('broker down'));
  t.deepEqual(requeued, [[['dev_a'], LOCAL_RETRY_DELAY_MS]]);
  t.deepEqual(serves, ['dev_a', 'dev_b']);
  await end('dev_b');
});

test('detach hands the waiting devices to the queue, waits for the serves in progress, and queues what they were signalled meanwhile', async (t) => {
  const local = new LocalDispatch();
  const { r, requeued, end } = runner(1);
  local.attach(r);
  local.take('dev_a');
  local.take('dev_b');
  local.take('dev_a');
  let detached = false;
  const detaching = local.detach().then(() => (detached = true));
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(requeued, [[['dev_b'], 0]]);
  t.false(local.take('dev_c'), 'no longer taking signals');
  t.false(detached, 'dev_a is still being served');
  await end('dev_a');
  await detaching;
  t.deepEqual(requeued, [
    [['dev_b'], 0],
    [['dev_a'], 0],
  ]);
});
