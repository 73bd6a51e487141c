/** The workers' public surface: start them all, or use one processor on its own. */
export { startWorkers, type RunningWorkers } from './run-workers.js';
export { dispatchProcessor, HOLD_FOR_FIRST_CONNECT_MS, type DispatchDeps } from './dispatch-worker.js';
export { deviceEventsProcessor, type DeviceEventDeps } from './device-events-worker.js';
export { maintenanceProcessor, scheduleMaintenance, EXPIRE_EVERY_MS } from './maintenance-worker.js';
export { readStatusUpdates, readPresence } from './device-event-payloads.js';
export { DevicePacer } from './pacing.js';
