import type { FastifyInstance } from 'fastify';
import { PAGE_TAGS, pageProblems } from '../../pagination.js';
import type { InboxService } from '../../services/inbox.js';
import { projectOf } from '../auth.js';
import { PageQuery } from '../dtos/pages.js';
import { ok } from '../envelope.js';
import { bodySchema, responses } from '../openapi.js';
import { inboxSchema } from '../response-schemas.js';
import { validateQuery } from '../validation.js';

/** What inboxRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface InboxRouteDeps {
  inbox: InboxService;
}

/** The SMS the project's phones received (docs/api.md "Inbound SMS and number rental"). */
export async function inboxRoutes(app: FastifyInstance, deps: InboxRouteDeps): Promise<void> {
  const { inbox } = deps;
  app.get(
    '/v1/inbox',
    {
      schema: {
        tags: ['inbound'],
        summary: 'Received SMS, newest first, cursor-paginated',
        security: [{ apiKey: [] }],
        querystring: bodySchema(PageQuery),
        response: responses({ 200: inboxSchema }, [400, 401]),
      },
    },
    async (request) => {
      const q = await validateQuery(PageQuery, request.query, (page) => pageProblems(page, PAGE_TAGS.inbox));
      return ok(
        await inbox.list(projectOf(request), {
          cursor: q.cursor,
          limit: q.limit === undefined ? undefined : Number(q.limit),
        }),
      );
    },
  );
}
