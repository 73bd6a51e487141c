/** The bench's handle on the phones child (phones.ts): start, reset, count, dump, stop. */
import type { LinkResult } from '../../protocol/payloads.js';
import { IpcChild } from './ipc.js';
import type { PhoneCount } from './phones.js';

export class PhoneFleet {
  private constructor(private readonly child: IpcChild) {}

  /** Forks the phones process and connects one reference device per credentials entry. */
  static async start(devices: LinkResult[]): Promise<PhoneFleet> {
    const child = IpcChild.fork(new URL('./phones.js', import.meta.url), 'phones');
    const fleet = new PhoneFleet(child);
    try {
      await withTimeout(child.request('start', { devices }), 30_000, 'phones did not connect within 30 s');
    } catch (err) {
      await fleet.stop();
      throw err;
    }
    return fleet;
  }

  get pid(): number {
    return this.child.pid;
  }

  reset(): Promise<boolean> {
    return this.child.request('reset');
  }

  count(): Promise<PhoneCount> {
    return this.child.request('count');
  }

  expect(ids: string[]): Promise<number> {
    return this.child.request('expect', { ids });
  }

  dump(): Promise<Array<[string, number]>> {
    return this.child.request('dump');
  }

  log(): Promise<string[]> {
    return this.child.request('log');
  }

  stop(): Promise<void> {
    return this.child.stop();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms))),
  ]).finally(() => clearTimeout(timer));
}
