import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/** Prometheus text format, inside the admin-guarded scope. */
export async function metricsRoutes(app: FastifyInstance, registry: Registry): Promise<void> {
  app.get('/metrics', { schema: { tags: ['admin'], summary: 'Prometheus metrics', security: [{ adminToken: [] }] } }, async (_request, reply) => {
    const text = await registry.metrics();
    return reply.header('content-type', registry.contentType).send(text);
  });
}
