/** The BullMQ side of the workers: thin adapters from queue jobs to the core's handlers. */
export { startWorkers, workerDependencies, type RunningWorkers, type WorkerDependencies } from './run-workers.js';
export { dispatchProcessor } from './dispatch-worker.js';
export { deviceEventsProcessor } from './device-events-worker.js';
export { maintenanceProcessor, scheduleMaintenance } from './maintenance-worker.js';
export { webhookProcessor, webhookBackoff } from './webhook-worker.js';
