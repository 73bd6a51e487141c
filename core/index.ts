/** The core's public surface: what workers/, broker/, bin/ and (later) plugins may import. */
export { loadConfig, ConfigError, CONFIG_DEFAULTS, type SmxConfig, type LogLevel } from './config.js';
export { resolveSecrets, type RuntimeConfig, type GeneratedSecret } from './secrets.js';
export { TOKENS } from './tokens.js';
export { buildContainer, type CoreDependencies } from './container.js';
export {
  ERROR_CATALOGUE,
  ApiError,
  apiError,
  isApiError,
  type ErrorCode,
  type ErrorOrigin,
  type ErrorDetail,
} from './errors.js';
export { createDatabase, migrateLatest, migrateDown, type DatabaseOptions } from './db.js';
export { connectRedis, RedisUnreachableError, withTimeout, redactUrl } from './redis.js';
export {
  createQueues,
  QUEUE_NAMES,
  type Queues,
  type DispatchJob,
  type DeviceEventJob,
  type MaintenanceJob,
} from './queues.js';
export {
  deviceTopic,
  deviceTopics,
  parseDeviceTopic,
  TOPIC_ROOT,
  type Channel,
  type DeviceChannel,
  type ServerChannel,
} from '../protocol/index.js';
export { PresenceStore, type Presence, type PresenceReport } from './presence/store.js';
export { Endpoints } from './endpoints.js';
export type { DevicePublisher } from './delivery/publisher.js';
export { createLogger, type Logger } from './logger.js';
export { createRegistry, registerStateGauges } from './metrics.js';
export { registerDatabasePoolMetrics } from './db-pool-metrics.js';
export {
  Router,
  activeDevice,
  type RoutingStrategy,
  type RoutingMessage,
  type RoutingDevice,
  type RouteDecision,
} from './delivery/router.js';
export { buildHttpServer, BODY_LIMIT, type RouteModule, type HttpServerOptions } from './http/server.js';
export { countParts, type SmsParts } from './sms-parts.js';
export { ProjectService, DEFAULT_PROJECT_SETTINGS, type Project, type ProjectSettings } from './services/projects.js';
export { ApiKeyService } from './services/api-keys.js';
export { DeviceService, type Device, type DeviceWithPresence, type Sim } from './services/devices.js';
export { LinkTokenService } from './services/link-tokens.js';
export { ChallengeService, type VerificationView, type VerifyResult } from './sending/challenges.js';
export { MessageService, type MessageView, type StatusUpdate, type MessageStatus } from './services/messages.js';
export { DispatchService } from './delivery/dispatch.js';
export { IdempotencyService } from './services/idempotency.js';
export { StatusService } from './sending/status.js';
export {
  RentalService,
  RENTAL_LIMITS,
  type RentalView,
  type RentalMessage,
  type RentalStatus,
  type NumberAvailability,
} from './services/rentals.js';
export { extractCode } from './sms-code.js';
export { HookRunner, type BeforeSendResult } from './hook-runner.js';
export { PluginHost, PluginError } from './plugins/plugin-host.js';
export { DevicePacer, type PaceGrant } from './delivery/pacing.js';
export { DeviceLocks, type DeviceLock } from './delivery/device-lock.js';
export { WebhookEndpoints, type WebhookEndpointView } from './webhooks/endpoints.js';
export { WebhookEmitter } from './webhooks/emitter.js';
export type { MessageChanged } from './message-changed.js';
export { WebhookAttempts, type WebhookAttemptView } from './webhooks/attempts.js';
export { WEBHOOK_EVENTS, type WebhookEventType, type WebhookEvent } from './webhook-events.js';
export { signWebhook, webhookHeaders, newSigningSecret } from './webhooks/signature.js';
export { isBlockedAddress, resolveTarget, UrlRefusedError } from './webhooks/url-guard.js';
export { type WebhookJob } from './queues.js';
export { exceedsJsonDepth, MAX_JSON_DEPTH } from './json-depth.js';
export { PresenceTracker } from './presence/tracker.js';
export { hmac } from './crypto.js';
export { DeviceEvents } from './delivery/device-events.js';
export { Dispatcher } from './delivery/dispatcher.js';
export { LocalDispatch } from './delivery/local-dispatch.js';
export { LocalDeviceEvents } from './delivery/local-device-events.js';
export { MAINTENANCE_EVERY_MS, Maintenance, type MaintenanceTask } from './maintenance.js';
export { PermanentFailure } from './jobs.js';
export { RedisScript } from './redis-script.js';
export { type DependencyContainer } from './di.js';
export { WebhookDelivery } from './webhooks/delivery.js';
export { BACKOFF_TYPE, retryDelayMs, WEBHOOK_ATTEMPTS } from './webhooks/retry.js';
export { CacheBus } from './cache.js';
export { httpDependencies } from './http/dependencies.js';
export type { MqttAuthAnswer, MqttAuthBackend, MqttAuthParams } from './http/routes/mqtt-auth-http.js';
export { startOpsServer, type OpsServer } from './http/ops-server.js';
export { HealthService } from './health.js';
export { SmxMetrics } from './smx-metrics.js';
export { OutboxRelay } from './outbox.js';
