/** The workers' public surface: start them all, or use one processor on its own. */
export { startWorkers, type RunningWorkers } from './run-workers.js';
export { dispatcherProcessor, toOutboxItem, HOLD_WHILE_OFFLINE_MS, MAX_PER_PUBLISH, type DispatcherDeps } from './device-dispatcher.js';
export { deviceEventsProcessor, type DeviceEventDeps } from './device-events-worker.js';
export { maintenanceProcessor, scheduleMaintenance, EXPIRE_EVERY_MS } from './maintenance-worker.js';
export { readStatusUpdates, readPresence } from './device-event-payloads.js';
export { webhookProcessor, webhookBackoff, type WebhookWorkerDeps } from './webhook-worker.js';
