/**
 * Device presence from connection state (spec/device-protocol.md §4 "Presence"): online while a
 * connection is up, offline when it goes. Each connection gets its own id, so the late disconnect
 * of an old connection (the phone already reconnected, possibly to another broker node) does not
 * mark the device offline (PresenceStore compares the id atomically). Each change is also queued
 * as a `presence` device event `{ online, source: 'broker' }` for the workers (webhooks).
 *
 * What the phone itself publishes on its presence topic (battery, signal, ...) goes through the
 * bridge like any other device event.
 */
import { randomUUID } from 'node:crypto';
import type { Aedes, Client } from 'aedes';
import type { Queue } from 'bullmq';
import type { Logger } from '../core/logger.js';
import type { PresenceStore } from '../core/presence.js';
import type { DeviceEventJob } from '../core/queues.js';
import type { ClientRoles } from './auth.js';
import { enqueueDeviceEvent, type Track } from './bridge.js';

/** Payload of the presence events the broker (not the phone) emits. */
export interface BrokerPresencePayload {
  online: boolean;
  source: 'broker';
}

/** Records connection changes in the {@link PresenceStore} and queues an event when the state changed. */
export class PresenceTracker {
  constructor(
    private readonly presence: PresenceStore,
    private readonly queue: Queue<DeviceEventJob>,
  ) {}

  /** The device connected with `connectionId`; resolves true when it was offline before. */
  async connected(deviceId: string, connectionId: string, at = new Date()): Promise<boolean> {
    const changed = await this.presence.markOnline(deviceId, connectionId, at);
    if (changed) await this.emit(deviceId, true, at);
    return changed;
  }

  /** The connection `connectionId` ended; resolves true when that made the device offline. */
  async disconnected(deviceId: string, connectionId: string, at = new Date()): Promise<boolean> {
    const changed = await this.presence.markOffline(deviceId, connectionId, at);
    if (changed) await this.emit(deviceId, false, at);
    return changed;
  }

  /**
   * Marks offline the phones of holders (broker nodes, SSE-serving API processes) that died
   * without a word, and announces each (`device.offline`). Returns how many.
   */
  async reapDeadHolders(at = new Date()): Promise<number> {
    const reaped = await this.presence.reapDeadHolders(at);
    for (const { deviceId } of reaped) await this.emit(deviceId, false, at);
    return reaped.length;
  }

  /** A revived holder's connection that is still up: online again (announced) unless another connection took the device. */
  async reclaim(deviceId: string, connectionId: string, at = new Date()): Promise<boolean> {
    const changed = await this.presence.reclaim(deviceId, connectionId, at);
    if (changed) await this.emit(deviceId, true, at);
    return changed;
  }

  /** See PresenceStore.onRevived. */
  onRevived(holderId: string, listener: () => void): () => void {
    return this.presence.onRevived(holderId, listener);
  }

  private async emit(deviceId: string, online: boolean, at: Date): Promise<void> {
    const payload: BrokerPresencePayload = { online, source: 'broker' };
    await enqueueDeviceEvent(this.queue, { deviceId, channel: 'presence', payload, receivedAt: at.toISOString() });
  }
}

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
 * the old connection before registering the new one) ends online. If this node was reaped (it
 * stalled past its liveness, see PresenceStore), the connections it still has are re-asserted.
 * Returns a detach function.
 */
export function trackConnections(aedes: Aedes, options: TrackConnectionsOptions): () => void {
  const { roles, tracker, log } = options;
  const track: Track = options.track ?? ((work) => work);
  // Deleted on disconnect, which aedes emits for every client it registered.
  const connections = new Map<Client, string>();

  const onClient = (client: Client): void => {
    const deviceId = roles.deviceId(client);
    if (!deviceId) return;
    const connectionId = `${aedes.id}:${randomUUID()}`;
    connections.set(client, connectionId);
    track(tracker.connected(deviceId, connectionId)).catch((error: unknown) => log.error({ err: error, deviceId }, 'presence online not recorded'));
  };
  const onDisconnect = (client: Client): void => {
    const deviceId = roles.deviceId(client);
    const connectionId = connections.get(client);
    if (!deviceId || !connectionId) return;
    connections.delete(client);
    track(tracker.disconnected(deviceId, connectionId)).catch((error: unknown) => log.error({ err: error, deviceId }, 'presence offline not recorded'));
  };

  const onRevived = (): void => {
    log.warn({ connections: connections.size }, 'this broker node was taken for dead (it stalled); re-asserting its connections');
    for (const [client, connectionId] of connections) {
      const deviceId = roles.deviceId(client);
      // A closed client whose disconnect was never announced is not re-asserted (nor kept).
      if (client.closed) connections.delete(client);
      if (!deviceId || client.closed) continue;
      track(tracker.reclaim(deviceId, connectionId)).catch((error: unknown) => log.error({ err: error, deviceId }, 'presence online not re-asserted'));
    }
  };

  aedes.on('client', onClient);
  aedes.on('clientDisconnect', onDisconnect);
  const stopRevivals = tracker.onRevived(aedes.id, onRevived);
  return () => {
    aedes.off('client', onClient);
    aedes.off('clientDisconnect', onDisconnect);
    stopRevivals();
  };
}
