/**
 * Group commit for independent requests: items added while a flush is running wait and go out
 * together in the next one, so under load many requests share one database round trip, and an
 * idle system adds no delay (a lone item flushes on the next tick). Each caller gets its own
 * result or its own error.
 */
export interface MicroBatcherOptions<I, O> {
  /** Writes a group; returns one result or Error per item, in order. A throw fails the whole group. */
  flush: (items: I[]) => Promise<Array<O | Error>>;
  /** Most items in one flush. @defaultValue 500 */
  maxSize?: number;
  /** Flushes running at once (a database pool serves several). @defaultValue 2 */
  concurrency?: number;
}

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: Error) => void;
}

export class MicroBatcher<I, O> {
  private readonly queue: Array<Pending<I, O>> = [];
  private running = 0;
  private scheduled = false;
  private readonly maxSize: number;
  private readonly concurrency: number;

  constructor(private readonly options: MicroBatcherOptions<I, O>) {
    this.maxSize = options.maxSize ?? 500;
    this.concurrency = options.concurrency ?? 2;
  }

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Items waiting for a flush slot. */
  get waiting(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not a microtask: requests parsed in the same I/O turn join one group.
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length > 0) {
      const group = this.queue.splice(0, this.maxSize);
      this.running++;
      void this.run(group).finally(() => {
        this.running--;
        if (this.queue.length > 0) this.schedule();
      });
    }
  }

  private async run(group: Array<Pending<I, O>>): Promise<void> {
    try {
      const results = await this.options.flush(group.map((p) => p.item));
      group.forEach((p, i) => {
        const result = results[i];
        if (result instanceof Error) p.reject(result);
        else if (result === undefined && results.length !== group.length)
          p.reject(new Error('micro-batch flush returned too few results'));
        else p.resolve(result as O);
      });
    } catch (error) {
      for (const p of group) p.reject(error as Error);
    }
  }
}
