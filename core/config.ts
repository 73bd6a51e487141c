import { existsSync } from 'node:fs';

/**
 * Typed configuration read from the environment, validated once at start and then frozen.
 * A bad value stops start with the variable's name and what was expected (see {@link ConfigError}).
 */

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface SmxConfig {
  /** HTTP port; 0 picks a free one. @defaultValue 8080 */
  httpPort: number;
  /**
   * A port of its own for `/metrics` and `/health/*` (SMX_METRICS_PORT): how `smx worker` and
   * `smx broker`, which serve no HTTP API, are scraped and health-checked. Unset: none. @defaultValue undefined
   */
  metricsPort: number | undefined;
  /** Address the HTTP, MQTT and WebSocket listeners bind. @defaultValue '0.0.0.0' */
  host: string;
  /** Embedded broker TCP port; 0 picks a free one. @defaultValue 1883 */
  mqttPort: number;
  /** Embedded broker MQTT-over-WebSocket port; 0 picks a free one. @defaultValue 8083 */
  mqttWsPort: number;
  /** External MQTT broker URL; when set no embedded broker is started. @defaultValue undefined */
  mqttUrl: string | undefined;
  /** Where `smx api` / `smx worker` reach an `smx broker` node. @defaultValue 'mqtt://127.0.0.1:{mqttPort}' */
  brokerUrl: string | undefined;
  /**
   * Broker nodes share messages over Redis pub/sub (aedes + mqemitter-redis): a publish on any node
   * reaches a phone connected to any other, and a phone connecting to another node takes its session
   * over. Set it on every `smx broker` node of a multi-node deployment. @defaultValue false
   */
  brokerCluster: boolean;
  /** Redis for queues, presence, idempotency and rate state. @defaultValue 'redis://127.0.0.1:6379' */
  redisUrl: string;
  /** True when REDIS_URL was not given, so `smx start` may start a local redis-server. */
  redisUrlDefaulted: boolean;
  /** Prefix of every Redis key SMX writes (queues, presence, broker sessions). @defaultValue 'smx' */
  redisPrefix: string;
  /** PostgreSQL URL; unset = embedded PGlite under `dataDir`. @defaultValue undefined */
  databaseUrl: string | undefined;
  /** PostgreSQL schema SMX's tables live in. @defaultValue 'public' */
  databaseSchema: string;
  /** Connections each process keeps to PostgreSQL at most (`smx_db_pool_*` show its use). @defaultValue 10 */
  databasePoolMax: number;
  /** Where embedded data (PGlite, generated secrets) is kept. @defaultValue './var' */
  dataDir: string;
  /** Bearer token of the admin API; generated and stored under `dataDir` by `smx start` when unset. */
  adminToken: string | undefined;
  /** Server secret keying OTP-code hashes and internal MQTT credentials; generated under `dataDir` when unset. */
  secret: string | undefined;
  /** PEM certificate and key files: set both and the HTTP API serves HTTPS. @defaultValue undefined */
  tls: { certFile: string; keyFile: string } | undefined;
  /** Base URL phones and QR codes use. @defaultValue 'http(s)://localhost:{httpPort}' */
  publicUrl: string | undefined;
  /** MQTT URL handed to phones by `/v1/devices/link`. @defaultValue public URL's host with the bound MQTT port */
  mqttPublicUrl: string | undefined;
  /** Plugin modules to load, in order (paths or package names). @defaultValue [] */
  plugins: string[];
  /** Jobs each worker processes at once. @defaultValue 16 */
  workerConcurrency: number;
  /**
   * Devices a process with workers serves at once for the signals made in it (accepted messages,
   * phone connects; LocalDispatch). A serve mostly waits on Redis, PostgreSQL and the broker, and
   * the reads and marks of the serves running together share statements. @defaultValue 1000
   */
  dispatchConcurrency: number;
  /** Pino log level. @defaultValue 'info' */
  logLevel: LogLevel;
  /** Webhook and callback URLs may resolve to loopback, private, link-local or metadata addresses (SMX_WEBHOOK_ALLOW_PRIVATE; development only). @defaultValue false */
  webhookAllowPrivate: boolean;
  /** First retry delay of a failed webhook delivery in ms; later ones grow from it (SMX_WEBHOOK_RETRY_BASE_MS). @defaultValue 10000 */
  webhookRetryBaseMs: number;
  /** SMS Verify compatibility surface (`/compat/sms-verify`, `/compat/verify-security-code`). @defaultValue true */
  compatSmsVerify: boolean;
  /** OTP-by-id compatibility surface (`/compat/otp`, `/compat/otp/:otpId`, `/compat/oauth/token`). @defaultValue true */
  compatOtp: boolean;
  /** Number-rental partner compatibility surface (`/compat/getNumbers`, `/compat/rentNumber`, `/compat/getSMS`, `/compat/cancelNumber`). @defaultValue true */
  compatNumberRental: boolean;
  /** SMSGate 3rd-party API compatibility surface (`/compat/smsgate/3rdparty/v1`: the `android-sms-gateway` clients). @defaultValue true */
  compatSmsgate: boolean;
  /**
   * Which proxies' `X-Forwarded-For` to believe for the client address (per-source limits, logs):
   * false, true (any), a hop count, or a comma list of addresses/CIDRs (Fastify `trustProxy`).
   * @defaultValue false
   */
  trustProxy: boolean | number | string[];
  /** Milliseconds a new MQTT connection has to send an accepted CONNECT before it is closed. @defaultValue 10000 */
  mqttConnectTimeoutMs: number;
  /** MQTT connections from one source address that have not completed CONNECT yet; more are closed at once. @defaultValue 64 */
  mqttMaxPendingPerSource: number;
  /** New MQTT connections per second from one source address (token bucket, bursts up to 10 s of it). @defaultValue 200 */
  mqttConnectRatePerSource: number;
  /** Milliseconds a request waits for Redis or PostgreSQL before it is answered 503 UNAVAILABLE. @defaultValue 2000 */
  dependencyTimeoutMs: number;
  /**
   * On SIGTERM, how long open keep-alive connections are still answered (503 UNAVAILABLE with
   * `Connection: close`) before the listener closes, so clients learn it from an answer, not a reset.
   * @defaultValue 1000
   */
  shutdownGraceMs: number;
  /**
   * SMX answers RabbitMQ's HTTP auth backend (SMX_MQTT_AUTH_HTTP_TOKEN, SMX_MQTT_AUTH_HTTP_VHOST)
   * at `/mqtt-auth/{token}/user|vhost|resource|topic`, so phones log in to RabbitMQ's MQTT plugin
   * with their SMX credentials and reach only their own topics. The token in the path keeps
   * everyone but RabbitMQ out; `vhost` is the one virtual host allowed (RabbitMQ's `mqtt.vhost`).
   * Unset: the routes do not exist. @defaultValue undefined
   */
  mqttAuthHttp: { token: string; vhost: string } | undefined;
}

export const CONFIG_DEFAULTS = {
  httpPort: 8080,
  metricsPort: undefined,
  host: '0.0.0.0',
  mqttPort: 1883,
  mqttWsPort: 8083,
  mqttUrl: undefined,
  brokerUrl: undefined,
  brokerCluster: false,
  redisUrl: 'redis://127.0.0.1:6379',
  redisUrlDefaulted: true,
  redisPrefix: 'smx',
  databaseUrl: undefined,
  databaseSchema: 'public',
  databasePoolMax: 10,
  dataDir: './var',
  adminToken: undefined,
  secret: undefined,
  tls: undefined,
  publicUrl: undefined,
  mqttPublicUrl: undefined,
  plugins: [],
  workerConcurrency: 16,
  dispatchConcurrency: 1000,
  logLevel: 'info',
  webhookAllowPrivate: false,
  webhookRetryBaseMs: 10_000,
  compatSmsVerify: true,
  compatOtp: true,
  compatNumberRental: true,
  compatSmsgate: true,
  trustProxy: false,
  mqttConnectTimeoutMs: 10_000,
  mqttMaxPendingPerSource: 64,
  mqttConnectRatePerSource: 200,
  dependencyTimeoutMs: 2_000,
  shutdownGraceMs: 1_000,
  mqttAuthHttp: undefined,
} as const satisfies SmxConfig;

/** A configuration value that cannot be used; the message names the variable and what was expected. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly variable: string,
    expected: string,
    got: string,
  ) {
    super(`${variable}: expected ${expected}, got ${JSON.stringify(got)}`);
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function present(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function port(env: Env, name: string, fallback: number): number {
  const raw = present(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535) throw new ConfigError(name, 'a port number from 0 to 65535', raw);
  return n;
}

function positiveInt(env: Env, name: string, fallback: number, max: number): number {
  const raw = present(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > max) throw new ConfigError(name, `a whole number from 1 to ${max}`, raw);
  return n;
}

function wholeNumber(env: Env, name: string, fallback: number, max: number): number {
  const raw = present(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > max) throw new ConfigError(name, `a whole number from 0 to ${max}`, raw);
  return n;
}

const TRUE_WORDS = ['true', '1', 'yes', 'on'];
const FALSE_WORDS = ['false', '0', 'no', 'off'];

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = present(env, name);
  if (raw === undefined) return fallback;
  if (TRUE_WORDS.includes(raw.toLowerCase())) return true;
  if (FALSE_WORDS.includes(raw.toLowerCase())) return false;
  throw new ConfigError(name, `a boolean (${[...TRUE_WORDS, ...FALSE_WORDS].join(', ')})`, raw);
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = present(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `a URL (${protocols.join(', ')})`, raw);
  }
  if (!protocols.includes(parsed.protocol)) throw new ConfigError(name, `a URL (${protocols.join(', ')})`, raw);
  return raw.replace(/\/+$/, '');
}

function secretValue(env: Env, name: string): string | undefined {
  const raw = present(env, name);
  if (raw !== undefined && raw.length < 16) throw new ConfigError(name, 'at least 16 characters', '<hidden>');
  return raw;
}

/** SMX_TLS_CERT and SMX_TLS_KEY: both or neither, each a readable file. */
function tlsFiles(env: Env): SmxConfig['tls'] {
  const certFile = present(env, 'SMX_TLS_CERT');
  const keyFile = present(env, 'SMX_TLS_KEY');
  if (!certFile && !keyFile) return undefined;
  if (!certFile) throw new ConfigError('SMX_TLS_CERT', 'a PEM certificate file (SMX_TLS_KEY is set)', '');
  if (!keyFile) throw new ConfigError('SMX_TLS_KEY', 'a PEM private key file (SMX_TLS_CERT is set)', '');
  for (const [name, file] of [
    ['SMX_TLS_CERT', certFile],
    ['SMX_TLS_KEY', keyFile],
  ] as const) {
    if (!existsSync(file)) throw new ConfigError(name, 'a readable PEM file', file);
  }
  return { certFile, keyFile };
}

/** SMX_MQTT_AUTH_HTTP_TOKEN (a path segment nobody can guess) and SMX_MQTT_AUTH_HTTP_VHOST (default `/`, only with the token). */
function mqttAuthHttp(env: Env): SmxConfig['mqttAuthHttp'] {
  const token = present(env, 'SMX_MQTT_AUTH_HTTP_TOKEN');
  const vhost = present(env, 'SMX_MQTT_AUTH_HTTP_VHOST');
  if (token === undefined) {
    if (vhost !== undefined)
      throw new ConfigError('SMX_MQTT_AUTH_HTTP_TOKEN', 'a token (SMX_MQTT_AUTH_HTTP_VHOST is set)', '');
    return undefined;
  }
  if (!/^[A-Za-z0-9_-]{32,256}$/.test(token)) {
    throw new ConfigError(
      'SMX_MQTT_AUTH_HTTP_TOKEN',
      '32 to 256 letters, digits, "_" or "-" (e.g. `openssl rand -hex 32`)',
      '<hidden>',
    );
  }
  return { token, vhost: vhost ?? '/' };
}

/** SMX_TRUST_PROXY: a boolean, a hop count, or a comma list of proxy addresses / CIDRs. */
function trustProxy(env: Env): SmxConfig['trustProxy'] {
  const raw = present(env, 'SMX_TRUST_PROXY');
  if (raw === undefined) return CONFIG_DEFAULTS.trustProxy;
  if (/^\d+$/.test(raw)) return Number(raw);
  const word = raw.toLowerCase();
  if (TRUE_WORDS.includes(word) && word !== '1') return true;
  if (FALSE_WORDS.includes(word) && word !== '0') return false;
  const list = raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  if (list.length === 0 || !list.every((part) => /^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(part))) {
    throw new ConfigError('SMX_TRUST_PROXY', 'true, false, a hop count, or a comma list of addresses/CIDRs', raw);
  }
  return list;
}

/** Reads, validates and freezes the configuration. Throws {@link ConfigError} on the first bad value. */
export function loadConfig(env: Env = process.env): Readonly<SmxConfig> {
  const d = CONFIG_DEFAULTS;
  const logLevel = (present(env, 'LOG_LEVEL') ?? d.logLevel) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `one of ${LOG_LEVELS.join(', ')}`, logLevel);
  const redisPrefix = present(env, 'SMX_REDIS_PREFIX') ?? d.redisPrefix;
  if (!/^[A-Za-z0-9:_-]{1,64}$/.test(redisPrefix)) {
    throw new ConfigError('SMX_REDIS_PREFIX', 'letters, digits, ":", "_" or "-" (1-64)', redisPrefix);
  }
  const databaseSchema = present(env, 'SMX_DATABASE_SCHEMA') ?? d.databaseSchema;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(databaseSchema)) {
    throw new ConfigError('SMX_DATABASE_SCHEMA', 'a lower-case SQL identifier', databaseSchema);
  }
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:']);
  const plugins = (present(env, 'SMX_PLUGINS') ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const config: SmxConfig = {
    httpPort: port(env, 'SMX_HTTP_PORT', d.httpPort),
    metricsPort: present(env, 'SMX_METRICS_PORT') === undefined ? d.metricsPort : port(env, 'SMX_METRICS_PORT', 0),
    host: present(env, 'SMX_HOST') ?? d.host,
    mqttPort: port(env, 'SMX_MQTT_PORT', d.mqttPort),
    mqttWsPort: port(env, 'SMX_MQTT_WS_PORT', d.mqttWsPort),
    mqttUrl: url(env, 'SMX_MQTT_URL', ['mqtt:', 'mqtts:', 'tcp:', 'ws:', 'wss:']),
    brokerUrl: url(env, 'SMX_BROKER_URL', ['mqtt:', 'mqtts:', 'tcp:', 'ws:', 'wss:']),
    brokerCluster: bool(env, 'SMX_BROKER_CLUSTER', d.brokerCluster),
    redisUrl: redisUrl ?? d.redisUrl,
    redisUrlDefaulted: redisUrl === undefined,
    redisPrefix,
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    databaseSchema,
    databasePoolMax: positiveInt(env, 'SMX_DATABASE_POOL_MAX', d.databasePoolMax, 1000),
    dataDir: present(env, 'SMX_DATA_DIR') ?? d.dataDir,
    adminToken: secretValue(env, 'SMX_ADMIN_TOKEN'),
    secret: secretValue(env, 'SMX_SECRET'),
    tls: tlsFiles(env),
    publicUrl: url(env, 'SMX_PUBLIC_URL', ['http:', 'https:']),
    mqttPublicUrl: url(env, 'SMX_MQTT_PUBLIC_URL', ['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'ws:', 'wss:']),
    plugins,
    workerConcurrency: positiveInt(env, 'SMX_WORKER_CONCURRENCY', d.workerConcurrency, 1000),
    dispatchConcurrency: positiveInt(env, 'SMX_DISPATCH_CONCURRENCY', d.dispatchConcurrency, 100_000),
    logLevel,
    webhookAllowPrivate: bool(env, 'SMX_WEBHOOK_ALLOW_PRIVATE', d.webhookAllowPrivate),
    webhookRetryBaseMs: positiveInt(env, 'SMX_WEBHOOK_RETRY_BASE_MS', d.webhookRetryBaseMs, 3_600_000),
    compatSmsVerify: bool(env, 'SMX_COMPAT_SMS_VERIFY', d.compatSmsVerify),
    compatOtp: bool(env, 'SMX_COMPAT_OTP', d.compatOtp),
    compatNumberRental: bool(env, 'SMX_COMPAT_NUMBER_RENTAL', d.compatNumberRental),
    compatSmsgate: bool(env, 'SMX_COMPAT_SMSGATE', d.compatSmsgate),
    trustProxy: trustProxy(env),
    mqttConnectTimeoutMs: positiveInt(env, 'SMX_MQTT_CONNECT_TIMEOUT_MS', d.mqttConnectTimeoutMs, 600_000),
    mqttMaxPendingPerSource: positiveInt(env, 'SMX_MQTT_MAX_PENDING_PER_SOURCE', d.mqttMaxPendingPerSource, 1_000_000),
    mqttConnectRatePerSource: positiveInt(
      env,
      'SMX_MQTT_CONNECT_RATE_PER_SOURCE',
      d.mqttConnectRatePerSource,
      1_000_000,
    ),
    dependencyTimeoutMs: positiveInt(env, 'SMX_DEPENDENCY_TIMEOUT_MS', d.dependencyTimeoutMs, 60_000),
    shutdownGraceMs: wholeNumber(env, 'SMX_SHUTDOWN_GRACE_MS', d.shutdownGraceMs, 60_000),
    mqttAuthHttp: mqttAuthHttp(env),
  };
  return Object.freeze(config);
}
