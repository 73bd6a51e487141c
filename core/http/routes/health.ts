import type { FastifyInstance } from 'fastify';
import { apiError } from '../../errors.js';
import type { HealthService } from '../../health.js';
import { ok } from '../envelope.js';
import { responses } from '../openapi.js';

const live = { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } };
const ready = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok'] },
    checks: {
      type: 'object',
      additionalProperties: { type: 'string', enum: ['up', 'down'] },
      description: 'Each dependency: up or down.',
    },
  },
};

/** What healthRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface HealthRouteDeps {
  health: HealthService;
}

/** Liveness and readiness for orchestrators (no auth). */
export async function healthRoutes(app: FastifyInstance, deps: HealthRouteDeps): Promise<void> {
  const { health } = deps;
  app.get(
    '/health/live',
    { schema: { tags: ['health'], summary: 'The process is up', response: responses({ 200: live }) } },
    async () => ok({ status: 'ok' }),
  );
  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['health'],
        summary: 'Redis, the database and the broker are reachable',
        response: responses({ 200: ready }, [503]),
      },
    },
    async () => {
      const checks = await health.check();
      const down = Object.entries(checks).filter(([, state]) => state === 'down');
      if (down.length > 0) {
        throw apiError('UNAVAILABLE', {
          retryAfter: 5,
          details: down.map(([field]) => ({ field, message: `${field} is unreachable` })),
        });
      }
      return ok({ status: 'ok', checks });
    },
  );
}
