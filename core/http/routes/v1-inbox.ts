import type { FastifyInstance } from 'fastify';
import type { DependencyContainer } from '../../di.js';
import { apiError } from '../../errors.js';
import { InboxService } from '../../services/inbox.js';
import { projectOf } from '../auth.js';
import { ok } from '../envelope.js';

/** The SMS the project's phones received (spec/api.md "Inbound SMS and number rental"). */
export async function inboxRoutes(app: FastifyInstance, c: DependencyContainer): Promise<void> {
  const inbox = c.resolve(InboxService);
  app.get('/v1/inbox', {
    schema: {
      tags: ['inbound'], summary: 'Received SMS, newest first, cursor-paginated', security: [{ apiKey: [] }],
      querystring: { type: 'object', properties: { cursor: { type: 'string' }, limit: { type: 'integer', minimum: 1, maximum: 200 } } },
    },
  }, async (request) => {
    const { cursor, limit } = request.query as { cursor?: string; limit?: string };
    const n = limit === undefined ? undefined : Number(limit);
    if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > 200)) throw apiError('VALIDATION_FAILED', { details: [{ field: 'limit', message: 'limit must be a whole number from 1 to 200' }] });
    if (cursor !== undefined && (typeof cursor !== 'string' || cursor.length > 64)) throw apiError('VALIDATION_FAILED', { details: [{ field: 'cursor', message: 'cursor is not one this API returned' }] });
    return ok(await inbox.list(projectOf(request), { cursor, limit: n }));
  });
}
