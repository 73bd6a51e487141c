/**
 * Test helpers for the reference device: a real aedes broker on an ephemeral port (never 1883,
 * where Mosquitto runs), a server-side MQTT client that records what the device publishes, and
 * a tiny HTTP server. Everything returned here has a close() that the tests register in teardown.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Aedes, type AuthenticateError, type ConnectPacket } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { ExecutionContext } from 'ava';
import { deviceTopics } from '../../protocol/topics.js';
import type { LinkResult } from '../../device/index.js';

export const SERVER_USER = 'smx-server';
export const SERVER_PASSWORD = 'server-secret';

export interface TestBroker {
  broker: Aedes;
  port: number;
  url: string;
  /** CONNECT packets received, in order (to check the device's connect options). */
  connects: ConnectPacket[];
  close: () => Promise<void>;
}

/**
 * Starts aedes with in-memory persistence. Accepts the server user and every device in
 * `devices` (deviceId -> secret) whose username equals its clientId; refuses the rest with
 * CONNACK 4 "bad user name or password", as the SMX broker does.
 */
export async function startBroker(t: ExecutionContext, devices: Record<string, string> = {}): Promise<TestBroker> {
  const broker = await Aedes.createBroker();
  const connects: ConnectPacket[] = [];
  broker.preConnect = (_client, packet, done) => {
    connects.push(packet);
    done(null, true);
  };
  broker.authenticate = (client, username, password, done) => {
    const secret = password?.toString();
    const ok =
      (username === SERVER_USER && secret === SERVER_PASSWORD) ||
      (username !== undefined &&
        username === client.id &&
        devices[username] !== undefined &&
        devices[username] === secret);
    if (ok) done(null, true);
    else done(Object.assign(new Error('Bad username or password'), { returnCode: 4 }) as AuthenticateError, false);
  };
  const server = createNetServer((socket) => broker.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.teardown(close);
  return { broker, port, url: `mqtt://127.0.0.1:${port}`, connects, close };
}

/** Serves `broker` over WebSocket too (path /mqtt), as the SMX broker does for `wsUrl`. */
export async function listenWebSocket(t: ExecutionContext, broker: TestBroker): Promise<string> {
  const http = createHttpServer();
  const wss = new WebSocketServer({ server: http, path: '/mqtt' });
  wss.on('connection', (socket, req) => broker.broker.handle(createWebSocketStream(socket), req));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  t.teardown(async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });
  return `ws://127.0.0.1:${port}/mqtt`;
}

/** A fresh device id and secret, and link-result credentials pointing at `url`. */
export function makeCredentials(url: string): { credentials: LinkResult; secret: string } {
  const deviceId = `dev_${randomBytes(16).toString('base64url')}`;
  const secret = randomBytes(24).toString('base64url');
  return {
    secret,
    credentials: {
      deviceId,
      projectId: `prj_${randomBytes(16).toString('base64url')}`,
      mqtt: { url, wsUrl: url.replace('mqtt:', 'ws:'), clientId: deviceId, username: deviceId, password: secret },
      topics: deviceTopics(deviceId),
    },
  };
}

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
  json: unknown;
}

/** A server-side client that records every publish on `topics`. */
export interface ServerClient {
  client: MqttClient;
  received: Received[];
  /** Publishes JSON (or a raw string) at QoS 1 and waits for the broker's ack. */
  publish: (topic: string, payload: unknown) => Promise<void>;
  /** Waits until a received publish matches. */
  waitFor: (predicate: (r: Received) => boolean, timeoutMs?: number) => Promise<Received>;
}

export async function serverClient(t: ExecutionContext, url: string, topics: string[]): Promise<ServerClient> {
  const client = await connectAsync(url, {
    clientId: `server-${randomBytes(6).toString('hex')}`,
    username: SERVER_USER,
    password: SERVER_PASSWORD,
    reconnectPeriod: 0,
  });
  t.teardown(() => client.endAsync(true));
  const received: Received[] = [];
  const waiters = new Set<() => void>();
  client.on('message', (topic, payload, packet) => {
    const text = payload.toString();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    received.push({ topic, payload: text, retain: packet.retain, json });
    for (const wake of waiters) wake();
  });
  if (topics.length > 0) await client.subscribeAsync(topics, { qos: 1 });
  return {
    client,
    received,
    publish: async (topic, payload) => {
      await client.publishAsync(topic, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1 });
    },
    waitFor: (predicate, timeoutMs = 3000) =>
      new Promise<Received>((resolve, reject) => {
        const check = () => {
          const hit = received.find(predicate);
          if (hit === undefined) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(hit);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `waitFor timed out after ${timeoutMs} ms; received: ${JSON.stringify(received.map((r) => [r.topic, r.payload]))}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
  };
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A temporary folder removed in teardown. */
export async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'smx-device-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

/** A node:http server on port 0 answering with `handler`; records each request. */
export async function startHttp(
  t: ExecutionContext,
  handler: (req: RecordedRequest) => { status: number; body: unknown },
): Promise<{ url: string; requests: RecordedRequest[] }> {
  const requests: RecordedRequest[] = [];
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: text ? JSON.parse(text) : undefined,
      };
      requests.push(recorded);
      const { status, body } = handler(recorded);
      const payload = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, {
        'content-type': typeof body === 'string' ? 'text/html' : 'application/json',
        'x-request-id': 'req_test',
        connection: 'close',
      });
      res.end(payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${port}`, requests };
}
