/** Waits (bounded) until the phone has received a number of messages, with a progress bar. */
import type { PhoneFleet } from './phone-fleet.js';
import type { PhoneCount } from './phones.js';
import { bar } from './progress.js';

export interface DrainResult {
  target: number;
  received: number;
  complete: boolean;
  /** From the call until the target was reached (or the timeout). */
  waitedMs: number;
  last: PhoneCount;
}

/**
 * Polls the phones every 250 ms until `pick(count)` reaches `target` or `timeoutMs` passes
 * (also stops early when nothing arrived for `stallMs`: SMX stopped dispatching).
 */
export async function waitForPhones(
  phones: PhoneFleet,
  target: number,
  options: { title: string; timeoutMs: number; stallMs?: number; pick?: (c: PhoneCount) => number },
): Promise<DrainResult> {
  const pick = options.pick ?? ((c: PhoneCount) => c.count);
  const started = Date.now();
  const progress = bar(options.title, target, 'msgs');
  let last = await phones.count();
  let lastChange = Date.now();
  let previous = pick(last);
  try {
    while (pick(last) < target && Date.now() - started < options.timeoutMs) {
      if (Date.now() - lastChange > (options.stallMs ?? 15_000)) break;
      await new Promise((r) => setTimeout(r, 250));
      last = await phones.count();
      const now = pick(last);
      if (now !== previous) {
        previous = now;
        lastChange = Date.now();
      }
      progress.update(now, `${Math.round((Date.now() - started) / 1000)} s`);
    }
  } finally {
    progress.update(pick(last));
    progress.stop();
  }
  return { target, received: pick(last), complete: pick(last) >= target, waitedMs: Date.now() - started, last };
}
