import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DeviceChannel } from '../protocol/index.js';

/** Queue names; operators see them in Bull Board. */
export const QUEUE_NAMES = {
  dispatch: 'dispatch',
  deviceEvents: 'device-events',
  maintenance: 'maintenance',
  webhooks: 'webhooks',
} as const;

export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

/**
 * Job payloads, typed in one place. Payloads never hold an OTP code or a message body.
 * A dispatch job means "this device may have QUEUED messages": the database rows are the queue
 * (see core/delivery/dispatcher.ts), so a lost job loses nothing.
 */
export interface DispatchJob {
  deviceId: string;
}

/** At most one dispatch job waits per device; more signals while one waits are absorbed. */
export function dispatchDedupId(deviceId: string): string {
  return `dispatch:${deviceId}`;
}

export interface DeviceEventJob {
  deviceId: string;
  channel: DeviceChannel;
  /** The publish payload as the phone sent it (parsed JSON), validated by the worker. */
  payload: unknown;
  receivedAt: string;
}

export type MaintenanceJob =
  | { task: 'expire' }
  | { task: 'sweep-idempotency' }
  | { task: 'recover-dispatch' }
  | { task: 'otp-leases' }
  | { task: 'reap-presence' }
  | { task: 'release-scheduled' };

/**
 * One event for one receiver (an endpoint, or a per-request callback URL). The body is fixed at
 * emit time; each attempt signs it anew with its own timestamp under the same `eventId`.
 */
export interface WebhookJob {
  eventId: string;
  type: string;
  projectId: string;
  /** null: a per-request callback URL, signed with the project's callback secret. */
  endpointId: string | null;
  url: string;
  body: string;
  /**
   * How the body is signed: Standard Webhooks (absent), or SMSGate's `X-Signature`/`X-Timestamp`
   * (core/smsgate/third-party) with the key derived from the project's callback secret.
   */
  signing?: 'smsgate';
}

export interface JobTypes {
  dispatch: DispatchJob;
  'device-events': DeviceEventJob;
  maintenance: MaintenanceJob;
  webhooks: WebhookJob;
}

export interface Queues {
  dispatch: Queue<DispatchJob>;
  deviceEvents: Queue<DeviceEventJob>;
  maintenance: Queue<MaintenanceJob>;
  webhooks: Queue<WebhookJob>;
  /** The queues' own Redis connection; workers use it too (see createQueues). */
  connection: Redis;
  all(): Queue[];
  close(): Promise<void>;
}

const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/**
 * The queues, on a connection of their own: BullMQ defines its ~50 Lua scripts on the connection
 * it is given, and on the shared auto-pipelining connection every pipeline (one per event-loop
 * turn) would copy them all.
 */
export function createQueues(redis: Redis, prefix: string): Queues {
  // Not the shared connection's fail-fast settings: BullMQ's workers block on this connection's
  // duplicates, and a job added while Redis reconnects waits for it (the accept path bounds that wait).
  const connection = redis.duplicate({
    enableAutoPipelining: false,
    lazyConnect: false,
    commandTimeout: undefined,
    enableOfflineQueue: true,
  });
  connection.on('error', () => {}); // reconnects are automatic; readiness reports failures
  const opts = { connection, prefix: `${prefix}:bull`, defaultJobOptions: DEFAULT_JOB_OPTIONS };
  const dispatch = new Queue<DispatchJob>(QUEUE_NAMES.dispatch, opts);
  const deviceEvents = new Queue<DeviceEventJob>(QUEUE_NAMES.deviceEvents, opts);
  const maintenance = new Queue<MaintenanceJob>(QUEUE_NAMES.maintenance, opts);
  // Retries and their delays are the webhook worker's (workers/webhook-worker.ts): about 24 hours.
  const webhooks = new Queue<WebhookJob>(QUEUE_NAMES.webhooks, {
    ...opts,
    defaultJobOptions: { ...DEFAULT_JOB_OPTIONS, attempts: 1, backoff: undefined },
  });
  const list = [dispatch, deviceEvents, maintenance, webhooks] as Queue[];
  return {
    dispatch,
    deviceEvents,
    maintenance,
    webhooks,
    connection,
    all: () => list,
    close: async () => {
      await Promise.all(list.map((q) => q.close()));
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
