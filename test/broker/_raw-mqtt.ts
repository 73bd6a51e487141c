/**
 * MQTT 3.1.1 by hand for the tests that must send what no client library sends (oversized or
 * truncated packets, lies in the remaining length, bytes before CONNECT) and see exactly what
 * the broker answers: packet encoders and a raw TCP / WebSocket client that decodes the
 * broker's packets. Files starting with `_` are not test files for ava.
 */
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';

/** The remaining-length varint [MQTT-2.2.3] (up to 268 435 455). */
export function varint(length: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return Buffer.from(bytes);
}

/** A length-prefixed UTF-8 string (or raw bytes) [MQTT-1.5.3]. */
export function str(value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** A whole packet: first byte, remaining length, body. */
export function frame(first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first]), varint(body.length), body]);
}

/** Just a fixed header announcing `length` bytes (the body is up to the caller, or never sent). */
export function header(first: number, length: number): Buffer {
  return Buffer.concat([Buffer.from([first]), varint(length)]);
}

export interface ConnectFields {
  clientId: string;
  username?: string;
  password?: string;
  clean?: boolean;
  keepalive?: number;
  will?: { topic: string; payload: Buffer | string; qos?: 0 | 1; retain?: boolean };
}

export function connectPacket(fields: ConnectFields): Buffer {
  let flags = fields.clean === false ? 0 : 0x02;
  if (fields.will) flags |= 0x04 | ((fields.will.qos ?? 0) << 3) | (fields.will.retain ? 0x20 : 0);
  if (fields.username !== undefined) flags |= 0x80;
  if (fields.password !== undefined) flags |= 0x40;
  const keepalive = Buffer.alloc(2);
  keepalive.writeUInt16BE(fields.keepalive ?? 30);
  const parts = [str('MQTT'), Buffer.from([4, flags]), keepalive, str(fields.clientId)];
  if (fields.will)
    parts.push(
      str(fields.will.topic),
      str(typeof fields.will.payload === 'string' ? Buffer.from(fields.will.payload) : fields.will.payload),
    );
  if (fields.username !== undefined) parts.push(str(fields.username));
  if (fields.password !== undefined) parts.push(str(fields.password));
  return frame(0x10, Buffer.concat(parts));
}

export interface PublishFields {
  topic: string | Buffer;
  payload: Buffer | string;
  qos?: 0 | 1 | 2;
  messageId?: number;
  retain?: boolean;
  dup?: boolean;
}

export function publishPacket(fields: PublishFields): Buffer {
  const qos = fields.qos ?? 1;
  const first = 0x30 | (fields.dup ? 0x08 : 0) | (qos << 1) | (fields.retain ? 0x01 : 0);
  const id = Buffer.alloc(qos > 0 ? 2 : 0);
  if (qos > 0) id.writeUInt16BE(fields.messageId ?? 1);
  const payload = typeof fields.payload === 'string' ? Buffer.from(fields.payload, 'utf8') : fields.payload;
  return frame(first, Buffer.concat([str(fields.topic), id, payload]));
}

export function subscribePacket(messageId: number, topics: Array<string | Buffer>, qos: 0 | 1 = 1): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(messageId);
  return frame(0x82, Buffer.concat([id, ...topics.map((topic) => Buffer.concat([str(topic), Buffer.from([qos])]))]));
}

export function pubackPacket(messageId: number): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(messageId);
  return frame(0x40, id);
}

export const PINGREQ = Buffer.from([0xc0, 0x00]);
export const DISCONNECT = Buffer.from([0xe0, 0x00]);

/** A packet from the broker, decoded as far as the tests need. */
export type ServerPacket =
  | { cmd: 'connack'; returnCode: number }
  | { cmd: 'puback'; messageId: number }
  | { cmd: 'suback'; messageId: number; granted: number[] }
  | { cmd: 'publish'; topic: string; payload: Buffer; qos: number; messageId?: number; retain: boolean }
  | { cmd: 'pingresp' }
  | { cmd: 'other'; type: number };

function decode(first: number, body: Buffer): ServerPacket {
  const type = first >> 4;
  switch (type) {
    case 2:
      return { cmd: 'connack', returnCode: body[1]! };
    case 3: {
      const qos = (first >> 1) & 3;
      const topicLength = body.readUInt16BE(0);
      const topic = body.subarray(2, 2 + topicLength).toString('utf8');
      let at = 2 + topicLength;
      let messageId: number | undefined;
      if (qos > 0) {
        messageId = body.readUInt16BE(at);
        at += 2;
      }
      return { cmd: 'publish', topic, payload: body.subarray(at), qos, messageId, retain: (first & 1) === 1 };
    }
    case 4:
      return { cmd: 'puback', messageId: body.readUInt16BE(0) };
    case 9:
      return { cmd: 'suback', messageId: body.readUInt16BE(0), granted: [...body.subarray(2)] };
    case 13:
      return { cmd: 'pingresp' };
    default:
      return { cmd: 'other', type };
  }
}

/** A raw connection to the broker: `send` bytes, see decoded `packets`, await `closed`. */
export class RawClient {
  readonly packets: ServerPacket[] = [];
  /** Resolves when the connection is closed (by either side). */
  readonly closed: Promise<void>;
  isClosed = false;
  /** Bytes the socket accepted to send (kernel buffers included). */
  written = 0;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly waiters = new Set<() => void>();

  private constructor(
    private readonly sink: { write(data: Buffer): boolean; end(): void; destroy(): void },
    onClose: (handler: () => void) => void,
  ) {
    this.closed = new Promise((resolve) =>
      onClose(() => {
        this.isClosed = true;
        this.notify();
        resolve();
      }),
    );
  }

  /** Opens a TCP connection (resolves once connected). */
  static tcp(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket: Socket = connect({ port, host, noDelay: true });
      const client = new RawClient(
        { write: (data) => socket.write(data), end: () => socket.end(), destroy: () => socket.destroy() },
        (handler) => socket.once('close', handler),
      );
      socket.on('data', (chunk) => client.receive(chunk));
      socket.on('error', () => {}); // the close that follows is what the tests look at
      socket.once('connect', () => resolve(client));
      socket.once('error', reject);
    });
  }

  /** Opens an MQTT-over-WebSocket connection (resolves once the upgrade is done). */
  static ws(url: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, 'mqtt');
      const client = new RawClient(
        {
          write: (data) => {
            if (socket.readyState === WebSocket.OPEN) socket.send(data);
            return true;
          },
          end: () => socket.close(),
          destroy: () => socket.terminate(),
        },
        (handler) => socket.once('close', handler),
      );
      socket.on('message', (data) => client.receive(data as Buffer));
      socket.on('error', () => {});
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', () => reject(new Error('upgrade refused')));
      socket.once('error', reject);
    });
  }

  send(data: Buffer): boolean {
    if (this.isClosed) return false;
    this.written += data.length;
    return this.sink.write(data);
  }

  end(): void {
    this.sink.end();
  }

  destroy(): void {
    this.sink.destroy();
  }

  /** Waits until a received packet matches (resolves with it), the connection closes (null), or `ms` pass (null). */
  async next<T extends ServerPacket['cmd']>(
    cmd: T,
    ms = 3000,
    match: (p: Extract<ServerPacket, { cmd: T }>) => boolean = () => true,
  ): Promise<Extract<ServerPacket, { cmd: T }> | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.packets.find(
        (p): p is Extract<ServerPacket, { cmd: T }> => p.cmd === cmd && match(p as Extract<ServerPacket, { cmd: T }>),
      );
      if (found) return found;
      if (this.isClosed || Date.now() >= deadline) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, deadline - Date.now());
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiters.add(done);
      });
    }
  }

  /** True when the connection closed within `ms`. */
  async closesWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      this.closed.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]);
    clearTimeout(timer);
    return closed;
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.buffer.length < 2) break;
      let length = 0;
      let multiplier = 1;
      let at = 1;
      let complete = false;
      while (at < this.buffer.length && at <= 4) {
        const byte = this.buffer[at++]!;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || this.buffer.length < at + length) break;
      this.packets.push(decode(this.buffer[0]!, this.buffer.subarray(at, at + length)));
      this.buffer = this.buffer.subarray(at + length);
    }
    this.notify();
  }

  private notify(): void {
    for (const waiter of this.waiters) waiter();
    this.waiters.clear();
  }
}

/** Connects over TCP and sends CONNECT; resolves with the client once CONNACK 0 came (rejects otherwise). */
export async function rawDevice(port: number, fields: ConnectFields): Promise<RawClient> {
  const client = await RawClient.tcp(port);
  client.send(connectPacket(fields));
  const connack = await client.next('connack');
  if (connack?.returnCode !== 0) {
    client.destroy();
    throw new Error(`CONNACK ${connack?.returnCode ?? 'none (closed)'}`);
  }
  return client;
}
