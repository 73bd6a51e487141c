import type { Knex } from 'knex';
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PresenceStore } from './presence/store.js';
import type { Queues } from './queues.js';
import { TRANSPORT_LABELS } from './smx-metrics.js';

/**
 * A fresh registry per process (tests run several SMX instances in one process). The default
 * Node.js and process metrics keep their standard names (`process_cpu_seconds_total`,
 * `nodejs_heap_size_used_bytes`, ...), which stock Node.js dashboards read; SMX's own are `smx_*`.
 */
export function createRegistry(withDefaults = true): Registry {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry });
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

/** `smx_messages_queued` counts waiting messages up to this, so a scrape's read stays bounded whatever the backlog. */
export const QUEUED_COUNT_CAP = 10_000;

/**
 * Gauges read on scrape, for the whole deployment (every process reports the same value: take
 * `max` across instances, not `sum`). Each read is bounded: queue depths and the online set from
 * Redis, the linked devices (one row per phone), and waiting messages through their partial index,
 * capped at {@link QUEUED_COUNT_CAP}. Nothing scans the message log.
 */
export function registerStateGauges(
  registry: Registry,
  deps: { queues: Queues; presence: PresenceStore; db: Knex },
): void {
  new Gauge({
    name: 'smx_queue_jobs',
    help: 'Jobs per queue and state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      await orNone(this, async () => {
        for (const queue of deps.queues.all()) {
          const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized');
          for (const [state, n] of Object.entries(counts)) this.set({ queue: queue.name, state }, n);
        }
      });
    },
  });

  // Both device gauges come from one read per scrape, whichever is collected first.
  let devices: Promise<Map<string, { online: number; offline: number }>> | null = null;
  const readDevices = () => {
    devices ??= countDevices(deps).finally(() => setImmediate(() => (devices = null)));
    return devices;
  };
  new Gauge({
    name: 'smx_devices_online',
    help: 'Linked phones (active or standby) with a live connection, by transport',
    labelNames: ['transport'],
    registers: [registry],
    async collect() {
      await orNone(this, async () => {
        for (const [transport, n] of await readDevices()) this.set({ transport }, n.online);
      });
    },
  });
  new Gauge({
    name: 'smx_devices_offline',
    help: 'Linked phones (active or standby) without a live connection, by transport',
    labelNames: ['transport'],
    registers: [registry],
    async collect() {
      await orNone(this, async () => {
        for (const [transport, n] of await readDevices()) this.set({ transport }, n.offline);
      });
    },
  });
  new Gauge({
    name: 'smx_messages_queued',
    help: `Messages waiting to be handed to a phone (QUEUED), counted up to ${QUEUED_COUNT_CAP}`,
    registers: [registry],
    async collect() {
      await orNone(this, async () => {
        // The partial index messages_dispatch_order holds exactly the QUEUED rows; the limit bounds the read.
        const [row] = await deps.db
          .from(
            deps.db('messages').select(deps.db.raw('1')).where({ status: 'QUEUED' }).limit(QUEUED_COUNT_CAP).as('q'),
          )
          .count({ n: '*' });
        this.set(Number(row?.n ?? 0));
      });
    },
  });
}

/**
 * Runs a gauge's read; if Redis or the database is down the gauge has no value this scrape
 * (absent, not stale), and the scrape still answers with everything else (process metrics, counters).
 */
async function orNone(gauge: Gauge<string>, read: () => Promise<void>): Promise<void> {
  try {
    await read();
  } catch {
    gauge.reset();
  }
}

/** Linked devices by transport, split by whether the shared online set (Redis) has them. */
async function countDevices(deps: {
  presence: PresenceStore;
  db: Knex;
}): Promise<Map<string, { online: number; offline: number }>> {
  const online = await deps.presence.onlineIds();
  const rows: Array<{ transport: string; online: string | number; linked: string | number }> = await deps
    .db('devices')
    .select('transport')
    .select(deps.db.raw('count(*) filter (where id = any(?)) as online', [online]))
    .count({ linked: '*' })
    .whereIn('status', ['active', 'standby'])
    .groupBy('transport');
  const result = new Map<string, { online: number; offline: number }>(
    TRANSPORT_LABELS.map((t) => [t, { online: 0, offline: 0 }]),
  );
  for (const row of rows)
    result.set(row.transport, { online: Number(row.online), offline: Number(row.linked) - Number(row.online) });
  return result;
}
