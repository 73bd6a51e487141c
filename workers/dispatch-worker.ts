import { DelayedError, type Job } from 'bullmq';
import type { Knex } from 'knex';
import type { Logger } from '../core/logger.js';
import type { PresenceStore } from '../core/presence.js';
import type { DevicePublisher } from '../core/publisher.js';
import type { DispatchJob } from '../core/queues.js';
import type { DeviceService } from '../core/services/devices.js';
import type { MessageService, OutboundMessage } from '../core/services/messages.js';
import type { DevicePacer } from './pacing.js';

/** How long a message for a phone that has never connected waits before its job looks again. */
export const HOLD_FOR_FIRST_CONNECT_MS = 15_000;
/** A reserved slot this close to now is taken at once rather than delayed. */
const SLOT_TOLERANCE_MS = 50;

export interface DispatchDeps {
  messages: MessageService;
  devices: DeviceService;
  presence: PresenceStore;
  publisher: DevicePublisher;
  pacer: DevicePacer;
  db: Knex;
  log: Logger;
}

/** The outbox payload item of device-protocol.md §3. */
function toOutboxItem(m: OutboundMessage) {
  return { id: m.id, to: m.to, body: m.body, simSlot: m.simSlot, expiresAt: m.expiresAt.toISOString(), priority: m.priority };
}

/**
 * Hands one queued message to its phone: skips what is no longer QUEUED, expires what is past
 * its TTL, paces to the device's send rate (the job is delayed to its slot), publishes to the
 * device's outbox at QoS 1 and marks it DISPATCHED. A broker error throws, and BullMQ retries
 * with backoff; the phone de-duplicates by id, so a retry after a lost ack is harmless.
 */
export function dispatchProcessor(deps: DispatchDeps) {
  return async (job: Job<DispatchJob>, token?: string): Promise<string> => {
    const [message] = await deps.messages.loadOutbound([job.data.messageId]);
    if (!message || message.status !== 'QUEUED') return 'skipped';
    const now = Date.now();
    if (message.expiresAt.getTime() <= now) {
      await deps.messages.expire([message.id], new Date(now));
      return 'expired';
    }
    const device = message.deviceId ? await deps.devices.find(message.deviceId) : null;
    if (!device) {
      await deps.messages.markFailed([message.id], 'NO_DEVICE');
      return 'no-device';
    }

    const presence = await deps.presence.get(device.id);
    if (!presence.online && presence.lastSeenAt === null) {
      // A phone that never connected has no persistent session in the broker yet: a publish now
      // would be lost. Look again shortly; the message stays QUEUED until it connects or expires.
      await delay(job, token, now + HOLD_FOR_FIRST_CONNECT_MS);
    }

    const slotAt = job.data.slotAt ?? (await deps.pacer.reserve(device.id, device.sendRatePerMinute, now));
    if (slotAt > now + SLOT_TOLERANCE_MS) {
      await job.updateData({ ...job.data, slotAt });
      await deps.db('messages').where({ id: message.id }).update({ scheduled_at: new Date(slotAt) });
      await delay(job, token, slotAt);
    }

    await deps.publisher.publish(device.id, 'outbox', { messages: [toOutboxItem(message)] });
    await deps.messages.markDispatched([message.id]);
    deps.log.debug({ messageId: message.id, deviceId: device.id }, 'message dispatched');
    return 'dispatched';
  };
}

/** Moves the job back to delayed until `at`; BullMQ needs the DelayedError to know it was not a failure. */
async function delay(job: Job, token: string | undefined, at: number): Promise<never> {
  await job.moveToDelayed(at, token);
  throw new DelayedError();
}
