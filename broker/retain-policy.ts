/**
 * What the broker keeps as retained messages: only a device's presence (device-protocol.md §3,
 * "retained" on presence alone), and only up to {@link MAX_RETAINED_PAYLOAD_BYTES}.
 *
 * A publish that sets `retain` anywhere else, or on a presence payload over the cap, has its flag
 * cleared after the ACL allowed it: it is still delivered and bridged like any publish (and
 * acknowledged), it is just not stored. Refusing it (drop and disconnect, as §4 does for a
 * foreign topic) would lose a status report the phone had every right to send, and the phone
 * would resend the unacknowledged publish on every reconnect, forever.
 */
import type { AedesOptions, Client, PublishPacket } from 'aedes';
import type { Redis } from 'ioredis';
import { parseDeviceTopic } from '../protocol/index.js';
import type { Logger } from '../core/index.js';

/**
 * Largest retained payload. A presence report (battery, signal, SIMs) is a few hundred bytes.
 * @defaultValue 4 KiB
 */
export const MAX_RETAINED_PAYLOAD_BYTES = 4 * 1024;

type AuthorizePublish = NonNullable<AedesOptions['authorizePublish']>;

const byteLength = (payload: PublishPacket['payload']): number =>
  typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;

/** May a publish on `topic` with `payloadBytes` be retained? Empty payloads (which clear a retained message) count as 0. */
export function mayRetain(topic: string, payloadBytes: number): boolean {
  return parseDeviceTopic(topic)?.channel === 'presence' && payloadBytes <= MAX_RETAINED_PAYLOAD_BYTES;
}

/**
 * Wraps an `authorizePublish` (the ACL): once it allowed a publish, a retain flag
 * {@link mayRetain} refuses is cleared. Logged once per connection.
 */
export function limitRetained(authorize: AuthorizePublish, log: Logger): AuthorizePublish {
  const warned = new WeakSet<Client>();
  return (client, packet, callback) => {
    authorize(client, packet, (error) => {
      if (error) return callback(error);
      if (packet.retain) {
        const bytes = byteLength(packet.payload);
        if (!mayRetain(packet.topic, bytes)) {
          packet.retain = false;
          if (client && !warned.has(client)) {
            warned.add(client);
            log.warn(
              { clientId: client.id, topic: packet.topic, bytes },
              'retain flag ignored: only presence up to 4 KiB is retained',
            );
          }
        }
      }
      callback(null);
    });
  };
}

/** aedes-persistence-redis's hash of retained packets (topic -> msgpack packet), under the session key prefix. */
const RETAINED_KEY = 'retained';
/** A stored packet is its payload plus topic, flags and broker fields (and 32 bytes of seal). */
const STORED_PACKET_OVERHEAD_BYTES = 1024;

/**
 * Removes retained messages stored before this policy (issue 10: a 5 MB retained status): every
 * one not on a presence topic or larger than the cap. Run at start on the session store's
 * connection (whose key prefix it uses); resolves with how many it removed.
 */
export async function purgeRetained(redis: Redis, log: Logger): Promise<number> {
  let cursor = '0';
  let removed = 0;
  do {
    const [next, entries] = await redis.hscanBuffer(RETAINED_KEY, cursor, 'COUNT', 500);
    cursor = next.toString();
    const drop: Buffer[] = [];
    for (let i = 0; i + 1 < entries.length; i += 2) {
      const topic = entries[i]!.toString('utf8');
      if (!mayRetain(topic, 0) || entries[i + 1]!.length > MAX_RETAINED_PAYLOAD_BYTES + STORED_PACKET_OVERHEAD_BYTES)
        drop.push(entries[i]!);
    }
    if (drop.length > 0) removed += await redis.hdel(RETAINED_KEY, ...drop);
  } while (cursor !== '0');
  if (removed > 0) log.warn({ removed }, 'retained messages outside the retain policy removed');
  return removed;
}
