import { injectable } from '../di.js';

/** What a process that runs the dispatch worker lends to the signals made in it. */
export interface LocalDispatchRunner {
  /** Serves one device (Dispatcher.serve). */
  serve(deviceId: string): Promise<unknown>;
  /** Hands devices back to the dispatch queue: after a failed serve (the queue retries), or at detach. */
  requeue(deviceIds: string[], delayMs: number): Promise<void>;
  /** Devices served at once; more wait here, each once. */
  concurrency: number;
}

/** How long a device whose local serve failed waits before its queue job (which then retries with backoff). */
export const LOCAL_RETRY_DELAY_MS = 1_000;

/**
 * Dispatch signals served in the process that made them, without a queue job, when that process
 * runs the dispatch worker too (`smx start`): a fleet's messages each go to a different phone, and
 * a job per phone cost its add, pickup and finish in Redis (about 40 commands) and their
 * bookkeeping here. Signals for a device are absorbed while it waits, as the queue's
 * deduplication does, and one that comes while the device is being served makes it served again
 * right after, as the queue's new job would. The database rows stay the queue: a process that
 * dies with devices waiting here loses no message (its devices are signalled again by the phones'
 * reconnects and the recovery sweep, as for a lost job), and a failed serve goes to the queue,
 * which retries it.
 */
@injectable()
export class LocalDispatch {
  private runner: LocalDispatchRunner | undefined;
  private readonly running = new Set<string>();
  /** Signalled while being served: served again when that run ends. */
  private readonly again = new Set<string>();
  /** Waiting for a free slot, in signal order. */
  private readonly waiting = new Set<string>();
  private drained: (() => void) | undefined;

  /** Starts serving this process's signals (the dispatch worker, once it runs). */
  attach(runner: LocalDispatchRunner): void {
    this.runner = runner;
  }

  /**
   * Stops taking signals (they go to the queue from now on), hands the waiting devices to the
   * queue and waits for the serves in progress (graceful shutdown).
   */
  async detach(): Promise<void> {
    const runner = this.runner;
    if (!runner) return;
    this.runner = undefined;
    const waiting = [...this.waiting];
    this.waiting.clear();
    if (waiting.length > 0) await runner.requeue(waiting, 0);
    if (this.running.size > 0) await new Promise<void>((resolve) => (this.drained = resolve));
  }

  /** Takes the signal for `deviceId`; false when this process does not serve dispatch (queue it). */
  take(deviceId: string): boolean {
    const runner = this.runner;
    if (!runner) return false;
    if (this.running.has(deviceId)) this.again.add(deviceId);
    else if (this.running.size < runner.concurrency) this.start(runner, deviceId);
    else this.waiting.add(deviceId);
    return true;
  }

  /** Devices being served here and waiting here (for metrics and tests). */
  get load(): { running: number; waiting: number } {
    return { running: this.running.size, waiting: this.waiting.size };
  }

  private start(runner: LocalDispatchRunner, deviceId: string): void {
    this.running.add(deviceId);
    void runner
      .serve(deviceId)
      .catch(() => runner.requeue([deviceId], LOCAL_RETRY_DELAY_MS).catch(() => undefined))
      .finally(() => this.finish(runner, deviceId));
  }

  private finish(runner: LocalDispatchRunner, deviceId: string): void {
    this.running.delete(deviceId);
    const again = this.again.delete(deviceId);
    if (this.runner !== runner) {
      // Detached meanwhile: a signal that came during the run goes to the queue.
      if (again) void runner.requeue([deviceId], 0).catch(() => undefined);
      if (this.running.size === 0) this.drained?.();
      return;
    }
    if (again) this.waiting.add(deviceId);
    for (const next of this.waiting) {
      if (this.running.size >= runner.concurrency) break;
      this.waiting.delete(next);
      this.start(runner, next);
    }
  }
}
