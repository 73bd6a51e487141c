import type { Knex } from 'knex';
import { inject, injectable } from 'tsyringe';
import { HealthService } from '../health.js';
import { TOKENS } from '../tokens.js';
import { DeviceService } from './devices.js';

export interface ProjectStatus {
  ready: boolean;
  device: { linked: boolean; id: string | null; online: boolean; lastSeenAt: string | null; battery: number | null };
  queue: { waiting: number; active: number; delayed: number; failed: number };
}

/**
 * GET /v1/status. Queue figures are the project's own messages (never another tenant's volume):
 * waiting = queued now, delayed = held back by pacing, active = handed to the phone and not yet
 * reported sent, failed = failed in the last 24 hours.
 */
@injectable()
export class StatusService {
  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    private readonly devices: DeviceService,
    private readonly health: HealthService,
  ) {}

  async forProject(projectId: string, now = new Date()): Promise<ProjectStatus> {
    const [active, counts, queueUp] = await Promise.all([
      this.devices.active(projectId),
      this.db('messages')
        .where({ project_id: projectId })
        .whereIn('status', ['QUEUED', 'DISPATCHED', 'FAILED'])
        .select(
          this.db.raw(`count(*) filter (where status = 'QUEUED' and (scheduled_at is null or scheduled_at <= ?)) as waiting`, [now]),
          this.db.raw(`count(*) filter (where status = 'QUEUED' and scheduled_at > ?) as delayed`, [now]),
          this.db.raw(`count(*) filter (where status = 'DISPATCHED') as active`),
          this.db.raw(`count(*) filter (where status = 'FAILED' and failed_at > ?) as failed`, [new Date(now.getTime() - 24 * 3600 * 1000)]),
        )
        .first(),
      this.health.redisUp(),
    ]);
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
      queue: { waiting: Number(counts.waiting), active: Number(counts.active), delayed: Number(counts.delayed), failed: Number(counts.failed) },
    };
  }
}
