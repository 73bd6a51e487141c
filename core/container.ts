import 'reflect-metadata';
import { container as rootContainer, instanceCachingFactory, type DependencyContainer } from './di.js';
import type { Knex } from 'knex';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.js';
import type { RuntimeConfig } from './secrets.js';
import type { DevicePublisher } from './delivery/publisher.js';
import type { Queues } from './queues.js';
import type { Endpoints } from './endpoints.js';
import { TOKENS } from './tokens.js';
import { HealthService } from './health.js';
import { PresenceStore } from './presence/store.js';
import { CacheBus } from './cache.js';
import { Router } from './delivery/router.js';
import { HookRunner } from './hook-runner.js';
import { ResendService } from './sending/resends.js';
import { OtpLeases } from './delivery/otp-leases.js';
import { StatusReports } from './delivery/status-reports.js';
import { ApiKeyService } from './services/api-keys.js';
import { ChallengeService } from './sending/challenges.js';
import { ChallengeComposer } from './sending/challenge-composer.js';
import { ChallengeNotices } from './sending/challenge-notices.js';
import { ChallengeRecords } from './sending/challenge-records.js';
import { DeviceService } from './services/devices.js';
import { DispatchService } from './delivery/dispatch.js';
import { DispatchWakeups } from './delivery/dispatch-wakeups.js';
import { LocalDispatch } from './delivery/local-dispatch.js';
import { LocalDeviceEvents } from './delivery/local-device-events.js';
import { DeviceLocks } from './delivery/device-lock.js';
import { DevicePacer } from './delivery/pacing.js';
import { IdempotencyService } from './services/idempotency.js';
import { LinkTokenService } from './services/link-tokens.js';
import { MessageService } from './services/messages.js';
import { MessageTransitions } from './delivery/transitions.js';
import { StatsService } from './services/stats.js';
import { MessageWriter } from './delivery/message-writer.js';
import { SmsService } from './sending/sms.js';
import { SmsRouting } from './sending/sms-routing.js';
import { InboxService, type InboundSms } from './services/inbox.js';
import { RentalPool } from './services/rental-pool.js';
import { RentalService } from './services/rentals.js';
import { ProjectService } from './services/projects.js';
import { StatusService } from './sending/status.js';
import { AbuseLimits } from './services/abuse-limits.js';
import { TemplateService } from './services/templates.js';
import { TestNumberService } from './services/test-numbers.js';
import { SmsGateEvents } from './smsgate/events.js';
import { SmsGateService } from './smsgate/service.js';
import { DeviceTransports } from './delivery/transports.js';
import { MqttTransport } from './delivery/mqtt-transport.js';
import { Dispatcher } from './delivery/dispatcher.js';
import { DeviceEvents } from './delivery/device-events.js';
import { SmsGatePullTransport } from './smsgate/pull-transport.js';
import { Maintenance } from './maintenance.js';
import { WebhookDelivery } from './webhooks/delivery.js';
import { WebhookAttempts } from './webhooks/attempts.js';
import { WebhookEmitter } from './webhooks/emitter.js';
import { WebhookEndpoints } from './webhooks/endpoints.js';
import { followProjects, OutboxRelay } from './outbox.js';
import { CompatTokenService } from './compat/oauth.js';
import { OtpByIdCompat } from './compat/otp-by-id.js';
import { SmsVerifyCompat } from './compat/sms-verify.js';
import {
  SmsGateAuth,
  SmsGateInbox,
  SmsGateMessages,
  SmsGateSettings,
  SmsGateWebhooks,
  SMSGATE_FOLLOWED_PROJECTS_SQL,
} from './smsgate/third-party/index.js';

/** Every core service, one instance per container. */
const SERVICES = [
  CacheBus,
  PresenceStore,
  HealthService,
  Router,
  HookRunner,
  ProjectService,
  ApiKeyService,
  LinkTokenService,
  DeviceService,
  StatsService,
  MessageService,
  MessageTransitions,
  DispatchWakeups,
  LocalDispatch,
  LocalDeviceEvents,
  DispatchService,
  MessageWriter,
  SmsRouting,
  SmsService,
  InboxService,
  ChallengeRecords,
  ChallengeComposer,
  ChallengeNotices,
  ChallengeService,
  IdempotencyService,
  StatusService,
  TemplateService,
  TestNumberService,
  AbuseLimits,
  SmsGateEvents,
  MqttTransport,
  DeviceTransports,
  SmsGatePullTransport,
  SmsGateService,
  OtpLeases,
  ResendService,
  StatusReports,
  RentalPool,
  RentalService,
  CompatTokenService,
  SmsVerifyCompat,
  OtpByIdCompat,
  SmsGateAuth,
  SmsGateMessages,
  SmsGateWebhooks,
  SmsGateSettings,
  SmsGateInbox,
  WebhookEndpoints,
  WebhookEmitter,
  WebhookAttempts,
  WebhookDelivery,
  OutboxRelay,
  Dispatcher,
  DeviceEvents,
  Maintenance,
] as const;

export interface CoreDependencies {
  config: Readonly<RuntimeConfig>;
  logger: Logger;
  redis: Redis;
  db: Knex;
  queues: Queues;
  publisher: DevicePublisher;
  metrics: Registry;
  endpoints: Endpoints;
}

/**
 * The one place a DI container is built. Each process role (and each test) gets its own child of
 * the root container, so two SMX instances in one process never share singletons.
 */
export function buildContainer(deps: CoreDependencies): DependencyContainer {
  const c = rootContainer.createChildContainer();
  c.register(TOKENS.Config, { useValue: deps.config });
  c.register(TOKENS.Logger, { useValue: deps.logger });
  c.register(TOKENS.Redis, { useValue: deps.redis });
  c.register(TOKENS.Knex, { useValue: deps.db });
  c.register(TOKENS.Queues, { useValue: deps.queues });
  c.register(TOKENS.DevicePublisher, { useValue: deps.publisher });
  c.register(TOKENS.Metrics, { useValue: deps.metrics });
  c.register(TOKENS.Endpoints, { useValue: deps.endpoints });
  // Plain classes (their tests build them with their own connection and prefix), one per
  // container: the dispatcher and the SMSGate pull must share the same pace and lock.
  c.register(DevicePacer, {
    useFactory: instanceCachingFactory(() => new DevicePacer(deps.redis, deps.config.redisPrefix)),
  });
  c.register(DeviceLocks, {
    useFactory: instanceCachingFactory(() => new DeviceLocks(deps.redis, deps.config.redisPrefix)),
  });
  for (const service of SERVICES) c.registerSingleton(service as new (...args: never[]) => unknown);
  const transports = c.resolve(DeviceTransports);
  transports.register(c.resolve(MqttTransport));
  transports.register(c.resolve(SmsGatePullTransport));
  c.resolve(DeviceService).onUnlinked((device) => transports.of(device).disconnect(device.id));
  wireEvents(c);
  return c;
}

/**
 * Who hears what happened, after the commit: the webhooks and the SMSGate 3rd-party webhooks
 * follow message changes and webhook events through the outbox (at least once, crash-safe),
 * and the device-events job's connection changes (retried with it).
 */
function wireEvents(c: DependencyContainer): void {
  const emitter = c.resolve(WebhookEmitter);
  const smsgate = c.resolve(SmsGateWebhooks);
  const outbox = c.resolve(OutboxRelay);
  followProjects(SMSGATE_FOLLOWED_PROJECTS_SQL);
  outbox.onMessageChanges((changes, eventIdOf) => emitter.messagesChanged(changes, eventIdOf));
  outbox.onMessageChanges((changes) => smsgate.messagesChanged(changes));
  outbox.onWebhookEvents((projectId, events) => emitter.queue(projectId, events));
  outbox.onWebhookEvents((projectId, events) =>
    smsgate.inboundStored(
      projectId,
      events.flatMap((e) => (e.type === 'sms.received' ? [e.data as InboundSms] : [])),
    ),
  );
  const deviceEvents = c.resolve(DeviceEvents);
  deviceEvents.onConnection((deviceId, online, at) => emitter.deviceConnection(deviceId, online, at));
  deviceEvents.onConnection((deviceId, online, at) => smsgate.connection(deviceId, online, at));
}
