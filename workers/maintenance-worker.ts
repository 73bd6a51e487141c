import type { Job } from 'bullmq';
import type { OtpLeases } from '../core/delivery/otp-leases.js';
import type { Logger } from '../core/logger.js';
import type { PresenceStore } from '../core/presence.js';
import type { PresenceTracker } from '../broker/presence.js';
import type { MaintenanceJob, Queues } from '../core/queues.js';
import type { ChallengeService } from '../core/services/challenges.js';
import type { DispatchService } from '../core/services/dispatch.js';
import type { IdempotencyService } from '../core/services/idempotency.js';
import type { MessageTransitions } from '../core/services/message-transitions.js';
import type { MessageService } from '../core/services/messages.js';
import type { RentalService } from '../core/services/rentals.js';

export interface MaintenanceDeps {
  messages: MessageService;
  transitions: MessageTransitions;
  dispatch: DispatchService;
  challenges: ChallengeService;
  idempotency: IdempotencyService;
  leases: OtpLeases;
  presence: PresenceStore;
  presenceTracker: PresenceTracker;
  rentals: RentalService;
  log: Logger;
}

/** How often expiry runs; TTLs are 60 s at the shortest, so 5 s keeps statuses honest. */
export const EXPIRE_EVERY_MS = 5_000;
export const SWEEP_IDEMPOTENCY_EVERY_MS = 10 * 60_000;
/** How often devices with QUEUED messages are signalled again (a signal lost in a crash). */
export const RECOVER_DISPATCH_EVERY_MS = 10_000;
/** How often OTP leases are checked: a lease runs out at most this much later than its length. */
export const OTP_LEASES_EVERY_MS = 2_000;
/**
 * How often connections left by a dead broker node or API process are marked offline (and
 * `device.offline` fires). A holder is dead HOLDER_TTL_MS (3 s) after its last renewal, so a
 * phone is announced offline 2 to 4 s after its node died; reads show it offline from 3 s on.
 * A healthy run is one sorted-set read (PresenceStore.reapDeadHolders) plus the job's own upkeep.
 */
export const REAP_PRESENCE_EVERY_MS = 1_000;

/** Registers the repeatable maintenance jobs (idempotent: a scheduler id is upserted, never duplicated). */
export async function scheduleMaintenance(queues: Queues): Promise<void> {
  await queues.maintenance.upsertJobScheduler('expire', { every: EXPIRE_EVERY_MS }, { name: 'expire', data: { task: 'expire' } });
  await queues.maintenance.upsertJobScheduler('recover-dispatch', { every: RECOVER_DISPATCH_EVERY_MS }, { name: 'recover-dispatch', data: { task: 'recover-dispatch' } });
  // Every second: a finished run is not kept (3,600 an hour would say nothing), failures are (a few).
  await queues.maintenance.upsertJobScheduler(
    'reap-presence',
    { every: REAP_PRESENCE_EVERY_MS },
    { name: 'reap-presence', data: { task: 'reap-presence' }, opts: { removeOnComplete: true, removeOnFail: { count: 100 } } },
  );
  await queues.maintenance.upsertJobScheduler('otp-leases', { every: OTP_LEASES_EVERY_MS }, { name: 'otp-leases', data: { task: 'otp-leases' } });
  // And once now: messages committed by a process that died before it signalled go out on start.
  await queues.maintenance.add('recover-dispatch', { task: 'recover-dispatch' });
  await queues.maintenance.upsertJobScheduler('sweep-idempotency', { every: SWEEP_IDEMPOTENCY_EVERY_MS }, { name: 'sweep-idempotency', data: { task: 'sweep-idempotency' } });
}

/** Expiry of messages, challenges and rentals, and the idempotency sweep: written, not computed on read. */
export function maintenanceProcessor(deps: MaintenanceDeps) {
  return async (job: Job<MaintenanceJob>): Promise<string> => {
    const now = new Date();
    if (job.data.task === 'expire') {
      const [messages, verifications, rentals] = await Promise.all([deps.transitions.expiredDue(now), deps.challenges.expireDue(now), deps.rentals.expireDue(now)]);
      if (messages + verifications + rentals > 0) deps.log.info({ messages, verifications, rentals }, 'expired');
      return `expired ${messages} messages, ${verifications} verifications, ${rentals} rentals`;
    }
    if (job.data.task === 'reap-presence') {
      const reaped = await deps.presenceTracker.reapDeadHolders(now);
      if (reaped > 0) deps.log.warn({ reaped }, 'phones marked offline: the process holding their connections is gone');
      return `reaped ${reaped} connections`;
    }
    if (job.data.task === 'otp-leases') {
      const { rerouted, kept } = await deps.leases.sweep(now);
      return `re-routed ${rerouted} OTP messages, ${kept} without another route`;
    }
    if (job.data.task === 'recover-dispatch') {
      const devices = await deps.messages.devicesWithQueued();
      await deps.dispatch.signal(devices);
      return `signalled ${devices.length} devices`;
    }
    const swept = await deps.idempotency.sweep(now);
    return `swept ${swept} idempotency records`;
  };
}
