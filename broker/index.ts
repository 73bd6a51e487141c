/** The broker module's public surface: the embedded Aedes broker and the clients used when the broker runs elsewhere. */
export {
  startEmbeddedBroker,
  MQTT_WS_PATH,
  type EmbeddedBroker,
  type EmbeddedBrokerOptions,
} from './embedded-broker.js';
export { EmbeddedPublisher } from './embedded-publisher.js';
export {
  MqttPublisher,
  serverClientId,
  serverConnectOptions,
  serverCredentials,
  type MqttPublisherOptions,
} from './mqtt-publisher.js';
export {
  startExternalBridge,
  copyId,
  deviceEventFilters,
  EXTERNAL_CONNECTION_ID,
  type ExternalBridge,
  type ExternalBridgeOptions,
} from './external-bridge.js';
export {
  ClientRoles,
  createAuthenticator,
  CONNACK,
  type Authenticator,
  type AuthenticatorOptions,
  type DeviceVerifier,
} from './auth.js';
export {
  canPublish,
  canPublishOrphanWill,
  canReceive,
  canSubscribe,
  createAcl,
  grantSubscription,
  type AclHandlers,
  type ClientRole,
  type RoleOf,
} from './acl.js';
export {
  KICK_TOPIC,
  MAX_EVENT_PAYLOAD_BYTES,
  bridgePublishes,
  enqueueDeviceEvent,
  handleKicks,
  kickPayload,
  toDeviceEventJob,
  type BridgeOptions,
} from './bridge.js';
export { trackConnections, type TrackConnectionsOptions } from './presence.js';
export {
  DEFAULT_MAX_SESSION_DELIVERY,
  DEFAULT_SESSION_PACKET_TTL_SECONDS,
  openSessionStore,
  sessionKeyPrefix,
  type SessionStore,
  type SessionStoreOptions,
} from './session-store.js';
export {
  INTERNAL_CLIENT_ID_PREFIX,
  INTERNAL_USERNAME,
  internalCredentials,
  isInternalCredential,
  type InternalCredentials,
} from './internal-credentials.js';
export { InFlight } from './in-flight.js';
export { SUBACK_FAILURE, subscribeCodes } from './suback.js';
export { ConnectionGate, type ConnectionGateOptions } from './connection-gate.js';
export {
  FrameScanner,
  MAX_DEVICE_PACKET_BYTES,
  MAX_INTERNAL_PACKET_BYTES,
  MAX_PACKET_BYTES_BEFORE_AUTH,
  PacketGuardError,
  guardPacketSizes,
  type FrameViolation,
} from './packet-guard.js';
export {
  CONNECT_BURST_SECONDS,
  RefusalLog,
  SourceLimits,
  sourceKey,
  type Admission,
  type Refusal,
  type SourceLimitsOptions,
} from './source-limits.js';
export { forwardedAddress, type TrustProxy } from './forwarded-address.js';
export { MAX_RETAINED_PAYLOAD_BYTES, limitRetained, mayRetain, purgeRetained } from './retain-policy.js';
export { PayloadSealer, isSealed, sealSessionPayloads } from './session-seal.js';
export { cacheDeviceVerifier } from './auth.js';
export { MQTT_EXCHANGE, mqttTopicOf, rabbitMqAuth, type RabbitMqAuthOptions } from './rabbitmq-auth.js';
