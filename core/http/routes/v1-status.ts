import type { FastifyInstance } from 'fastify';
import type { StatusService } from '../../sending/status.js';
import { projectOf } from '../auth.js';
import { ok } from '../envelope.js';
import { responses } from '../openapi.js';
import { projectStatusSchema } from '../response-schemas.js';

/** What statusRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface StatusRouteDeps {
  status: StatusService;
}

/** Readiness of the project's delivery (docs/api.md "Readiness and stats"). */
export async function statusRoutes(app: FastifyInstance, deps: StatusRouteDeps): Promise<void> {
  const { status } = deps;
  app.get(
    '/v1/status',
    {
      schema: {
        tags: ['status'],
        summary: 'Is a device linked and online, and how full is the queue',
        security: [{ apiKey: [] }],
        response: responses({ 200: projectStatusSchema }, [401]),
      },
    },
    async (request) => ok(await status.forProject(projectOf(request))),
  );
}
