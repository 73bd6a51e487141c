import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import type { Registry } from 'prom-client';
import { CompatTokenService } from '../compat/oauth.js';
import { OtpByIdCompat } from '../compat/otp-by-id.js';
import { SmsVerifyCompat } from '../compat/sms-verify.js';
import { Router } from '../delivery/router.js';
import type { DependencyContainer } from '../di.js';
import type { Endpoints } from '../endpoints.js';
import { HealthService } from '../health.js';
import type { Logger } from '../logger.js';
import { PresenceStore } from '../presence/store.js';
import type { Queues } from '../queues.js';
import type { RuntimeConfig } from '../secrets.js';
import { ApiKeyService } from '../services/api-keys.js';
import { ChallengeService } from '../sending/challenges.js';
import { DeviceService } from '../services/devices.js';
import { IdempotencyService } from '../services/idempotency.js';
import { InboxService } from '../services/inbox.js';
import { LinkTokenService } from '../services/link-tokens.js';
import { MessageService } from '../services/messages.js';
import { ProjectService } from '../services/projects.js';
import { RentalService } from '../services/rentals.js';
import { ResendService } from '../sending/resends.js';
import { SmsService } from '../sending/sms.js';
import { StatsService } from '../services/stats.js';
import { StatusService } from '../sending/status.js';
import { TemplateService } from '../services/templates.js';
import { TestNumberService } from '../services/test-numbers.js';
import { SmsGateEvents } from '../smsgate/events.js';
import { SmsGateService } from '../smsgate/service.js';
import {
  SmsGateAuth,
  SmsGateInbox,
  SmsGateMessages,
  SmsGateSettings,
  SmsGateWebhooks,
} from '../smsgate/third-party/index.js';
import { SmxMetrics } from '../smx-metrics.js';
import { TOKENS } from '../tokens.js';
import { WebhookAttempts } from '../webhooks/attempts.js';
import { WebhookEndpoints } from '../webhooks/endpoints.js';
import type { AdminDeviceRouteDeps } from './routes/admin-devices.js';
import type { AdminProjectActivityRouteDeps } from './routes/admin-project-activity.js';
import type { AdminProjectTryRouteDeps } from './routes/admin-project-try.js';
import type { AdminProjectRouteDeps } from './routes/admin-projects.js';
import type { AdminTemplateRouteDeps } from './routes/admin-templates.js';
import type { AdminWebhookStateRouteDeps } from './routes/admin-webhook-state.js';
import type { AdminWebhookRouteDeps } from './routes/admin-webhooks.js';
import type { CompatNumberRentalRouteDeps } from './routes/compat-number-rental.js';
import type { CompatOtpRouteDeps } from './routes/compat-otp.js';
import type { CompatSmsVerifyRouteDeps } from './routes/compat-sms-verify.js';
import type { HealthRouteDeps } from './routes/health.js';
import type { MqttAuthHttpRouteDeps } from './routes/mqtt-auth-http.js';
import type { SmsGateMobileRouteDeps } from './routes/smsgate-mobile.js';
import type { SmsGateThirdPartyRouteDeps } from './routes/smsgate-3rdparty.js';
import type { DeviceLinkRouteDeps } from './routes/v1-devices.js';
import type { InboxRouteDeps } from './routes/v1-inbox.js';
import type { MessageRouteDeps } from './routes/v1-messages.js';
import type { OtpRouteDeps } from './routes/v1-otp.js';
import type { RentalRouteDeps } from './routes/v1-rentals.js';
import type { SmsRouteDeps } from './routes/v1-sms.js';
import type { StatsRouteDeps } from './routes/v1-stats.js';
import type { StatusRouteDeps } from './routes/v1-status.js';
import type { WebhookDeliveryRouteDeps } from './routes/webhook-deliveries.js';

/**
 * Everything the HTTP API uses: what the server itself needs (config, logger, the metrics
 * registry, Redis for the rate limits, the queues for Bull Board, API keys for the guards) and
 * what each route module declares in its `…RouteDeps`. One object, one name per service: each
 * route module takes it as is, as it holds (at least) what that module asks for.
 */
export interface HttpDependencies
  extends
    HealthRouteDeps,
    MqttAuthHttpRouteDeps,
    DeviceLinkRouteDeps,
    SmsGateMobileRouteDeps,
    CompatSmsVerifyRouteDeps,
    CompatOtpRouteDeps,
    CompatNumberRentalRouteDeps,
    SmsGateThirdPartyRouteDeps,
    OtpRouteDeps,
    SmsRouteDeps,
    MessageRouteDeps,
    StatusRouteDeps,
    StatsRouteDeps,
    InboxRouteDeps,
    WebhookDeliveryRouteDeps,
    RentalRouteDeps,
    AdminProjectRouteDeps,
    AdminDeviceRouteDeps,
    AdminTemplateRouteDeps,
    AdminWebhookRouteDeps,
    AdminProjectActivityRouteDeps,
    AdminProjectTryRouteDeps,
    AdminWebhookStateRouteDeps {
  config: RuntimeConfig;
  logger: Logger;
  /** The Prometheus registry /admin/metrics serves. */
  metrics: Registry;
  redis: Redis;
  queues: Queues;
  apiKeys: ApiKeyService;
}

/**
 * The HTTP API's dependencies out of a container: the composition root's one look-up for HTTP
 * (as `workerDependencies` is for the workers). Route modules never see the container.
 */
export function httpDependencies(c: DependencyContainer): HttpDependencies {
  return {
    config: c.resolve<RuntimeConfig>(TOKENS.Config),
    logger: c.resolve<Logger>(TOKENS.Logger),
    metrics: c.resolve<Registry>(TOKENS.Metrics),
    redis: c.resolve<Redis>(TOKENS.Redis),
    queues: c.resolve<Queues>(TOKENS.Queues),
    db: c.resolve<Knex>(TOKENS.Knex),
    endpoints: c.resolve<Endpoints>(TOKENS.Endpoints),
    counters: c.resolve(SmxMetrics),
    health: c.resolve(HealthService),
    presence: c.resolve(PresenceStore),
    router: c.resolve(Router),
    apiKeys: c.resolve(ApiKeyService),
    projects: c.resolve(ProjectService),
    linkTokens: c.resolve(LinkTokenService),
    devices: c.resolve(DeviceService),
    templates: c.resolve(TemplateService),
    testNumbers: c.resolve(TestNumberService),
    challenges: c.resolve(ChallengeService),
    resends: c.resolve(ResendService),
    idempotency: c.resolve(IdempotencyService),
    sms: c.resolve(SmsService),
    messages: c.resolve(MessageService),
    status: c.resolve(StatusService),
    stats: c.resolve(StatsService),
    inbox: c.resolve(InboxService),
    rentals: c.resolve(RentalService),
    webhooks: c.resolve(WebhookEndpoints),
    webhookAttempts: c.resolve(WebhookAttempts),
    smsgate: c.resolve(SmsGateService),
    smsgateEvents: c.resolve(SmsGateEvents),
    compatTokens: c.resolve(CompatTokenService),
    otpById: c.resolve(OtpByIdCompat),
    smsVerify: c.resolve(SmsVerifyCompat),
    smsgateAuth: c.resolve(SmsGateAuth),
    smsgateMessages: c.resolve(SmsGateMessages),
    smsgateWebhooks: c.resolve(SmsGateWebhooks),
    smsgateSettings: c.resolve(SmsGateSettings),
    smsgateInbox: c.resolve(SmsGateInbox),
  };
}
