/**
 * PresenceView: routing's in-process presence, kept until the PresenceStore announces a change.
 * Two "processes" here: each its own CacheBus (its own subscriber) on one Redis prefix; the phone's
 * connection is recorded by one, the view is read in the other, as with a broker node and an API.
 */
import test from 'ava';
import { Redis } from 'ioredis';
import { CacheBus } from '../../core/cache.js';
import type { Logger } from '../../core/logger.js';
import { PresenceStore } from '../../core/presence/store.js';
import { PresenceView } from '../../core/presence/view.js';
import type { RuntimeConfig } from '../../core/secrets.js';
import { eventually } from '../helpers/eventually.js';
import { REDIS_URL, isolationId } from '../helpers/smx.js';

const prefix = isolationId('presence-view');
const config = { redisPrefix: prefix } as RuntimeConfig;
const log = { warn: () => undefined, info: () => undefined } as unknown as Logger;
const redis = new Redis(REDIS_URL);
const buses: CacheBus[] = [];

async function smxProcess(): Promise<{ store: PresenceStore; view: PresenceView; reads: () => number }> {
  const bus = new CacheBus(redis, config, log);
  await bus.start();
  buses.push(bus);
  const store = new PresenceStore(redis, config, log, bus);
  let reads = 0;
  const getMany = store.getMany.bind(store);
  store.getMany = (ids) => {
    reads++;
    return getMany(ids);
  };
  return { store, view: new PresenceView(store, bus), reads: () => reads };
}

/** Waits until the view answers for the device without a read: a change's own notice may come after the read that saw it (that read is used, not kept). */
async function kept(node: Awaited<ReturnType<typeof smxProcess>>, deviceId: string): Promise<void> {
  await eventually(
    async () => {
      const reads = node.reads();
      await node.view.get(deviceId);
      return node.reads() === reads;
    },
    5_000,
    `${deviceId} kept in the view`,
  );
}

test.after.always(async () => {
  for (const bus of buses) await bus.stop();
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

test("a phone's connect and disconnect recorded by another process reach this process's view; unchanged phones are not read again", async (t) => {
  const broker = await smxProcess();
  const api = await smxProcess();
  const stopHolding = broker.store.holdConnections('holder-1');
  t.teardown(stopHolding);

  t.false((await api.view.get('dev_a')).online);
  t.false((await api.view.get('dev_a')).online);
  t.is(api.reads(), 1, 'the second read came from the view');

  await broker.store.markOnline('dev_a', 'holder-1:conn-1');
  await eventually(async () => (await api.view.get('dev_a')).online, 5_000, 'dev_a online in the other process');
  t.true((await broker.view.get('dev_a')).online, 'and in the recording process itself, at once');

  await kept(api, 'dev_a');
  const before = api.reads();
  await api.view.getMany(['dev_a', 'dev_a']);
  t.is(api.reads(), before, 'nothing changed: no read');

  await broker.store.markOffline('dev_a', 'holder-1:conn-1');
  await eventually(async () => !(await api.view.get('dev_a')).online, 5_000, 'dev_a offline in the other process');

  // A takeover by a new connection changes nothing for routing: the phone stays online, no notice.
  await broker.store.markOnline('dev_b', 'holder-1:conn-2');
  await eventually(async () => (await api.view.get('dev_b')).online, 5_000, 'dev_b online');
  await kept(api, 'dev_b');
  const settled = api.reads();
  await broker.store.markOnline('dev_b', 'holder-1:conn-3');
  await api.view.get('dev_b');
  t.is(api.reads(), settled);
});
