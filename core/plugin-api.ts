/**
 * The plugin contract: the one module platform teams import (`import { definePlugin } from
 * 'smx/plugin-api'`). Everything here is a fixed signature; plugins written against the README
 * keep working. Runtime code stays tiny (types, `definePlugin`, the hook list and the error
 * factory) so importing it pulls in nothing heavy.
 */
import type { DependencyContainer } from './di.js';
import type { Logger } from './logger.js';
import type { RouteDecision, RoutingDevice, RoutingMessage, RoutingStrategy } from './delivery/router.js';
import type { RuntimeConfig } from './secrets.js';
import type { VerificationView } from './services/challenges.js';
import type { MessageStatus, StatusUpdate } from './services/messages.js';

export { ApiError, apiError, ERROR_CATALOGUE, type ErrorCode, type ErrorDetail } from './errors.js';
export type { RouteDecision, RoutingDevice, RoutingMessage, RoutingStrategy, VerificationView, StatusUpdate, MessageStatus, Logger };

/** The hooks a plugin may register, fixed: `ctx.hooks.on` with any other name throws. */
export const HOOK_NAMES = ['beforeSend', 'afterStatus', 'onInbound', 'onVerification'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

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

/** The runtime config a plugin sees: frozen, without the admin token and the server secret. */
export type PluginConfig = Readonly<Omit<RuntimeConfig, 'adminToken' | 'secret'>>;

/** What `setup` gets. */
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
  /** A child of SMX's container: resolve core services, register your own. */
  readonly container: DependencyContainer;
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
