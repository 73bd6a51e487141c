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
import type { DeviceLock, DeviceLocks } from '../core/delivery/device-lock.js';
import type { DevicePacer } from '../core/delivery/pacing.js';
import type { DispatchHolder, DispatchWakeups } from '../core/delivery/dispatch-wakeups.js';
import { applyBeforeSend } from '../core/plugins/before-send.js';
import { DispatchPipeline } from './dispatch-pipeline.js';

/** Messages per outbox publish (device-protocol.md §3: 1..100). */
export const MAX_PER_PUBLISH = 100;
/** Messages read, published (in payloads of MAX_PER_PUBLISH) and marked per round: fewer round trips per message. */
export const MAX_PER_ROUND = 500;
/**
 * How long messages for an offline phone wait before the dispatcher looks again. The phone's
 * connect wakes the dispatcher at once; this is only the safety net for a missed presence event.
 */
export const HOLD_WHILE_OFFLINE_MS = 30_000;
/** How long a job hands out a device's messages before it yields the worker slot to other devices (and re-signals itself). */
const JOB_BUDGET_MS = 5_000;
/**
 * How long a dispatcher with nothing left waits for a poke (DispatchWakeups) before it ends its
 * job, once pokes have shown that messages for this device are accepted in this process: the
 * next message then costs one read, not a new job's start-up.
 */
export const LINGER_MS = 200;

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
  /** The in-process fast path from accepted messages to a running dispatcher. */
  wakeups: DispatchWakeups;
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
 * device has nothing left or must wait for its pace, when the job re-signals itself delayed. The
 * next round's read runs while this round's publish is in flight (DispatchPipeline), and signals
 * from this process reach the running dispatcher directly (DispatchWakeups).
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
    // The device's dispatcher runs in this process and will read again: no lock round trip.
    if (deps.wakeups.poke(deviceId)) return 'busy: woke the holder in this process';
    const { lock, expiresInMs } = await deps.locks.tryAcquire(deviceId);
    if (!lock) {
      // The holder looks again when it lets go (see DeviceLocks). If it died it never will: make
      // sure someone looks once its lock can have run out (one deduplicated delayed job).
      await deps.dispatch.signalTakeover(deviceId, expiresInMs);
      return 'busy: left to the holder';
    }
    let result: string;
    try {
      result = await drain(deps, deviceId, lock);
    } finally {
      if (await lock.release()) await deps.dispatch.signal([deviceId]);
    }
    return result;
  };
}

async function drain(deps: DispatcherDeps, deviceId: string, lock: DeviceLock): Promise<string> {
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

  const holder = deps.wakeups.hold(deviceId);
  let result: string;
  try {
    result = await handOut(deps, device, holder, lock);
  } finally {
    // A poke this dispatcher took but did not answer with a read (it is paced, or failed): the
    // queue makes sure someone looks.
    if (holder.close()) await deps.dispatch.signal([deviceId]);
  }
  return result;
}

async function handOut(deps: DispatcherDeps, device: { id: string; sendRatePerMinute: number }, holder: DispatchHolder, lock: DeviceLock): Promise<string> {
  const deviceId = device.id;
  // Reading the next batch overlaps publishing the previous one, and marking a batch DISPATCHED
  // (only once its publish resolved) overlaps the next publish: see DispatchPipeline.
  const pipeline = new DispatchPipeline<OutboundMessage>(
    (batch) => publishBatch(deps, deviceId, batch),
    (ids) => deps.transitions.dispatched(ids),
  );
  let sent = 0;
  let result: string | undefined;
  const yieldAt = Date.now() + JOB_BUDGET_MS;
  try {
    while (result === undefined && Date.now() < yieldAt) {
      // The lock renews itself (DeviceLocks); if a renewal failed, another dispatcher may hold it now.
      if (!lock.held) {
        result = 'lost the lock';
        break;
      }
      const grant = await deps.pacer.take(deviceId, device.sendRatePerMinute, MAX_PER_ROUND);
      if (grant.taken === 0) {
        await deps.dispatch.signal([deviceId], grant.waitMs);
        result = 'paced';
        break;
      }
      holder.beforeRead();
      const batch = await deps.messages.nextForDevice(deviceId, grant.taken, pipeline.handedOutIds());
      await deps.pacer.refund(deviceId, device.sendRatePerMinute, grant.taken - batch.length);
      if (batch.length === 0) {
        // Messages may have come while the last batch was going out: look again once it is marked.
        if (!pipeline.idle) await pipeline.settle();
        else if (!(holder.everPoked && (await holder.wait(LINGER_MS)))) result = 'done';
        continue;
      }
      const outgoing = await applyBeforeSend(deps, batch);
      if (outgoing.length < batch.length) await deps.pacer.refund(deviceId, device.sendRatePerMinute, batch.length - outgoing.length);
      if (outgoing.length > 0) await pipeline.push(outgoing);
      sent += outgoing.length;
    }
  } catch (error) {
    await pipeline.quiesce();
    throw error;
  }
  await pipeline.settle();
  if (result === 'done') return `dispatched ${sent}`;
  if (result === 'paced') return `dispatched ${sent}, paced`;
  // Out of time (or the lock): a new job goes on, behind other devices' jobs (or behind the new holder).
  await deps.dispatch.signal([deviceId]);
  if (result === 'lost the lock') {
    deps.log.warn({ deviceId, sent }, 'dispatch lock lost (renewal failed); the device is looked at again');
    return `dispatched ${sent}, lost the lock`;
  }
  return `dispatched ${sent}, yielding`;
}

/** One batch in outbox payloads of up to MAX_PER_PUBLISH, one publish after the other. */
async function publishBatch(deps: DispatcherDeps, deviceId: string, batch: OutboundMessage[]): Promise<void> {
  for (let i = 0; i < batch.length; i += MAX_PER_PUBLISH) {
    await deps.publisher.publish(deviceId, 'outbox', { messages: batch.slice(i, i + MAX_PER_PUBLISH).map(toOutboxItem) });
  }
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
