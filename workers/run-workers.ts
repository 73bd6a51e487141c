import { Worker, type Processor, type WorkerOptions } from 'bullmq';
import {
  type DependencyContainer,
  DeviceEvents,
  Dispatcher,
  DispatchService,
  LocalDispatch,
  LocalDeviceEvents,
  type Logger,
  Maintenance,
  QUEUE_NAMES,
  type Queues,
  type RuntimeConfig,
  TOKENS,
  WebhookDelivery,
} from '../core/index.js';
import { deviceEventsProcessor } from './device-events-worker.js';
import { dispatchProcessor } from './dispatch-worker.js';
import { maintenanceProcessor, scheduleMaintenance } from './maintenance-worker.js';
import { webhookBackoff, webhookProcessor } from './webhook-worker.js';

export interface RunningWorkers {
  workers: Worker[];
  /** Stops taking jobs and waits for the in-flight ones to finish (graceful shutdown). */
  close(): Promise<void>;
}

/** What the workers of a process run: the core's handlers, built by the composition root. */
export interface WorkerDependencies {
  config: RuntimeConfig;
  logger: Logger;
  queues: Queues;
  dispatcher: Dispatcher;
  /** The dispatch signals of this process, served here while the workers run. */
  localDispatch: LocalDispatch;
  dispatch: DispatchService;
  deviceEvents: DeviceEvents;
  /** Device publishes received by this process's broker, handled here while the workers run. */
  localDeviceEvents: LocalDeviceEvents;
  webhookDelivery: WebhookDelivery;
  maintenance: Maintenance;
}

/** The workers' dependencies out of a container (the composition root's one look-up). */
export function workerDependencies(c: DependencyContainer): WorkerDependencies {
  return {
    config: c.resolve<RuntimeConfig>(TOKENS.Config),
    logger: c.resolve<Logger>(TOKENS.Logger),
    queues: c.resolve<Queues>(TOKENS.Queues),
    dispatcher: c.resolve(Dispatcher),
    localDispatch: c.resolve(LocalDispatch),
    dispatch: c.resolve(DispatchService),
    deviceEvents: c.resolve(DeviceEvents),
    localDeviceEvents: c.resolve(LocalDeviceEvents),
    webhookDelivery: c.resolve(WebhookDelivery),
    maintenance: c.resolve(Maintenance),
  };
}

/** Starts the dispatch, device-events, webhooks and maintenance workers of this process. */
export async function startWorkers(deps: WorkerDependencies): Promise<RunningWorkers> {
  const { config, queues } = deps;
  const log = deps.logger.child({ component: 'workers' });
  const processors: Array<[string, Processor, number, WorkerOptions['settings']?]> = [
    [QUEUE_NAMES.dispatch, dispatchProcessor(deps.dispatcher) as Processor, config.workerConcurrency],
    [QUEUE_NAMES.deviceEvents, deviceEventsProcessor(deps.deviceEvents) as Processor, config.workerConcurrency],
    [
      QUEUE_NAMES.webhooks,
      webhookProcessor(deps.webhookDelivery) as Processor,
      config.workerConcurrency,
      { backoffStrategy: webhookBackoff(config.webhookRetryBaseMs) },
    ],
    [QUEUE_NAMES.maintenance, maintenanceProcessor(deps.maintenance) as Processor, 1],
  ];

  const workers = processors.map(([name, processor, concurrency, settings]) => {
    // A job of a worker that died is taken up again after about lockDuration + stalledInterval:
    // short, so a crashed process delays its devices' messages by seconds, not a minute.
    const worker = new Worker(name, processor, {
      connection: queues.connection,
      prefix: `${config.redisPrefix}:bull`,
      concurrency,
      autorun: true,
      lockDuration: 10_000,
      stalledInterval: 5_000,
      ...(settings ? { settings } : {}),
    });
    worker.on('completed', (job, result) =>
      log.debug({ queue: name, jobId: job.id, data: job.data, result }, 'job done'),
    );
    worker.on('failed', (job, error) =>
      log.warn({ queue: name, jobId: job?.id, attempts: job?.attemptsMade, err: error }, 'job failed'),
    );
    worker.on('error', (error) => log.error({ queue: name, err: error }, 'worker error'));
    return worker;
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  await scheduleMaintenance(queues);
  deps.localDispatch.attach({
    serve: (deviceId) =>
      deps.dispatcher.serve(deviceId).catch((error: unknown) => {
        log.warn({ deviceId, err: error }, 'dispatch failed; the queue retries it');
        throw error;
      }),
    requeue: (deviceIds, delayMs) => deps.dispatch.enqueue(deviceIds, delayMs),
    concurrency: config.dispatchConcurrency,
  });
  deps.localDeviceEvents.attach((event) => deps.deviceEvents.handle(event));
  log.info(
    {
      queues: processors.map(([n]) => n),
      concurrency: config.workerConcurrency,
      dispatchConcurrency: config.dispatchConcurrency,
    },
    'workers started',
  );

  return {
    workers,
    close: async () => {
      await Promise.all([deps.localDispatch.detach(), deps.localDeviceEvents.detach()]);
      await Promise.all(workers.map((w) => w.close()));
      log.info('workers drained and closed');
    },
  };
}
