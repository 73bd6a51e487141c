import type { FastifyInstance } from 'fastify';
import type { DependencyContainer } from '../../di.js';
import { apiError } from '../../errors.js';
import { isId } from '../../ids.js';
import { WebhookAttempts } from '../../webhooks/attempts.js';
import { projectOf } from '../auth.js';
import { ok } from '../envelope.js';
import { responses } from '../openapi.js';

export const pageQuerySchema = { type: 'object', properties: { cursor: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 200 } } };

export const attemptList = {
  type: 'object',
  properties: {
    deliveries: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          eventId: { type: 'string' }, type: { type: 'string' }, webhookId: { type: 'string', nullable: true, description: 'null: a per-request callbackUrl' }, url: { type: 'string' },
          attempt: { type: 'integer' }, succeeded: { type: 'boolean' }, statusCode: { type: 'integer', nullable: true }, durationMs: { type: 'integer' },
          error: { type: 'string', nullable: true }, nextAttemptAt: { type: 'string', nullable: true, format: 'date-time' }, at: { type: 'string', format: 'date-time' },
        },
      },
    },
    nextCursor: { type: 'string', nullable: true },
  },
};

/** `?cursor=&limit=` of an attempt listing, checked. */
export function pageQuery(query: unknown): { cursor?: string; limit?: number } {
  const { cursor, limit } = (query ?? {}) as { cursor?: unknown; limit?: unknown };
  const n = limit === undefined ? undefined : Number(limit);
  if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > 200)) throw apiError('VALIDATION_FAILED', { details: [{ field: 'limit', message: 'limit must be a whole number from 1 to 200' }] });
  if (cursor !== undefined && (typeof cursor !== 'string' || cursor.length > 64)) throw apiError('VALIDATION_FAILED', { details: [{ field: 'cursor', message: 'cursor is not one this API returned' }] });
  return { cursor: cursor as string | undefined, limit: n };
}

/** The project's webhook delivery attempts, endpoints and callback URLs alike (an API user's view). */
export async function webhookDeliveryRoutes(app: FastifyInstance, c: DependencyContainer): Promise<void> {
  const attempts = c.resolve(WebhookAttempts);
  app.get('/v1/webhook-deliveries', {
    schema: {
      tags: ['webhooks'], summary: 'Every webhook delivery attempt of the project, newest first, cursor-paginated', security: [{ apiKey: [] }],
      querystring: { ...pageQuerySchema, properties: { ...pageQuerySchema.properties, eventId: { type: 'string' } } }, response: responses({ 200: attemptList }, [400, 401]),
    },
  }, async (request) => {
    const { eventId } = request.query as { eventId?: unknown };
    if (eventId !== undefined && !isId('evt', eventId)) throw apiError('VALIDATION_FAILED', { details: [{ field: 'eventId', message: 'eventId must be an evt_ id' }] });
    return ok(await attempts.list(projectOf(request), { ...pageQuery(request.query), eventId: eventId as string | undefined }));
  });
}
