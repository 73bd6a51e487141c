/**
 * The broker's side of presence: its device connections, recorded through the core's
 * PresenceTracker. What the phone itself publishes on its presence topic (battery, signal, ...)
 * goes through the bridge like any other device event.
 */
import { randomUUID } from 'node:crypto';
import type { Aedes, Client } from 'aedes';
import type { Logger, PresenceTracker } from '../core/index.js';
import { SERVER_CHANNELS, deviceTopic } from '../protocol/index.js';
import type { ClientRoles } from './auth.js';
import type { Track } from './bridge.js';

export interface TrackConnectionsOptions {
  roles: ClientRoles;
  tracker: PresenceTracker;
  log: Logger;
  track?: Track;
}

/**
 * Follows the broker's device connections: `client` (authenticated and registered, before
 * CONNACK) marks online, `clientDisconnect` marks offline with the same connection id. A
 * connection's offline is recorded after its online, and the Redis calls are issued in event
 * order on one connection, so a same-node takeover (aedes closes the old connection before
 * registering the new one) ends online. If this node is taken for dead after a stall, the tracker
 * re-asserts the connections it still has. Returns a detach function.
 *
 * A device counts as online only once it can receive: a new session has no subscriptions until
 * the phone's SUBSCRIBE, a moment after its CONNACK, and a message dispatched in between would
 * reach no one. So a device connecting without its `outbox` and `control` subscriptions (a new
 * session) is subscribed to them by the broker first, as the phone is about to do itself.
 */
export function trackConnections(aedes: Aedes, options: TrackConnectionsOptions): () => void {
  const { roles, tracker, log } = options;
  const track: Track = options.track ?? ((work) => work);
  const connections = new WeakMap<Client, { id: string; online: Promise<unknown> }>();

  const onClient = (client: Client): void => {
    const deviceId = roles.deviceId(client);
    if (!deviceId) return;
    const id = `${aedes.id}:${randomUUID()}`;
    const online = track(subscribeServerChannels(client, deviceId).then(() => tracker.connected(deviceId, id))).catch(
      (error: unknown) => log.error({ err: error, deviceId }, 'presence online not recorded'),
    );
    connections.set(client, { id, online });
  };
  const onDisconnect = (client: Client): void => {
    const deviceId = roles.deviceId(client);
    const connection = connections.get(client);
    if (!deviceId || !connection) return;
    connections.delete(client);
    track(connection.online.then(() => tracker.disconnected(deviceId, connection.id))).catch((error: unknown) =>
      log.error({ err: error, deviceId }, 'presence offline not recorded'),
    );
  };

  aedes.on('client', onClient);
  aedes.on('clientDisconnect', onDisconnect);
  return () => {
    aedes.off('client', onClient);
    aedes.off('clientDisconnect', onDisconnect);
  };
}

/** Subscribes the device to its own `outbox` and `control` at QoS 1 where its session has not (no SUBACK is sent). */
function subscribeServerChannels(client: Client, deviceId: string): Promise<void> {
  const subscribed = (client as Client & { subscriptions: Record<string, unknown> }).subscriptions;
  const missing = SERVER_CHANNELS.map((channel) => deviceTopic(deviceId, channel)).filter((t) => !subscribed[t]);
  if (missing.length === 0) return Promise.resolve();
  return new Promise<void>((resolve, reject) =>
    client.subscribe(
      missing.map((topic) => ({ topic, qos: 1 as const })),
      (error?: Error | null) => (error ? reject(error) : resolve()),
    ),
  );
}
