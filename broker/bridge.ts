/**
 * The bridge from device publishes into the `device-events` queue, and the cross-process kick.
 *
 * Device publishes are never handled inline: each one becomes a {@link DeviceEventJob} that the
 * workers process. The enqueue happens inside `authorizePublish`, after the ACL allowed the
 * publish and before aedes answers PUBACK (lib/handlers/publish.js writes PUBACK before it calls
 * `broker.publish`, so the `published` handler and the 'publish' event both run after the phone
 * was told "received"). Enqueuing first gives at-least-once: if Redis refuses the job the
 * connection is closed without PUBACK and the phone re-sends on reconnect. It also applies
 * backpressure: aedes waits for the callback.
 */
import type { Aedes, AedesOptions, AedesPublishPacket, Client, PublishPacket } from 'aedes';
import type { JobsOptions, Queue } from 'bullmq';
import { DEVICE_CHANNELS, parseDeviceTopic, type Channel, type DeviceChannel } from '../protocol/index.js';
import { exceedsJsonDepth, MAX_JSON_DEPTH, type Logger, type DeviceEventJob } from '../core/index.js';
import type { ClientRoles } from './auth.js';

/** Internal topic every broker node listens on to drop a device's connection (payload `{"deviceId":"dev_..."}`). */
export const KICK_TOPIC = 'smx/internal/kick';

/** Device payloads larger than this are dropped (a publish carries at most 100 updates or messages). @defaultValue 256 KiB */
export const MAX_EVENT_PAYLOAD_BYTES = 256 * 1024;

type AuthorizePublish = NonNullable<AedesOptions['authorizePublish']>;

/** Keeps the broker's close() waiting for work still in flight (see embedded-broker.ts). */
export type Track = <T>(work: Promise<T>) => Promise<T>;

const isDeviceChannel = (channel: Channel): channel is DeviceChannel =>
  (DEVICE_CHANNELS as readonly Channel[]).includes(channel);

/**
 * Turns a publish on `smx/v1/devices/{id}/{status|inbox|presence}` into a job, or null when it is
 * not a device channel, too large, not a JSON object or nested deeper than MAX_JSON_DEPTH (logged
 * and dropped: one bad phone must not stop the bridge). Dropped publishes are still acknowledged:
 * the phone would resend an unacknowledged one on every reconnect. The one "publish -> job"
 * function for the embedded and the external bridge.
 */
export function toDeviceEventJob(
  topic: string,
  payload: Buffer | string,
  receivedAt: Date,
  log?: Logger,
): DeviceEventJob | null {
  const parsed = parseDeviceTopic(topic);
  if (!parsed || !isDeviceChannel(parsed.channel)) return null;
  const { deviceId, channel } = parsed;
  const bytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (bytes > MAX_EVENT_PAYLOAD_BYTES) {
    log?.warn({ deviceId, channel, bytes }, 'device publish dropped: payload too large');
    return null;
  }
  let value: unknown;
  try {
    value = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch {
    log?.warn({ deviceId, channel, bytes }, 'device publish dropped: payload is not JSON');
    return null;
  }
  // §3: every payload is a JSON object; arrays and scalars are not.
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    log?.warn({ deviceId, channel }, 'device publish dropped: payload is not a JSON object');
    return null;
  }
  // The queue (JSON.stringify) and the workers walk payloads recursively: a deep one overflows the stack.
  if (exceedsJsonDepth(value)) {
    log?.warn(
      { deviceId, channel, bytes, maxDepth: MAX_JSON_DEPTH },
      'device publish dropped: payload nested too deep',
    );
    return null;
  }
  return { deviceId, channel, payload: value, receivedAt: receivedAt.toISOString() };
}

/** Adds a device event to the queue; the job name is the channel (what Bull Board shows). */
export async function enqueueDeviceEvent(
  queue: Queue<DeviceEventJob>,
  job: DeviceEventJob,
  options?: JobsOptions,
): Promise<void> {
  await queue.add(job.channel, job, options);
}

export interface BridgeOptions {
  queue: Queue<DeviceEventJob>;
  /**
   * Handles an event in this process before the PUBACK (LocalDeviceEvents, when the workers run
   * here); resolves false when it must be queued after all.
   */
  local?: { handle(event: DeviceEventJob): Promise<boolean> };
  roles: ClientRoles;
  log: Logger;
  track?: Track;
}

/**
 * The device a publish came from, or undefined: a device's own publish (its role says so and the
 * topic is its own), or a will aedes publishes after the device's broker node died (no client;
 * the will was stored by that device).
 */
function originDevice(client: Client | null, packet: PublishPacket, roles: ClientRoles): string | undefined {
  const parsed = parseDeviceTopic(packet.topic);
  if (!parsed) return undefined;
  if (client === null) {
    const storedBy = (packet as PublishPacket & { clientId?: string }).clientId;
    return storedBy === parsed.deviceId ? parsed.deviceId : undefined;
  }
  return roles.deviceId(client) === parsed.deviceId ? parsed.deviceId : undefined;
}

/** Wraps the ACL's `authorizePublish` so an allowed device publish is enqueued before it is acknowledged. */
export function bridgePublishes(authorize: AuthorizePublish, options: BridgeOptions): AuthorizePublish {
  const { queue, roles, log, local } = options;
  const deliver = async (job: DeviceEventJob) => {
    if (!(local && (await local.handle(job)))) await enqueueDeviceEvent(queue, job);
  };
  const track: Track = options.track ?? ((work) => work);
  return (client, packet, callback) => {
    authorize(client, packet, (error) => {
      if (error) return callback(error);
      if (!originDevice(client, packet, roles)) return callback(null);
      const job = toDeviceEventJob(packet.topic, packet.payload, new Date(), log);
      if (!job) return callback(null);
      track(deliver(job)).then(
        () => callback(null),
        (cause: unknown) => {
          log.error(
            { err: cause, deviceId: job.deviceId, channel: job.channel },
            'device event not enqueued; closing the connection unacknowledged',
          );
          callback(new Error('device event could not be queued', { cause }));
        },
      );
    });
  };
}

/** The payload of a kick publish. */
export function kickPayload(deviceId: string): Buffer {
  return Buffer.from(JSON.stringify({ deviceId }), 'utf8');
}

/**
 * How long a kicked connection stays open. The kick usually follows a last message to the same
 * phone (the `unlink` notice of DeviceService.unlink); aedes writes a persistent session's QoS 1
 * packet only after a Redis round trip, and on another cluster node the kick can even arrive
 * first, so closing at once could drop the notice.
 */
export const KICK_GRACE_MS = 250;

/** aedes keeps its registered clients by id; the typings do not expose the map. */
function connectedClient(aedes: Aedes, clientId: string): Client | undefined {
  return (aedes as unknown as { clients: Record<string, Client | undefined> }).clients[clientId];
}

/** Closes the client once its socket has written what is buffered (at most one more second). */
function closeAfterFlush(client: Client): void {
  const conn = client.conn as Client['conn'] & { writableLength?: number };
  if (client.closed || !conn.writableLength) return client.close();
  const timer = setTimeout(() => client.close(), 1000).unref();
  conn.once('drain', () => {
    clearTimeout(timer);
    client.close();
  });
}

/**
 * Subscribes this node to {@link KICK_TOPIC} (server-side, bypassing the ACL) and closes the named
 * device's connection when it is connected here. Devices cannot publish there: it is not one of
 * their own topics. Resolves with a function that unsubscribes.
 */
export async function handleKicks(aedes: Aedes, log: Logger): Promise<() => Promise<void>> {
  const deliver = (packet: AedesPublishPacket, done: () => void): void => {
    try {
      const { deviceId } = JSON.parse(packet.payload.toString()) as { deviceId?: unknown };
      if (typeof deviceId === 'string' && deviceId.startsWith('dev_')) {
        // Looked up after the grace period, so a connection registered meanwhile is closed too.
        setTimeout(() => {
          const client = connectedClient(aedes, deviceId);
          if (!client) return;
          log.info({ deviceId }, 'device connection closed on request');
          closeAfterFlush(client);
        }, KICK_GRACE_MS).unref();
      }
    } catch (error) {
      log.warn({ err: error }, 'malformed kick ignored');
    }
    done();
  };
  await new Promise<void>((resolve) => aedes.subscribe(KICK_TOPIC, deliver, resolve));
  return () => new Promise<void>((resolve) => aedes.unsubscribe(KICK_TOPIC, deliver, resolve));
}
