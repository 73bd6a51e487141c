/**
 * Device presence from connection state (docs/device-protocol.md §4 "Presence"): online while a
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
import { holderOf, type PresenceStore } from '../core/presence.js';
import type { DeviceEventJob } from '../core/queues.js';
import type { ClientRoles } from './auth.js';
import { enqueueDeviceEvent, type Track } from './bridge.js';

/** Payload of the presence events the broker (not the phone) emits. */
export interface BrokerPresencePayload {
  online: boolean;
  source: 'broker';
}

/**
 * Records connection changes in the {@link PresenceStore} and queues an event when the state
 * changed. It remembers the connections it recorded as up, by holder: if their holder is taken
 * for dead while it only stalled (PresenceStore.onRevived), those still up are re-asserted
 * (online again, announced) — for broker nodes and SSE-serving API processes alike.
 */
export class PresenceTracker {
  private readonly live = new Map<string, { connections: Map<string, string>; stop: () => void }>();

  /** `connections` counts each connection recorded (`smx_device_connections_total` of the holder's transport). */
  constructor(
    private readonly presence: PresenceStore,
    private readonly queue: Queue<DeviceEventJob>,
    private readonly connections?: { inc(): void },
  ) {}

  /** The device connected with `connectionId`; resolves true when it was offline before. */
  async connected(deviceId: string, connectionId: string, at = new Date()): Promise<boolean> {
    this.connections?.inc();
    this.remember(deviceId, connectionId);
    const changed = await this.presence.markOnline(deviceId, connectionId, at);
    if (changed) await this.emit(deviceId, true, at);
    return changed;
  }

  /** The connection `connectionId` ended; resolves true when that made the device offline. */
  async disconnected(deviceId: string, connectionId: string, at = new Date()): Promise<boolean> {
    this.forget(connectionId);
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

  private remember(deviceId: string, connectionId: string): void {
    const holder = holderOf(connectionId);
    if (!holder) return;
    let entry = this.live.get(holder);
    if (!entry) {
      const connections = new Map<string, string>();
      entry = { connections, stop: this.presence.onRevived(holder, () => void this.reassert(connections)) };
      this.live.set(holder, entry);
    }
    entry.connections.set(connectionId, deviceId);
  }

  private forget(connectionId: string): void {
    const holder = holderOf(connectionId);
    const entry = this.live.get(holder);
    if (!entry?.connections.delete(connectionId) || entry.connections.size > 0) return;
    entry.stop();
    this.live.delete(holder);
  }

  /**
   * Each connection still up: online again unless another connection took the device. Every
   * reclaim is issued before this returns to the event loop, so a disconnect recorded after this
   * point reaches Redis after the reclaim (one connection, calls in order) and wins.
   */
  private async reassert(connections: Map<string, string>): Promise<void> {
    const at = new Date();
    const work = [...connections].map(async ([connectionId, deviceId]) => {
      if (await this.presence.reclaim(deviceId, connectionId, at)) await this.emit(deviceId, true, at);
    });
    await Promise.allSettled(work);
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
    track(tracker.connected(deviceId, connectionId)).catch((error: unknown) => log.error({ err: error, deviceId }, 'presence online not recorded'));
  };
  const onDisconnect = (client: Client): void => {
    const deviceId = roles.deviceId(client);
    const connectionId = connections.get(client);
    if (!deviceId || !connectionId) return;
    connections.delete(client);
    track(tracker.disconnected(deviceId, connectionId)).catch((error: unknown) => log.error({ err: error, deviceId }, 'presence offline not recorded'));
  };

  aedes.on('client', onClient);
  aedes.on('clientDisconnect', onDisconnect);
  return () => {
    aedes.off('client', onClient);
    aedes.off('clientDisconnect', onDisconnect);
  };
}
