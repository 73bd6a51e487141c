/**
 * Fewer Redis round trips for the QoS 1 packets aedes keeps for persistent sessions (the outbox
 * and control publishes to phones). aedes-persistence-redis awaits each command in turn: queueing
 * a packet takes 4 round trips (MSET, EXPIRE, EXPIRE, RPUSH), its delivery 1 more (a SET that
 * re-stores the whole packet with its MQTT packet id), and the PUBACK 4 (GET of the whole packet,
 * LREM, DECR, DEL), while the client's next packet waits. Here queueing is one MULTI, the
 * delivery none and the PUBACK one script. The keys and the msgpack encoding are the library's
 * own, so its other methods (the delivery of queued packets on CONNECT above all) read them
 * unchanged. The MULTI and the script touch several keys: fine on the one Redis server the
 * session store connects to (not Redis Cluster, which SMX does not use).
 *
 * A delivered packet's MQTT packet id is not re-stored with the packet: it goes into a per-client
 * hash (`outgoing-ids:{client}`, packet key → id) with a write that is pipelined, not awaited, and
 * the PUBACK script removes it again. A packet redelivered on reconnect (it was sent and not
 * acknowledged) goes out with DUP=1 and its original packet id, as MQTT 3.1.1 §4.4 requires
 * [MQTT-3.3.1-1]. QoS 2 packets and anything unexpected go to the library.
 */
import { Readable } from 'node:stream';
import msgpack from 'msgpack-lite';
import type { Redis } from 'ioredis';
import { RedisScript } from '../core/index.js';

/** The packet ids of delivered packets awaiting a PUBACK, as the library caches them (per node, bounded). */
const MAX_AWAITING_ACK = 100_000;

/**
 * KEYS[1] the client's outgoing list, KEYS[2] the packet, KEYS[3] its subscriber count, KEYS[4]
 * the client's packet ids; ARGV[1] the packet key as stored in the list (the list holds key names
 * without the connection prefix).
 */
const CLEAR = new RedisScript(`
redis.call('LREM', KEYS[1], 0, ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
local remaining = redis.call('DECR', KEYS[3])
if remaining <= 0 then redis.call('DEL', KEYS[2], KEYS[3]) end
return remaining`);

interface StoredPacket {
  cmd?: string;
  brokerId?: string;
  brokerCounter?: number;
  messageId?: number;
  qos?: number;
  [field: string]: unknown;
}
type Method = (...args: unknown[]) => Promise<unknown>;

// The library's key names (aedes-persistence-redis asyncPersistence.js).
const packetKey = (p: StoredPacket) => `packet:${p.brokerId}:${p.brokerCounter}`;
const outgoingKey = (clientId: string) => `outgoing:${encodeURIComponent(clientId)}`;
/** SMX's own: the packet ids delivered packets went out with, by packet key. */
const sentIdsKey = (clientId: string) => `outgoing-ids:${encodeURIComponent(clientId)}`;

/**
 * Replaces the QoS 1 outgoing methods of an aedes-persistence-redis instance using `redis`, its own
 * connection. `seal` turns a payload into what is stored (session-seal.ts: never the plain body).
 */
export function useFastOutgoing(
  persistence: Record<string, unknown>,
  redis: Redis,
  ttlSeconds: number,
  seal: (payload: Buffer) => Buffer,
): void {
  const original = (name: string): Method => (persistence[name] as Method).bind(persistence);
  const enqueueCombi = original('outgoingEnqueueCombi');
  const update = original('outgoingUpdate');
  const clear = original('outgoingClearMessageId');
  const stream = (persistence.outgoingStream as (client: { id: string }) => Readable).bind(persistence);
  const awaitingAck = new Map<string, string>();

  persistence.outgoingEnqueueCombi = async (subs: Array<{ clientId: string }> | undefined, packet: StoredPacket) => {
    if (!subs || subs.length === 0) return;
    if (packet.qos !== 1) return enqueueCombi(subs, packet);
    const key = packetKey(packet);
    const encoded = msgpack.encode(toStored(packet, seal));
    const multi = redis.multi();
    if (ttlSeconds > 0)
      multi.set(key, encoded, 'EX', ttlSeconds).set(`${key}:offlineCount`, subs.length, 'EX', ttlSeconds);
    else multi.set(key, encoded).set(`${key}:offlineCount`, subs.length);
    for (const sub of subs) multi.rpush(outgoingKey(sub.clientId), key);
    throwFirstError(await multi.exec());
  };

  persistence.outgoingUpdate = async (client: { id: string }, packet: StoredPacket) => {
    if (packet.cmd !== 'publish' || packet.qos !== 1 || packet.brokerId === undefined || packet.messageId === undefined)
      return update(client, packet);
    const id = `${client.id}:${packet.messageId}`;
    const key = packetKey(packet);
    awaitingAck.delete(id); // re-inserted last: the oldest entry is first when the map is full
    awaitingAck.set(id, key);
    if (awaitingAck.size > MAX_AWAITING_ACK) awaitingAck.delete(awaitingAck.keys().next().value!);
    // Not awaited: the publish does not wait for it; it only matters if the phone reconnects unacknowledged.
    const ids = sentIdsKey(client.id);
    redis.hset(ids, key, packet.messageId).catch(() => undefined);
    if (ttlSeconds > 0) redis.expire(ids, ttlSeconds).catch(() => undefined);
  };

  // Packets redelivered on CONNECT that went out before keep their packet id and carry DUP=1.
  persistence.outgoingStream = (client: { id: string }) =>
    Readable.from(
      (async function* redeliveries() {
        const sentIds = await redis.hgetall(sentIdsKey(client.id)).catch(() => ({}) as Record<string, string>);
        for await (const packet of stream(client) as AsyncIterable<StoredPacket>) {
          const messageId = packet.cmd === 'publish' && packet.qos === 1 ? sentIds[packetKey(packet)] : undefined;
          yield messageId === undefined ? packet : { ...packet, messageId: Number(messageId), dup: true };
        }
      })(),
    );

  persistence.outgoingClearMessageId = async (client: { id: string }, packet: { messageId?: number }) => {
    const id = `${client.id}:${packet.messageId}`;
    const key = awaitingAck.get(id);
    if (key === undefined) return clear(client, packet);
    awaitingAck.delete(id);
    await CLEAR.run(redis, [outgoingKey(client.id), key, `${key}:offlineCount`, sentIdsKey(client.id)], [key]);
    // The library resolves with the stored packet, which aedes only passes to its 'ack' event;
    // nothing here listens to it, so the packet is not read back.
    return undefined;
  };
}

/** What aedes-persistence stores for a queued packet (aedes-packet's copy: no packet id yet), its payload sealed. */
function toStored(p: StoredPacket, seal: (payload: Buffer) => Buffer): StoredPacket {
  const stored: StoredPacket = {};
  for (const field of ['clientId', 'nl', 'properties', 'messageExpiry'])
    if (Object.prototype.hasOwnProperty.call(p, field)) stored[field] = p[field];
  Object.assign(stored, {
    cmd: p.cmd || 'publish',
    brokerId: p.brokerId,
    brokerCounter: p.brokerCounter,
    topic: p.topic,
    payload: seal(toBuffer(p.payload)),
    qos: p.qos || 0,
    retain: p.retain || false,
    dup: p.dup || false,
    messageId: undefined,
  });
  return stored;
}

function toBuffer(payload: unknown): Buffer {
  if (Buffer.isBuffer(payload)) return payload;
  return typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.alloc(0);
}

function throwFirstError(results: Array<[Error | null, unknown]> | null): void {
  if (results === null) throw new Error('the session store transaction was discarded');
  for (const [error] of results) if (error) throw error;
}
