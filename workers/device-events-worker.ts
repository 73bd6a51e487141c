import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from '../core/logger.js';
import type { HookRunner } from '../core/plugins/hook-runner.js';
import type { PresenceStore } from '../core/presence.js';
import type { DeviceEventJob } from '../core/queues.js';
import type { DispatchService } from '../core/services/dispatch.js';
import type { InboxService } from '../core/services/inbox.js';
import { countProblems, DatabaseFailure, type StatusReports } from '../core/delivery/status-reports.js';
import type { WebhookEmitter } from '../core/webhooks/emitter.js';
import { readInbound, readPresence, readStatusUpdates } from './device-event-payloads.js';

export interface DeviceEventDeps {
  reports: StatusReports;
  inbox: InboxService;
  dispatch: DispatchService;
  presence: PresenceStore;
  hooks: HookRunner;
  webhooks: WebhookEmitter;
  log: Logger;
}

/**
 * Applies what phones report: status updates move messages forward (idempotent, never backwards);
 * presence payloads refresh battery/signal; inbound SMS are acknowledged here and stored by the
 * inbound feature once it exists.
 */
export function deviceEventsProcessor(deps: DeviceEventDeps) {
  const handle = processEvent(deps);
  return async (job: Job<DeviceEventJob>): Promise<string> => {
    try {
      return await handle(job);
    } catch (error) {
      // The job's error is logged and kept in Redis: a database error goes without its SQL.
      if (error instanceof DatabaseFailure || DatabaseFailure.isDatabaseError(error)) rethrowSafely(error);
      throw error;
    }
  };
}

function processEvent(deps: DeviceEventDeps) {
  return async (job: Job<DeviceEventJob>): Promise<string> => {
    const { deviceId, channel, payload } = job.data;
    const at = new Date(job.data.receivedAt);
    switch (channel) {
      case 'status': {
        const dropped: string[] = [];
        const updates = readStatusUpdates(payload, undefined, (problem) => dropped.push(problem));
        if (dropped.length > 0) deps.log.warn({ deviceId, dropped: dropped.length, problems: countProblems(dropped) }, 'status updates dropped: malformed');
        const changed = await deps.reports.apply(deviceId, updates, at).catch(rethrowSafely);
        if (deps.hooks.has('afterStatus')) {
          for (const row of changed) await deps.hooks.notify('afterStatus', { id: row.id, deviceId, status: row.status }, row.update);
        }
        return `applied ${changed.length}/${updates.length}`;
      }
      case 'presence': {
        const report = readPresence(payload);
        // Online/offline is the broker's to say (connections, or the external bridge reading the
        // phone's presence flag); the phone's own presence publishes carry its vitals.
        if (report.source === 'broker') {
          // A phone that just connected may have messages held for it (see device-dispatcher.ts).
          if (report.online) await deps.dispatch.wake(deviceId);
          await deps.webhooks.deviceConnection(deviceId, report.online === true, at);
          return `connection ${report.online ? 'up' : 'down'}`;
        }
        if (report.online !== false) await deps.presence.report(deviceId, report, at);
        return 'presence';
      }
      case 'inbox': {
        // Stored once per SMS (a phone may publish one again); plugins see the new ones.
        const dropped: string[] = [];
        const inbound = readInbound(payload, undefined, (problem) => dropped.push(problem), at);
        if (dropped.length > 0) deps.log.warn({ deviceId, dropped: dropped.length, problems: countProblems(dropped) }, 'inbound SMS dropped: malformed');
        const stored = await deps.inbox.store(deviceId, inbound).catch((error: unknown) => rethrowSafely(DatabaseFailure.from('inbound SMS not stored', error)));
        deps.log.info({ deviceId, received: inbound.length, stored: stored.length }, 'inbound SMS received');
        for (const sms of stored) await deps.hooks.notify('onInbound', { deviceId, from: sms.from, body: sms.body, receivedAt: sms.receivedAt, simSlot: sms.simSlot });
        return `inbox ${stored.length}/${inbound.length}`;
      }
    }
  };
}


/**
 * Rethrows a failed write without its SQL (the job's error is logged and kept in Redis): a
 * {@link DatabaseFailure} that will fail the same way again is not retried.
 */
function rethrowSafely(error: unknown): never {
  const failure = DatabaseFailure.from('device event not applied', error);
  if (failure.permanent) throw new UnrecoverableError(failure.message);
  throw failure;
}
