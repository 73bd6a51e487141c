import type { Knex } from 'knex';
import { apiError, type ErrorDetail } from './errors.js';

/** The tag of each list's cursors, so one list's cursors are not accepted by another. */
export const PAGE_TAGS = { messages: 's', inbox: 'i', webhookAttempts: 'w' } as const;
export type PageTag = (typeof PAGE_TAGS)[keyof typeof PAGE_TAGS];

export const PAGE_LIMIT = { min: 1, max: 200, default: 50 } as const;

/**
 * What is wrong with a list's `?limit=&cursor=` (query strings or numbers), as VALIDATION_FAILED
 * details, so a route can report them together with its other fields' problems.
 */
export function pageProblems(page: { limit?: unknown; cursor?: unknown }, tag: PageTag): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  if (page.limit !== undefined) {
    const n = typeof page.limit === 'string' && /^\d+$/.test(page.limit) ? Number(page.limit) : page.limit;
    if (!Number.isInteger(n) || (n as number) < PAGE_LIMIT.min || (n as number) > PAGE_LIMIT.max) {
      details.push({
        field: 'limit',
        message: `limit must be a whole number from ${PAGE_LIMIT.min} to ${PAGE_LIMIT.max}`,
      });
    }
  }
  if (page.cursor !== undefined && cursorPosition(page.cursor, tag) === undefined) {
    details.push({ field: 'cursor', message: 'cursor is not one this API returned' });
  }
  return details;
}

/** The row position a cursor of this list holds, or undefined for anything else. */
function cursorPosition(cursor: unknown, tag: string): string | undefined {
  if (typeof cursor !== 'string' || cursor.length > 64) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  return new RegExp(`^${tag}\\d{1,19}$`).test(text) ? text.slice(tag.length) : undefined;
}

/**
 * Newest-first pages over a table's `seq` identity. The cursor is the position of the last row of
 * the previous page, so pages stay stable while new rows arrive (they sort before it). `tag`
 * keeps one list's cursors from being accepted by another.
 */
export async function seqPage<R extends { seq: number | string }>(
  query: Knex.QueryBuilder,
  page: { cursor?: string; limit?: number },
  tag: PageTag,
): Promise<{ rows: R[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(page.limit ?? PAGE_LIMIT.default, PAGE_LIMIT.min), PAGE_LIMIT.max);
  void query.orderBy('seq', 'desc').limit(limit + 1);
  if (page.cursor !== undefined) {
    const position = cursorPosition(page.cursor, tag);
    if (position === undefined) {
      throw apiError('VALIDATION_FAILED', {
        details: [{ field: 'cursor', message: 'cursor is not one this API returned' }],
      });
    }
    void query.where('seq', '<', position);
  }
  const rows: R[] = await query;
  const kept = rows.slice(0, limit);
  const last = rows.length > limit ? kept[kept.length - 1] : undefined;
  return { rows: kept, nextCursor: last ? Buffer.from(`${tag}${last.seq}`).toString('base64url') : null };
}
