import { createHash } from 'node:crypto';

/**
 * The retry schedule of a webhook delivery: 13 attempts. The delay after attempt n is
 * base × 3^(n-1), capped at base × 1440, each with ±20 % jitter. With the default base (10 s):
 * 10 s, 30 s, 1.5 min, 4.5 min, 13.5 min, 40 min, 2 h, then every 4 h — about 23 hours in all.
 */
export const WEBHOOK_ATTEMPTS = 13;
export const BACKOFF_TYPE = 'webhook';

/**
 * Delay before the attempt after `attemptsMade` attempts. The jitter is derived from the event id
 * and the attempt number, so the worker (which logs when the next attempt is due) and BullMQ's
 * backoff strategy compute the same delay.
 */
export function retryDelayMs(attemptsMade: number, baseMs: number, seed: string): number {
  const plain = Math.min(baseMs * 3 ** Math.max(0, attemptsMade - 1), baseMs * 1440);
  const jitter = createHash('sha256').update(`${seed}:${attemptsMade}`).digest().readUInt32BE(0) / 0xffffffff;
  return Math.round(plain * (0.8 + 0.4 * jitter));
}
