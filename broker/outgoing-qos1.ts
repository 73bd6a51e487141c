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
 * Deviation: the stored copy of a delivered packet keeps no MQTT packet id, so a redelivery after
 * a reconnect carries a new one (QoS 1 receivers treat it as a new publish either way; phones
 * de-duplicate by message id). QoS 2 packets and anything unexpected go to the library.
 */
import msgpack from 'msgpack-lite';
import type { Redis } from 'ioredis';

/** The packet ids of delivered packets awaiting a PUBACK, as the library caches them (per node, bounded). */
const MAX_AWAITING_ACK = 100_000;

/**
 * KEYS[1] the client's outgoing list, KEYS[2] the packet, KEYS[3] its subscriber count; ARGV[1]
 * the packet key as stored in the list (the list holds key names without the connection prefix).
 */
const CLEAR = `
redis.call('LREM', KEYS[1], 0, ARGV[1])
local remaining = redis.call('DECR', KEYS[3])
if remaining <= 0 then redis.call('DEL', KEYS[2], KEYS[3]) end
return remaining`;

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

/**
 * Replaces the QoS 1 outgoing methods of an aedes-persistence-redis instance using `redis`, its own
 * connection. `seal` turns a payload into what is stored (session-seal.ts: never the plain body).
 */
export function useFastOutgoing(persistence: Record<string, unknown>, redis: Redis, ttlSeconds: number, seal: (payload: Buffer) => Buffer): void {
  const original = (name: string): Method => (persistence[name] as Method).bind(persistence);
  const enqueueCombi = original('outgoingEnqueueCombi');
  const update = original('outgoingUpdate');
  const clear = original('outgoingClearMessageId');
  const awaitingAck = new Map<string, string>();

  persistence.outgoingEnqueueCombi = async (subs: Array<{ clientId: string }> | undefined, packet: StoredPacket) => {
    if (!subs || subs.length === 0) return;
    if (packet.qos !== 1) return enqueueCombi(subs, packet);
    const key = packetKey(packet);
    const encoded = msgpack.encode(toStored(packet, seal));
    const multi = redis.multi();
    if (ttlSeconds > 0) multi.set(key, encoded, 'EX', ttlSeconds).set(`${key}:offlineCount`, subs.length, 'EX', ttlSeconds);
    else multi.set(key, encoded).set(`${key}:offlineCount`, subs.length);
    for (const sub of subs) multi.rpush(outgoingKey(sub.clientId), key);
    throwFirstError(await multi.exec());
  };

  persistence.outgoingUpdate = async (client: { id: string }, packet: StoredPacket) => {
    if (packet.cmd !== 'publish' || packet.qos !== 1 || packet.brokerId === undefined || packet.messageId === undefined) return update(client, packet);
    const id = `${client.id}:${packet.messageId}`;
    awaitingAck.delete(id); // re-inserted last: the oldest entry is first when the map is full
    awaitingAck.set(id, packetKey(packet));
    if (awaitingAck.size > MAX_AWAITING_ACK) awaitingAck.delete(awaitingAck.keys().next().value!);
  };

  persistence.outgoingClearMessageId = async (client: { id: string }, packet: { messageId?: number }) => {
    const id = `${client.id}:${packet.messageId}`;
    const key = awaitingAck.get(id);
    if (key === undefined) return clear(client, packet);
    awaitingAck.delete(id);
    await redis.eval(CLEAR, 3, outgoingKey(client.id), key, `${key}:offlineCount`, key);
    // The library resolves with the stored packet, which aedes only passes to its 'ack' event;
    // nothing here listens to it, so the packet is not read back.
    return undefined;
  };
}

/** What aedes-persistence stores for a queued packet (aedes-packet's copy: no packet id yet), its payload sealed. */
function toStored(p: StoredPacket, seal: (payload: Buffer) => Buffer): StoredPacket {
  const stored: StoredPacket = {};
  for (const field of ['clientId', 'nl', 'properties', 'messageExpiry']) if (Object.prototype.hasOwnProperty.call(p, field)) stored[field] = p[field];
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
