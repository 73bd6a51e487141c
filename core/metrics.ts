import type { Knex } from 'knex';
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PresenceStore } from './presence.js';
import type { Queues } from './queues.js';

/** A fresh registry per process (tests run several SMX instances in one process). */
export function createRegistry(withDefaults = true): Registry {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'smx_process_' });
  return registry;
}

export function httpDurationHistogram(registry: Registry): Histogram<'method' | 'route' | 'status'> {
  return new Histogram({
    name: 'smx_http_request_duration_seconds',
    help: 'HTTP request latency by method, route pattern and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
}

/** Gauges read on scrape: queue depths, devices online, messages by status. */
export function registerStateGauges(registry: Registry, deps: { queues: Queues; presence: PresenceStore; db: Knex }): void {
  new Gauge({
    name: 'smx_queue_jobs',
    help: 'Jobs per queue and state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      for (const queue of deps.queues.all()) {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized');
        for (const [state, n] of Object.entries(counts)) this.set({ queue: queue.name, state }, n);
      }
    },
  });
  new Gauge({
    name: 'smx_devices_online',
    help: 'Devices with a live connection',
    registers: [registry],
    async collect() {
      this.set(await deps.presence.countOnline());
    },
  });
  new Gauge({
    name: 'smx_messages',
    help: 'Messages by status (all projects)',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const rows: Array<{ status: string; n: number }> = await deps.db('messages').select('status').count({ n: '*' }).groupBy('status');
      this.reset();
      for (const row of rows) this.set({ status: row.status }, Number(row.n));
    },
  });
}
