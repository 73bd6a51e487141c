import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from '../core/logger.js';
import type { WebhookJob } from '../core/queues.js';
import type { RuntimeConfig } from '../core/secrets.js';
import type { SmxMetrics } from '../core/smx-metrics.js';
import type { WebhookAttempts } from '../core/webhooks/attempts.js';
import type { WebhookEndpoints } from '../core/webhooks/endpoints.js';
import { BACKOFF_TYPE, retryDelayMs, WEBHOOK_ATTEMPTS } from '../core/webhooks/retry.js';
import { sendWebhook, type SendResult } from '../core/webhooks/sender.js';
import { webhookHeaders } from '../core/webhooks/signature.js';
import { urlProblem } from '../core/webhooks/url-guard.js';

export interface WebhookWorkerDeps {
  endpoints: WebhookEndpoints;
  attempts: WebhookAttempts;
  config: Pick<RuntimeConfig, 'webhookAllowPrivate' | 'webhookRetryBaseMs'>;
  log: Logger;
  /** Counts each attempt (`smx_webhook_deliveries_total`); absent in tests that build the processor alone. */
  metrics?: SmxMetrics;
}

/** BullMQ's `backoffStrategy` for the webhooks queue: the schedule of core/webhooks/retry.ts. */
export function webhookBackoff(baseMs: number) {
  return (attemptsMade: number, type?: string, _error?: Error, job?: { data?: { eventId?: string } }): number =>
    type === BACKOFF_TYPE ? retryDelayMs(attemptsMade, baseMs, job?.data?.eventId ?? '') : baseMs;
}

/**
 * Delivers one event to one receiver, once per attempt: resolves and checks the host (SSRF guard,
 * at send time too), signs with a fresh timestamp under the event's id, POSTs, and logs the
 * attempt. Only a 2xx counts; any other answer is retried on the schedule, except: a 410 from an
 * endpoint disables it, a refused URL and a missing secret are not retried.
 */
export function webhookProcessor(deps: WebhookWorkerDeps) {
  const allowPrivate = deps.config.webhookAllowPrivate;
  return async (job: Job<WebhookJob>): Promise<string> => {
    const d = job.data;
    const attempt = job.attemptsMade + 1;
    const last = attempt >= (job.opts.attempts ?? WEBHOOK_ATTEMPTS);
    const at = new Date();

    let url = d.url;
    let secret: string | undefined;
    if (d.endpointId) {
      const target = await deps.endpoints.target(d.endpointId);
      if (!target) return 'endpoint deleted';
      if (!target.enabled) return 'endpoint disabled';
      ({ url, secret } = target);
    } else {
      secret = await deps.endpoints.callbackSecret(d.projectId);
    }

    const log = async (result: SendResult, retry: boolean) => {
      deps.metrics?.webhookDeliveries.inc({ result: result.ok ? 'delivered' : result.refused ? 'refused' : 'failed' });
      await deps.attempts.record({
        projectId: d.projectId, endpointId: d.endpointId, eventId: d.eventId, type: d.type, url, attempt, statusCode: result.statusCode,
        durationMs: result.durationMs, error: result.error, succeeded: result.ok, at,
        nextAttemptAt: retry ? new Date(Date.now() + retryDelayMs(attempt, deps.config.webhookRetryBaseMs, d.eventId)) : null,
      });
    };

    const problem = secret === undefined
      ? 'the project no longer exists'
      : urlProblem(url, { allowPrivate, httpsOnly: !d.endpointId && !allowPrivate });
    if (problem) {
      await log({ ok: false, statusCode: null, durationMs: 0, error: `refused: ${problem}`, refused: true }, false);
      throw new UnrecoverableError(problem);
    }

    const result = await sendWebhook(url, d.body, webhookHeaders(secret!, d.eventId, d.body, new Date()), { allowPrivate });
    // The tenant's log says only "connection failed" / "refused"; the operator's says why.
    if (result.detail) deps.log.info({ projectId: d.projectId, endpointId: d.endpointId, eventId: d.eventId, attempt, reason: result.detail }, 'webhook attempt failed');
    const gone = result.statusCode === 410;
    await log(result, !result.ok && !result.refused && !gone && !last);
    if (result.ok) return `delivered (${result.statusCode})`;
    if (gone && d.endpointId) {
      await deps.endpoints.disable(d.endpointId, 'the receiver answered 410 Gone');
      deps.log.warn({ endpointId: d.endpointId, eventId: d.eventId }, 'webhook endpoint disabled: 410 Gone');
    }
    if (gone || result.refused) throw new UnrecoverableError(result.error ?? 'refused');
    throw new Error(result.error ?? 'delivery failed');
  };
}
