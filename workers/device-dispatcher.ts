import type { Job } from 'bullmq';
import type { Logger } from '../core/logger.js';
import type { HookRunner } from '../core/plugins/hook-runner.js';
import type { PresenceStore } from '../core/presence.js';
import type { DevicePublisher } from '../core/publisher.js';
import type { DispatchJob } from '../core/queues.js';
import type { DeviceService } from '../core/services/devices.js';
import type { DispatchService } from '../core/services/dispatch.js';
import type { MessageTransitions } from '../core/services/message-transitions.js';
import type { MessageService, OutboundMessage } from '../core/services/messages.js';
import type { DeviceTransports } from '../core/smsgate/transport.js';
import type { DeviceLocks } from '../core/delivery/device-lock.js';
import type { DevicePacer } from '../core/delivery/pacing.js';
import { applyBeforeSend } from '../core/plugins/before-send.js';

/** Messages per outbox publish (device-protocol.md §3: 1..100). */
export const MAX_PER_PUBLISH = 100;
/** Messages read, published (in payloads of MAX_PER_PUBLISH) and marked per round: fewer round trips per message. */
export const MAX_PER_ROUND = 500;
/**
 * How long messages for an offline phone wait before the dispatcher looks again. The phone's
 * connect wakes the dispatcher at once; this is only the safety net for a missed presence event.
 */
export const HOLD_WHILE_OFFLINE_MS = 30_000;
/** Rounds between extensions of the device lock (its TTL is far longer than this many rounds take). */
const LOCK_EXTEND_EVERY = 10;
/** Publishes per job before it yields the worker slot to other devices (and re-signals itself). */
const MAX_ROUNDS_PER_JOB = 50;

export interface DispatcherDeps {
  messages: MessageService;
  transitions: MessageTransitions;
  devices: DeviceService;
  dispatch: DispatchService;
  presence: PresenceStore;
  publisher: DevicePublisher;
  pacer: DevicePacer;
  locks: DeviceLocks;
  hooks: HookRunner;
  log: Logger;
  /** Pull transports (SMSGate): the dispatcher only tells the phone there is work; absent = MQTT only. */
  transports?: DeviceTransports;
}

/** The outbox payload item of device-protocol.md §3. */
export function toOutboxItem(m: OutboundMessage) {
  return { id: m.id, to: m.to, body: m.body, simSlot: m.simSlot, expiresAt: m.expiresAt.toISOString(), priority: m.priority };
}

/**
 * Hands one device its QUEUED messages. The database rows are the queue; a job only says "look
 * at this device". One dispatcher per device at a time (a Redis lock) reads the next messages in
 * order (priority, then acceptance), takes as many as the device's pace allows, publishes them in
 * outbox payloads of up to 100 at QoS 1 (up to 500 a round), and marks them DISPATCHED — repeating until the
 * device has nothing left or must wait for its pace, when the job re-signals itself delayed.
 *
 * Nothing is lost and nothing is sent twice: a crash after the publish and before the mark
 * republishes the same ids, which the phone de-duplicates; a broker error throws and BullMQ
 * retries; a lost signal is recovered by the maintenance sweep.
 */
export function dispatcherProcessor(deps: DispatcherDeps) {
  return async (job: Job<DispatchJob>): Promise<string> => {
    // From here on, a new signal for this device makes a new job instead of being absorbed by
    // this one: a message committed after our last read is never left waiting.
    await job.removeDeduplicationKey();
    const { deviceId } = job.data;
    const lock = await deps.locks.acquire(deviceId);
    // The holder looks again when it lets go (see DeviceLocks): nothing to wait for here.
    if (!lock) return 'busy: left to the holder';
    let result: string;
    try {
      result = await drain(deps, deviceId, () => lock.extend());
    } finally {
      if (await lock.release()) await deps.dispatch.signal([deviceId]);
    }
    return result;
  };
}

async function drain(deps: DispatcherDeps, deviceId: string, keepLock: () => Promise<boolean>): Promise<string> {
  // Messages past their TTL are not read (nextForDevice) and the maintenance job expires them.
  const device = await deps.devices.find(deviceId);
  if (!device) return reroute(deps, deviceId);

  const presence = await deps.presence.get(deviceId);
  if (!presence.online) {
    // Messages for an offline phone wait here, sealed, not in the broker's session store (which
    // would hold OTP texts in plain form for as long as the phone is away). The device-events
    // worker promotes this delayed job when the phone connects.
    await deps.dispatch.signal([deviceId], HOLD_WHILE_OFFLINE_MS);
    return 'held while offline';
  }

  // The transport seam: a pull transport (e.g. SMSGate) is only woken up here; its phone fetches
  // the messages itself (pacing and DISPATCHED marks happen on that fetch). MQTT goes on below.
  const transport = deps.transports?.get(device.transport);
  if (transport) return transport.handOver(device);

  // Marking a batch DISPATCHED overlaps with reading and publishing the next one (which leaves
  // out the ids still being marked); at most one mark is outstanding, and each is awaited.
  let marking: Promise<unknown> = Promise.resolve();
  let beingMarked: string[] = [];
  let sent = 0;
  try {
    for (let round = 0; round < MAX_ROUNDS_PER_JOB; round++) {
      const grant = await deps.pacer.take(deviceId, device.sendRatePerMinute, MAX_PER_ROUND);
      if (grant.taken === 0) {
        await deps.dispatch.signal([deviceId], grant.waitMs);
        return `dispatched ${sent}, paced`;
      }
      const batch = await deps.messages.nextForDevice(deviceId, grant.taken, beingMarked);
      await deps.pacer.refund(deviceId, device.sendRatePerMinute, grant.taken - batch.length);
      if (batch.length === 0) return `dispatched ${sent}`;
      const outgoing = await applyBeforeSend(deps, batch);
      if (outgoing.length < batch.length) await deps.pacer.refund(deviceId, device.sendRatePerMinute, batch.length - outgoing.length);
      for (let i = 0; i < outgoing.length; i += MAX_PER_PUBLISH) {
        await deps.publisher.publish(deviceId, 'outbox', { messages: outgoing.slice(i, i + MAX_PER_PUBLISH).map(toOutboxItem) });
      }
      await marking;
      beingMarked = outgoing.map((m) => m.id);
      marking = deps.transitions.dispatched(beingMarked);
      sent += outgoing.length;
      if (round % LOCK_EXTEND_EVERY === LOCK_EXTEND_EVERY - 1) await keepLock();
    }
  } finally {
    await marking;
  }
  await deps.dispatch.signal([deviceId]);
  return `dispatched ${sent}, yielding`;
}

/** The device was unlinked: its queued messages go to the project's active device, or fail. */
async function reroute(deps: DispatcherDeps, deviceId: string): Promise<string> {
  const queued = await deps.messages.loadOutbound(await deps.messages.queuedFor(deviceId, 1));
  const projectId = queued[0]?.projectId;
  const target = projectId ? await deps.devices.active(projectId) : null;
  if (target) {
    const moved = await deps.messages.reassignQueued(deviceId, target.id);
    await deps.dispatch.signal([target.id]);
    deps.log.info({ from: deviceId, to: target.id, moved }, 're-routed the messages of an unlinked device');
    return `re-routed ${moved}`;
  }
  const ids = await deps.messages.queuedFor(deviceId, 100_000);
  const failed = await deps.transitions.failed(ids, 'NO_DEVICE');
  return `failed ${failed}: no device`;
}
