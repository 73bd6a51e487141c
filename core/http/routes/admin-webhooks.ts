import type { FastifyInstance } from 'fastify';
import type { WebhookAttempts } from '../../webhooks/attempts.js';
import type { WebhookEndpoints } from '../../webhooks/endpoints.js';
import { PageQuery } from '../dtos/pages.js';
import { CreateWebhookDto } from '../dtos/webhooks.js';
import { ok } from '../envelope.js';
import { bodySchema, responses } from '../openapi.js';
import { doneSchema } from '../response-schemas.js';
import { validateBody } from '../validation.js';
import { attemptList, pageQuery } from './webhook-deliveries.js';

const security = [{ adminToken: [] }];
const tags = ['admin', 'webhooks'];
const idParam = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] };
const hookParams = {
  type: 'object',
  properties: { id: { type: 'string' }, webhookId: { type: 'string' } },
  required: ['id', 'webhookId'],
};
const endpoint = {
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
const secretNote = 'Signing secret (`whsec_...`, Standard Webhooks), shown only in this answer.';

/** What adminWebhookRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface AdminWebhookRouteDeps {
  webhooks: WebhookEndpoints;
  webhookAttempts: WebhookAttempts;
}

/** Project webhook endpoints, their attempt log, and the project's callback secret (docs/api.md "Webhooks"). */
export async function adminWebhookRoutes(app: FastifyInstance, deps: AdminWebhookRouteDeps): Promise<void> {
  const { webhooks: endpoints, webhookAttempts: attempts } = deps;

  app.post(
    '/admin/projects/:id/webhooks',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: 'Register a webhook endpoint (the signing secret is shown once)',
        body: bodySchema(CreateWebhookDto),
        response: responses(
          {
            201: {
              ...endpoint,
              properties: { ...endpoint.properties, secret: { type: 'string', description: secretNote } },
            },
          },
          [400, 401, 403, 404],
        ),
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const dto = await validateBody(CreateWebhookDto, request.body, async (d) => [
        typeof d.url === 'string' ? await endpoints.urlProblem(d.url, 'url', false) : null,
      ]);
      return reply.status(201).send(ok(await endpoints.create(id, dto.url, dto.events)));
    },
  );

  app.get(
    '/admin/projects/:id/webhooks',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: 'List webhook endpoints (no secrets)',
        response: responses(
          { 200: { type: 'object', properties: { webhooks: { type: 'array', items: endpoint } } } },
          [401, 403, 404],
        ),
      },
    },
    async (request) => ok({ webhooks: await endpoints.list((request.params as { id: string }).id) }),
  );

  app.delete(
    '/admin/projects/:id/webhooks/:webhookId',
    {
      schema: {
        tags,
        security,
        params: hookParams,
        summary: 'Delete a webhook endpoint (pending deliveries to it are dropped)',
        response: responses({ 200: doneSchema('deleted') }, [401, 403, 404]),
      },
    },
    async (request) => {
      const { id, webhookId } = request.params as { id: string; webhookId: string };
      await endpoints.remove(id, webhookId);
      return ok({ id: webhookId, deleted: true });
    },
  );

  app.get(
    '/admin/projects/:id/webhooks/:webhookId/deliveries',
    {
      schema: {
        tags,
        security,
        params: hookParams,
        querystring: bodySchema(PageQuery),
        summary: 'Every delivery attempt to this endpoint, newest first, cursor-paginated',
        response: responses({ 200: attemptList }, [400, 401, 403, 404]),
      },
    },
    async (request) => {
      const { id, webhookId } = request.params as { id: string; webhookId: string };
      const page = await pageQuery(request.query);
      await endpoints.get(id, webhookId);
      return ok(await attempts.list(id, { ...page, endpointId: webhookId }));
    },
  );

  app.post(
    '/admin/projects/:id/webhook-callback-secret',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: 'Create or rotate the secret that signs deliveries to per-request callbackUrls (shown once)',
        response: responses(
          {
            201: {
              type: 'object',
              properties: {
                secret: { type: 'string', description: secretNote },
                createdAt: { type: 'string', format: 'date-time' },
              },
            },
          },
          [401, 403, 404],
        ),
      },
    },
    async (request, reply) =>
      reply.status(201).send(ok(await endpoints.rotateCallbackSecret((request.params as { id: string }).id))),
  );
}
