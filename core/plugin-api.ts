/**
 * The plugin contract: the one module platform teams import (`import { definePlugin } from
 * 'smx/plugin-api'`). Everything here is a fixed signature; plugins written against the README
 * keep working.
 *
 * Self-contained on purpose: this file imports only the error catalogue (which imports nothing),
 * and defines every type a plugin sees itself. Core services import these types from here, never
 * the other way round, so a change inside the core cannot change the contract by accident and
 * the published declarations are this file and `errors.d.ts` (test/unit/plugin-api-surface.test.ts).
 */
export { ApiError, apiError, ERROR_CATALOGUE, type ErrorCode, type ErrorDetail } from './errors.js';

/** The hooks a plugin may register, fixed: `ctx.hooks.on` with any other name throws. */
export const HOOK_NAMES = ['beforeSend', 'afterStatus', 'onInbound', 'onVerification'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

// ---- Logging ----------------------------------------------------------------------------------

/** One log method: `log.info('text')` or `log.info({ some: 'fields' }, 'text')` (pino's argument order). */
export interface LogFn {
  (msg: string, ...args: unknown[]): void;
  (obj: object, msg?: string, ...args: unknown[]): void;
}

/** The part of a pino logger plugins use; SMX hands plugins its pino logger (JSON lines). */
export interface Logger {
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
  /** A logger that adds `bindings` to every line. */
  child(bindings: Record<string, unknown>): Logger;
}

// ---- Routing ----------------------------------------------------------------------------------

/** The message as a routing strategy sees it. */
export interface RoutingMessage {
  id: string;
  projectId: string;
  to: string;
  body: string;
  kind: 'otp' | 'sms';
  /** 1 on the first try; re-routing increments it. */
  attempt: number;
}

/** A SIM of a device, as set with `PATCH /admin/devices/:id { sims }` or reported by the phone. */
export interface RoutingSim {
  slot: number;
  number: string | null;
  carrier: string | null;
  rentable: boolean;
}

/** A device as a routing strategy sees it, with live state. */
export interface RoutingDevice {
  id: string;
  name: string;
  active: boolean;
  online: boolean;
  lastSeenAt: string | null;
  sims: RoutingSim[];
  sendRatePerMinute: number;
}

/** A strategy's answer: a device of the project (and optionally a SIM slot), or why there is none. */
export type RouteDecision = { deviceId: string; simSlot?: number | null } | { reason: string };

/** Chooses a device for one message among the project's devices. */
export type RoutingStrategy = (
  message: RoutingMessage,
  devices: RoutingDevice[],
) => Promise<RouteDecision> | RouteDecision;

// ---- What hooks receive -----------------------------------------------------------------------

/** A message's status (`GET /v1/messages/:id`). */
export type MessageStatus = 'QUEUED' | 'DISPATCHED' | 'SENT' | 'DELIVERED' | 'FAILED' | 'EXPIRED';

/** A phone's report on one message (device-protocol.md §3 StatusUpdate). */
export interface StatusUpdate {
  id: string;
  state: 'sent' | 'delivered' | 'failed';
  at?: string;
  error?: string;
}

/** A verification's status (`GET /v1/verifications/:id`). */
export type VerificationStatus = 'PENDING' | 'VERIFIED' | 'FAILED' | 'EXPIRED' | 'CANCELED';

/** A verification as `GET /v1/verifications/:id` shows it; never holds the code. */
export interface VerificationView {
  verificationId: string;
  status: VerificationStatus;
  to: string;
  countryIso: string | null;
  numberValid: boolean;
  test: boolean;
  messageId: string | null;
  deviceId: string | null;
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  expiresAt: string;
  verifiedAt: string | null;
  canceledAt: string | null;
  metadata: Record<string, unknown> | null;
}

/** A message about to be handed to a phone. `to` and `body` may be changed (not stored back). */
export interface OutgoingMessage extends RoutingMessage {
  deviceId: string;
  simSlot: number | null;
}

/** A message whose status just moved forward, as the phone reported it. */
export interface StatusChange {
  id: string;
  deviceId: string;
  status: MessageStatus;
}

/** An SMS a phone received and forwarded on its inbox topic. */
export interface InboundSms {
  deviceId: string;
  from: string;
  body: string;
  receivedAt: string;
  simSlot: number | null;
}

/** The signature of each hook. Only `beforeSend`'s result counts; the others are observers. */
export interface HookHandlers {
  /** Return a changed copy, change `message` in place, or throw to refuse it (it becomes FAILED). */
  beforeSend: (message: OutgoingMessage) => OutgoingMessage | void | Promise<OutgoingMessage | void>;
  /** After a phone's status report moved a message forward. */
  afterStatus: (message: StatusChange, update: StatusUpdate) => unknown;
  /** For each SMS a phone received. */
  onInbound: (sms: InboundSms) => unknown;
  /** After a verification was verified, failed (attempts used up), canceled or expired. Never holds the code. */
  onVerification: (verification: VerificationView) => unknown;
}

// ---- HTTP ---------------------------------------------------------------------------------------

/** What a plugin route handler gets: the request, scoped to the calling API key's project. */
export interface PluginRequest {
  /** The project of the API key that called (routes live behind the /v1 API-key guard). */
  projectId: string;
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
  log: Logger;
}

/** A route under `/plugins/<plugin-name>`. The returned data is sent in the success envelope. */
export interface PluginRoute {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path below the plugin's prefix, starting with `/` (Fastify syntax: `/items/:id`). */
  url: string;
  /** Throw `apiError(code)` to answer with the error catalogue. */
  handler: (request: PluginRequest) => unknown;
  /** A JSON schema ({ body?, querystring?, params? }) for the OpenAPI document only; validate in the handler. */
  schema?: Record<string, unknown>;
}

// ---- The plugin ---------------------------------------------------------------------------------

/**
 * The configuration a plugin may read: this list and nothing else, frozen. No secrets (admin
 * token, server secret), and the Redis and database URLs come without their passwords. A plugin's
 * own settings come from its own environment variables.
 */
export interface PluginConfig {
  /** The HTTP API's port (SMX_HTTP_PORT). */
  readonly httpPort: number;
  /** The address the listeners bind (SMX_HOST). */
  readonly host: string;
  /** The base URL phones and QR codes use, when set (SMX_PUBLIC_URL). */
  readonly publicUrl: string | undefined;
  /** The MQTT URL handed to phones, when set (SMX_MQTT_PUBLIC_URL). */
  readonly mqttPublicUrl: string | undefined;
  /** Redis (REDIS_URL) without its password: `redis://:***@host:6379`. */
  readonly redisUrl: string;
  /** The prefix of every Redis key SMX writes (SMX_REDIS_PREFIX). */
  readonly redisPrefix: string;
  /** PostgreSQL (DATABASE_URL) without its password; undefined when SMX runs on its embedded database. */
  readonly databaseUrl: string | undefined;
  /** The PostgreSQL schema of SMX's tables (SMX_DATABASE_SCHEMA). */
  readonly databaseSchema: string;
  /** Where SMX keeps its embedded data (SMX_DATA_DIR). */
  readonly dataDir: string;
  /** The plugin modules loaded, in order (SMX_PLUGINS). */
  readonly plugins: readonly string[];
  /** LOG_LEVEL. */
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Jobs each worker processes at once (SMX_WORKER_CONCURRENCY). */
  readonly workerConcurrency: number;
}

/**
 * What `setup` gets. Everything a plugin may reach is named here; SMX's DI container is not (the
 * former `ctx.container`): a plugin keeps its own objects in `setup`'s closure.
 */
export interface PluginContext {
  /** This plugin's name. */
  readonly name: string;
  readonly routing: {
    /** Adds a routing strategy a project can select with `PATCH /admin/projects/:id { routing }`. */
    register(name: string, strategy: RoutingStrategy): void;
    /** The project's devices as strategies see them (live state, at most a second old). */
    devices(projectId: string): Promise<RoutingDevice[]>;
  };
  readonly hooks: {
    on<K extends HookName>(name: K, fn: HookHandlers[K]): void;
  };
  readonly http: {
    route(route: PluginRoute): void;
  };
  readonly config: PluginConfig;
  /** A child logger with `{ plugin: name }`. */
  readonly log: Logger;
}

/** A plugin module's default export. */
export interface SmxPlugin {
  name: string;
  version?: string;
  setup(ctx: PluginContext): void | Promise<void>;
}

/** Typed identity: gives `setup`'s `ctx` its types. A plain object with the same shape works too. */
export function definePlugin<P extends SmxPlugin>(plugin: P): P {
  return plugin;
}
