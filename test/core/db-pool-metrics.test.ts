/**
 * The database pool's saturation, as `/metrics` shows it (real PostgreSQL): connections in use,
 * queries waiting for one, how long they waited, and the ones that got none.
 */
import test from 'ava';
import type { Knex } from 'knex';
import type { Registry } from 'prom-client';
import { createDatabase } from '../../core/db.js';
import { registerDatabasePoolMetrics } from '../../core/db-pool-metrics.js';
import { createRegistry } from '../../core/metrics.js';
import { PG_URL } from '../helpers/smx.js';
import { eventually } from '../helpers/eventually.js';

/** One metric sample's value, by name and labels as Prometheus text shows them. */
async function sample(registry: Registry, series: string): Promise<number> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`no ${series} in the scrape`);
  return Number(line.slice(series.length + 1));
}

function pooled(options: { acquireTimeoutMs?: number } = {}): { db: Knex; registry: Registry } {
  const db = createDatabase({ url: PG_URL, schema: 'public', dataDir: ':memory:', poolMax: 1, ...options });
  const registry = createRegistry(false);
  registerDatabasePoolMetrics(registry, db);
  return { db, registry };
}

test('a query behind a busy pool counts as waiting, and its wait is measured', async (t) => {
  const { db, registry } = pooled();
  t.teardown(() => db.destroy());
  await db.raw('select 1');
  t.is(await sample(registry, 'smx_db_pool_max'), 1);
  t.is(await sample(registry, 'smx_db_pool_connections{state="idle"}'), 1);

  let release!: () => void;
  const held = db.transaction(async (trx) => {
    await trx.raw('select 1');
    await new Promise<void>((resolve) => (release = resolve));
  });
  await eventually(async () => (await sample(registry, 'smx_db_pool_connections{state="used"}')) === 1, 3000, 'in use');
  // A knex query runs once it is awaited (then): start it now.
  const behind = db.raw('select 2 as n').then((result: { rows: Array<{ n: number }> }) => result.rows[0]!.n);
  await eventually(async () => (await sample(registry, 'smx_db_pool_waiting')) === 1, 3000, 'one waiting');
  await new Promise((resolve) => setTimeout(resolve, 150));
  release();
  await held;
  t.is(await behind, 2);

  t.is(await sample(registry, 'smx_db_pool_waiting'), 0);
  t.is(await sample(registry, 'smx_db_pool_acquire_wait_seconds_count'), 3);
  t.true((await sample(registry, 'smx_db_pool_acquire_wait_seconds_sum')) >= 0.15);
  t.true(
    (await sample(registry, 'smx_db_pool_acquire_wait_seconds_bucket{le="0.1"}')) <= 2,
    'the one behind waited longer',
  );
  t.is(await sample(registry, 'smx_db_pool_acquire_timeouts_total'), 0);
});

test('a query that gets no connection in time is counted as a timeout', async (t) => {
  const { db, registry } = pooled({ acquireTimeoutMs: 200 });
  t.teardown(() => db.destroy());
  let release!: () => void;
  const held = db.transaction(async (trx) => {
    await trx.raw('select 1');
    await new Promise<void>((resolve) => (release = resolve));
  });
  await eventually(async () => (await sample(registry, 'smx_db_pool_connections{state="used"}')) === 1, 3000, 'in use');
  await t.throwsAsync(
    db.raw('select 2').then(() => undefined),
    { name: 'KnexTimeoutError' },
  );
  release();
  await held;
  t.is(await sample(registry, 'smx_db_pool_acquire_timeouts_total'), 1);
  t.is(await sample(registry, 'smx_db_pool_waiting'), 0);
});
