/** MQTT topics of docs/device-protocol.md §3, in one place for the core, the broker and the reference device. */

export const TOPIC_ROOT = 'smx/v1/devices';

/** Topics the server publishes to (the device subscribes). */
export const SERVER_CHANNELS = ['outbox', 'control'] as const;
/** Topics the device publishes to (the server consumes). */
export const DEVICE_CHANNELS = ['status', 'inbox', 'presence'] as const;

export type ServerChannel = (typeof SERVER_CHANNELS)[number];
export type DeviceChannel = (typeof DEVICE_CHANNELS)[number];
export type Channel = ServerChannel | DeviceChannel;

export function deviceTopic(deviceId: string, channel: Channel): string {
  return `${TOPIC_ROOT}/${deviceId}/${channel}`;
}

export function deviceTopics(deviceId: string): Record<Channel, string> {
  return {
    outbox: deviceTopic(deviceId, 'outbox'),
    control: deviceTopic(deviceId, 'control'),
    status: deviceTopic(deviceId, 'status'),
    inbox: deviceTopic(deviceId, 'inbox'),
    presence: deviceTopic(deviceId, 'presence'),
  };
}

/** Splits `smx/v1/devices/{id}/{channel}`; anything else (wildcards included) is null. */
export function parseDeviceTopic(topic: string): { deviceId: string; channel: Channel } | null {
  const parts = topic.split('/');
  if (parts.length !== 5 || `${parts[0]}/${parts[1]}/${parts[2]}` !== TOPIC_ROOT) return null;
  const [, , , deviceId, channel] = parts as [string, string, string, string, string];
  if (!/^dev_[A-Za-z0-9_-]+$/.test(deviceId)) return null;
  if (
    !(SERVER_CHANNELS as readonly string[]).includes(channel) &&
    !(DEVICE_CHANNELS as readonly string[]).includes(channel)
  )
    return null;
  return { deviceId, channel: channel as Channel };
}
