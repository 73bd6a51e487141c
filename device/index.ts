/** Public surface of the reference device: linking, credentials, the device itself and the CLI commands. */
export { ApiError, callApi } from './api-client.js';
export type { ApiRequest } from './api-client.js';
export { parseLinkPayload, linkDevice, validateLinkResult } from './link.js';
export type { LinkPayload, LinkDeviceOptions } from './link.js';
export {
  DEFAULT_CREDENTIALS_PATH,
  saveCredentials,
  loadCredentials,
  deleteCredentials,
  sentIdsPathFor,
} from './credentials-file.js';
export type { StoredCredentials } from './credentials-file.js';
export { SentIdStore, SENT_ID_RETENTION_MS } from './sent-ids.js';
export type { SentIdReason, SentIdStoreOptions } from './sent-ids.js';
export { ReferenceDevice } from './reference-device.js';
export { ReferenceDeviceError } from './reference-device-options.js';
export type {
  DeviceVitals,
  ReportOptions,
  ReferenceDeviceOptions,
  ReferenceDeviceEvents,
  ReferenceDeviceErrorCode,
} from './reference-device-options.js';
export { parseOutbox, parseControl, parseJsonObject, isExpired } from './payloads.js';
export { renderTerminalQr } from './terminal-qr.js';
export { DEVICE_CAPABILITIES } from '../protocol/index.js';
export type {
  Sim,
  DeviceMqttCredentials,
  LinkResult,
  OutboxMessage,
  OutboxItem,
  OutboxTextItem,
  OutboxDataItem,
  DeviceCapability,
  StatusState,
  StatusUpdate,
  InboundSms,
  PresencePayload,
  ControlMessage,
} from '../protocol/index.js';
export { apiUrl, isRecord } from './api-client.js';
