import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { PAGE_TAGS, pageProblems } from '../../pagination.js';
import type { ChallengeService } from '../../sending/challenges.js';
import type { InboxService } from '../../services/inbox.js';
import type { MessageService } from '../../services/messages.js';
import type { ProjectService } from '../../services/projects.js';
import type { RentalService } from '../../services/rentals.js';
import type { StatsService } from '../../services/stats.js';
import { statsRange, statsRangeProblems } from '../../stats-range.js';
import { PageQuery } from '../dtos/pages.js';
import { ListMessagesQuery, messageQueryOf, StatsQuery } from '../dtos/sms.js';
import { ok } from '../envelope.js';
import { bodySchema, responses } from '../openapi.js';
import { inboxSchema, messageSchema, statsSchema, verificationSchema } from '../response-schemas.js';
import { validateQuery } from '../validation.js';

/**
 * What the operator reads about one project (issue 14, the console): its message log, one
 * message, one verification (never the code), its stats, its inbox and its active rentals. The
 * same services and query DTOs as the project's own /v1 routes, behind the admin token instead of
 * a project API key: the console holds only the admin token, and an operator may look at any
 * project. An unknown project is 404 NOT_FOUND; another project's message or verification id
 * is 404 as on /v1.
 */

const security = [{ adminToken: [] }];
const tags = ['admin', 'activity'];
const idParam = { type: 'object', properties: { id: { type: 'string', description: 'prj_...' } }, required: ['id'] };
const messageParams = {
  type: 'object',
  properties: { id: { type: 'string' }, messageId: { type: 'string', description: 'msg_...' } },
  required: ['id', 'messageId'],
};
const verificationParams = {
  type: 'object',
  properties: { id: { type: 'string' }, verificationId: { type: 'string', description: 'ver_...' } },
  required: ['id', 'verificationId'],
};

const str = { type: 'string' } as const;
const nullableStr = { type: 'string', nullable: true } as const;

const rentalSchema = {
  type: 'object',
  properties: {
    rentalId: str,
    number: { type: 'string', description: 'E.164' },
    country: str,
    service: nullableStr,
    status: { type: 'string', enum: ['active', 'canceled', 'expired'] },
    createdAt: str,
    expiresAt: str,
    endedAt: nullableStr,
  },
};

const INTERVALS: readonly unknown[] = ['hour', 'day'];
/** How many active rentals the listing shows at most (a pool is a project's SIMs: a handful). */
const RENTALS_SHOWN = 200;

/** What adminProjectActivityRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface AdminProjectActivityRouteDeps {
  projects: ProjectService;
  messages: MessageService;
  challenges: ChallengeService;
  stats: StatsService;
  inbox: InboxService;
  rentals: RentalService;
  db: Knex;
}

/** Admin reads of a project's activity, for the operator console. */
export async function adminProjectActivityRoutes(
  app: FastifyInstance,
  deps: AdminProjectActivityRouteDeps,
): Promise<void> {
  const { projects, messages, challenges, stats, inbox, rentals, db } = deps;
  const project = async (params: unknown) => (await projects.get((params as { id: string }).id)).id;

  app.get(
    '/admin/projects/:id/messages',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: "A project's message log, newest first, cursor-paginated (as GET /v1/messages)",
        querystring: bodySchema(ListMessagesQuery),
        response: responses(
          {
            200: {
              type: 'object',
              properties: { messages: { type: 'array', items: messageSchema }, nextCursor: nullableStr },
            },
          },
          [400, 401, 403, 404],
        ),
      },
    },
    async (request) => {
      const q = await validateQuery(ListMessagesQuery, request.query, (d) => pageProblems(d, PAGE_TAGS.messages));
      return ok(await messages.list(await project(request.params), messageQueryOf(q)));
    },
  );

  app.get(
    '/admin/projects/:id/messages/:messageId',
    {
      schema: {
        tags,
        security,
        params: messageParams,
        summary: "One message of a project and its delivery progress (an OTP's text never)",
        response: responses({ 200: messageSchema }, [401, 403, 404]),
      },
    },
    async (request) => {
      const id = await project(request.params);
      return ok(await messages.get(id, (request.params as { messageId: string }).messageId));
    },
  );

  app.get(
    '/admin/projects/:id/verifications/:verificationId',
    {
      schema: {
        tags,
        security,
        params: verificationParams,
        summary: 'One OTP challenge of a project (never the code)',
        response: responses({ 200: verificationSchema }, [401, 403, 404]),
      },
    },
    async (request) => {
      const id = await project(request.params);
      return ok(await challenges.get(id, (request.params as { verificationId: string }).verificationId));
    },
  );

  app.get(
    '/admin/projects/:id/stats',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: "A project's totals and hourly or daily series (as GET /v1/stats)",
        querystring: bodySchema(StatsQuery),
        response: responses({ 200: statsSchema }, [400, 401, 403, 404]),
      },
    },
    async (request) => {
      // As /v1/stats: the range's order and size are reported with the fields' problems.
      const q = await validateQuery(StatsQuery, request.query, (d) => {
        const known = d.interval === undefined || INTERVALS.includes(d.interval);
        const { from, to, interval } = statsRange({ ...d, interval: known ? d.interval : undefined });
        return statsRangeProblems(from, to, known ? interval : undefined);
      });
      const id = await project(request.params);
      const { from, to, interval } = statsRange(q);
      return ok(await stats.report(id, from, to, interval));
    },
  );

  app.get(
    '/admin/projects/:id/inbox',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: "SMS a project's phones received, newest first, cursor-paginated (as GET /v1/inbox)",
        querystring: bodySchema(PageQuery),
        response: responses({ 200: inboxSchema }, [400, 401, 403, 404]),
      },
    },
    async (request) => {
      const q = await validateQuery(PageQuery, request.query, (page) => pageProblems(page, PAGE_TAGS.inbox));
      const id = await project(request.params);
      return ok(await inbox.list(id, { cursor: q.cursor, limit: q.limit === undefined ? undefined : Number(q.limit) }));
    },
  );

  app.get(
    '/admin/projects/:id/rentals',
    {
      schema: {
        tags,
        security,
        params: idParam,
        summary: `A project's active number rentals, newest first (at most ${RENTALS_SHOWN})`,
        response: responses(
          { 200: { type: 'object', properties: { rentals: { type: 'array', items: rentalSchema } } } },
          [401, 403, 404],
        ),
      },
    },
    async (request) => {
      const id = await project(request.params);
      const now = new Date();
      // Only ids here: each view comes from RentalService, which owns the rental's shape and status.
      const rows: Array<{ id: string }> = await db('rentals')
        .select('id')
        .where({ project_id: id, status: 'active' })
        .where('expires_at', '>', now)
        .orderBy('created_at', 'desc')
        .limit(RENTALS_SHOWN);
      return ok({ rentals: await Promise.all(rows.map((row) => rentals.get(id, row.id, now))) });
    },
  );
}
