/** TtlCache: concurrent misses share one load; an invalidation during a load keeps the old value out. */
import test from 'ava';
import { TtlCache } from '../../core/cache.js';

test('concurrent misses of one key share one load', async (t) => {
  const cache = new TtlCache<number>(1000);
  let loads = 0;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const load = async () => {
    loads++;
    await gate;
    return 42;
  };
  const pending = Array.from({ length: 50 }, () => cache.getOrLoad('k', load));
  release();
  t.deepEqual(
    await Promise.all(pending),
    Array.from({ length: 50 }, () => 42),
  );
  t.is(loads, 1, 'one load for 50 concurrent misses');
  t.is(await cache.getOrLoad('k', load), 42);
  t.is(loads, 1, 'then served from the cache');
});

test('a key invalidated while its load runs is not cached with the old value; the next miss loads anew', async (t) => {
  const cache = new TtlCache<string>(1000);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const stale = cache.getOrLoad('k', async () => {
    await gate;
    return 'before the change';
  });
  cache.delete('k');
  const fresh = cache.getOrLoad('k', async () => 'after the change');
  release();
  t.is(await stale, 'before the change', 'the caller that started it still gets its answer');
  t.is(await fresh, 'after the change');
  t.is(cache.get('k'), 'after the change', 'the cache holds the value loaded after the change');
});

test('a load that fails is not cached and does not block the next one', async (t) => {
  const cache = new TtlCache<number>(1000);
  await t.throwsAsync(
    cache.getOrLoad('k', async () => Promise.reject(new Error('down'))),
    { message: 'down' },
  );
  t.is(await cache.getOrLoad('k', async () => 7), 7);
});
