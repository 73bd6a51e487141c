import { Worker, type Processor, type WorkerOptions } from 'bullmq';
import type { DependencyContainer } from '../core/di.js';
import type { Logger } from '../core/logger.js';
import { PresenceStore } from '../core/presence.js';
import { PresenceTracker } from '../broker/presence.js';
import { HookRunner } from '../core/plugins/hook-runner.js';
import type { DevicePublisher } from '../core/publisher.js';
import { QUEUE_NAMES, type Queues } from '../core/queues.js';
import type { RuntimeConfig } from '../core/secrets.js';
import { ChallengeService } from '../core/services/challenges.js';
import { DeviceService } from '../core/services/devices.js';
import { DispatchService } from '../core/services/dispatch.js';
import { IdempotencyService } from '../core/services/idempotency.js';
import { InboxService } from '../core/services/inbox.js';
import { MessageTransitions } from '../core/services/message-transitions.js';
import { MessageService } from '../core/services/messages.js';
import { RentalService } from '../core/services/rentals.js';
import { TOKENS } from '../core/tokens.js';
import { WebhookEmitter } from '../core/webhooks/emitter.js';
import { WebhookEndpoints } from '../core/webhooks/endpoints.js';
import { WebhookAttempts } from '../core/webhooks/attempts.js';
import { webhookBackoff, webhookProcessor } from './webhook-worker.js';
import { deviceEventsProcessor } from './device-events-worker.js';
import { dispatcherProcessor } from './device-dispatcher.js';
import { DeviceLocks } from '../core/delivery/device-lock.js';
import { OtpLeases } from '../core/delivery/otp-leases.js';
import { StatusReports } from '../core/delivery/status-reports.js';
import { maintenanceProcessor, scheduleMaintenance } from './maintenance-worker.js';
import { DevicePacer } from '../core/delivery/pacing.js';
import { DispatchWakeups } from '../core/delivery/dispatch-wakeups.js';
import { DeviceTransports } from '../core/smsgate/transport.js';
import { SmxMetrics } from '../core/smx-metrics.js';

export interface RunningWorkers {
  workers: Worker[];
  /** Stops taking jobs and waits for the in-flight ones to finish (graceful shutdown). */
  close(): Promise<void>;
}

/** Starts the dispatch, device-events and maintenance workers of this process. */
export async function startWorkers(c: DependencyContainer): Promise<RunningWorkers> {
  const config = c.resolve<RuntimeConfig>(TOKENS.Config);
  const log = c.resolve<Logger>(TOKENS.Logger).child({ component: 'workers' });
  const queues = c.resolve<Queues>(TOKENS.Queues);
  const messages = c.resolve(MessageService);
  const presence = c.resolve(PresenceStore);
  const dispatch = c.resolve(DispatchService);
  const transitions = c.resolve(MessageTransitions);
  const hooks = c.resolve(HookRunner);

  const processors: Array<[string, Processor, number, WorkerOptions['settings']?]> = [
    [
      QUEUE_NAMES.dispatch,
      dispatcherProcessor({
        messages,
        transitions,
        devices: c.resolve(DeviceService),
        dispatch,
        presence,
        publisher: c.resolve<DevicePublisher>(TOKENS.DevicePublisher),
        pacer: c.resolve(DevicePacer),
        locks: c.resolve(DeviceLocks),
        hooks,
        wakeups: c.resolve(DispatchWakeups),
        log,
        transports: c.resolve(DeviceTransports),
      }) as Processor,
      config.workerConcurrency,
    ],
    [QUEUE_NAMES.deviceEvents, deviceEventsProcessor({ reports: c.resolve(StatusReports), inbox: c.resolve(InboxService), dispatch, presence, hooks, webhooks: c.resolve(WebhookEmitter), log }) as Processor, config.workerConcurrency],
    [QUEUE_NAMES.webhooks, webhookProcessor({ endpoints: c.resolve(WebhookEndpoints), attempts: c.resolve(WebhookAttempts), config, log, metrics: c.resolve(SmxMetrics) }) as Processor, config.workerConcurrency, { backoffStrategy: webhookBackoff(config.webhookRetryBaseMs) }],
    [QUEUE_NAMES.maintenance, maintenanceProcessor({ messages, transitions, dispatch, challenges: c.resolve(ChallengeService), idempotency: c.resolve(IdempotencyService), leases: c.resolve(OtpLeases), presence, presenceTracker: new PresenceTracker(presence, queues.deviceEvents), rentals: c.resolve(RentalService), log }) as Processor, 1],
  ];

  const workers = processors.map(([name, processor, concurrency, settings]) => {
    // A job of a worker that died is taken up again after about lockDuration + stalledInterval:
    // short, so a crashed process delays its devices' messages by seconds, not a minute.
    const worker = new Worker(name, processor, { connection: queues.connection, prefix: `${config.redisPrefix}:bull`, concurrency, autorun: true, lockDuration: 10_000, stalledInterval: 5_000, ...(settings ? { settings } : {}) });
    worker.on('completed', (job, result) => log.debug({ queue: name, jobId: job.id, data: job.data, result }, 'job done'));
    worker.on('failed', (job, error) => log.warn({ queue: name, jobId: job?.id, attempts: job?.attemptsMade, err: error }, 'job failed'));
    worker.on('error', (error) => log.error({ queue: name, err: error }, 'worker error'));
    return worker;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  await scheduleMaintenance(queues);
  log.info({ queues: processors.map(([n]) => n), concurrency: config.workerConcurrency }, 'workers started');

  return {
    workers,
    close: async () => {
      await Promise.all(workers.map((w) => w.close()));
      log.info('workers drained and closed');
    },
  };
}
