/** The per-device dispatch lock and its hand-off: a dispatcher that finds it taken leaves the holder a look. */
import test from 'ava';
import { Redis } from 'ioredis';
import { DeviceLocks } from '../../core/delivery/device-lock.js';
import { REDIS_URL, isolationId } from '../helpers/smx.js';

const prefix = isolationId('device-lock');
const redis = new Redis(REDIS_URL);
test.after.always(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

test('one holder at a time; a refused dispatcher makes the holder\'s release answer true, once', async (t) => {
  const locks = new DeviceLocks(redis, prefix, 10_000);
  const holder = await locks.acquire('dev_a');
  t.truthy(holder);
  t.is(await locks.acquire('dev_a'), null, 'taken');
  t.truthy(await locks.acquire('dev_b'), 'per device');
  t.true(await holder!.release(), 'someone asked for a look while it was held');

  const next = await locks.acquire('dev_a');
  t.truthy(next, 'free again');
  t.false(await next!.release(), 'nobody asked this time');
});

test('a release by a holder whose lock expired changes nothing', async (t) => {
  const locks = new DeviceLocks(redis, prefix, 50);
  const stale = await locks.acquire('dev_c');
  await new Promise((r) => setTimeout(r, 120));
  const fresh = await locks.acquire('dev_c');
  t.truthy(fresh);
  t.false(await stale!.release());
  t.is(await locks.acquire('dev_c'), null, 'the fresh holder still holds it');
  t.true(await fresh!.release());
});
