import type { Job } from 'bullmq';
import { type WebhookJob, type WebhookDelivery, BACKOFF_TYPE, retryDelayMs, WEBHOOK_ATTEMPTS } from '../core/index.js';
import { failPermanentlyOn } from './permanent.js';

/** BullMQ's `backoffStrategy` for the webhooks queue: the schedule of core/webhooks/retry.ts. */
export function webhookBackoff(baseMs: number) {
  return (attemptsMade: number, type?: string, _error?: Error, job?: { data?: { eventId?: string } }): number =>
    type === BACKOFF_TYPE ? retryDelayMs(attemptsMade, baseMs, job?.data?.eventId ?? '') : baseMs;
}

export function webhookProcessor(delivery: WebhookDelivery) {
  return (job: Job<WebhookJob>): Promise<string> => {
    const attempt = job.attemptsMade + 1;
    return failPermanentlyOn(delivery.attempt(job.data, attempt, attempt >= (job.opts.attempts ?? WEBHOOK_ATTEMPTS)));
  };
}
