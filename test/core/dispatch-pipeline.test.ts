/** The dispatcher's pipeline: one publish at a time in push order, marks only after their publish, nothing after a failure. */
import test from 'ava';
import { DispatchPipeline, LeftQueued } from '../../core/delivery/dispatch-pipeline.js';

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}
function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
const batch = (...ids: string[]) => ids.map((id) => ({ id }));
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A pipeline whose publishes finish when the test says so; `log` records what happened, in order. */
function harness(leftQueued: string[] = []) {
  const log: string[] = [];
  const publishes = new Map<string, Deferred>();
  const pipeline = new DispatchPipeline<{ id: string }>(
    (b) => {
      const key = b.map((m) => m.id).join(',');
      log.push(`publish ${key}`);
      const d = deferred();
      publishes.set(key, d);
      return d.promise.then(() => void log.push(`published ${key}`));
    },
    async (ids) => {
      log.push(`mark ${ids.join(',')}`);
      return ids.filter((id) => !leftQueued.includes(id));
    },
  );
  return { log, publishes, pipeline };
}

test('publishes go one at a time in push order, each batch is marked after its publish, and push returns while the last one is in flight', async (t) => {
  const { log, publishes, pipeline } = harness();
  await pipeline.push(batch('a', 'b'));
  t.deepEqual(log, ['publish a,b'], 'push returns before its own publish is done (the caller reads meanwhile)');
  t.deepEqual(pipeline.handedOutIds(), ['a', 'b']);

  const second = pipeline.push(batch('c'));
  await tick();
  t.deepEqual(log, ['publish a,b'], 'the next publish waits for the previous one');
  publishes.get('a,b')!.resolve();
  await second;
  await tick();
  t.deepEqual(log.slice(0, 2), ['publish a,b', 'published a,b']);
  t.deepEqual(log.slice(2).sort(), ['mark a,b', 'publish c'], 'c goes out and a,b is marked once a,b is published');
  t.deepEqual(pipeline.handedOutIds(), ['c']);
  t.false(pipeline.idle);

  publishes.get('c')!.resolve();
  await pipeline.settle();
  t.deepEqual(log.slice(4), ['published c', 'mark c']);
  t.true(pipeline.idle);
});

test('after a failed publish no later batch is published or marked, and the failure is thrown', async (t) => {
  const { log, publishes, pipeline } = harness();
  await pipeline.push(batch('a'));
  const second = pipeline.push(batch('b'));
  publishes.get('a')!.reject(new Error('broker down'));
  await t.throwsAsync(second, { message: 'broker down' });
  await t.throwsAsync(pipeline.push(batch('c')), { message: 'broker down' });
  await t.throwsAsync(pipeline.settle(), { message: 'broker down' });
  await pipeline.quiesce();
  t.deepEqual(log, ['publish a'], 'neither b nor c went out, nothing was marked');
  t.deepEqual(pipeline.handedOutIds().sort(), ['a', 'b'], 'still QUEUED: left to the retry (c was refused)');
});

test('ids the mark left QUEUED (a phone report held their rows) stay out of later reads: published once', async (t) => {
  const { publishes, pipeline } = harness(['b']);
  await pipeline.push(batch('a', 'b'));
  publishes.get('a,b')!.resolve();
  await pipeline.settle();
  t.true(pipeline.idle, 'nothing is waiting to be published or marked');
  t.deepEqual(
    pipeline.handedOutIds(),
    ['b'],
    'b still reads QUEUED until the report commits, so the next read must skip it',
  );
});

test("ids a run left QUEUED stay out of the device's next run until their time is up, counted from the first run", (t) => {
  const left = new LeftQueued(1_000);
  left.remember('dev_a', ['b', 'c'], 0);
  t.deepEqual(left.recall('dev_a', 500), ['b', 'c']);
  t.deepEqual(left.recall('dev_b', 500), [], 'per device');

  // The next run starts with them left out and ends with them still QUEUED, plus one of its own.
  const next = new DispatchPipeline<{ id: string }>(
    async () => undefined,
    async () => [],
    left.recall('dev_a', 500),
  );
  t.deepEqual(next.handedOutIds().sort(), ['b', 'c']);
  left.remember('dev_a', [...next.handedOutIds(), 'd'], 900);
  t.deepEqual(left.recall('dev_a', 999).sort(), ['b', 'c', 'd']);
  t.deepEqual(left.recall('dev_a', 1_000), ['d'], 'b and c are read again 1 s after they were first left QUEUED');
  t.deepEqual(left.recall('dev_a', 1_900), []);

  left.remember('dev_a', ['e'], 2_000);
  left.remember('dev_a', [], 2_100);
  t.deepEqual(left.recall('dev_a', 2_200), [], 'a run that left nothing QUEUED forgets the rest');
});
