import type { FastifyInstance } from 'fastify';
import type { DependencyContainer } from '../../di.js';
import { StatsService } from '../../services/stats.js';
import { projectOf } from '../auth.js';
import { StatsQuery } from '../dtos/sms.js';
import { ok } from '../envelope.js';
import { bodySchema } from '../openapi.js';
import { validateBody } from '../validation.js';

const DEFAULT_SPAN = { hour: 24 * 3_600_000, day: 30 * 24 * 3_600_000 } as const;

/** Aggregate OTP and SMS counts, totals and a series (spec/api.md "Readiness and stats"). */
export async function statsRoutes(app: FastifyInstance, c: DependencyContainer): Promise<void> {
  const stats = c.resolve(StatsService);
  app.get('/v1/stats', {
    schema: { tags: ['status'], summary: 'Totals and an hourly or daily series of OTP and SMS counts (UTC buckets)', security: [{ apiKey: [] }], querystring: bodySchema(StatsQuery) },
  }, async (request) => {
    const q = await validateBody(StatsQuery, request.query);
    const interval = q.interval ?? 'hour';
    const to = q.to ? new Date(q.to) : new Date();
    const from = q.from ? new Date(q.from) : new Date(to.getTime() - DEFAULT_SPAN[interval]);
    return ok(await stats.report(projectOf(request), from, to, interval));
  });
}
