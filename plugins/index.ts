/**
 * Plugins: the contract platform teams code against and the built-in plugins arrive with the
 * plugin issue. Until then the one routing seam is core/routing.ts (`Router.register`), which the
 * built-in `active-device` strategy already goes through.
 */
export { Router, activeDevice, type RoutingStrategy, type RoutingMessage, type RoutingDevice, type RouteDecision } from '../core/routing.js';
