/**
 * Device presence from connection state (docs/device-protocol.md §4 "Presence"): online while a
 * connection is up, offline when it goes. Each connection gets its own id, so the late disconnect
 * of an old connection (the phone already reconnected, possibly to another broker node) does not
 * mark the device offline (PresenceStore compares the id atomically). Each change is also a
 * `presence` device event `{ online, source: 'broker' }` for the workers (dispatch wake-up,
 * webhooks), queued or handled in this process when its workers run here. Broker
 * nodes (MQTT connections) and API processes (SMSGate event streams) record through it.
 */
import type { Queue } from 'bullmq';
import type { DeviceEventJob } from '../queues.js';
import { holderOf, type PresenceStore } from './store.js';

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

  /**
   * `connections` counts each connection recorded (`smx_device_connections_total` of the holder's
   * transport). `local` handles the events in this process when its workers run here
   * (LocalDeviceEvents): a connect storm then costs no queue job per phone; it resolves false
   * when an event must be queued after all.
   */
  constructor(
    private readonly presence: PresenceStore,
    private readonly queue: Queue<DeviceEventJob>,
    private readonly connections?: { inc(): void },
    private readonly local?: { handle(event: DeviceEventJob): Promise<boolean> },
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
    const event: DeviceEventJob = { deviceId, channel: 'presence', payload, receivedAt: at.toISOString() };
    if (await this.local?.handle(event)) return;
    await this.queue.add('presence', event);
  }
}
