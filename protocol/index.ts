/**
 * The device protocol (docs/device-protocol.md) as code: topic names and the payloads that cross
 * MQTT, shared by the server and the reference device. It imports nothing of either side.
 */
export {
  TOPIC_ROOT,
  SERVER_CHANNELS,
  DEVICE_CHANNELS,
  deviceTopic,
  deviceTopics,
  parseDeviceTopic,
  type Channel,
  type ServerChannel,
  type DeviceChannel,
} from './topics.js';
export { DEVICE_CAPABILITIES, TRANSPORT_CAPABILITIES } from './payloads.js';
export type {
  Sim,
  DeviceMqttCredentials,
  LinkResult,
  DeviceCapability,
  OutboxItem,
  OutboxTextItem,
  OutboxDataItem,
  OutboxMessage,
  StatusState,
  StatusUpdate,
  InboundSms,
  PresencePayload,
  ControlMessage,
} from './payloads.js';
export { noDelayOnConnect } from './mqtt-no-delay.js';
