/**
 * A size limit on inbound MQTT packets, enforced on the byte stream before aedes parses it.
 *
 * Neither mqtt-packet's parser nor aedes limits a packet's size: the parser buffers whatever a
 * fixed header announces (up to 256 MB) until the packet is complete, before authentication
 * too. So each connection's stream is read through a {@link FrameScanner}: it reads every fixed
 * header's remaining-length varint, skips the body without keeping it, and the connection is
 * destroyed as soon as an announced length is over the limit (a few KB until the client is
 * authenticated, the protocol's limit after).
 *
 * The scanner is hooked into the stream's `read()`: aedes consumes its connection only through
 * `conn.read()` on 'readable' (lib/client.js nextBatch), so every byte it parses passes the
 * scanner first, and the hot path (status reports) costs a few comparisons per packet instead of
 * another stream between the socket and aedes (which would also sit in the write path of every
 * outbox publish).
 */
import type { Duplex } from 'node:stream';
import { MAX_EVENT_PAYLOAD_BYTES } from './bridge.js';

/**
 * Largest remaining length (the bytes after the fixed header) of a packet before the client is
 * authenticated: a CONNECT with a device's id, secret and presence will is a few hundred bytes.
 * @defaultValue 8 KiB
 */
export const MAX_PACKET_BYTES_BEFORE_AUTH = 8 * 1024;

/**
 * Largest remaining length of a device's packet: a bridged payload (MAX_EVENT_PAYLOAD_BYTES) plus
 * room for its topic, packet id and MQTT 5 properties. Larger payloads up to this are dropped by
 * the bridge with a PUBACK; anything larger closes the connection.
 * @defaultValue 256 KiB + 1 KiB
 */
export const MAX_DEVICE_PACKET_BYTES = MAX_EVENT_PAYLOAD_BYTES + 1024;

/**
 * Largest remaining length of an internal (server-side) client's packet: an outbox publish of 100
 * messages of 1,600 characters can approach 1 MB of JSON. Internal clients hold the server secret.
 * @defaultValue 16 MiB
 */
export const MAX_INTERNAL_PACKET_BYTES = 16 * 1024 * 1024;

const CONNECT_TYPE = 1;

/** Why the scanner refused a stream. */
export type FrameViolation = 'too-large' | 'malformed-length' | 'not-connect-first';

/**
 * Follows the MQTT framing of a byte stream without keeping any of it: fixed header byte, 1-4
 * bytes of remaining length [MQTT-2.2.3], then the body, skipped.
 */
export class FrameScanner {
  /** The largest remaining length accepted from now on (raised once the client is authenticated). */
  limit: number;
  /** Remaining length of the packet being read, as far as its varint has been read. */
  private length = 0;
  private multiplier = 1;
  /** -1: the next byte is a fixed header's first byte; 0..3: varint bytes read so far. */
  private lengthBytes = -1;
  /** Body bytes of the current packet still to skip. */
  private skip = 0;
  private first = true;
  /** The announced remaining length that was refused (for logs). */
  refusedLength = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Scans the next chunk of the stream; null while the stream is acceptable. */
  scan(chunk: Uint8Array): FrameViolation | null {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.skip > 0) {
        const step = Math.min(this.skip, n - i);
        this.skip -= step;
        i += step;
        continue;
      }
      const byte = chunk[i++]!;
      if (this.lengthBytes < 0) {
        // [MQTT-3.1.0-1] the first packet is a CONNECT; aedes would parse anything else whole first.
        if (this.first && byte >> 4 !== CONNECT_TYPE) return 'not-connect-first';
        this.first = false;
        this.lengthBytes = 0;
        this.length = 0;
        this.multiplier = 1;
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      // A partial varint is a lower bound of the length: refuse as early as possible.
      if (this.length > this.limit) {
        this.refusedLength = this.length;
        return 'too-large';
      }
      if (byte & 0x80) {
        if (this.lengthBytes === 4) return 'malformed-length';
        continue;
      }
      this.skip = this.length;
      this.lengthBytes = -1;
    }
    return null;
  }
}

/** The error a refused connection is destroyed with (aedes reports it as a connection error). */
export class PacketGuardError extends Error {
  override name = 'PacketGuardError';
  constructor(
    readonly violation: FrameViolation,
    readonly announced: number,
    readonly limit: number,
  ) {
    super(
      violation === 'too-large'
        ? `mqtt packet of ${announced} bytes or more over the limit of ${limit}`
        : `mqtt stream refused: ${violation}`,
    );
  }
}

/**
 * Makes every chunk aedes reads from `conn` pass a {@link FrameScanner} with `limit`; a violation
 * destroys the connection (nothing of it reaches the parser) and is reported to `onViolation`.
 * Returns the scanner, whose `limit` the caller raises after authentication.
 */
export function guardPacketSizes(
  conn: Duplex,
  limit: number,
  onViolation: (error: PacketGuardError) => void,
): FrameScanner {
  const scanner = new FrameScanner(limit);
  const read = conn.read;
  conn.read = function guardedRead(this: Duplex, size?: number) {
    const chunk: unknown = read.call(this, size);
    if (chunk === null || conn.destroyed) return null;
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
    const violation = scanner.scan(bytes);
    if (violation === null) return chunk;
    const error = new PacketGuardError(violation, scanner.refusedLength, scanner.limit);
    onViolation(error);
    conn.destroy(error);
    return null;
  };
  return scanner;
}
