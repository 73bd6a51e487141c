import type { Knex } from 'knex';
import { apiError } from './errors.js';

/**
 * Newest-first pages over a table's `seq` identity. The cursor is the position of the last row of
 * the previous page, so pages stay stable while new rows arrive (they sort before it). `tag`
 * keeps one list's cursors from being accepted by another.
 */
export async function seqPage<R extends { seq: number | string }>(
  query: Knex.QueryBuilder,
  page: { cursor?: string; limit?: number },
  tag: string,
): Promise<{ rows: R[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(page.limit ?? 50, 1), 200);
  void query.orderBy('seq', 'desc').limit(limit + 1);
  if (page.cursor !== undefined) {
    const text = Buffer.from(page.cursor, 'base64url').toString('utf8');
    if (!new RegExp(`^${tag}\\d{1,19}$`).test(text)) {
      throw apiError('VALIDATION_FAILED', { details: [{ field: 'cursor', message: 'cursor is not one this API returned' }] });
    }
    void query.where('seq', '<', text.slice(tag.length));
  }
  const rows: R[] = await query;
  const kept = rows.slice(0, limit);
  const last = rows.length > limit ? kept[kept.length - 1] : undefined;
  return { rows: kept, nextCursor: last ? Buffer.from(`${tag}${last.seq}`).toString('base64url') : null };
}
