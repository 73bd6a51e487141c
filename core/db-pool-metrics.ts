import type { Knex } from 'knex';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The part of knex's connection pool (tarn) the metrics read. */
interface TarnPool {
  max: number;
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
  on(event: 'acquireRequest' | 'acquireSuccess' | 'acquireFail', listener: (eventId: number) => void): void;
}

/**
 * This process's database connection pool, so saturation shows before it turns into 503s: a
 * query first waits for one of the pool's connections (`SMX_DATABASE_POOL_MAX`), and only then
 * for PostgreSQL. `smx_db_pool_waiting` above 0 for long, or a rising
 * `smx_db_pool_acquire_wait_seconds`, means the pool (or the database behind it) is the limit;
 * `smx_db_pool_acquire_timeouts_total` counts the queries that got no connection (their requests
 * answered 503). Per process, like every counter: sum across processes.
 */
export function registerDatabasePoolMetrics(registry: Registry, db: Knex): void {
  const pool = (db.client as { pool?: TarnPool }).pool;
  if (!pool) return;
  new Gauge({
    name: 'smx_db_pool_connections',
    help: "Connections of this process's database pool: used (running a query or transaction) or idle",
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.set({ state: 'used' }, pool.numUsed());
      this.set({ state: 'idle' }, pool.numFree());
    },
  });
  new Gauge({
    name: 'smx_db_pool_max',
    help: "Size limit of this process's database pool (SMX_DATABASE_POOL_MAX)",
    registers: [registry],
    collect() {
      this.set(pool.max);
    },
  });
  new Gauge({
    name: 'smx_db_pool_waiting',
    help: 'Queries waiting for a free connection of the database pool',
    registers: [registry],
    collect() {
      this.set(pool.numPendingAcquires());
    },
  });
  const wait = new Histogram({
    name: 'smx_db_pool_acquire_wait_seconds',
    help: 'How long a query waited for a connection of the database pool',
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
    registers: [registry],
  });
  const timeouts = new Counter({
    name: 'smx_db_pool_acquire_timeouts_total',
    help: 'Queries that got no connection of the database pool: timed out waiting, or PostgreSQL refused one',
    registers: [registry],
  });
  const requested = new Map<number, number>();
  pool.on('acquireRequest', (eventId) => requested.set(eventId, performance.now()));
  pool.on('acquireSuccess', (eventId) => {
    const at = requested.get(eventId);
    requested.delete(eventId);
    if (at !== undefined) wait.observe((performance.now() - at) / 1000);
  });
  pool.on('acquireFail', (eventId) => {
    requested.delete(eventId);
    timeouts.inc();
  });
}
