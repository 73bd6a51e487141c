import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { apiError } from '../errors.js';
import { sourceOf } from '../services/link-code-limits.js';
import { SMSGATE_BASE_PATH } from '../smsgate/service.js';
import { responses } from './openapi.js';

/**
 * Per-source request limits on the routes where a client trades something it typed or was given
 * for a credential: the phone's link (QR token or 6-digit code, and the SMSGate app's
 * registration, which takes the same), and the OTP-by-id surface's OAuth token endpoint.
 *
 * They are generous on purpose: the link-code budget (`link-code-limits.ts`: 10 code attempts
 * per source per 10 minutes, taken atomically) is what bounds guessing; these bound the work one
 * address can cause on a route that hashes, queries and writes before it knows the caller,
 * without getting in the way of an office that links a fleet of phones from behind one NAT
 * address (the fleet test links 300 phones in a few seconds) or an OAuth client that fetches a token per
 * request. A source is `request.ip` (through the proxies SMX_TRUST_PROXY names), IPv6 per /64,
 * as for link codes. Counters live in Redis, so every API replica shares them; while Redis is
 * unreachable the limit steps aside (the route itself then answers 503).
 * @defaultValue link and SMSGate registration: 600 requests per source per minute; OAuth token: 300
 */
export const ROUTE_RATE_LIMITS: Readonly<Record<string, { max: number; windowSeconds: number }>> = {
  'POST /v1/devices/link': { max: 600, windowSeconds: 60 },
  [`POST ${SMSGATE_BASE_PATH}/device`]: { max: 600, windowSeconds: 60 },
  'POST /compat/oauth/token': { max: 300, windowSeconds: 60 },
};

/**
 * Registers @fastify/rate-limit for the routes of ROUTE_RATE_LIMITS only (no global limit: the
 * hot paths pay nothing). Call before the routes are registered: limits attach when a route is.
 * A request over its limit is 429 RATE_LIMITED in the envelope with `Retry-After`.
 */
export async function registerRateLimits(app: FastifyInstance, redis: Redis, redisPrefix: string): Promise<void> {
  // Runs before the plugin's own onRoute hook (added by the register below), which reads config.rateLimit.
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const limit = ROUTE_RATE_LIMITS[`${method} ${route.url}`];
      if (!limit) continue;
      route.config = {
        ...route.config,
        rateLimit: { max: limit.max, timeWindow: limit.windowSeconds * 1000 },
      } as never;
      const response = route.schema?.response as Record<number, object> | undefined;
      if (response) response[429] ??= responses({}, [429])[429]!;
      if (route.schema && typeof route.schema.description === 'string') {
        route.schema.description += ` At most ${limit.max} requests per client address per ${limit.windowSeconds} s; past that, 429 RATE_LIMITED with Retry-After.`;
      }
    }
  });
  await app.register(rateLimit, {
    global: false,
    redis,
    nameSpace: `${redisPrefix}:rate-limit:`,
    keyGenerator: (request) => sourceOf(request.ip),
    skipOnError: true,
    errorResponseBuilder: (_request, context) =>
      apiError('RATE_LIMITED', {
        message: 'Too many requests from this address; retry after the time in Retry-After.',
        retryAfter: Math.max(1, Math.ceil(context.ttl / 1000)),
      }),
  });
}
