import type { Knex } from 'knex';
import { inject, injectable } from '../di.js';
import { PAGE_TAGS, seqPage } from '../pagination.js';
import { TOKENS } from '../tokens.js';
import { DELIVERY_ERRORS } from './sender.js';

/** One delivery attempt, as the admin and /v1 listings show it. */
export interface WebhookAttemptView {
  eventId: string;
  type: string;
  /** null: a per-request callback URL. */
  webhookId: string | null;
  url: string;
  attempt: number;
  succeeded: boolean;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  /** When the next attempt is due; null when this was the last one. */
  nextAttemptAt: string | null;
  at: string;
}

interface AttemptRow {
  project_id: string;
  endpoint_id: string | null;
  event_id: string;
  event_type: string;
  url: string;
  attempt: number;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  succeeded: boolean;
  next_attempt_at: Date | null;
  at: Date;
  seq?: number | string;
}

export interface NewAttempt {
  projectId: string;
  endpointId: string | null;
  eventId: string;
  type: string;
  url: string;
  attempt: number;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  succeeded: boolean;
  nextAttemptAt: Date | null;
  at: Date;
}

/** The log of every webhook delivery attempt (docs/api.md "Webhooks": every attempt is logged). */
@injectable()
export class WebhookAttempts {
  constructor(@inject(TOKENS.Knex) private readonly db: Knex) {}

  async record(a: NewAttempt): Promise<void> {
    const row: AttemptRow = {
      project_id: a.projectId,
      endpoint_id: a.endpointId,
      event_id: a.eventId,
      event_type: a.type,
      url: a.url,
      attempt: a.attempt,
      status_code: a.statusCode,
      duration_ms: a.durationMs,
      error: tenantError(a.error)?.slice(0, 500) ?? null,
      succeeded: a.succeeded,
      next_attempt_at: a.nextAttemptAt,
      at: a.at,
    };
    await this.db('webhook_attempts').insert(row);
  }

  /** The project's attempts (optionally one endpoint's or one event's), newest first. */
  async list(
    projectId: string,
    query: { endpointId?: string; eventId?: string; cursor?: string; limit?: number },
  ): Promise<{ deliveries: WebhookAttemptView[]; nextCursor: string | null }> {
    const q = this.db('webhook_attempts').where({ project_id: projectId });
    if (query.endpointId) void q.where({ endpoint_id: query.endpointId });
    if (query.eventId) void q.where({ event_id: query.eventId });
    const { rows, nextCursor } = await seqPage<AttemptRow & { seq: number | string }>(
      q,
      query,
      PAGE_TAGS.webhookAttempts,
    );
    return { deliveries: rows.map(toView), nextCursor };
  }
}

/**
 * The attempt's error as tenants may see it. Rows written before delivery errors were made coarse
 * say `connection failed (ECONNREFUSED)` or name the address a host resolved to; they are shown
 * in the coarse form too (see DELIVERY_ERRORS in sender.ts).
 */
export function tenantError(error: string | null): string | null {
  if (error === null) return null;
  if (/^connection failed\b/.test(error)) return DELIVERY_ERRORS.connection;
  if (/^refused: the host /.test(error)) return DELIVERY_ERRORS.refused;
  return error;
}

function toView(r: AttemptRow): WebhookAttemptView {
  return {
    eventId: r.event_id,
    type: r.event_type,
    webhookId: r.endpoint_id,
    url: r.url,
    attempt: r.attempt,
    succeeded: r.succeeded,
    statusCode: r.status_code,
    durationMs: r.duration_ms,
    error: tenantError(r.error),
    nextAttemptAt: r.next_attempt_at ? new Date(r.next_attempt_at).toISOString() : null,
    at: new Date(r.at).toISOString(),
  };
}
