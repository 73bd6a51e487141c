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

test("one holder at a time; a refused dispatcher makes the holder's release answer true, once", async (t) => {
  const locks = new DeviceLocks(redis, prefix, 10_000);
  const holder = await locks.acquire('dev_a');
  t.truthy(holder);
  t.is(await locks.acquire('dev_a'), null, 'taken');
  const other = await locks.acquire('dev_b');
  t.truthy(other, 'per device');
  await other!.release();
  t.true(await holder!.release(), 'someone asked for a look while it was held');

  const next = await locks.acquire('dev_a');
  t.truthy(next, 'free again');
  t.false(await next!.release(), 'nobody asked this time');
});

test('a release by a holder whose lock expired changes nothing', async (t) => {
  const locks = new DeviceLocks(redis, prefix, 2_000);
  const stale = await locks.acquire('dev_c');
  // It ran out while its process stood still (the renewal timer did not run).
  await redis.del(locks.key('dev_c'));
  const fresh = await locks.acquire('dev_c');
  t.truthy(fresh);
  t.false(await stale!.release());
  t.is(await locks.acquire('dev_c'), null, 'the fresh holder still holds it');
  t.false(stale!.held, 'the stale holder holds nothing');
  t.true(await fresh!.release());
});

test("a refused dispatcher learns how long the holder's lock has left; the token names the holder's process", async (t) => {
  const locks = new DeviceLocks(redis, prefix, 2_000);
  const holder = await locks.acquire('dev_d');
  t.truthy(holder);
  t.regex(holder!.token, new RegExp(`^${process.pid}:`));
  t.is(await redis.get(locks.key('dev_d')), holder!.token);
  const refused = await locks.tryAcquire('dev_d');
  t.is(refused.lock, null);
  t.true(refused.expiresInMs! > 1_500 && refused.expiresInMs! <= 2_000, String(refused.expiresInMs));
  await holder!.release();
});

test('the lock renews itself while held (no call from the holder) and stops renewing on release', async (t) => {
  const locks = new DeviceLocks(redis, prefix, 300);
  const holder = (await locks.acquire('dev_e'))!;
  await new Promise((r) => setTimeout(r, 1_000));
  t.true(holder.held);
  t.is(await locks.acquire('dev_e'), null, 'still taken after three TTLs');
  t.true(await holder.release());
  t.false(holder.held);
  const next = await locks.acquire('dev_e');
  t.truthy(next, 'free after the release');
  await next!.release();
});

test('a holder whose lock was taken from it (it expired meanwhile) learns it at its next renewal', async (t) => {
  const locks = new DeviceLocks(redis, prefix, 400);
  const holder = (await locks.acquire('dev_f'))!;
  await redis.set(locks.key('dev_f'), 'someone-else', 'PX', 5_000);
  await new Promise((r) => setTimeout(r, 250));
  t.false(holder.held);
  t.false(await holder.release(), "the other holder's lock is left alone");
  t.is(await redis.get(locks.key('dev_f')), 'someone-else');
});

test('a holder that cannot reach Redis stops counting on its lock before it can run out', async (t) => {
  const cut = redis.duplicate({
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  cut.on('error', () => {});
  await cut.connect();
  const locks = new DeviceLocks(cut, prefix, 400);
  const holder = (await locks.acquire('dev_g'))!;
  const acquiredAt = Date.now();
  cut.disconnect();
  t.true(holder.held, 'at first');
  await new Promise((r) => setTimeout(r, 350));
  t.false(holder.held, `not held ${Date.now() - acquiredAt} ms after the last confirmation (TTL 400)`);
  await holder.release().catch(() => false);
});
