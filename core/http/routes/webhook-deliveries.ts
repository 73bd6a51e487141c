import type { FastifyInstance } from 'fastify';
import { isId } from '../../ids.js';
import type { WebhookAttempts } from '../../webhooks/attempts.js';
import { projectOf } from '../auth.js';
import { ok } from '../envelope.js';
import { PAGE_TAGS, pageProblems } from '../../pagination.js';
import { PageQuery, WebhookDeliveriesQuery } from '../dtos/pages.js';
import { bodySchema, responses } from '../openapi.js';
import { validateQuery } from '../validation.js';

export const attemptList = {
  type: 'object',
  properties: {
    deliveries: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          eventId: { type: 'string' },
          type: { type: 'string' },
          webhookId: { type: 'string', nullable: true, description: 'null: a per-request callbackUrl' },
          url: { type: 'string' },
          attempt: { type: 'integer' },
          succeeded: { type: 'boolean' },
          statusCode: { type: 'integer', nullable: true },
          durationMs: { type: 'integer' },
          error: { type: 'string', nullable: true },
          nextAttemptAt: { type: 'string', nullable: true, format: 'date-time' },
          at: { type: 'string', format: 'date-time' },
        },
      },
    },
    nextCursor: { type: 'string', nullable: true },
  },
};

/** `?cursor=&limit=` of an attempt listing, checked (every problem at once). */
export async function pageQuery(query: unknown): Promise<{ cursor?: string; limit?: number }> {
  const q = await validateQuery(PageQuery, query, (page) => pageProblems(page, PAGE_TAGS.webhookAttempts));
  return { cursor: q.cursor, limit: q.limit === undefined ? undefined : Number(q.limit) };
}

/** What webhookDeliveryRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface WebhookDeliveryRouteDeps {
  webhookAttempts: WebhookAttempts;
}

/** The project's webhook delivery attempts, endpoints and callback URLs alike (an API user's view). */
export async function webhookDeliveryRoutes(app: FastifyInstance, deps: WebhookDeliveryRouteDeps): Promise<void> {
  const { webhookAttempts: attempts } = deps;
  app.get(
    '/v1/webhook-deliveries',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'Every webhook delivery attempt of the project, newest first, cursor-paginated',
        security: [{ apiKey: [] }],
        querystring: bodySchema(WebhookDeliveriesQuery),
        response: responses({ 200: attemptList }, [400, 401]),
      },
    },
    async (request) => {
      const q = await validateQuery(WebhookDeliveriesQuery, request.query, (d) => [
        ...pageProblems(d, PAGE_TAGS.webhookAttempts),
        d.eventId === undefined || isId('evt', d.eventId)
          ? null
          : { field: 'eventId', message: 'eventId must be an evt_ id' },
      ]);
      const page = { cursor: q.cursor, limit: q.limit === undefined ? undefined : Number(q.limit) };
      return ok(await attempts.list(projectOf(request), { ...page, eventId: q.eventId }));
    },
  );
}
