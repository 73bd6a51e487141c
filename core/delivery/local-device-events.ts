import { inject, injectable } from '../di.js';
import { PermanentFailure } from '../jobs.js';
import type { Logger } from '../logger.js';
import type { DeviceEventJob } from '../queues.js';
import { TOKENS } from '../tokens.js';

/**
 * Device publishes handled in the process whose broker received them, before the publish is
 * acknowledged, when that process runs the workers too (`smx start`): a fleet's status reports
 * each cost a queue job otherwise (its add, pickup and finish: about 40 Redis commands). The
 * guarantee is the queue's or better: the phone's PUBACK waits for the database commit, so a
 * crash before it makes the phone send the report again. A failure a retry may fix sends the
 * event to the queue after all (which retries it); a permanent one is dropped and logged, as the
 * queue would fail it.
 */
@injectable()
export class LocalDeviceEvents {
  private handler: ((event: DeviceEventJob) => Promise<unknown>) | undefined;
  private inFlight = 0;
  private drained: (() => void) | undefined;

  constructor(@inject(TOKENS.Logger) private readonly log: Logger) {}

  /** Starts handling this process's device events (the device-events worker, once it runs). */
  attach(handler: (event: DeviceEventJob) => Promise<unknown>): void {
    this.handler = handler;
  }

  /** Stops taking events (they go to the queue from now on) and waits for those in progress. */
  async detach(): Promise<void> {
    this.handler = undefined;
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
  }

  /** Handles the event here; false when it must go to the queue (no worker here, or a failure a retry may fix). */
  async handle(event: DeviceEventJob): Promise<boolean> {
    const handler = this.handler;
    if (!handler) return false;
    this.inFlight++;
    try {
      await handler(event);
      return true;
    } catch (error) {
      if (error instanceof PermanentFailure) {
        this.log.warn({ err: error, deviceId: event.deviceId, channel: event.channel }, 'device event dropped');
        return true;
      }
      this.log.warn(
        { err: error, deviceId: event.deviceId, channel: event.channel },
        'device event failed here; the queue retries it',
      );
      return false;
    } finally {
      if (--this.inFlight === 0) this.drained?.();
    }
  }
}
