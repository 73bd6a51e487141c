/**
 * Packet payloads sealed at rest in the MQTT session store (issue 10: an outbox publish a phone
 * has not acknowledged sat in Redis under `…:mqtt:packet:…` with the OTP in plain text).
 *
 * Every payload the session store writes — queued QoS 1/2 packets, retained messages, wills,
 * incoming QoS 2 packets — is sealed with AES-256-GCM under a key derived from the server secret
 * (every broker node shares it, as the internal credentials), and opened again when aedes reads it
 * back. Sealing wins over the alternatives: keeping the outbox in the database until the phone
 * can send would need a pull protocol (device-protocol.md pushes), and a short TTL alone leaves
 * the code readable for that TTL.
 *
 * The hooks sit on aedes-persistence-redis's inner (async) instance, which its callback wrapper
 * delegates every call to: its key layout and msgpack encoding stay the library's own. The QoS 1
 * fast path (outgoing-qos1.ts) writes packets itself and seals them with {@link PayloadSealer.seal}.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import msgpack from 'msgpack-lite';

/** Leads a sealed payload: a NUL never starts the JSON payloads of SMX. `\0SX1`. */
const MAGIC = Buffer.from([0x00, 0x53, 0x58, 0x31]);
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = MAGIC.length + IV_BYTES + TAG_BYTES;

/** AES-256-GCM for stored packet payloads, keyed from the server secret (its own HKDF label). */
export class PayloadSealer {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(hkdfSync('sha256', secret, 'smx', 'smx:mqtt-session:v1', 32));
  }

  /** `\0SX1` + iv + tag + ciphertext. An empty payload stays empty (it deletes a retained message). */
  seal(payload: Buffer | Uint8Array | string): Buffer {
    const plain = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    if (plain.length === 0) return Buffer.alloc(0);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
    return Buffer.concat([MAGIC, iv, cipher.getAuthTag(), ciphertext]);
  }

  /**
   * The plain payload. A payload without the marker was stored before sealing existed and is
   * returned as it is; a sealed one that does not authenticate (another secret, tampering) throws.
   */
  open(stored: Buffer | Uint8Array): Buffer {
    const buffer = Buffer.isBuffer(stored) ? stored : Buffer.from(stored);
    if (!isSealed(buffer)) return buffer;
    const decipher = createDecipheriv('aes-256-gcm', this.key, buffer.subarray(MAGIC.length, MAGIC.length + IV_BYTES));
    decipher.setAuthTag(buffer.subarray(MAGIC.length + IV_BYTES, HEADER_BYTES));
    return Buffer.concat([decipher.update(buffer.subarray(HEADER_BYTES)), decipher.final()]);
  }
}

/** True when `payload` carries the seal marker. */
export function isSealed(payload: Uint8Array): boolean {
  return payload.length >= HEADER_BYTES && MAGIC.every((byte, i) => payload[i] === byte);
}

interface StoredPacket {
  payload?: unknown;
  [field: string]: unknown;
}
type AsyncMethod = (...args: unknown[]) => unknown;

const hasPayload = (packet: unknown): packet is StoredPacket & { payload: Buffer | string } =>
  typeof packet === 'object' &&
  packet !== null &&
  (Buffer.isBuffer((packet as StoredPacket).payload) || typeof (packet as StoredPacket).payload === 'string');

/** Fields the library sets on the packet it was given; copied back from the sealed copy. */
const MUTATED_FIELDS = ['clientId', 'brokerId', 'brokerCounter'] as const;

/**
 * Seals every payload the inner persistence writes and opens every payload it reads back.
 * A stored payload that does not open is skipped (a stream) or reported missing (a single read),
 * after `onUnreadable`: a phone must not be disconnected on every CONNECT by a packet it can never get.
 */
export function sealSessionPayloads(
  inner: Record<string, unknown>,
  sealer: PayloadSealer,
  onUnreadable: (error: unknown, method: string) => void,
): void {
  const method = (name: string): AsyncMethod => {
    const fn = inner[name];
    if (typeof fn !== 'function')
      throw new Error(`aedes-persistence-redis has no ${name}(); its sealing hooks need updating`);
    return (fn as AsyncMethod).bind(inner);
  };

  /** Calls `write` with a copy of `packet` whose payload is sealed; the library's additions are copied back. */
  const sealed = (packet: unknown, write: (copy: unknown) => unknown): unknown => {
    if (!hasPayload(packet)) return write(packet);
    const copy: StoredPacket = { ...packet, payload: sealer.seal(packet.payload) };
    const result = write(copy);
    for (const field of MUTATED_FIELDS)
      if (copy[field] !== undefined && copy[field] !== packet[field]) packet[field] = copy[field];
    return result;
  };

  /** The packet with its payload opened, or null when it does not open. */
  const opened = <T>(packet: T, name: string): T | null => {
    if (!hasPayload(packet) || typeof packet.payload === 'string') return packet;
    try {
      packet.payload = sealer.open(packet.payload);
      return packet;
    } catch (error) {
      onUnreadable(error, name);
      return null;
    }
  };

  const writers: Array<[string, number]> = [
    ['outgoingEnqueueCombi', 1],
    ['outgoingUpdate', 1],
    ['storeRetained', 0],
    ['putWill', 1],
    ['incomingStorePacket', 1],
  ];
  for (const [name, at] of writers) {
    const original = method(name);
    inner[name] = (...args: unknown[]) =>
      sealed(args[at], (copy) => original(...args.slice(0, at), copy, ...args.slice(at + 1)));
  }

  for (const name of ['outgoingStream', 'createRetainedStreamCombi', 'streamWill']) {
    const original = method(name);
    inner[name] = (...args: unknown[]) =>
      openEach(original(...args) as AsyncIterable<unknown>, (packet) => opened(packet, name));
  }

  for (const name of ['getWill', 'delWill', 'outgoingClearMessageId']) {
    const original = method(name);
    inner[name] = async (...args: unknown[]) => {
      const packet = await original(...args);
      return packet ? opened(packet, name) : packet;
    };
  }

  const incomingGetPacket = method('incomingGetPacket');
  inner.incomingGetPacket = async (...args: unknown[]) => {
    const packet = opened(await incomingGetPacket(...args), 'incomingGetPacket');
    if (packet === null) throw new Error('no such packet');
    return packet;
  };
}

async function* openEach(source: AsyncIterable<unknown>, open: (packet: unknown) => unknown): AsyncGenerator<unknown> {
  for await (const packet of source) {
    const result = open(packet);
    if (result !== null) yield result;
  }
}

/**
 * KEYS[1] a stored packet; ARGV[1] its value as read, ARGV[2] the sealed value, ARGV[3] the TTL
 * cap in seconds (0: none). Replaces the value only if it is still the one read (a PUBACK may
 * have deleted it meanwhile), keeps its TTL and lowers it to the cap.
 */
const RESEAL = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local ttl = redis.call('TTL', KEYS[1])
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
local cap = tonumber(ARGV[3])
if cap > 0 and (ttl < 0 or ttl > cap) then redis.call('EXPIRE', KEYS[1], cap) end
return 1`;

/**
 * Seals the queued packets an older SMX stored in plain text (with its 7-day TTL), once at start:
 * SCANs `{keyPrefix}packet:*` (the only keys holding outbox bodies) on the session store's
 * connection, whose ioredis `keyPrefix` is `keyPrefix`. Resolves with how many it sealed.
 */
export async function sealStoredPackets(
  redis: Redis,
  keyPrefix: string,
  sealer: PayloadSealer,
  ttlCapSeconds: number,
): Promise<number> {
  let cursor = '0';
  let sealed = 0;
  do {
    // SCAN patterns and the keys it returns are not prefixed by ioredis; commands' keys are.
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}packet:*`, 'COUNT', 1000);
    cursor = next;
    for (const fullKey of keys) {
      if (fullKey.endsWith(':offlineCount')) continue;
      const key = fullKey.slice(keyPrefix.length);
      const stored = await redis.getBuffer(key);
      if (!stored) continue;
      let packet: StoredPacket;
      try {
        packet = msgpack.decode(stored) as StoredPacket;
      } catch {
        continue;
      }
      if (
        !hasPayload(packet) ||
        typeof packet.payload === 'string' ||
        packet.payload.length === 0 ||
        isSealed(packet.payload)
      )
        continue;
      const value = msgpack.encode({ ...packet, payload: sealer.seal(packet.payload) });
      sealed += Number(await redis.eval(RESEAL, 1, key, stored, value, ttlCapSeconds));
    }
  } while (cursor !== '0');
  return sealed;
}
