import type { Job } from 'bullmq';
import {
  MAINTENANCE_EVERY_MS,
  type Maintenance,
  type MaintenanceTask,
  type MaintenanceJob,
  type Queues,
} from '../core/index.js';

/** Tasks whose finished runs are not kept (every second: 3,600 an hour would say nothing); failures are (a few). */
const UNKEPT: MaintenanceTask[] = ['reap-presence'];

/** Registers the repeatable maintenance jobs (idempotent: a scheduler id is upserted, never duplicated). */
export async function scheduleMaintenance(queues: Queues): Promise<void> {
  for (const [task, every] of Object.entries(MAINTENANCE_EVERY_MS) as Array<[MaintenanceTask, number]>) {
    const opts = UNKEPT.includes(task) ? { removeOnComplete: true, removeOnFail: { count: 100 } } : undefined;
    await queues.maintenance.upsertJobScheduler(
      task,
      { every },
      { name: task, data: { task }, ...(opts ? { opts } : {}) },
    );
  }
  // And once now: messages committed by a process that died before it signalled go out on start.
  await queues.maintenance.add('recover-dispatch', { task: 'recover-dispatch' });
}

export function maintenanceProcessor(maintenance: Maintenance) {
  return (job: Job<MaintenanceJob>): Promise<string> => maintenance.run(job.data.task);
}
