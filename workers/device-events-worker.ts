import type { Job } from 'bullmq';
import type { Logger } from '../core/logger.js';
import type { PresenceStore } from '../core/presence.js';
import type { DeviceEventJob } from '../core/queues.js';
import type { DispatchService } from '../core/services/dispatch.js';
import type { MessageTransitions } from '../core/services/message-transitions.js';
import { readPresence, readStatusUpdates } from './device-event-payloads.js';

export interface DeviceEventDeps {
  transitions: MessageTransitions;
  dispatch: DispatchService;
  presence: PresenceStore;
  log: Logger;
}

/**
 * Applies what phones report: status updates move messages forward (idempotent, never backwards);
 * presence payloads refresh battery/signal; inbound SMS are acknowledged here and stored by the
 * inbound feature once it exists.
 */
export function deviceEventsProcessor(deps: DeviceEventDeps) {
  return async (job: Job<DeviceEventJob>): Promise<string> => {
    const { deviceId, channel, payload } = job.data;
    const at = new Date(job.data.receivedAt);
    switch (channel) {
      case 'status': {
        const updates = readStatusUpdates(payload);
        const changed = await deps.transitions.reported(deviceId, updates, at);
        return `applied ${changed.length}/${updates.length}`;
      }
      case 'presence': {
        const report = readPresence(payload);
        // Online/offline is the broker's to say (connections, or the external bridge reading the
        // phone's presence flag); the phone's own presence publishes carry its vitals.
        if (report.source === 'broker') {
          // A phone that just connected may have messages held for it (see device-dispatcher.ts).
          if (report.online) await deps.dispatch.wake(deviceId);
          return `connection ${report.online ? 'up' : 'down'}`;
        }
        if (report.online !== false) await deps.presence.report(deviceId, report, at);
        return 'presence';
      }
      case 'inbox': {
        deps.log.info({ deviceId, count: Array.isArray((payload as { messages?: unknown })?.messages) ? (payload as { messages: unknown[] }).messages.length : 0 }, 'inbound SMS received');
        return 'inbox';
      }
    }
  };
}

