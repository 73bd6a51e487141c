/**
 * Work the broker started and must see finish before it closes its Redis connections: queue
 * writes of the bridge and presence, and the session store's Redis calls (some of which
 * aedes-persistence-redis does not await, so a connection closed under them would surface as
 * unhandled rejections).
 */
export class InFlight {
  private readonly pending = new Set<Promise<unknown>>();

  /** Registers `work` and returns it unchanged (its rejection stays the caller's to handle). */
  track = <T>(work: Promise<T>): Promise<T> => {
    this.pending.add(work);
    const forget = () => this.pending.delete(work);
    work.then(forget, forget);
    return work;
  };

  get size(): number {
    return this.pending.size;
  }

  /**
   * Resolves once nothing is pending and a full turn of the event loop started nothing new
   * (settled work often starts the next step of a callback chain). Gives up after `timeoutMs`
   * (work stuck on a dead connection must not block shutdown); resolves true when settled.
   */
  async settle(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.pending.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        const expired = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        });
        await Promise.race([Promise.allSettled([...this.pending]), expired]);
        clearTimeout(timer);
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.pending.size === 0) return true;
    }
    return false;
  }
}
