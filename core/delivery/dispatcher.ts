import type { Logger } from '../logger.js';
import { inject, injectable } from '../di.js';
import { MicroBatcher } from '../batching/micro-batcher.js';
import { HookRunner } from '../hook-runner.js';
import { DeviceService, sendsDataSms } from '../services/devices.js';
import { MessageService, type OutboundMessage } from '../services/messages.js';
import { TOKENS } from '../tokens.js';
import { applyBeforeSend } from './before-send.js';
import { DeviceLocks, type DeviceLock } from './device-lock.js';
import { DispatchService } from './dispatch.js';
import { DispatchPipeline, LeftQueued } from './dispatch-pipeline.js';
import { DispatchWakeups, type DispatchHolder } from './dispatch-wakeups.js';
import { DevicePacer } from './pacing.js';
import { MessageTransitions } from './transitions.js';
import { DeviceTransports, type PushTransport } from './transports.js';

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

/**
 * Hands one device its QUEUED messages. The database rows are the queue; a dispatch job only says
 * "look at this device". One dispatcher per device at a time (a Redis lock) reads the next
 * messages in order (priority, then acceptance), takes as many as the device's pace allows, hands
 * them to the device's transport (up to 500 a round), and marks them DISPATCHED — repeating until
 * the device has nothing left or must wait for its pace, when it signals itself delayed. The next
 * round's read runs while this round's publish is in flight (DispatchPipeline), and signals from
 * this process reach the running dispatcher directly (DispatchWakeups).
 *
 * Nothing is lost and nothing is sent twice: a crash after the publish and before the mark
 * republishes the same ids, which the phone de-duplicates; a broker error throws and the job is
 * retried; a lost signal is recovered by the maintenance sweep.
 */
@injectable()
export class Dispatcher {
  /**
   * The reads of dispatchers running at once go out as one statement, and so do their marks: a
   * fleet's devices, each served by its own dispatcher, cost a few statements per round between
   * them instead of two each.
   */
  private readonly reads = new MicroBatcher<NextRead, OutboundMessage[]>({
    flush: (reads) =>
      this.messages.nextForDevices(
        reads,
        reads.flatMap((r) => r.except),
      ),
  });
  /** Published ids a run's mark left QUEUED, kept out of the device's next run here too. */
  private readonly leftQueued = new LeftQueued();
  private readonly marks = new MicroBatcher<string[], string[]>({
    flush: async (batches) => {
      const moved = new Set((await this.transitions.dispatched(batches.flat())).map((change) => change.id));
      return batches.map((ids) => ids.filter((id) => moved.has(id)));
    },
  });

  constructor(
    private readonly messages: MessageService,
    private readonly transitions: MessageTransitions,
    private readonly devices: DeviceService,
    private readonly dispatch: DispatchService,
    private readonly transports: DeviceTransports,
    private readonly pacer: DevicePacer,
    private readonly locks: DeviceLocks,
    private readonly hooks: HookRunner,
    /** The in-process fast path from accepted messages to a running dispatcher. */
    private readonly wakeups: DispatchWakeups,
    @inject(TOKENS.Logger) private readonly log: Logger,
  ) {}

  /** Serves one dispatch signal for the device; returns a short account of what it did. */
  async serve(deviceId: string): Promise<string> {
    // The device's dispatcher runs in this process and will read again: no lock round trip.
    if (this.wakeups.poke(deviceId)) return 'busy: woke the holder in this process';
    const { lock, expiresInMs } = await this.locks.tryAcquire(deviceId);
    if (!lock) {
      // The holder looks again when it lets go (see DeviceLocks). If it died it never will: make
      // sure someone looks once its lock can have run out (one deduplicated delayed job).
      await this.dispatch.signalTakeover(deviceId, expiresInMs);
      return 'busy: left to the holder';
    }
    try {
      return await this.serveLocked(deviceId, lock);
    } finally {
      if (await lock.release()) await this.dispatch.signal([deviceId]);
    }
  }

  private async serveLocked(deviceId: string, lock: DeviceLock): Promise<string> {
    // Messages past their TTL are not read (nextForDevice) and the maintenance job expires them.
    const device = await this.devices.find(deviceId);
    if (!device) return this.reroute(deviceId);

    const transport = this.transports.of(device);
    if (!(await transport.isOnline(deviceId))) {
      // Messages for an offline phone wait here, sealed, not in the broker's session store (which
      // would hold OTP texts in plain form for as long as the phone is away). The phone's connect
      // promotes this delayed signal (DeviceEvents).
      await this.dispatch.signal([deviceId], HOLD_WHILE_OFFLINE_MS);
      return 'held while offline';
    }
    if (transport.mode === 'pull') {
      await transport.wake(deviceId);
      return `${transport.name}: woken`;
    }

    const holder = this.wakeups.hold(deviceId);
    try {
      return await this.pushAll(device, transport, holder, lock);
    } finally {
      // A poke this dispatcher took but did not answer with a read (it is paced, or failed): the
      // queue makes sure someone looks.
      if (holder.close()) await this.dispatch.signal([deviceId]);
    }
  }

  /** Reads, paces, hands over and marks the device's messages until none are left, it is paced, or its time is up. */
  private async pushAll(
    device: { id: string; sendRatePerMinute: number },
    transport: PushTransport,
    holder: DispatchHolder,
    lock: DeviceLock,
  ): Promise<string> {
    const deviceId = device.id;
    // Reading the next batch overlaps publishing the previous one, and marking a batch DISPATCHED
    // (only once its publish resolved) overlaps the next publish: see DispatchPipeline.
    const pipeline = new DispatchPipeline<OutboundMessage>(
      (batch) => transport.publish(deviceId, batch),
      (ids) => this.marks.add(ids),
      this.leftQueued.recall(deviceId),
    );
    let sent = 0;
    let result: 'done' | 'paced' | 'lost the lock' | undefined;
    /** The last read found every message there was: only a poke (or a pending look) means more. */
    let drained = false;
    const yieldAt = Date.now() + JOB_BUDGET_MS;
    try {
      while (result === undefined && Date.now() < yieldAt) {
        // The lock renews itself (DeviceLocks); if a renewal failed, another dispatcher may hold it now.
        if (!lock.held) {
          result = 'lost the lock';
          break;
        }
        if (drained) {
          // Nothing was left: read again only when a poke says so. A signal from another process
          // finds the lock taken and leaves the pending flag, which the release answers.
          if (!holder.poked) await pipeline.settle();
          if (!(holder.everPoked && (await holder.wait(LINGER_MS)))) {
            result = 'done';
            break;
          }
          drained = false;
        }
        const grant = await this.pacer.take(deviceId, device.sendRatePerMinute, MAX_PER_ROUND);
        if (grant.taken === 0) {
          await this.dispatch.signal([deviceId], grant.waitMs);
          result = 'paced';
          break;
        }
        holder.beforeRead();
        // One row more than the pace allows tells whether any are left: a device that got all of
        // its messages ends here instead of coming back after its pacing wait to find none.
        const batch = await this.reads.add({ deviceId, limit: grant.taken + 1, except: pipeline.handedOutIds() });
        drained = batch.length <= grant.taken;
        if (!drained) batch.pop();
        await this.pacer.refund(deviceId, device.sendRatePerMinute, grant.taken - batch.length);
        if (batch.length === 0) continue;
        const outgoing = await applyBeforeSend({ hooks: this.hooks, transitions: this.transitions }, batch);
        if (outgoing.length < batch.length)
          await this.pacer.refund(deviceId, device.sendRatePerMinute, batch.length - outgoing.length);
        if (outgoing.length > 0) await pipeline.push(outgoing);
        sent += outgoing.length;
      }
    } catch (error) {
      await pipeline.quiesce();
      throw error;
    }
    await pipeline.settle();
    this.leftQueued.remember(deviceId, pipeline.handedOutIds());
    if (result === 'done') return `dispatched ${sent}`;
    if (result === 'paced') return `dispatched ${sent}, paced`;
    // Out of time (or the lock): a new signal goes on, behind other devices' (or behind the new holder).
    await this.dispatch.signal([deviceId]);
    if (result === 'lost the lock') {
      this.log.warn({ deviceId, sent }, 'dispatch lock lost (renewal failed); the device is looked at again');
      return `dispatched ${sent}, lost the lock`;
    }
    return `dispatched ${sent}, yielding`;
  }

  /**
   * The device was unlinked: its queued messages go to the project's active device, or fail —
   * as do those pinned to it (`deviceId` in the request) and data SMS the new device cannot send.
   */
  private async reroute(deviceId: string): Promise<string> {
    const queued = await this.messages.loadOutbound(await this.messages.queuedFor(deviceId, 1));
    const projectId = queued[0]?.projectId;
    const target = projectId ? await this.devices.active(projectId) : null;
    if (target) {
      const { moved, stranded } = await this.messages.reassignQueued(deviceId, target.id, sendsDataSms(target));
      const failed = await this.transitions.failed(stranded, 'NO_DEVICE');
      await this.dispatch.signal([target.id]);
      this.log.info(
        { from: deviceId, to: target.id, moved, failed: failed.length },
        're-routed the messages of an unlinked device',
      );
      return `re-routed ${moved}, failed ${failed.length}`;
    }
    const ids = await this.messages.queuedFor(deviceId, 100_000);
    const failed = await this.transitions.failed(ids, 'NO_DEVICE');
    return `failed ${failed.length}: no device`;
  }
}

/** One dispatcher's read: the device's next `limit` messages, leaving out the ids it handed out. */
interface NextRead {
  deviceId: string;
  limit: number;
  except: string[];
}
