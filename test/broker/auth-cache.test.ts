/**
 * The device credential cache in front of the database (broker/auth.ts `cacheDeviceVerifier`,
 * issue 12 connect storms): what it caches and for how long, and that an unlinked device's secret
 * stops working at once (device-protocol.md §2) — on the node that unlinked it and on another
 * broker node that only hears of it through CacheBus over Redis.
 */
import test from 'ava';
import type { Knex } from 'knex';
import { cacheDeviceVerifier } from '../../broker/auth.js';
import { TOKENS } from '../../core/tokens.js';
import { connectRaw, type ConnackRefusal } from '../helpers/mqtt.js';
import { cleanupTestSmx, createProject, linkNewDevice, startTestSmx, type TestSmx } from '../helpers/smx.js';

/** A fake database: a set of valid (device, secret) pairs, counting lookups; `gate` holds a lookup open. */
function fakeDb() {
  const valid = new Set<string>();
  let gate: Promise<void> | undefined;
  const db = {
    valid,
    calls: 0,
    hold() {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
    verify: async (deviceId: string, secret: string) => {
      db.calls++;
      const answer = valid.has(`${deviceId}/${secret}`); // read when the query runs…
      if (gate) await gate; // …answered later
      return answer;
    },
  };
  return db;
}

function cached(options: { ttlMs?: number; maxEntries?: number } = {}) {
  const db = fakeDb();
  let evictAll: () => void = () => undefined;
  const verify = cacheDeviceVerifier(db.verify, { ...options, subscribe: (evict) => (evictAll = evict) });
  return { db, verify, evictAll: () => evictAll() };
}

test('an accepted secret is served from the cache; a wrong one and an unknown device always reach the database', async (t) => {
  const { db, verify } = cached();
  db.valid.add('dev_a/secret-a');
  t.true(await verify('dev_a', 'secret-a'));
  t.true(await verify('dev_a', 'secret-a'));
  t.is(db.calls, 1);
  t.false(await verify('dev_a', 'wrong'));
  t.false(await verify('dev_a', 'wrong'));
  t.false(await verify('dev_b', 'secret-b'));
  t.is(db.calls, 4, 'refusals are never cached');
  db.valid.add('dev_b/secret-b');
  t.true(await verify('dev_b', 'secret-b'), 'a newly linked device works at once');
  t.true(await verify('dev_a', 'secret-a'), 'the wrong attempts did not evict the right secret');
  t.is(db.calls, 5);
});

test('concurrent checks of the same credentials share one query; entries expire after the TTL; the size is bounded', async (t) => {
  const { db, verify } = cached({ ttlMs: 50, maxEntries: 2 });
  db.valid.add('dev_a/s').add('dev_b/s').add('dev_c/s');
  t.deepEqual(await Promise.all([verify('dev_a', 's'), verify('dev_a', 's'), verify('dev_a', 's')]), [
    true,
    true,
    true,
  ]);
  t.is(db.calls, 1);
  await new Promise((r) => setTimeout(r, 80));
  t.true(await verify('dev_a', 's'));
  t.is(db.calls, 2, 'expired');
  await verify('dev_b', 's');
  await verify('dev_c', 's'); // dev_a, the oldest, goes
  t.is(verify.size, 2);
  await verify('dev_a', 's');
  t.is(db.calls, 5);
});

test('an eviction empties the cache, and a check running during it is asked again instead of trusted', async (t) => {
  const { db, verify, evictAll } = cached();
  db.valid.add('dev_a/s');
  t.true(await verify('dev_a', 's'));
  evictAll();
  t.is(verify.size, 0);

  // A check reads the row (still linked), the device is unlinked and the notice comes, then the answer arrives.
  const release = db.hold();
  const running = verify('dev_a', 's');
  await new Promise((r) => setImmediate(r));
  db.valid.delete('dev_a/s');
  evictAll();
  release();
  t.false(await running, 'the stale yes was not used: the second look-up saw the unlink');
  t.is(db.calls, 3);
  t.false(await verify('dev_a', 's'));
});

test('at most maxConcurrent checks reach the database at once, in order; one that waits past maxQueueMs fails', async (t) => {
  let inFlight = 0;
  let most = 0;
  const order: string[] = [];
  const slow = async (deviceId: string) => {
    order.push(deviceId);
    most = Math.max(most, ++inFlight);
    await new Promise((r) => setTimeout(r, 20));
    inFlight--;
    return true;
  };
  const verify = cacheDeviceVerifier(slow, { subscribe: () => undefined, maxConcurrent: 3, maxQueueMs: 1000 });
  const ids = Array.from({ length: 12 }, (_, i) => `dev_${String(i).padStart(2, '0')}`);
  t.true((await Promise.all(ids.map((id) => verify(id, 's')))).every(Boolean));
  t.is(most, 3);
  t.deepEqual(order, ids);

  const stuck = cacheDeviceVerifier(() => new Promise<boolean>(() => undefined), {
    subscribe: () => undefined,
    maxConcurrent: 1,
    maxQueueMs: 50,
  });
  void stuck('dev_first', 's'); // takes the one turn and never gives it back
  await t.throwsAsync(stuck('dev_second', 's'), { message: /waited 50 ms/ });
});

// The whole path: SMX's broker with the cache wired to CacheBus, and a second broker-only node on the same Redis and database.
let a: TestSmx;
let b: TestSmx;
const queries = { a: 0, b: 0 };

test.before(async () => {
  a = await startTestSmx('auth-cache');
  b = await startTestSmx('auth-cache', {
    roles: { api: false, worker: false, broker: true },
    reuse: {
      redisPrefix: a.redisPrefix,
      schema: a.smx.config.databaseSchema,
      dataDir: a.smx.config.dataDir,
      adminToken: a.adminToken,
    },
  });
  const count = (node: 'a' | 'b') => (query: { sql: string }) => {
    if (query.sql.includes('from "devices" where id = any')) queries[node]++;
  };
  a.smx.container.resolve<Knex>(TOKENS.Knex).on('query', count('a'));
  b.smx.container.resolve<Knex>(TOKENS.Knex).on('query', count('b'));
});

test.after.always(async () => {
  await b?.close();
  await a?.close();
  if (a) await cleanupTestSmx(a);
});

const mqttUrl = (node: TestSmx) => `mqtt://127.0.0.1:${node.smx.broker!.tcpPort}`;
const refusalOf = (promise: Promise<unknown>) =>
  promise.then(
    () => null,
    (error: ConnackRefusal) => error.code,
  );

test.serial(
  'a phone reconnecting within the TTL costs no device read; once unlinked it is refused at once on both nodes',
  async (t) => {
    const { projectId } = await createProject(a, 'auth cache');
    const device = await linkNewDevice(a, projectId);
    const options = {
      clientId: device.mqtt.clientId,
      username: device.mqtt.username,
      password: device.mqtt.password,
      clean: false,
    };
    const before = { ...queries };
    for (const node of [a, b, a, b]) {
      const phone = await connectRaw(t, mqttUrl(node), options);
      await phone.endAsync();
    }
    t.deepEqual(
      [queries.a - before.a, queries.b - before.b],
      [1, 1],
      'one device read per node for four connects (its credentials, its row, its project)',
    );

    t.is((await a.admin('DELETE', `/admin/devices/${device.deviceId}`)).status, 200);
    t.is(await refusalOf(connectRaw(t, mqttUrl(a), options)), 4, 'refused on the node that unlinked it');
    t.is(await refusalOf(connectRaw(t, mqttUrl(b), options)), 4, 'and on the other node, told through CacheBus');
  },
);

test.serial('a wrong secret for a cached device is refused', async (t) => {
  const { projectId } = await createProject(a, 'auth cache wrong secret');
  const device = await linkNewDevice(a, projectId);
  const options = { clientId: device.mqtt.clientId, username: device.mqtt.username, clean: false };
  await (await connectRaw(t, mqttUrl(b), { ...options, password: device.mqtt.password })).endAsync();
  t.is(await refusalOf(connectRaw(t, mqttUrl(b), { ...options, password: `${device.mqtt.password}x` })), 4);
});
