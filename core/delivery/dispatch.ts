import { inject, injectable } from '../di.js';
import type { Logger } from '../logger.js';
import { dispatchDedupId, type Queues } from '../queues.js';
import { TOKENS } from '../tokens.js';
import { DeviceTransports } from './transports.js';
import { DispatchWakeups } from './dispatch-wakeups.js';
import { LocalDispatch } from './local-dispatch.js';
import { DeviceService } from '../services/devices.js';
import { MessageTransitions } from './transitions.js';

/**
 * How long a waiting dispatch job absorbs further signals for its device. Bounded, so a job that
 * can no longer run (its worker died between taking it and starting it) stops swallowing signals
 * after this long; about the dispatch lock's TTL, so such a death costs no more than a lock's.
 */
const SIGNAL_ABSORB_MS = 2_000;
/** A takeover look runs this long after the holder's lock would run out (clock and pickup slack). */
const TAKEOVER_SLACK_MS = 50;

/** At most one takeover look waits per device (apart from the ordinary signals' job). */
function takeoverDedupId(deviceId: string): string {
  return `dispatch-takeover:${deviceId}`;
}

/** The core's side of delivery: put accepted messages on the dispatch queue, or withdraw them. */
@injectable()
export class DispatchService {
  constructor(
    @inject(TOKENS.Queues) private readonly queues: Queues,
    @inject(TOKENS.Logger) private readonly log: Logger,
    private readonly transitions: MessageTransitions,
    private readonly devices: DeviceService,
    private readonly transports: DeviceTransports,
    private readonly wakeups: DispatchWakeups,
    private readonly local: LocalDispatch,
  ) {}

  /**
   * Tells the dispatcher that these devices may have QUEUED messages. A device whose dispatcher
   * runs in this process and will read again takes a direct poke (DispatchWakeups); when this
   * process runs the dispatch worker, the others are served here too (LocalDispatch). Otherwise
   * one job waits per device (deduplicated), so signalling after every accepted message costs at
   * most one Redis call. `delayMs` postpones the look (pacing, a phone that never connected) and
   * always goes through the queue.
   */
  async signal(deviceIds: Iterable<string>, delayMs = 0): Promise<void> {
    const unique = [...new Set(deviceIds)];
    const queued =
      delayMs === 0 ? unique.filter((deviceId) => !this.wakeups.poke(deviceId) && !this.local.take(deviceId)) : unique;
    await this.enqueue(queued, delayMs);
  }

  /** One dispatch job per device (deduplicated per device), whatever runs in this process. */
  async enqueue(deviceIds: readonly string[], delayMs = 0): Promise<void> {
    if (deviceIds.length === 0) return;
    await this.queues.dispatch.addBulk(
      deviceIds.map((deviceId) => ({
        name: 'dispatch',
        data: { deviceId },
        opts: {
          deduplication: { id: dispatchDedupId(deviceId), ttl: SIGNAL_ABSORB_MS },
          ...(delayMs > 0 ? { delay: delayMs } : {}),
        },
      })),
    );
  }

  /**
   * A dispatcher found the device's lock taken: makes sure someone looks when the lock runs out
   * (`lockExpiresInMs`), in case its holder died and never releases it. One delayed job per device
   * at a time (deduplicated for its delay, apart from the ordinary signals so it absorbs none of
   * them); if the holder is alive then, that look is refused in turn and schedules the next one.
   * Only contention costs this call: a device served by one dispatcher at a time never pays it.
   */
  async signalTakeover(deviceId: string, lockExpiresInMs: number): Promise<void> {
    const delay = Math.max(0, lockExpiresInMs) + TAKEOVER_SLACK_MS;
    await this.queues.dispatch.add(
      'dispatch',
      { deviceId },
      { delay, deduplication: { id: takeoverDedupId(deviceId), ttl: delay } },
    );
  }

  /** True while the device's next dispatch waits on a delay (its pace, or its first connect). */
  async isHeldBack(deviceId: string): Promise<boolean> {
    return (await this.delayedJob(deviceId)) !== undefined;
  }

  /** Runs a device's waiting (delayed) dispatch job now, e.g. when the phone first connects. */
  async wake(deviceId: string): Promise<void> {
    const job = await this.delayedJob(deviceId);
    if (job) await job.promote().catch(() => undefined);
    else await this.signal([deviceId]);
  }

  /** The device's waiting dispatch job, if it waits on a delay. */
  private async delayedJob(deviceId: string) {
    const jobId = await this.queues.dispatch.getDeduplicationJobId(dispatchDedupId(deviceId));
    const job = jobId ? await this.queues.dispatch.getJob(jobId) : undefined;
    return job && (await job.isDelayed()) ? job : undefined;
  }

  /**
   * Withdraws a message that is no longer needed (its challenge was canceled, verified or failed;
   * it was resent): FAILED with `reason` unless the phone already sent it, and a `cancel` to the
   * phone if it holds it already. Never throws: the caller's own change is done.
   */
  async withdraw(messageId: string, reason: string): Promise<void> {
    try {
      for (const change of await this.transitions.withdrawn([messageId], reason)) {
        if (change.was === 'DISPATCHED' && change.deviceId) await this.cancelOnDevice(change.deviceId, [change.id]);
      }
    } catch (error) {
      this.log.warn({ err: error, messageId }, 'message not withdrawn');
    }
  }

  /**
   * A caller's cancel (`POST /v1/messages/:id/cancel`): the message is withdrawn (FAILED with
   * `CANCELED`) if the phone has not reported it sent — QUEUED (scheduled or not) or DISPATCHED —
   * and its phone gets a `cancel`. False when it had moved on (sent, or ended).
   * Unlike {@link withdraw} it throws when the database does: the caller answers the request.
   */
  async cancel(messageId: string): Promise<boolean> {
    const [change] = await this.transitions.withdrawn([messageId], 'CANCELED');
    if (!change) return false;
    // Also for one that read QUEUED: a dispatcher may have published it and not marked it yet
    // (the mark follows the publish). A phone ignores a cancel for an id it never got.
    if (change.deviceId) await this.cancelOnDevice(change.deviceId, [change.id]);
    return true;
  }

  /**
   * Scheduled messages are released at their time by one delayed maintenance run per second
   * that holds one (deduplicated by its job id), which signals their devices; the periodic
   * `release-scheduled` sweep releases any whose run was lost (Redis lost its jobs).
   */
  async signalRelease(times: Iterable<Date>, now = Date.now()): Promise<void> {
    // Rounded up to the second: never early, and at most one job per second however many
    // distinct times are asked for.
    const distinct = [...new Set([...times].map((t) => Math.ceil(t.getTime() / 1000) * 1000))];
    if (distinct.length === 0) return;
    await this.queues.maintenance.addBulk(
      distinct.map((at) => ({
        name: 'release-scheduled',
        data: { task: 'release-scheduled' as const },
        opts: { jobId: `release-scheduled-${at}`, delay: Math.max(0, at - now) },
      })),
    );
  }

  /**
   * Tells a phone not to send messages it may hold already: a `cancel` on its MQTT control topic,
   * or its transport's own way (SMSGate: `MessageCancelled`). Best effort, never throws: the
   * message is already out of that phone's hands in the database, and its late reports are ignored.
   */
  async cancelOnDevice(deviceId: string, messageIds: string[]): Promise<void> {
    try {
      const device = await this.devices.find(deviceId);
      if (device) await this.transports.of(device).cancel(deviceId, messageIds);
    } catch (error) {
      this.log.warn({ err: error, deviceId, messageIds }, 'cancel not delivered to the phone');
    }
  }
}
