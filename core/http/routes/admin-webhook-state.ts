import type { FastifyInstance } from 'fastify';
import type { WebhookEndpoints } from '../../webhooks/endpoints.js';
import { ok } from '../envelope.js';
import { responses } from '../openapi.js';

const security = [{ adminToken: [] }];
const tags = ['admin', 'webhooks'];
const hookParams = {
  type: 'object',
  properties: { id: { type: 'string' }, webhookId: { type: 'string' } },
  required: ['id', 'webhookId'],
};
const endpointSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    url: { type: 'string' },
    events: { type: 'array', items: { type: 'string' } },
    enabled: { type: 'boolean' },
    disabledReason: { type: 'string', nullable: true },
    createdAt: { type: 'string', format: 'date-time' },
  },
};

/** The reason an operator's disable leaves on the endpoint (a receiver's 410 leaves its own). */
export const DISABLED_BY_OPERATOR = 'disabled by the operator';

/** What adminWebhookStateRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface AdminWebhookStateRouteDeps {
  webhooks: WebhookEndpoints;
}

/**
 * Disabling a webhook endpoint without deleting it (issue 14, the console): no new deliveries go
 * to it, pending retries are dropped when they come up (as after a receiver's 410 Gone), and its
 * attempt log stays readable. Disabling twice answers the endpoint as it is.
 */
export async function adminWebhookStateRoutes(app: FastifyInstance, deps: AdminWebhookStateRouteDeps): Promise<void> {
  const { webhooks: endpoints } = deps;

  app.post(
    '/admin/projects/:id/webhooks/:webhookId/disable',
    {
      schema: {
        tags,
        security,
        params: hookParams,
        summary: 'Disable a webhook endpoint (kept with its attempt log; no more deliveries)',
        response: responses({ 200: endpointSchema }, [401, 403, 404]),
      },
    },
    async (request) => {
      const { id, webhookId } = request.params as { id: string; webhookId: string };
      const endpoint = await endpoints.get(id, webhookId);
      if (!endpoint.enabled) return ok(endpoint);
      await endpoints.disable(endpoint.id, DISABLED_BY_OPERATOR);
      return ok(await endpoints.get(id, webhookId));
    },
  );
}
