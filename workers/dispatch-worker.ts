import type { Job } from 'bullmq';
import type { Dispatcher, DispatchJob } from '../core/index.js';

export function dispatchProcessor(dispatcher: Dispatcher) {
  return async (job: Job<DispatchJob>): Promise<string> => {
    // From here on, a new signal for this device makes a new job instead of being absorbed by
    // this one: a message committed after the dispatcher's last read is never left waiting.
    await job.removeDeduplicationKey();
    return dispatcher.serve(job.data.deviceId);
  };
}
