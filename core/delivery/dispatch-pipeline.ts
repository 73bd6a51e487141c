/**
 * The dispatcher's two stages per device: while batch k is being published, batch k+1 is read.
 *
 * - Publishes go out one at a time, in the order the batches were pushed: batch k+1's publish
 *   starts only once batch k's resolved, so the phone gets them in read order. After a failed
 *   publish no later one starts (a later batch never overtakes a failed one).
 * - A batch is marked (DISPATCHED) only after its publish resolved, i.e. once the broker stored
 *   it in the phone's session; marks run one after another, overlapping the next publish.
 * - Until its mark is done a batch's ids are `unmarked`: the next read leaves them out (they are
 *   still QUEUED in the database). So are ids the mark left QUEUED (`skipped`): a phone's report
 *   held their rows, and until it commits they still read QUEUED — reading them again would
 *   publish them twice.
 */
export class DispatchPipeline<T extends { id: string }> {
  private publishing: Promise<void> = Promise.resolve();
  private marking: Promise<void> = Promise.resolve();
  /** The marking chain as it stood before each of the last two pushes (bounds the marks behind). */
  private marksBehind: Array<Promise<void>> = [];
  private readonly unmarked = new Set<string>();
  /** Published ids whose mark left them QUEUED (a phone's report held the row). */
  private readonly skipped: Set<string>;
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly publish: (batch: T[]) => Promise<void>,
    /** Marks the ids DISPATCHED; resolves with those that moved. */
    private readonly mark: (ids: string[]) => Promise<readonly string[]>,
    /** Ids an earlier run of this device published and left QUEUED ({@link LeftQueued}): kept out of reads too. */
    leftQueued: Iterable<string> = [],
  ) {
    this.skipped = new Set(leftQueued);
  }

  /** Ids the next read must leave out: pushed and not yet marked, or published and left QUEUED by their mark. */
  handedOutIds(): string[] {
    return [...this.unmarked, ...this.skipped];
  }

  /** True when every pushed batch is published and marked. */
  get idle(): boolean {
    return this.unmarked.size === 0;
  }

  /**
   * Queues the batch's publish (after the previous one) and its mark (after its publish), then
   * waits until the previous batch is published and the one before it marked: at most one
   * publish is in flight while the caller reads the next batch. Throws an earlier failure.
   */
  async push(batch: T[]): Promise<void> {
    this.throwIfFailed();
    const ids = batch.map((m) => m.id);
    for (const id of ids) this.unmarked.add(id);
    const previousPublish = this.publishing;
    const previousMark = this.marking;
    const published = previousPublish.then(() => this.publish(batch));
    const marked = Promise.all([published, previousMark])
      .then(() => this.mark(ids))
      .then((moved) => {
        const movedIds = new Set(moved);
        for (const id of ids) {
          this.unmarked.delete(id);
          if (!movedIds.has(id)) this.skipped.add(id);
        }
      });
    // Failures surface through push()/settle(); these handlers only record them (and keep
    // Node from reporting a rejection nobody awaits yet).
    published.catch((error: unknown) => this.fail(error));
    marked.catch((error: unknown) => this.fail(error));
    this.publishing = published;
    this.marking = marked;
    this.marksBehind.push(previousMark);
    const markBeforeLast = this.marksBehind.length > 1 ? this.marksBehind.shift() : undefined;
    await previousPublish;
    await markBeforeLast;
    this.throwIfFailed();
  }

  /** Waits until everything pushed is published and marked; throws the first failure. */
  async settle(): Promise<void> {
    await this.publishing;
    await this.marking;
    this.throwIfFailed();
  }

  /** Waits for whatever is still running, ignoring failures (the caller is throwing already). */
  async quiesce(): Promise<void> {
    await Promise.allSettled([this.publishing, this.marking]);
  }

  private fail(error: unknown): void {
    this.failure ??= { error };
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }
}

/**
 * A device's ids that a dispatcher run published and whose mark left them QUEUED (a phone's
 * report held the row and moves the message past DISPATCHED itself once it commits), carried to
 * the device's next run in this process. Until that report commits the row still reads QUEUED:
 * a run that starts meanwhile (a new signal, or the last one yielding after its time budget)
 * would publish it again. Each id is left out for `ttlMs` from when it was first left QUEUED, not
 * longer: a report that never commits leaves the message QUEUED, and it is then handed over again
 * (the phone de-duplicates by id).
 */
export class LeftQueued {
  private readonly byDevice = new Map<string, Map<string, number>>();
  private nextSweep = 0;

  constructor(private readonly ttlMs = 10_000) {}

  /** The device's ids still to leave out. */
  recall(deviceId: string, now = Date.now()): string[] {
    const ids = this.byDevice.get(deviceId);
    if (!ids) return [];
    for (const [id, until] of ids) if (until <= now) ids.delete(id);
    if (ids.size === 0) this.byDevice.delete(deviceId);
    return [...ids.keys()];
  }

  /** What a run ended with (DispatchPipeline.handedOutIds after settle); replaces what the device had. */
  remember(deviceId: string, ids: readonly string[], now = Date.now()): void {
    const before = this.byDevice.get(deviceId);
    if (ids.length === 0) {
      this.byDevice.delete(deviceId);
      return;
    }
    this.byDevice.set(deviceId, new Map(ids.map((id) => [id, before?.get(id) ?? now + this.ttlMs])));
    // A device not served again would keep its entry: all are swept once per TTL.
    if (now >= this.nextSweep) {
      this.nextSweep = now + this.ttlMs;
      for (const device of [...this.byDevice.keys()]) this.recall(device, now);
    }
  }
}
