import type { FastifyInstance } from 'fastify';
import type { StatsService } from '../../services/stats.js';
import { statsRange, statsRangeProblems } from '../../stats-range.js';
import { projectOf } from '../auth.js';
import { StatsQuery } from '../dtos/sms.js';
import { ok } from '../envelope.js';
import { bodySchema, responses } from '../openapi.js';
import { statsSchema } from '../response-schemas.js';
import { validateQuery } from '../validation.js';

const INTERVALS: readonly unknown[] = ['hour', 'day'];

/** What statsRoutes needs, built by the composition root (core/http/dependencies.ts). */
export interface StatsRouteDeps {
  stats: StatsService;
}

/** Aggregate OTP and SMS counts, totals and a series (docs/api.md "Readiness and stats"). */
export async function statsRoutes(app: FastifyInstance, deps: StatsRouteDeps): Promise<void> {
  const { stats } = deps;
  app.get(
    '/v1/stats',
    {
      schema: {
        tags: ['status'],
        summary: 'Totals and an hourly or daily series of OTP and SMS counts (UTC buckets)',
        security: [{ apiKey: [] }],
        querystring: bodySchema(StatsQuery),
        response: responses({ 200: statsSchema }, [400, 401]),
      },
    },
    async (request) => {
      // The range's order and size are checked with the fields, so every problem is listed at once.
      const q = await validateQuery(StatsQuery, request.query, (d) => {
        const known = d.interval === undefined || INTERVALS.includes(d.interval);
        const { from, to, interval } = statsRange({ ...d, interval: known ? d.interval : undefined });
        return statsRangeProblems(from, to, known ? interval : undefined);
      });
      const { from, to, interval } = statsRange(q);
      return ok(await stats.report(projectOf(request), from, to, interval));
    },
  );
}
