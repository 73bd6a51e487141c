/**
 * The embedded Aedes broker: TCP and MQTT-over-WebSocket listeners, device authentication, the
 * per-device ACL, sessions in Redis, presence, the bridge into the device-events queue and the
 * kick listener, wired together and closed together. Every connection passes the connection gate
 * first (per-source limits, packet sizes; connection-gate.ts).
 */
import { once, type EventEmitter } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { Aedes, type AedesOptions } from 'aedes';
import type { Queue } from 'bullmq';
import mqemitterRedis from 'mqemitter-redis';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { Redis } from 'ioredis';
import {
  CONFIG_DEFAULTS,
  type Logger,
  type PresenceStore,
  type DevicePublisher,
  type DeviceEventJob,
  connectRedis,
  type RuntimeConfig,
  PresenceTracker,
} from '../core/index.js';
import { createAcl } from './acl.js';
import { ClientRoles, createAuthenticator, type DeviceVerifier } from './auth.js';
import { bridgePublishes, handleKicks, type BridgeOptions } from './bridge.js';
import { ConnectionGate } from './connection-gate.js';
import { EmbeddedPublisher } from './embedded-publisher.js';
import { forwardedAddress } from './forwarded-address.js';
import { InFlight } from './in-flight.js';
import { MAX_DEVICE_PACKET_BYTES } from './packet-guard.js';
import { trackConnections } from './presence.js';
import { limitRetained, purgeRetained } from './retain-policy.js';
import { openSessionStore, sessionKeyPrefix } from './session-store.js';

/** Path of the MQTT-over-WebSocket endpoint (the `wsUrl` handed to phones ends with it). */
export const MQTT_WS_PATH = '/mqtt';

/** The connection limits of {@link EmbeddedBrokerOptions.config}; CONFIG_DEFAULTS where left out. */
type ConnectionLimits = 'mqttConnectTimeoutMs' | 'mqttMaxPendingPerSource' | 'mqttConnectRatePerSource' | 'trustProxy';

export interface EmbeddedBrokerOptions {
  /**
   * Listen addresses (`host`, `mqttPort`, `mqttWsPort`; 0 picks a free port), Redis, the secret of
   * the internal credentials and of the sealed session payloads, and the connection limits
   * (CONNECT timeout, per-source caps; `trustProxy` picks a WebSocket client's address).
   */
  config: Pick<RuntimeConfig, 'host' | 'mqttPort' | 'mqttWsPort' | 'redisUrl' | 'redisPrefix' | 'secret'> &
    Partial<Pick<RuntimeConfig, ConnectionLimits>>;
  /** Checks a device's credentials (`deviceService.verifyCredentials.bind(deviceService)`). */
  verifyDevice: DeviceVerifier;
  /** Where device publishes and presence changes are queued. */
  deviceEvents: Queue<DeviceEventJob>;
  /** Handles device publishes in this process when its workers run here (see BridgeOptions.local). */
  localEvents?: BridgeOptions['local'];
  presence: PresenceStore;
  logger: Logger;
  /** Share messages with other broker nodes over Redis pub/sub (mqemitter-redis). @defaultValue false */
  cluster?: boolean;
  /** Offline packets delivered per CONNECT. @defaultValue 100 000 (see session-store.ts) */
  maxSessionDelivery?: number;
  /** Seconds a packet queued for an offline phone is kept; 0 = forever. @defaultValue 3 days (the longest message TTL) */
  sessionPacketTtlSeconds?: number;
  /** A client whose socket does not drain within this is disconnected. @defaultValue 30 000 */
  drainTimeoutMs?: number;
  /** Broker heartbeat; a node silent for 3 beats is dead and its clients' wills get published. @defaultValue 60 000 */
  heartbeatIntervalMs?: number;
  /** Listen for MQTT over WebSocket on `mqttWsPort`. @defaultValue true */
  websocket?: boolean;
  /** Counts each device connection (`smx_device_connections_total{transport="mqtt"}`). */
  connections?: { inc(): void };
}

export interface EmbeddedBroker {
  aedes: Aedes;
  /** The bound TCP port (useful with port 0). */
  tcpPort: number;
  /** The bound WebSocket port, or null when WebSocket is off. */
  wsPort: number | null;
  /** Per-source admission and packet size limits of both listeners. */
  gate: ConnectionGate;
  /** Publishes in-process; `disconnect` reaches every node through the kick topic. */
  publisher: DevicePublisher;
  /** True while the listeners are up, aedes is open and its Redis connections are ready. */
  ready(): boolean;
  /** Stops listening, disconnects every client, waits for queued work and closes aedes, sessions and their Redis connections. */
  close(): Promise<void>;
}

/** Starts the embedded broker; rejects (with everything opened so far closed) if Redis or a port is unavailable. */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const { config, logger } = options;
  const log = logger.child({ component: 'broker' });
  const inFlight = new InFlight();
  const roles = new ClientRoles();
  const cleanup: Array<() => Promise<unknown>> = [];
  const undo = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => {});
  };

  try {
    const sessions = await openSessionStore({
      redisUrl: config.redisUrl,
      redisPrefix: config.redisPrefix,
      roles,
      inFlight,
      secret: config.secret,
      log,
      maxSessionDelivery: options.maxSessionDelivery,
      packetTtlSeconds: options.sessionPacketTtlSeconds,
    });
    cleanup.push(() => sessions.close());
    await purgeRetained(sessions.redis, log);
    const emitterConnections = options.cluster ? await openEmitterConnections(config.redisUrl, cleanup) : [];

    const acl = createAcl((client) => roles.get(client));
    const auth = createAuthenticator({ verifyDevice: options.verifyDevice, secret: config.secret, roles, log });
    const aedesOptions: AedesOptions = {
      persistence: sessions.persistence,
      mq: options.cluster ? clusterEmitter(config.redisPrefix, emitterConnections) : undefined,
      preConnect: auth.preConnect,
      authenticate: auth.authenticate,
      authorizeSubscribe: acl.authorizeSubscribe,
      authorizePublish: bridgePublishes(limitRetained(acl.authorizePublish, log), {
        queue: options.deviceEvents,
        ...(options.localEvents ? { local: options.localEvents } : {}),
        roles,
        log,
        track: inFlight.track,
      }),
      authorizeForward: acl.authorizeForward,
      drainTimeout: options.drainTimeoutMs ?? 30_000,
      heartbeatInterval: options.heartbeatIntervalMs ?? 60_000,
      // Device ids are 26 characters; MQTT 3.1 (protocol level 3) clients would be cut at 23.
      maxClientsIdLength: 64,
      // keepaliveLimit stays 0: the phone's own keepalive (30 s per §2) is respected.
      connectTimeout: config.mqttConnectTimeoutMs ?? CONFIG_DEFAULTS.mqttConnectTimeoutMs,
    };
    const gate = new ConnectionGate({
      maxPendingPerSource: config.mqttMaxPendingPerSource ?? CONFIG_DEFAULTS.mqttMaxPendingPerSource,
      connectRatePerSource: config.mqttConnectRatePerSource ?? CONFIG_DEFAULTS.mqttConnectRatePerSource,
      roles,
      log,
    });
    cleanup.push(async () => gate.close());
    const aedes = new Aedes(aedesOptions);
    // aedes emits 'error' for persistence failures (e.g. publishing the wills of a dead node);
    // an EventEmitter without a listener would throw it and end the process.
    (aedes as EventEmitter).on('error', (error: Error) => log.error({ err: error }, 'mqtt broker error'));
    aedes.on('clientError', (client, error) => log.debug({ clientId: client.id, err: error }, 'mqtt client error'));
    aedes.on('connectionError', (_client, error) => log.debug({ err: error }, 'mqtt connection error'));
    aedes.on('client', (client) => gate.authenticated(client));
    await aedes.listen();
    cleanup.push(() => new Promise<void>((resolve) => aedes.close(() => resolve())));

    // Connection ids start with aedes.id: if this node dies silently, its phones are reaped offline.
    const releaseHolder = options.presence.holdConnections(aedes.id);
    cleanup.push(releaseHolder);
    const detachPresence = trackConnections(aedes, {
      roles,
      tracker: new PresenceTracker(options.presence, options.deviceEvents, options.connections, options.localEvents),
      log,
      track: inFlight.track,
    });
    await handleKicks(aedes, log);

    // No Nagle: an outbox publish is small and latency-bound (it must not wait for the ACK of the last one).
    const tcp = createTcpServer({ noDelay: true }, (socket) => {
      const admission = gate.admit(socket.remoteAddress, socket);
      if (!admission) return void socket.destroy();
      gate.guard(socket, admission);
      aedes.handle(socket);
    });
    await listen(tcp, config.mqttPort, config.host);
    cleanup.push(() => closeServer(tcp));
    const tcpPort = (tcp.address() as AddressInfo).port;

    let http: HttpServer | undefined;
    let wss: WebSocketServer | undefined;
    if (options.websocket ?? true) {
      const connectTimeoutMs = config.mqttConnectTimeoutMs ?? CONFIG_DEFAULTS.mqttConnectTimeoutMs;
      // The upgrade request must arrive within the CONNECT timeout too (Node's default is 60 s).
      http = createHttpServer(
        {
          headersTimeout: connectTimeoutMs,
          requestTimeout: connectTimeoutMs,
          connectionsCheckingInterval: Math.min(connectTimeoutMs, 1000),
        },
        (_req, res) => res.writeHead(404).end(),
      );
      // ws buffers a whole message before the packet guard sees it: at most one device packet
      // (its default is 100 MiB). No compression (the default on a server; no inflate bombs).
      const server = new WebSocketServer({
        noServer: true,
        path: MQTT_WS_PATH,
        maxPayload: MAX_DEVICE_PACKET_BYTES + 5,
        perMessageDeflate: false,
      });
      wss = server;
      const clientAddress = forwardedAddress(config.trustProxy ?? CONFIG_DEFAULTS.trustProxy);
      http.on('upgrade', (req, socket, head) => {
        if (!server.shouldHandle(req)) return void socket.destroy();
        const admission = gate.admit(clientAddress(req), socket);
        if (!admission) return void socket.destroy();
        server.handleUpgrade(req, socket, head, (ws) => {
          // A protocol error (a message over maxPayload above all) ends the connection at once:
          // ws would otherwise start a close handshake and read and drop data for up to 30 s.
          ws.on('error', () => ws.terminate());
          const stream = createWebSocketStream(ws);
          stream.on('error', () => {}); // aedes closes the client; nothing else to do
          gate.guard(stream, admission);
          aedes.handle(stream, req);
        });
      });
      await listen(http, config.mqttWsPort, config.host);
    }
    const wsPort = http ? (http.address() as AddressInfo).port : null;
    log.info(
      { tcpPort, wsPort, cluster: Boolean(options.cluster), sessionKeys: `${sessionKeyPrefix(config.redisPrefix)}*` },
      'mqtt broker listening',
    );

    let closing: Promise<void> | undefined;
    const close = async (): Promise<void> => {
      // 1. stop accepting; 2. close every client (wills and presence changes are queued);
      // 3. let that queued work and the session writes finish; 4. close sessions and emitter.
      const tcpClosed = closeServer(tcp);
      const httpClosed = http ? closeServer(http) : Promise.resolve();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      for (const socket of wss?.clients ?? []) socket.terminate();
      await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
      if (!(await inFlight.settle()))
        log.warn({ pending: inFlight.size }, 'mqtt broker closing with work still pending');
      detachPresence();
      await releaseHolder();
      await sessions.close();
      gate.close();
      // aedes.close() quits the emitter's connections; make sure of it if it did not get there.
      for (const redis of emitterConnections) if (redis.status !== 'end') redis.disconnect();
      await Promise.all([tcpClosed, httpClosed]);
      log.info('mqtt broker closed');
    };

    return {
      aedes,
      tcpPort,
      wsPort,
      gate,
      publisher: new EmbeddedPublisher(aedes),
      ready: () =>
        !aedes.closed &&
        tcp.listening &&
        (http?.listening ?? true) &&
        sessions.redis.status === 'ready' &&
        emitterConnections.every((r) => r.status === 'ready'),
      close: () => (closing ??= close()),
    };
  } catch (error) {
    await undo();
    throw error;
  }
}

async function openEmitterConnections(redisUrl: string, cleanup: Array<() => Promise<unknown>>): Promise<Redis[]> {
  const connections: Redis[] = [];
  for (let i = 0; i < 2; i++) {
    const redis = await connectRedis(redisUrl);
    connections.push(redis);
    cleanup.push(async () => redis.disconnect());
  }
  return connections;
}

/**
 * mqemitter-redis over the given (subscriber, publisher) connections. Redis pub/sub channels are
 * global to the server (not per key prefix or even per DB), so topics are prefixed with
 * `{redisPrefix}:mqtt:` (its MQEmitterRedisPrefix strips the prefix again on delivery): two SMX
 * deployments, or two test files, on one Redis never see each other's messages.
 */
function clusterEmitter(redisPrefix: string, [subConn, pubConn]: Redis[]): unknown {
  const { MQEmitterRedisPrefix } = mqemitterRedis as unknown as {
    MQEmitterRedisPrefix: new (prefix: string, options: object) => unknown;
  };
  return new MQEmitterRedisPrefix(sessionKeyPrefix(redisPrefix), {
    subConn,
    pubConn,
    matchEmptyLevels: true,
    concurrency: 100,
  });
}

/**
 * Accept-queue length asked of the kernel for the MQTT listeners. Node's default (511) overflows
 * when thousands of phones reconnect at once (a restart): the kernel drops the handshakes it cannot
 * queue and the phones' SYN retransmits bring them back only after 1, 3, 7, 15, 31 s. Linux caps
 * the value at net.core.somaxconn (4096 on current kernels; raise it for bigger fleets).
 */
const LISTEN_BACKLOG = 65_535;

async function listen(server: TcpServer | HttpServer, port: number, host: string): Promise<void> {
  server.listen({ port, host, backlog: LISTEN_BACKLOG });
  await once(server, 'listening');
}

function closeServer(server: TcpServer | HttpServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    if ('closeAllConnections' in server) server.closeAllConnections();
  });
}
