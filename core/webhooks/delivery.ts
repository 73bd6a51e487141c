import { inject, injectable } from '../di.js';
import { PermanentFailure } from '../jobs.js';
import type { Logger } from '../logger.js';
import type { WebhookJob } from '../queues.js';
import type { RuntimeConfig } from '../secrets.js';
import { SmxMetrics } from '../smx-metrics.js';
import { TOKENS } from '../tokens.js';
import { WebhookAttempts } from './attempts.js';
import { WebhookEndpoints } from './endpoints.js';
import { retryDelayMs } from './retry.js';
import { sendWebhook, type SendResult } from './sender.js';
import { smsgateHeaders, smsgateSigningKey, webhookHeaders } from './signature.js';
import { urlProblem } from './url-guard.js';

/**
 * Delivers one event to one receiver, once per attempt: resolves and checks the host (SSRF guard,
 * at send time too), signs with a fresh timestamp under the event's id, POSTs, and logs the
 * attempt. Only a 2xx counts; any other answer throws to be retried on the schedule, except: a
 * 410 from an endpoint disables it, and a refused URL or a missing secret are permanent failures.
 */
@injectable()
export class WebhookDelivery {
  constructor(
    private readonly endpoints: WebhookEndpoints,
    private readonly attempts: WebhookAttempts,
    private readonly metrics: SmxMetrics,
    @inject(TOKENS.Config) private readonly config: Pick<RuntimeConfig, 'webhookAllowPrivate' | 'webhookRetryBaseMs'>,
    @inject(TOKENS.Logger) private readonly log: Logger,
  ) {}

  /** Attempt number `attempt` (1-based); `last` when no retry follows a failure. */
  async attempt(d: WebhookJob, attempt: number, last: boolean): Promise<string> {
    const at = new Date();

    let url = d.url;
    let secret: string | undefined;
    if (d.endpointId) {
      const target = await this.endpoints.target(d.endpointId);
      if (!target) return 'endpoint deleted';
      if (!target.enabled) return 'endpoint disabled';
      ({ url, secret } = target);
    } else {
      secret = await this.endpoints.callbackSecret(d.projectId);
    }

    const log = async (result: SendResult, retry: boolean) => {
      this.metrics.webhookDeliveries.inc({ result: result.ok ? 'delivered' : result.refused ? 'refused' : 'failed' });
      await this.attempts.record({
        projectId: d.projectId,
        endpointId: d.endpointId,
        eventId: d.eventId,
        type: d.type,
        url,
        attempt,
        statusCode: result.statusCode,
        durationMs: result.durationMs,
        error: result.error,
        succeeded: result.ok,
        at,
        nextAttemptAt: retry
          ? new Date(Date.now() + retryDelayMs(attempt, this.config.webhookRetryBaseMs, d.eventId))
          : null,
      });
    };

    const problem =
      secret === undefined
        ? 'the project no longer exists'
        : urlProblem(url, {
            allowPrivate: this.config.webhookAllowPrivate,
            httpsOnly: !d.endpointId && !this.config.webhookAllowPrivate,
          });
    if (problem) {
      await log({ ok: false, statusCode: null, durationMs: 0, error: `refused: ${problem}`, refused: true }, false);
      throw new PermanentFailure(problem);
    }

    const headers =
      d.signing === 'smsgate'
        ? smsgateHeaders(smsgateSigningKey(secret!), d.body)
        : webhookHeaders(secret!, d.eventId, d.body, new Date());
    const result = await sendWebhook(url, d.body, headers, { allowPrivate: this.config.webhookAllowPrivate });
    // The tenant's log says only "connection failed" / "refused"; the operator's says why.
    if (result.detail)
      this.log.info(
        { projectId: d.projectId, endpointId: d.endpointId, eventId: d.eventId, attempt, reason: result.detail },
        'webhook attempt failed',
      );
    const gone = result.statusCode === 410;
    await log(result, !result.ok && !result.refused && !gone && !last);
    if (result.ok) return `delivered (${result.statusCode})`;
    if (gone && d.endpointId) {
      await this.endpoints.disable(d.endpointId, 'the receiver answered 410 Gone');
      this.log.warn({ endpointId: d.endpointId, eventId: d.eventId }, 'webhook endpoint disabled: 410 Gone');
    }
    if (gone || result.refused) throw new PermanentFailure(result.error ?? 'refused');
    throw new Error(result.error ?? 'delivery failed');
  }
}
