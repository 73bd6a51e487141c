/**
 * The bench's handle on the fleet: the phones split over one or more forked children
 * (fleet-phones.ts), addressed as one. Phone indexes are global (child offset + local index).
 */
import { IpcChild } from './ipc.js';
import type { ConnectOptions, Copy, FleetCount, FleetCredentials, Receipt } from './fleet-phones.js';

export class FleetPool {
  private constructor(
    private readonly children: IpcChild[],
    private readonly offsets: number[],
  ) {}

  /** Forks ceil(devices / perChild) children and hands each its share (nothing connects yet). */
  static async start(devices: FleetCredentials[], perChild: number): Promise<FleetPool> {
    const children: IpcChild[] = [];
    const offsets: number[] = [];
    const pool = new FleetPool(children, offsets);
    try {
      for (let offset = 0; offset < devices.length; offset += perChild) {
        const child = IpcChild.fork(new URL('./fleet-phones.js', import.meta.url), `phones ${children.length + 1}`);
        children.push(child);
        offsets.push(offset);
        await child.request('add', { devices: devices.slice(offset, offset + perChild) });
      }
    } catch (err) {
      await pool.stop();
      throw err;
    }
    return pool;
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid);
  }

  /** Every child starts all its phones at once; resolves with the earliest start time. */
  async connect(options: ConnectOptions): Promise<number> {
    const started = await Promise.all(this.children.map((c) => c.request<number>('connect', options)));
    return Math.min(...started);
  }

  async count(): Promise<FleetCount> {
    const counts = await Promise.all(this.children.map((c) => c.request<FleetCount>('count')));
    const errors: Record<string, number> = {};
    for (const c of counts) for (const [k, v] of Object.entries(c.errors)) errors[k] = (errors[k] ?? 0) + v;
    const lasts = counts.map((c) => c.lastFirstConnackAt);
    return {
      phones: sum(counts, 'phones'),
      connected: sum(counts, 'connected'),
      everConnected: sum(counts, 'everConnected'),
      lastFirstConnackAt: lasts.every((t) => t !== null) ? Math.max(...(lasts as number[])) : null,
      connackTimeouts: sum(counts, 'connackTimeouts'),
      errors,
      received: sum(counts, 'received'),
      copies: sum(counts, 'copies'),
      expectedReceived: sum(counts, 'expectedReceived'),
    };
  }

  /** Per phone: [first CONNACK since `connect`, latest CONNACK] (ms since epoch; null: none yet). */
  async connackTimes(): Promise<Array<readonly [number | null, number | null]>> {
    return (
      await Promise.all(
        this.children.map((c) => c.request<Array<readonly [number | null, number | null]>>('connackTimes')),
      )
    ).flat();
  }

  /** Every child counts these ids in `expectedReceived` (a phone of any child may get any of them). */
  async expect(ids: string[]): Promise<void> {
    await Promise.all(this.children.map((c) => c.request('expect', { ids })));
  }

  /** Waits until no phone received anything for `quietMs` (at most `timeoutMs`): late messages of the last phase are in. */
  async quiesce(quietMs = 3000, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = (await this.count()).received;
    let since = Date.now();
    while (Date.now() - since < quietMs && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      const now = (await this.count()).received;
      if (now !== last) [last, since] = [now, Date.now()];
    }
  }

  async reset(): Promise<void> {
    await Promise.all(this.children.map((c) => c.request('reset')));
  }

  /** Every receipt and copy since the last reset, with global phone indexes. */
  async dump(): Promise<{ receipts: Receipt[]; copies: Copy[] }> {
    const dumps = await Promise.all(
      this.children.map((c) => c.request<{ receipts: Receipt[]; copies: Copy[] }>('dump')),
    );
    const receipts: Receipt[] = [];
    const copies: Copy[] = [];
    dumps.forEach((d, i) => {
      const offset = this.offsets[i]!;
      for (const r of d.receipts) receipts.push([r[0], r[1], r[2] + offset, r[3]]);
      for (const c of d.copies) copies.push([c[0], c[1], c[2], c[3] + offset]);
    });
    return { receipts, copies };
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((c) => c.stop()));
  }
}

function sum(
  counts: FleetCount[],
  key: 'phones' | 'connected' | 'everConnected' | 'connackTimeouts' | 'received' | 'copies' | 'expectedReceived',
): number {
  return counts.reduce((total, c) => total + c[key], 0);
}
