import type { Knex } from 'knex';
import { inject, injectable } from '../di.js';
import { HealthService } from '../health.js';
import { TOKENS } from '../tokens.js';
import { DeviceService } from '../services/devices.js';
import { DispatchService } from '../delivery/dispatch.js';

export interface ProjectStatus {
  ready: boolean;
  device: { linked: boolean; id: string | null; online: boolean; lastSeenAt: string | null; battery: number | null };
  queue: { waiting: number; active: number; delayed: number; failed: number };
}

/**
 * GET /v1/status. Queue figures are the project's own messages (never another tenant's volume):
 * waiting = queued for a device the dispatcher may serve now, delayed = scheduled for later, or
 * queued for a device held back (its send pace, or a phone that has not connected yet), active = handed to the phone and
 * not yet reported sent, failed = failed in the last 24 hours.
 */
@injectable()
export class StatusService {
  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    private readonly devices: DeviceService,
    private readonly health: HealthService,
    private readonly dispatch: DispatchService,
  ) {}

  async forProject(projectId: string, now = new Date()): Promise<ProjectStatus> {
    const [active, queuedByDevice, counts, queueUp] = await Promise.all([
      this.devices.active(projectId),
      this.db('messages')
        .where({ project_id: projectId, status: 'QUEUED' })
        .select('device_id', this.db.raw('count(*) filter (where held) as scheduled'))
        .count({ n: '*' })
        .groupBy('device_id'),
      this.db('messages')
        .where({ project_id: projectId })
        .whereIn('status', ['DISPATCHED', 'FAILED'])
        .select(
          this.db.raw(`count(*) filter (where status = 'DISPATCHED') as active`),
          this.db.raw(`count(*) filter (where status = 'FAILED' and failed_at > ?) as failed`, [
            new Date(now.getTime() - 24 * 3600 * 1000),
          ]),
        )
        .first(),
      this.health.redisUp(),
    ]);
    let waiting = 0;
    let delayed = 0;
    const rows = queuedByDevice as Array<{ device_id: string | null; n: number | string; scheduled: number | string }>;
    const held = await Promise.all(
      rows.map((row) => (row.device_id ? this.dispatch.isHeldBack(row.device_id).catch(() => false) : false)),
    );
    rows.forEach((row, i) => {
      // Messages scheduled for later wait whatever their phone does.
      const scheduled = Number(row.scheduled);
      delayed += scheduled;
      if (held[i]) delayed += Number(row.n) - scheduled;
      else waiting += Number(row.n) - scheduled;
    });
    const [device] = active ? await this.devices.withPresence([active]) : [];
    return {
      ready: Boolean(device?.online) && queueUp,
      device: {
        linked: Boolean(device),
        id: device?.id ?? null,
        online: device?.online ?? false,
        lastSeenAt: device?.lastSeenAt ?? null,
        battery: device?.battery ?? null,
      },
      queue: { waiting, active: Number(counts.active), delayed, failed: Number(counts.failed) },
    };
  }
}
