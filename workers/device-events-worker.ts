import type { Job } from 'bullmq';
import type { DeviceEvents, DeviceEventJob } from '../core/index.js';
import { failPermanentlyOn } from './permanent.js';

export function deviceEventsProcessor(events: DeviceEvents) {
  return (job: Job<DeviceEventJob>): Promise<string> => failPermanentlyOn(events.handle(job.data));
}
