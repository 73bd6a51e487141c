import { inject, injectable } from './di.js';
import { DispatchService } from './delivery/dispatch.js';
import { OtpLeases } from './delivery/otp-leases.js';
import { MessageTransitions } from './delivery/transitions.js';
import type { Logger } from './logger.js';
import { PresenceStore } from './presence/store.js';
import { PresenceTracker } from './presence/tracker.js';
import type { MaintenanceJob, Queues } from './queues.js';
import { ChallengeService } from './sending/challenges.js';
import { IdempotencyService } from './services/idempotency.js';
import { MessageService } from './services/messages.js';
import { RentalService } from './services/rentals.js';
import { TOKENS } from './tokens.js';

export type MaintenanceTask = MaintenanceJob['task'];

/**
 * How often each task runs (the maintenance queue's schedulers, workers/maintenance-worker.ts).
 * - expire: TTLs are 60 s at the shortest, so 5 s keeps statuses honest.
 * - recover-dispatch: devices with QUEUED messages are signalled again (a signal lost in a crash).
 * - release-scheduled: scheduled messages whose time came are handed to the dispatcher.
 * - otp-leases: a lease runs out at most this much later than its length.
 * - reap-presence: connections left by a dead broker node or API process are marked offline (and
 *   `device.offline` fires). A holder is dead HOLDER_TTL_MS (3 s) after its last renewal, so a
 *   phone is announced offline 2 to 4 s after its node died. A healthy run is one sorted-set read.
 */
export const MAINTENANCE_EVERY_MS: Record<MaintenanceTask, number> = {
  expire: 5_000,
  'recover-dispatch': 10_000,
  'otp-leases': 2_000,
  // Scheduled messages are released by a delayed run at their time (DispatchService.signalRelease);
  // this sweep catches one whose run was lost.
  'release-scheduled': 5_000,
  'reap-presence': 1_000,
  'sweep-idempotency': 10 * 60_000,
};

/** Expiry of messages, challenges and rentals, lease and presence upkeep, the idempotency sweep: written, not computed on read. */
@injectable()
export class Maintenance {
  private readonly presenceTracker: PresenceTracker;

  constructor(
    private readonly messages: MessageService,
    private readonly transitions: MessageTransitions,
    private readonly dispatch: DispatchService,
    private readonly challenges: ChallengeService,
    private readonly idempotency: IdempotencyService,
    private readonly leases: OtpLeases,
    private readonly rentals: RentalService,
    presence: PresenceStore,
    @inject(TOKENS.Queues) queues: Queues,
    @inject(TOKENS.Logger) private readonly log: Logger,
  ) {
    this.presenceTracker = new PresenceTracker(presence, queues.deviceEvents);
  }

  /** Runs one task; returns a short account of what it did. */
  async run(task: MaintenanceTask, now = new Date()): Promise<string> {
    switch (task) {
      case 'expire': {
        const [expired, verifications, rentals] = await Promise.all([
          this.transitions.expiredDue(now),
          this.challenges.expireDue(now),
          this.rentals.expireDue(now),
        ]);
        const messages = expired.length;
        if (messages + verifications + rentals > 0) this.log.info({ messages, verifications, rentals }, 'expired');
        return `expired ${messages} messages, ${verifications} verifications, ${rentals} rentals`;
      }
      case 'reap-presence': {
        const reaped = await this.presenceTracker.reapDeadHolders(now);
        if (reaped > 0)
          this.log.warn({ reaped }, 'phones marked offline: the process holding their connections is gone');
        return `reaped ${reaped} connections`;
      }
      case 'otp-leases': {
        const { rerouted, kept } = await this.leases.sweep(now);
        return `re-routed ${rerouted} OTP messages, ${kept} without another route`;
      }
      case 'recover-dispatch': {
        const devices = await this.messages.devicesWithQueued();
        await this.dispatch.signal(devices);
        return `signalled ${devices.length} devices`;
      }
      case 'release-scheduled': {
        const devices = await this.messages.releaseDue(now);
        await this.dispatch.signal(devices);
        return `released scheduled messages for ${devices.length} devices`;
      }
      case 'sweep-idempotency':
        return `swept ${await this.idempotency.sweep(now)} idempotency records`;
    }
  }
}
