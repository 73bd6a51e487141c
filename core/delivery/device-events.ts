import type { Logger } from '../logger.js';
import { inject, injectable } from '../di.js';
import { PermanentFailure } from '../jobs.js';
import { HookRunner } from '../hook-runner.js';
import { PresenceStore } from '../presence/store.js';
import type { DeviceEventJob } from '../queues.js';
import { DeviceService } from '../services/devices.js';
import { InboxService } from '../services/inbox.js';
import { TOKENS } from '../tokens.js';
import { readInbound, readPresence, readStatusUpdates } from './device-event-payloads.js';
import { DispatchService } from './dispatch.js';
import { countProblems, DatabaseFailure, StatusReports } from './status-reports.js';

/**
 * Applies what phones publish (docs/device-protocol.md §3–4), one event at a time: status updates
 * move messages forward (idempotent, never backwards) and reach the `afterStatus` hook; the
 * broker's presence events wake a reconnected phone's dispatcher and reach the connection listeners (webhooks), the
 * phone's own presence payloads refresh battery and signal; inbound SMS are stored once each and
 * reach the `onInbound` hook. A failed write throws a {@link DatabaseFailure} without its SQL,
 * or a {@link PermanentFailure} when a retry would fail the same way.
 */
/** Told of each connection change the broker reports (webhooks: device.online/offline); rejecting retries the event. */
export type ConnectionListener = (deviceId: string, online: boolean, at: Date) => Promise<void>;

@injectable()
export class DeviceEvents {
  private readonly connectionListeners: ConnectionListener[] = [];

  constructor(
    private readonly reports: StatusReports,
    private readonly inbox: InboxService,
    private readonly dispatch: DispatchService,
    private readonly presence: PresenceStore,
    private readonly hooks: HookRunner,
    @inject(TOKENS.Logger) private readonly log: Logger,
    private readonly devices: DeviceService,
  ) {}

  /** Adds a connection listener (the composition root wires the webhooks). */
  onConnection(listener: ConnectionListener): void {
    this.connectionListeners.push(listener);
  }

  async handle(event: DeviceEventJob): Promise<string> {
    try {
      return await this.apply(event);
    } catch (error) {
      if (error instanceof DatabaseFailure || DatabaseFailure.isDatabaseError(error)) rethrowSafely(error);
      throw error;
    }
  }

  private async apply(event: DeviceEventJob): Promise<string> {
    const { deviceId, channel, payload } = event;
    const at = new Date(event.receivedAt);
    switch (channel) {
      case 'status': {
        const dropped: string[] = [];
        const updates = readStatusUpdates(payload, undefined, (problem) => dropped.push(problem));
        if (dropped.length > 0)
          this.log.warn(
            { deviceId, dropped: dropped.length, problems: countProblems(dropped) },
            'status updates dropped: malformed',
          );
        const changed = await this.reports.apply(deviceId, updates, at).catch(rethrowSafely);
        if (this.hooks.has('afterStatus')) {
          for (const row of changed)
            await this.hooks.notify('afterStatus', { id: row.id, deviceId, status: row.status }, row.update);
        }
        return `applied ${changed.length}/${updates.length}`;
      }
      case 'presence': {
        const report = readPresence(payload);
        // Online/offline is the broker's to say (connections, or the external bridge reading the
        // phone's presence flag); the phone's own presence publishes carry its vitals.
        if (report.source === 'broker') {
          // A phone that just connected may have messages held for it (see Dispatcher).
          if (report.online) await this.dispatch.wake(deviceId);
          for (const listener of this.connectionListeners) await listener(deviceId, report.online === true, at);
          return `connection ${report.online ? 'up' : 'down'}`;
        }
        if (report.online !== false) {
          await this.presence.report(deviceId, report, at);
          // An updated app announces what it can do now (written only when it changed).
          if (report.capabilities !== undefined) await this.devices.setCapabilities(deviceId, report.capabilities);
        }
        return 'presence';
      }
      case 'inbox': {
        // Stored once per SMS (a phone may publish one again); plugins see the new ones.
        const dropped: string[] = [];
        const inbound = readInbound(payload, undefined, (problem) => dropped.push(problem), at);
        if (dropped.length > 0)
          this.log.warn(
            { deviceId, dropped: dropped.length, problems: countProblems(dropped) },
            'inbound SMS dropped: malformed',
          );
        const stored = await this.inbox
          .store(deviceId, inbound)
          .catch((error: unknown) => rethrowSafely(DatabaseFailure.from('inbound SMS not stored', error)));
        this.log.info({ deviceId, received: inbound.length, stored: stored.length }, 'inbound SMS received');
        for (const sms of stored)
          await this.hooks.notify('onInbound', {
            deviceId,
            from: sms.from,
            body: sms.body,
            receivedAt: sms.receivedAt,
            simSlot: sms.simSlot,
          });
        return `inbox ${stored.length}/${inbound.length}`;
      }
    }
  }
}

/** Rethrows a failed write without its SQL; one that will fail the same way again is permanent. */
function rethrowSafely(error: unknown): never {
  const failure = DatabaseFailure.from('device event not applied', error);
  if (failure.permanent) throw new PermanentFailure(failure.message);
  throw failure;
}
