/**
 * The broker's side of presence: its device connections, recorded through the core's
 * PresenceTracker. What the phone itself publishes on its presence topic (battery, signal, ...)
 * goes through the bridge like any other device event.
 */
import { randomUUID } from 'node:crypto';
import type { Aedes, Client } from 'aedes';
import type { Logger, PresenceTracker } from '../core/index.js';
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
 * CONNACK) marks online, `clientDisconnect` marks offline with the same connection id. The
 * Redis calls are issued in event order on one connection, so a same-node takeover (aedes closes
 * the old connection before registering the new one) ends online. If this node is taken for dead
 * after a stall, the tracker re-asserts the connections it still has. Returns a detach function.
 */
export function trackConnections(aedes: Aedes, options: TrackConnectionsOptions): () => void {
  const { roles, tracker, log } = options;
  const track: Track = options.track ?? ((work) => work);
  const connections = new WeakMap<Client, string>();

  const onClient = (client: Client): void => {
    const deviceId = roles.deviceId(client);
    if (!deviceId) return;
    const connectionId = `${aedes.id}:${randomUUID()}`;
    connections.set(client, connectionId);
    track(tracker.connected(deviceId, connectionId)).catch((error: unknown) =>
      log.error({ err: error, deviceId }, 'presence online not recorded'),
    );
  };
  const onDisconnect = (client: Client): void => {
    const deviceId = roles.deviceId(client);
    const connectionId = connections.get(client);
    if (!deviceId || !connectionId) return;
    connections.delete(client);
    track(tracker.disconnected(deviceId, connectionId)).catch((error: unknown) =>
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
