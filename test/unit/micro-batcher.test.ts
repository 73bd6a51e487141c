/**
 * The micro-batcher (group commit): items added in one turn share a flush, a group is at most
 * maxSize, at most `concurrency` flushes run at once, and each caller gets its own result or error.
 * No database: the flush is a function the test controls.
 */
import test from 'ava';
import { MicroBatcher } from '../../core/batching/micro-batcher.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: Error) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
/**
 * Lets the batcher's scheduled pump run: it schedules with setImmediate, and one scheduled in the
 * same microtask phase as ours may run after ours, so wait two hops.
 */
const turn = () => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

/** A batcher whose flushes finish when the test says so; `groups` records each flush's items. */
function held(options: { maxSize?: number; concurrency?: number } = {}) {
  const groups: number[][] = [];
  const pending: Array<Deferred<Array<string | Error>>> = [];
  const batcher = new MicroBatcher<number, string>({
    ...options,
    flush: (items) => {
      groups.push(items);
      const d = deferred<Array<string | Error>>();
      pending.push(d);
      return d.promise;
    },
  });
  /** Finishes the i-th flush, answering `answer(item)` per item. */
  const finish = (i: number, answer: (item: number) => string | Error = (n) => `r${n}`) =>
    pending[i]!.resolve(groups[i]!.map(answer));
  return { batcher, groups, pending, finish };
}

test('a lone item is flushed on the next turn, alone, and its caller gets its own result', async (t) => {
  const seen: number[][] = [];
  const batcher = new MicroBatcher<number, string>({
    flush: async (items) => (seen.push(items), items.map((n) => `r${n}`)),
  });
  const result = batcher.add(7);
  t.deepEqual(seen, [], 'not flushed synchronously');
  t.is(batcher.waiting, 1);
  t.is(await result, 'r7');
  t.deepEqual(seen, [[7]]);
  t.is(batcher.waiting, 0);
});

test('items added in the same turn share one flush, in the order they were added, each caller its own answer', async (t) => {
  const { batcher, groups, finish } = held();
  const results = [3, 1, 2].map((n) => batcher.add(n));
  await turn();
  t.deepEqual(groups, [[3, 1, 2]]);
  finish(0);
  t.deepEqual(await Promise.all(results), ['r3', 'r1', 'r2']);
});

test('items added by separate callbacks of one event-loop phase (requests parsed in one I/O turn) share a flush', async (t) => {
  const { batcher, groups, finish } = held();
  const results: Array<Promise<string>> = [];
  // Two callbacks of one check phase, as two requests parsed in one I/O turn: a flush scheduled as
  // a microtask would run between them and split the group.
  await new Promise<void>((resolve) => {
    setImmediate(() => results.push(batcher.add(1)));
    setImmediate(() => {
      results.push(batcher.add(2));
      resolve();
    });
  });
  await turn();
  t.deepEqual(groups, [[1, 2]]);
  finish(0);
  t.deepEqual(await Promise.all(results), ['r1', 'r2']);
});

test('a group is at most maxSize items; the rest go in the next groups', async (t) => {
  const { batcher, groups, finish } = held({ maxSize: 3, concurrency: 10 });
  const results = Array.from({ length: 7 }, (_, i) => batcher.add(i));
  await turn();
  t.deepEqual(groups, [[0, 1, 2], [3, 4, 5], [6]]);
  for (let i = 0; i < 3; i++) finish(i);
  t.deepEqual(await Promise.all(results), ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
});

test('at most `concurrency` flushes run at once; items arriving meanwhile wait and go out together when a slot frees', async (t) => {
  const { batcher, groups, finish } = held({ maxSize: 2, concurrency: 2 });
  const first = [1, 2, 3, 4, 5].map((n) => batcher.add(n));
  await turn();
  t.deepEqual(
    groups,
    [
      [1, 2],
      [3, 4],
    ],
    'two flushes in flight, the fifth item waits',
  );
  t.is(batcher.waiting, 1);

  const later = [6, 7].map((n) => batcher.add(n));
  await turn();
  t.is(groups.length, 2, 'no third flush while both slots are taken');
  t.is(batcher.waiting, 3);

  finish(1);
  await Promise.all(first.slice(2, 4));
  await turn();
  t.deepEqual(groups.slice(2), [[5, 6]], 'one slot freed: the oldest waiting items, maxSize of them');
  t.is(batcher.waiting, 1);

  finish(0);
  finish(2);
  await Promise.all(first);
  await turn();
  t.deepEqual(groups.slice(3), [[7]]);
  finish(3);
  t.deepEqual(await Promise.all(later), ['r6', 'r7']);
  t.is(batcher.waiting, 0);
});

test('an Error answered for one item rejects only that caller', async (t) => {
  const { batcher, finish } = held();
  const results = [1, 2, 3].map((n) => batcher.add(n));
  await turn();
  finish(0, (n) => (n === 2 ? new Error(`item ${n} refused`) : `r${n}`));
  const [a, b, c] = await Promise.allSettled(results);
  t.deepEqual(a, { status: 'fulfilled', value: 'r1' });
  t.is(b!.status, 'rejected');
  t.is((b as PromiseRejectedResult).reason.message, 'item 2 refused');
  t.deepEqual(c, { status: 'fulfilled', value: 'r3' });
});

test('a flush that throws rejects every caller of its group with that error, and the next group is flushed normally', async (t) => {
  const { batcher, pending, finish } = held({ maxSize: 2, concurrency: 1 });
  const results = [1, 2, 3].map((n) => batcher.add(n));
  await turn();
  const down = new Error('database down');
  pending[0]!.reject(down);
  const [a, b] = await Promise.allSettled(results.slice(0, 2));
  t.is((a as PromiseRejectedResult).reason, down);
  t.is((b as PromiseRejectedResult).reason, down);
  await turn();
  finish(1);
  t.is(await results[2], 'r3');
});

test('a flush answering fewer results than items rejects the callers left without one; undefined results of a full answer resolve', async (t) => {
  const short = new MicroBatcher<number, string | undefined>({
    flush: async (items) => items.slice(0, 1).map((n) => `r${n}`),
  });
  const [a, b] = await Promise.allSettled([short.add(1), short.add(2)]);
  t.deepEqual(a, { status: 'fulfilled', value: 'r1' });
  t.regex((b as PromiseRejectedResult).reason.message, /too few results/);

  const voids = new MicroBatcher<number, void>({ flush: async (items) => items.map(() => undefined) });
  t.deepEqual(await Promise.all([voids.add(1), voids.add(2)]), [undefined, undefined]);
});

test('defaults: 500 items per group and two flushes at once', async (t) => {
  const { batcher, groups, finish } = held();
  const results = Array.from({ length: 1_200 }, (_, i) => batcher.add(i));
  await turn();
  t.deepEqual(
    groups.map((g) => g.length),
    [500, 500],
    'two groups of 500 in flight',
  );
  t.is(batcher.waiting, 200);
  finish(0);
  finish(1);
  await Promise.all(results.slice(0, 1_000));
  await turn();
  t.deepEqual(
    groups.map((g) => g.length),
    [500, 500, 200],
  );
  finish(2);
  t.is((await Promise.all(results)).length, 1_200);
});
