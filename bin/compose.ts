import 'reflect-metadata';
import type { ChildProcess } from 'node:child_process';
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import type { Redis } from 'ioredis';
import {
  type DependencyContainer,
  type SmxConfig,
  CacheBus,
  buildContainer,
  createDatabase,
  migrateLatest,
  Endpoints,
  httpDependencies,
  buildHttpServer,
  startOpsServer,
  type OpsServer,
  HealthService,
  createLogger,
  type Logger,
  createRegistry,
  registerDatabasePoolMetrics,
  registerStateGauges,
  SmxMetrics,
  PresenceStore,
  PluginHost,
  Router,
  HookRunner,
  type DevicePublisher,
  createQueues,
  type Queues,
  connectRedis,
  resolveSecrets,
  type GeneratedSecret,
  type RuntimeConfig,
  DeviceService,
  OutboxRelay,
  LocalDeviceEvents,
} from '../core/index.js';
import {
  cacheDeviceVerifier,
  startEmbeddedBroker,
  MQTT_WS_PATH,
  type EmbeddedBroker,
  MqttPublisher,
  startExternalBridge,
  internalCredentials,
  rabbitMqAuth,
  type DeviceVerifier,
} from '../broker/index.js';
import { BUILTIN_PLUGINS } from '../plugins/index.js';
import { startWorkers, workerDependencies, type RunningWorkers } from '../workers/index.js';
import { isListening, startLocalRedis } from './local-redis.js';

/** Which parts of SMX this process runs (`smx start` runs all three). */
export interface Roles {
  api: boolean;
  worker: boolean;
  broker: boolean;
}

export interface StartOptions {
  config: Readonly<SmxConfig>;
  roles: Roles;
  /** Where logs go (tests capture them); default stdout. */
  logDestination?: NodeJS.WritableStream;
  /** Run migrations before serving (`smx start` does). @defaultValue true */
  migrate?: boolean;
  /** Start a local redis-server if REDIS_URL is unset and none listens (only `smx start`). @defaultValue false */
  startRedisIfMissing?: boolean;
}

export interface Smx {
  config: Readonly<RuntimeConfig>;
  logger: Logger;
  container: DependencyContainer;
  http: FastifyInstance | null;
  broker: EmbeddedBroker | null;
  workers: RunningWorkers | null;
  endpoints: Endpoints;
  /** The `/metrics` and `/health` listener of SMX_METRICS_PORT, if set. */
  ops: OpsServer | null;
  /** Secrets generated under the data dir on this start (the admin token is printed once). */
  generatedSecrets: GeneratedSecret[];
  /** Graceful shutdown: stop HTTP, drain in-flight jobs, close the broker and every connection. */
  close(): Promise<void>;
}

/** Forwards to the real publisher once it exists (the broker needs the container, the container a publisher). */
class LatePublisher implements DevicePublisher {
  target: DevicePublisher | null = null;
  publish(...args: Parameters<DevicePublisher['publish']>) {
    if (!this.target) return Promise.reject(new Error('no MQTT publisher yet'));
    return this.target.publish(...args);
  }
  disconnect(deviceId: string) {
    if (!this.target) return Promise.reject(new Error('no MQTT publisher yet'));
    return this.target.disconnect(deviceId);
  }
  ready() {
    return this.target?.ready() ?? false;
  }
}

/**
 * The composition root: wires config, logger, Redis, the database, queues, the broker (embedded,
 * or a client of an external one), the HTTP API and the workers for the roles this process runs.
 * Everything opened is closed again by `close()`, in reverse order, also when start fails midway.
 */
export async function startSmx(options: StartOptions): Promise<Smx> {
  const { config, generated } = resolveSecrets(options.config);
  const logger = createLogger(config.logLevel, options.logDestination);
  const closers: Array<[string, () => Promise<unknown>]> = [];
  const closeAll = async () => {
    for (const [name, close] of closers.reverse()) {
      const started = Date.now();
      await close().catch((error) => logger.error({ err: error, component: name }, 'close failed'));
      // Which part a slow shutdown waits for: the drain of a fleet's disconnects, the workers' jobs…
      logger.debug({ component: name, ms: Date.now() - started }, 'closed');
    }
    closers.length = 0;
  };

  try {
    let localRedis: ChildProcess | null = null;
    if (options.startRedisIfMissing && config.redisUrlDefaulted && !(await isListening('127.0.0.1', 6379))) {
      localRedis = await startLocalRedis(config.dataDir);
      if (localRedis) {
        logger.info(
          { dataDir: config.dataDir },
          'REDIS_URL is unset and nothing listened on 127.0.0.1:6379: started a local redis-server',
        );
        closers.push(['local-redis', async () => localRedis?.kill('SIGTERM')]);
      }
    }
    // Commands on the shared connection (limits, presence, caches) fail at once while Redis is
    // unreachable (no offline queue) and after the dependency timeout when it hangs: requests
    // answer 503 within the bound instead of waiting for Redis to come back.
    const redis: Redis = await connectRedis(config.redisUrl, {
      commandTimeout: config.dependencyTimeoutMs,
      enableOfflineQueue: false,
    });
    closers.push(['redis', () => redis.quit()]);

    const db: Knex = createDatabase({
      url: config.databaseUrl,
      schema: config.databaseSchema,
      dataDir: config.dataDir,
      poolMax: config.databasePoolMax,
      acquireTimeoutMs: config.dependencyTimeoutMs,
    });
    closers.push(['database', () => db.destroy()]);
    if (options.migrate ?? true) {
      const applied = await migrateLatest(db, config.databaseSchema).catch((error: Error) => {
        throw new Error(
          `${config.databaseUrl ? 'DATABASE_URL' : 'SMX_DATA_DIR'}: cannot prepare the database (${error.message})`,
          { cause: error },
        );
      });
      if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    }

    const queues: Queues = createQueues(redis, config.redisPrefix);
    closers.push(['queues', () => queues.close()]);
    const metrics = createRegistry();
    const endpoints = new Endpoints();
    const publisher = new LatePublisher();
    const container = buildContainer({ config, logger, redis, db, queues, publisher, metrics, endpoints });
    container.registerSingleton(SmxMetrics);
    const counters = container.resolve(SmxMetrics);
    const presence = container.resolve(PresenceStore);
    registerStateGauges(metrics, { queues, presence, db });
    registerDatabasePoolMetrics(metrics, db);
    const cacheBus = container.resolve(CacheBus);
    await cacheBus.start();
    closers.push(['cache-bus', () => cacheBus.stop()]);

    // Every role loads the plugins: the API routes with their strategies, workers run their hooks.
    const plugins = new PluginHost({
      router: container.resolve(Router),
      hooks: container.resolve(HookRunner),
      config,
      logger,
    });
    for (const builtin of BUILTIN_PLUGINS) await plugins.install(builtin, `builtin:${builtin.name}`);
    await plugins.load(config.plugins);

    // The device check of the embedded broker and of RabbitMQ's HTTP auth backend: one cache per process,
    // kept briefly for connect storms and emptied on every device or project change, in every process.
    let verifier: DeviceVerifier | undefined;
    const verifyDevice = (): DeviceVerifier => {
      const devices = container.resolve(DeviceService);
      verifier ??= cacheDeviceVerifier((id, secret) => devices.verifyCredentials(id, secret), {
        subscribe: (evictAll) => (['devices', 'project'] as const).forEach((scope) => cacheBus.on(scope, evictAll)),
      });
      return verifier;
    };

    let http: FastifyInstance | null = null;
    const listenHttp = async () => {
      const mqttAuth = config.mqttAuthHttp
        ? rabbitMqAuth({
            verifyDevice: verifyDevice(),
            secret: config.secret,
            vhost: config.mqttAuthHttp.vhost,
            logger,
          })
        : undefined;
      const server = await buildHttpServer(
        { ...httpDependencies(container), mqttAuth },
        { v1Routes: [plugins.routeModule()] },
      );
      http = server;
      closers.push(['http', () => server.close()]);
      await server.listen({ port: config.httpPort, host: config.host });
    };
    // RabbitMQ asks this very server whether SMX's own MQTT clients (publisher, bridge) may log in:
    // it listens before they connect (until they do, /health/ready says the broker is down).
    if (options.roles.api && config.mqttAuthHttp) await listenHttp();

    let broker: EmbeddedBroker | null = null;
    if (options.roles.broker && !config.mqttUrl) {
      broker = await startEmbeddedBroker({
        config,
        verifyDevice: verifyDevice(),
        deviceEvents: queues.deviceEvents,
        ...(options.roles.worker ? { localEvents: container.resolve(LocalDeviceEvents) } : {}),
        presence,
        logger,
        cluster: config.brokerCluster,
        connections: counters.deviceConnections.labels({ transport: 'mqtt' }),
      });
      closers.push(['broker', () => broker!.close()]);
    }
    if (broker && (options.roles.api || options.roles.worker)) {
      publisher.target = broker.publisher;
    } else if (options.roles.api || options.roles.worker) {
      // An external broker, else the `smx broker` node of a split deployment.
      const url = config.mqttUrl ?? config.brokerUrl ?? `mqtt://127.0.0.1:${config.mqttPort}`;
      const client = new MqttPublisher({ url, credentials: internalCredentials(config.secret), logger });
      await client.start();
      closers.push(['mqtt-publisher', () => client.close()]);
      publisher.target = client;
    }
    if (config.mqttUrl && options.roles.worker) {
      const bridge = await startExternalBridge({
        url: config.mqttUrl,
        credentials: internalCredentials(config.secret),
        deviceEvents: queues.deviceEvents,
        presence,
        logger,
        connections: counters.deviceConnections.labels({ transport: 'mqtt' }),
      });
      closers.push(['external-bridge', () => bridge.close()]);
    }

    if (options.roles.api && !http) await listenHttp();
    fillEndpoints(endpoints, config, http, broker);

    let workers: RunningWorkers | null = null;
    if (options.roles.worker) {
      workers = await startWorkers(workerDependencies(container));
      closers.push(['workers', () => workers!.close()]);
    }
    if (options.roles.api || options.roles.worker) {
      // Webhook events written by a process that died before relaying them are picked up here.
      const outbox = container.resolve(OutboxRelay);
      outbox.start();
      closers.push(['outbox', () => outbox.stop()]);
    }

    let ops: OpsServer | null = null;
    if (config.metricsPort !== undefined) {
      const health = container.resolve(HealthService);
      // A broker-only node publishes nothing itself: its broker check is its own listener.
      const ready = async () => ({
        ...(await health.check()),
        ...(publisher.target ? {} : { broker: broker ? ('up' as const) : ('down' as const) }),
      });
      const started = await startOpsServer({
        port: config.metricsPort,
        host: config.host,
        registry: metrics,
        adminToken: config.adminToken,
        ready,
      });
      ops = started;
      closers.push(['ops', () => started.close()]);
    }

    // Shutdown order: HTTP first (no new work), then workers drain, then broker and connections.
    const ordered = [...closers];
    closers.length = 0;
    const first = ['http', 'workers'];
    closers.push(
      ...ordered.filter(([n]) => !first.includes(n)),
      ...ordered.filter(([n]) => n === 'workers'),
      ...ordered.filter(([n]) => n === 'http'),
    );

    logger.info(
      {
        http: endpoints.publicUrl || null,
        mqtt: endpoints.mqttUrl || null,
        metricsPort: ops?.port ?? null,
        roles: options.roles,
      },
      'SMX started',
    );
    return {
      config,
      logger,
      container,
      http,
      broker,
      workers,
      endpoints,
      ops,
      generatedSecrets: generated,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** The URLs phones and QR codes get: the configured public ones, else derived from what was bound. */
function fillEndpoints(
  endpoints: Endpoints,
  config: RuntimeConfig,
  http: FastifyInstance | null,
  broker: EmbeddedBroker | null,
): void {
  const httpAddress = http?.server.address();
  const httpPort = httpAddress && typeof httpAddress === 'object' ? httpAddress.port : config.httpPort;
  endpoints.publicUrl = config.publicUrl ?? `${config.tls ? 'https' : 'http'}://localhost:${httpPort}`;
  const host = new URL(endpoints.publicUrl).hostname;
  const tcpPort = broker?.tcpPort ?? config.mqttPort;
  endpoints.mqttUrl = config.mqttPublicUrl ?? config.mqttUrl ?? `mqtt://${host}:${tcpPort}`;
  const wsPort = broker ? broker.wsPort : config.mqttUrl ? null : config.mqttWsPort;
  endpoints.mqttWsUrl = wsPort ? `ws://${host}:${wsPort}${MQTT_WS_PATH}` : '';
}
