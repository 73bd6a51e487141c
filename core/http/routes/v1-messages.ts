import type { FastifyInstance } from 'fastify';
import type { DependencyContainer } from '../../di.js';
import { PAGE_TAGS, pageProblems } from '../../pagination.js';
import { MessageService } from '../../services/messages.js';
import { projectOf } from '../auth.js';
import { ok } from '../envelope.js';
import { ListMessagesQuery } from '../dtos/sms.js';
import { bodySchema, responses } from '../openapi.js';
import { validateQuery } from '../validation.js';

const message = {
  type: 'object',
  properties: {
    messageId: { type: 'string' }, kind: { type: 'string', enum: ['otp', 'sms'] },
    status: { type: 'string', enum: ['QUEUED', 'DISPATCHED', 'SENT', 'DELIVERED', 'FAILED', 'EXPIRED'] },
    to: { type: 'string' }, message: { type: 'string', description: 'custom SMS only' }, parts: { type: 'integer' }, deviceId: { type: 'string', nullable: true }, simSlot: { type: 'integer', nullable: true },
    verificationId: { type: 'string', nullable: true }, batchId: { type: 'string', nullable: true }, error: { type: 'string', nullable: true },
    metadata: { type: 'object', nullable: true, description: 'Your metadata, as sent.' },
    createdAt: { type: 'string' }, expiresAt: { type: 'string' }, dispatchedAt: { type: 'string', nullable: true },
    sentAt: { type: 'string', nullable: true }, deliveredAt: { type: 'string', nullable: true }, failedAt: { type: 'string', nullable: true },
  },
};

/** The message log (spec/api.md "Custom SMS"). */
export async function messageRoutes(app: FastifyInstance, c: DependencyContainer): Promise<void> {
  const messages = c.resolve(MessageService);
  app.get('/v1/messages', {
    schema: {
      tags: ['messages'], summary: 'The project\'s message log, newest first, cursor-paginated', security: [{ apiKey: [] }],
      querystring: bodySchema(ListMessagesQuery),
      response: responses({ 200: { type: 'object', properties: { messages: { type: 'array', items: message }, nextCursor: { type: 'string', nullable: true } } } }, [400, 401]),
    },
  }, async (request) => {
    const q = await validateQuery(ListMessagesQuery, request.query, (d) => pageProblems(d, PAGE_TAGS.messages));
    const limit = q.limit === undefined ? undefined : Number(q.limit);
    return ok(await messages.list(projectOf(request), { limit, cursor: q.cursor, status: q.status, kind: q.kind, from: q.from ? new Date(q.from) : undefined, to: q.to ? new Date(q.to) : undefined }));
  });

  app.get('/v1/messages/:id', {
    schema: {
      tags: ['messages'], summary: 'Read a message and its delivery progress', security: [{ apiKey: [] }],
      params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] }, response: responses({ 200: message }, [401, 404]),
    },
  }, async (request) => ok(await messages.get(projectOf(request), (request.params as { id: string }).id)));
}
