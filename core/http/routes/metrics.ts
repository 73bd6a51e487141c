import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/** Prometheus text format, inside the admin-guarded scope. */
export async function metricsRoutes(app: FastifyInstance, registry: Registry): Promise<void> {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['admin'],
        summary: 'Prometheus metrics',
        security: [{ adminToken: [] }],
        response: {
          200: {
            description: 'Prometheus text exposition format',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
          401: { $ref: '#/components/schemas/ErrorEnvelope' },
          403: { $ref: '#/components/schemas/ErrorEnvelope' },
        },
      },
    },
    async (_request, reply) => {
      const text = await registry.metrics();
      return reply.header('content-type', registry.contentType).send(text);
    },
  );
}
