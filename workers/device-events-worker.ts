import type { Job } from 'bullmq';
import type { Logger } from '../core/logger.js';
import type { PresenceStore } from '../core/presence.js';
import type { DeviceEventJob, Queues } from '../core/queues.js';
import type { MessageService } from '../core/services/messages.js';
import { readPresence, readStatusUpdates } from './device-event-payloads.js';

export interface DeviceEventDeps {
  messages: MessageService;
  queues: Queues;
  presence: PresenceStore;
  log: Logger;
  /** True when the broker is external: presence then comes only from the phone's `online` flag. */
  externalBroker: boolean;
}

/** Connection id used for presence when an external broker gives no connect events. */
const EXTERNAL_CONNECTION = 'external';

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
        const changed = await deps.messages.applyStatusUpdates(deviceId, updates, at);
        return `applied ${changed.length}/${updates.length}`;
      }
      case 'presence': {
        const report = readPresence(payload);
        if (report.source === 'broker') {
          if (report.online) await releaseHeld(deps, deviceId);
          return `connection ${report.online ? 'up' : 'down'}`;
        }
        if (deps.externalBroker && report.online !== undefined) {
          if (report.online) await deps.presence.markOnline(deviceId, EXTERNAL_CONNECTION, at);
          else await deps.presence.markOffline(deviceId, EXTERNAL_CONNECTION, at);
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

/**
 * A phone that connects may have messages held back because it had never connected (see
 * dispatch-worker.ts): their delayed jobs run now instead of at their next look.
 */
async function releaseHeld(deps: DeviceEventDeps, deviceId: string): Promise<void> {
  for (const id of await deps.messages.queuedFor(deviceId)) {
    const job = await deps.queues.dispatch.getJob(id);
    if (job && (await job.isDelayed()) && job.data.slotAt === undefined) await job.promote().catch(() => undefined);
  }
}
