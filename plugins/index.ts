/**
 * The built-in plugins: each is a plugin on the same contract platform teams use
 * (core/plugin-api.ts, published as `smx/plugin-api`) and import nothing else of SMX.
 * `active-device`, the default strategy, lives in core/delivery/router.ts so the core routes with
 * no plugin loaded.
 */
import type { SmxPlugin } from '../core/plugin-api.js';
import failover from './builtin/failover.js';
import prefix from './builtin/prefix.js';
import roundRobin from './builtin/round-robin.js';

/** Loaded before `SMX_PLUGINS`, in this order. */
export const BUILTIN_PLUGINS: readonly SmxPlugin[] = [failover, roundRobin, prefix];

export { failover, prefix, roundRobin };
export {
  definePlugin,
  HOOK_NAMES,
  type SmxPlugin,
  type PluginContext,
  type HookName,
  type HookHandlers,
  type RoutingStrategy,
  type RoutingMessage,
  type RoutingDevice,
  type RouteDecision,
} from '../core/plugin-api.js';
