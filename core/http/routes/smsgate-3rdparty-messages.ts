import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SmsGateError } from '../../smsgate/third-party/errors.js';
import { readListQuery, type SmsGateMessages } from '../../smsgate/third-party/messages.js';
import type { Authorise } from '../../smsgate/third-party/auth.js';

const hidden = { schema: { hide: true } };

/**
 * SMSGate messages: send, state, list, cancel, under both `/messages` (current, client-go) and
 * `/message` (what the npm client calls), as the original server serves both.
 */
export async function smsgateMessageRoutes(
  app: FastifyInstance,
  deps: { messages: SmsGateMessages; authorise: Authorise },
): Promise<void> {
  const { messages, authorise } = deps;
  const idOf = (request: FastifyRequest) => (request.params as { id: string }).id;

  for (const base of ['/messages', '/message']) {
    app.post(base, hidden, async (request, reply) => {
      const { projectId } = authorise(request, 'messages:send');
      const query = request.query as Record<string, unknown>;
      const state = await messages.send(projectId, request.body, {
        skipPhoneValidation: query.skipPhoneValidation === 'true',
      });
      return reply
        .status(202)
        .header('location', `${request.url.split('?')[0]!.replace(/\/$/, '')}/${encodeURIComponent(state.id)}`)
        .send(state);
    });

    app.get(`${base}/:id`, hidden, async (request) => {
      const { projectId } = authorise(request, 'messages:read');
      return messages.require(projectId, idOf(request));
    });

    app.get(base, hidden, async (request, reply) => {
      const { projectId } = authorise(request, 'messages:list');
      const page = await messages.list(projectId, readListQuery(request.query as Record<string, unknown>));
      return reply.header('x-total-count', String(page.total)).send(page.items);
    });

    app.delete(`${base}/:id`, hidden, async (request) => {
      const { projectId } = authorise(request, 'messages:cancel');
      return messages.cancel(projectId, idOf(request));
    });

    // Deprecated in the original (the phone re-sent received SMS as webhooks): SMX keeps every received SMS instead.
    app.post(`${base}/inbox/export`, hidden, async (request) => {
      authorise(request, 'messages:export');
      throw new SmsGateError(
        501,
        'inbox export is not supported: SMX stores every received SMS; read them with GET /inbox',
      );
    });
  }
}
