import { injectable } from '../di.js';

/**
 * The fast path between an accepted message and its device's dispatcher when both run in one
 * process (`smx start`): the dispatcher holding a device registers here, and a signal for that
 * device pokes it directly instead of queueing a job (see DispatchService.signal): no Redis round
 * trip, no job pickup, and the dispatcher lingers briefly for more messages instead of ending its
 * job and paying a new job's start-up (pickup, lock, device and presence reads) for the next one.
 *
 * Nothing is missed: a poke is consumed by the next read (which sees every message committed
 * before the poke), and a holder that stops waiting unregisters in the same step, so a poke
 * either reaches a holder that will read again or returns false.
 */
@injectable()
export class DispatchWakeups {
  private readonly holders = new Map<string, DispatchHolder>();

  /** Registers this process's dispatcher of `deviceId` (it must `close()` the holder when done). */
  hold(deviceId: string): DispatchHolder {
    const holder = new DispatchHolder(() => {
      if (this.holders.get(deviceId) === holder) this.holders.delete(deviceId);
    });
    this.holders.set(deviceId, holder);
    return holder;
  }

  /** Tells the device's dispatcher in this process to read again; false when none runs here. */
  poke(deviceId: string): boolean {
    return this.holders.get(deviceId)?.poke() ?? false;
  }
}

export class DispatchHolder {
  private pokedSinceRead = false;
  private closed = false;
  private waiter: (() => void) | undefined;
  /** True once any poke reached this holder: the accept path (or a queue job) runs in this process. */
  everPoked = false;

  constructor(private readonly unregister: () => void) {}

  /** A poke came after the last `beforeRead()`: a read now may find more. */
  get poked(): boolean {
    return this.pokedSinceRead;
  }

  /** Call right before each read: the pokes so far are answered by it. */
  beforeRead(): void {
    this.pokedSinceRead = false;
  }

  /**
   * Resolves true as soon as a poke came after the last `beforeRead()` (at once if one did),
   * false after `ms` without one — and then the holder is closed: later pokes return false.
   */
  wait(ms: number): Promise<boolean> {
    if (this.pokedSinceRead) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        this.close();
        resolve(false);
      }, ms);
      this.waiter = () => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve(true);
      };
    });
  }

  /** Stops taking pokes (idempotent); true when a poke came after the last read (someone must look again). */
  close(): boolean {
    if (!this.closed) {
      this.closed = true;
      this.unregister();
    }
    return this.pokedSinceRead;
  }

  /** @internal DispatchWakeups.poke */
  poke(): boolean {
    if (this.closed) return false;
    this.pokedSinceRead = true;
    this.everPoked = true;
    this.waiter?.();
    return true;
  }
}
