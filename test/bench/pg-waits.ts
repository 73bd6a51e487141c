/**
 * What PostgreSQL backends wait on during a phase: samples pg_stat_activity every 250 ms (active
 * client backends of the bench's database, other than its own) and counts wait events. Lock
 * waits (`Lock:transactionid`, `Lock:tuple`) on a single-device load mean transactions queue
 * behind one hot row. Read-only; the database is shared, so anything else running on it at the
 * same time is counted too.
 */
import pg from 'pg';

export interface PgWaits {
  samples: number;
  /** Active backends per sample, on average. */
  meanActive: number;
  /** "Lock:transactionid" / "CPU" (active, not waiting) / ... → backend-samples, most frequent first. */
  events: Array<{ event: string; count: number }>;
  /** The statements most often seen waiting on a lock (first 160 characters). */
  lockedQueries: Array<{ query: string; count: number }>;
}

export class PgWaitSampler {
  private readonly client: pg.Client;
  private timer: NodeJS.Timeout | undefined;
  private samples = 0;
  private active = 0;
  private readonly events = new Map<string, number>();
  private readonly locked = new Map<string, number>();
  private busy = false;

  constructor(databaseUrl: string) {
    this.client = new pg.Client({ connectionString: databaseUrl, application_name: 'smx-bench-sampler' });
  }

  async start(): Promise<this> {
    await this.client.connect();
    this.timer = setInterval(() => void this.sample(), 250);
    this.timer.unref();
    return this;
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const { rows } = await this.client.query<{ event: string; query: string }>(
        `select coalesce(wait_event_type || ':' || wait_event, 'CPU') as event, left(query, 160) as query
           from pg_stat_activity
          where datname = current_database() and backend_type = 'client backend' and state = 'active' and pid <> pg_backend_pid()`,
      );
      this.samples++;
      this.active += rows.length;
      for (const row of rows) {
        this.events.set(row.event, (this.events.get(row.event) ?? 0) + 1);
        if (row.event.startsWith('Lock:')) this.locked.set(row.query, (this.locked.get(row.query) ?? 0) + 1);
      }
    } catch {
      // a missed sample is fine
    } finally {
      this.busy = false;
    }
  }

  async stop(): Promise<PgWaits> {
    clearInterval(this.timer);
    while (this.busy) await new Promise((r) => setTimeout(r, 10));
    await this.client.end().catch(() => undefined);
    const top = (m: Map<string, number>, k: number) =>
      [...m.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, k)
        .map(([key, count]) => ({ key, count }));
    return {
      samples: this.samples,
      meanActive: this.samples ? Math.round((this.active / this.samples) * 10) / 10 : 0,
      events: top(this.events, 8).map(({ key, count }) => ({ event: key, count })),
      lockedQueries: top(this.locked, 3).map(({ key, count }) => ({ query: key, count })),
    };
  }
}
