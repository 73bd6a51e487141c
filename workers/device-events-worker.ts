import type { Job } from 'bullmq';
import type { DeviceEvents } from '../core/delivery/device-events.js';
import type { DeviceEventJob } from '../core/queues.js';
import { failPermanentlyOn } from './permanent.js';

export function deviceEventsProcessor(events: DeviceEvents) {
  return (job: Job<DeviceEventJob>): Promise<string> => failPermanentlyOn(events.handle(job.data));
}
