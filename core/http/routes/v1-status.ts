import type { FastifyInstance } from 'fastify';
import type { DependencyContainer } from '../../di.js';
import { StatusService } from '../../services/status.js';
import { projectOf } from '../auth.js';
import { ok } from '../envelope.js';
import { responses } from '../openapi.js';
import { projectStatusSchema } from '../response-schemas.js';

/** Readiness of the project's delivery (docs/api.md "Readiness and stats"). */
export async function statusRoutes(app: FastifyInstance, c: DependencyContainer): Promise<void> {
  const status = c.resolve(StatusService);
  app.get('/v1/status', { schema: { tags: ['status'], summary: 'Is a device linked and online, and how full is the queue', security: [{ apiKey: [] }], response: responses({ 200: projectStatusSchema }, [401]) } }, async (request) =>
    ok(await status.forProject(projectOf(request))));
}
