import type { FastifyInstance } from 'fastify';
import { PAGE_TAGS, pageProblems } from '../../pagination.js';
import type { SmsService } from '../../sending/sms.js';
import type { MessageService } from '../../services/messages.js';
import { projectOf } from '../auth.js';
import { ok } from '../envelope.js';
import { ListMessagesQuery, messageQueryOf } from '../dtos/sms.js';
import { bodySchema, responses } from '../openapi.js';
import { messageSchema } from '../response-schemas.js';
import { validateQuery } from '../validation.js';

/** What messageRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface MessageRouteDeps {
  messages: MessageService;
  sms: SmsService;
}

/** The message log (docs/api.md "Custom SMS"). */
export async function messageRoutes(app: FastifyInstance, deps: MessageRouteDeps): Promise<void> {
  const { messages, sms } = deps;
  app.get(
    '/v1/messages',
    {
      schema: {
        tags: ['messages'],
        summary: "The project's message log, newest first, cursor-paginated",
        security: [{ apiKey: [] }],
        querystring: bodySchema(ListMessagesQuery),
        response: responses(
          {
            200: {
              type: 'object',
              properties: {
                messages: { type: 'array', items: messageSchema },
                nextCursor: { type: 'string', nullable: true },
              },
            },
          },
          [400, 401],
        ),
      },
    },
    async (request) => {
      const q = await validateQuery(ListMessagesQuery, request.query, (d) => pageProblems(d, PAGE_TAGS.messages));
      return ok(await messages.list(projectOf(request), messageQueryOf(q)));
    },
  );

  app.get(
    '/v1/messages/:id',
    {
      schema: {
        tags: ['messages'],
        summary: 'Read a message and its delivery progress',
        security: [{ apiKey: [] }],
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        response: responses({ 200: messageSchema }, [401, 404]),
      },
    },
    async (request) => ok(await messages.get(projectOf(request), (request.params as { id: string }).id)),
  );

  app.post(
    '/v1/messages/:id/cancel',
    {
      schema: {
        tags: ['messages'],
        summary: 'Cancel a message the phone has not sent',
        description:
          'A QUEUED message (scheduled or not) is withdrawn; a DISPATCHED one too, and its phone gets a `cancel` on its control topic ' +
          '(an SMSGate phone a MessageCancelled event). It ends FAILED with error `CANCELED` (not counted as a delivery failure) and is answered as it is now. ' +
          "A message already SENT, DELIVERED, FAILED or EXPIRED: 409 MESSAGE_NOT_CANCELABLE. Another project's id: 404 NOT_FOUND.",
        security: [{ apiKey: [] }],
        params: { type: 'object', properties: { id: { type: 'string', description: 'msg_...' } }, required: ['id'] },
        response: responses({ 200: messageSchema }, [401, 404, 409]),
      },
    },
    async (request) => ok(await sms.cancel(projectOf(request), (request.params as { id: string }).id)),
  );
}
