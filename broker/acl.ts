/**
 * Per-device topic access control (docs/device-protocol.md §4 "Access control").
 *
 * A device may subscribe only to its own `outbox` and `control` and publish only to its own
 * `status`, `inbox` and `presence`; exact topics only, so any wildcard, `$SYS` or `$share` filter
 * is refused. Internal (server-side) clients may do anything except publish to `$` topics.
 * The checks are pure functions over a {@link ClientRole}; {@link createAcl} adapts them to the
 * aedes handler signatures.
 */
import type { AedesOptions, AedesPublishPacket, Client, PublishPacket, Subscription } from 'aedes';
import { DEVICE_CHANNELS, SERVER_CHANNELS, parseDeviceTopic, type Channel } from '../protocol/index.js';

/** Who is on the other end of an authenticated connection (set by the authenticator). */
export type ClientRole = { kind: 'device'; deviceId: string } | { kind: 'internal' };

/** Looks up the role of an authenticated client; undefined means "not authenticated". */
export type RoleOf = (client: Client) => ClientRole | undefined;

const isServerChannel = (channel: Channel) => (SERVER_CHANNELS as readonly Channel[]).includes(channel);
const isDeviceChannel = (channel: Channel) => (DEVICE_CHANNELS as readonly Channel[]).includes(channel);

/** `$`-prefixed topics are reserved for the server [MQTT-4.7.2-1]; aedes uses `$SYS/...`. */
function isReserved(topic: string): boolean {
  return topic.startsWith('$');
}

/** May this client subscribe to `filter`? Devices: their own outbox/control, exactly. */
export function canSubscribe(role: ClientRole | undefined, filter: string): boolean {
  if (!role) return false;
  if (role.kind === 'internal') return true;
  // parseDeviceTopic rejects wildcards: '+' and '#' are not valid in a device id or channel.
  const parsed = parseDeviceTopic(filter);
  return parsed !== null && parsed.deviceId === role.deviceId && isServerChannel(parsed.channel);
}

/** May this client publish to `topic` (also used for its will)? Devices: own status/inbox/presence. */
export function canPublish(role: ClientRole | undefined, topic: string): boolean {
  if (!role) return false;
  if (role.kind === 'internal') return !isReserved(topic);
  const parsed = parseDeviceTopic(topic);
  return parsed !== null && parsed.deviceId === role.deviceId && isDeviceChannel(parsed.channel);
}

/**
 * May a packet on `topic` be delivered to this client? Defence in depth behind
 * {@link canSubscribe}: a device only ever receives its own outbox and control, whatever
 * subscription or queued session state says.
 */
export function canReceive(role: ClientRole | undefined, topic: string): boolean {
  if (!role) return false;
  if (role.kind === 'internal') return true;
  return canSubscribe(role, topic);
}

/**
 * May the broker publish a will whose connection is gone (`client` is null: aedes publishes the
 * wills of a broker node that died)? Only a device's presence will, stored by that very device.
 */
export function canPublishOrphanWill(packet: Pick<PublishPacket, 'topic'> & { clientId?: string }): boolean {
  const parsed = parseDeviceTopic(packet.topic);
  return parsed !== null && parsed.channel === 'presence' && packet.clientId === parsed.deviceId;
}

/** The subscription to grant, or null to refuse it (SUBACK 128). */
export function grantSubscription(role: ClientRole | undefined, sub: Subscription): Subscription | null {
  return canSubscribe(role, sub.topic) ? sub : null;
}

/** The aedes handlers built from the checks above. */
export interface AclHandlers {
  authorizeSubscribe: NonNullable<AedesOptions['authorizeSubscribe']>;
  authorizePublish: NonNullable<AedesOptions['authorizePublish']>;
  authorizeForward: NonNullable<AedesOptions['authorizeForward']>;
}

export function createAcl(roleOf: RoleOf): AclHandlers {
  return {
    authorizeSubscribe(client, sub, callback) {
      // A refused subscription is negated (null), not an error: aedes answers SUBACK 0x80 for it
      // and keeps the connection, as §4 asks ("a subscription gets the failure return code").
      callback(null, grantSubscription(roleOf(client), sub));
    },
    authorizePublish(client, packet, callback) {
      const allowed = client === null ? canPublishOrphanWill(packet) : canPublish(roleOf(client), packet.topic);
      // An error makes aedes drop the publish and close the connection [MQTT-3.3.5-2].
      callback(allowed ? null : new Error(`publish to ${JSON.stringify(packet.topic)} is not allowed`));
    },
    authorizeForward(client: Client, packet: AedesPublishPacket) {
      return canReceive(roleOf(client), packet.topic) ? packet : null;
    },
  };
}
