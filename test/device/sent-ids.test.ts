import test from 'ava';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SENT_ID_RETENTION_MS, SentIdStore } from '../../device/index.js';
import { tempDir } from './_helpers.js';

test('remembers ids for 24 h, then prunes them', async (t) => {
  let now = 1_000_000;
  const store = new SentIdStore({ now: () => now });
  await store.remember(['msg_a'], 'sent');
  now += 60_000;
  await store.remember(['msg_b'], 'canceled');
  t.true(store.has('msg_a'));
  t.is(store.reasonOf('msg_b'), 'canceled');

  now += SENT_ID_RETENTION_MS - 60_000; // msg_a is exactly 24 h old: still kept
  t.true(store.has('msg_a'));
  now += 1;
  t.false(store.has('msg_a'));
  t.true(store.has('msg_b'));
  t.is(store.size, 1);
  now += 60_000;
  t.is(store.prune(), 1);
  t.is(store.size, 0);
});

test('persists to a 0600 JSON file that a new store loads, without expired entries', async (t) => {
  const file = join(await tempDir(t), 'nested', 'device.sent-ids.json');
  let now = Date.now();
  const store = await SentIdStore.open({ file, now: () => now });
  await store.remember(['msg_old'], 'sent');
  now += SENT_ID_RETENTION_MS / 2;
  await Promise.all([store.remember(['msg_x'], 'sent'), store.remember(['msg_y'], 'canceled')]);
  await store.flush();
  t.is((await stat(file)).mode & 0o777, 0o600);
  const shape = JSON.parse(await readFile(file, 'utf8')) as { v: number; ids: Record<string, { reason: string }> };
  t.is(shape.v, 1);
  t.deepEqual(Object.keys(shape.ids).sort(), ['msg_old', 'msg_x', 'msg_y']);

  now += SENT_ID_RETENTION_MS / 2 + 1;
  const reopened = await SentIdStore.open({ file, now: () => now });
  t.false(reopened.has('msg_old'));
  t.is(reopened.reasonOf('msg_x'), 'sent');
  t.is(reopened.reasonOf('msg_y'), 'canceled');

  await reopened.forget(['msg_x']);
  t.false((await SentIdStore.open({ file, now: () => now })).has('msg_x'));
});

test('a missing file is an empty store; a corrupt file or a retention under 24 h is refused', async (t) => {
  const dir = await tempDir(t);
  t.is((await SentIdStore.open({ file: join(dir, 'none.json') })).size, 0);
  const corrupt = join(dir, 'corrupt.json');
  await writeFile(corrupt, '{nope');
  await t.throwsAsync(SentIdStore.open({ file: corrupt }), { message: /not JSON/ });
  t.throws(() => new SentIdStore({ retentionMs: 60_000 }), { message: /at least/ });
});
