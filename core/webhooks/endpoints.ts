import type { Knex } from 'knex';
import { CacheBus, TtlCache } from '../cache.js';
import { inject, injectable } from '../di.js';
import { apiError, type ErrorDetail } from '../errors.js';
import { isId, newId } from '../ids.js';
import { Sealer } from '../seal.js';
import type { RuntimeConfig } from '../secrets.js';
import { ProjectService } from '../services/projects.js';
import { TOKENS } from '../tokens.js';
import { ALL_EVENTS, type WebhookEventType } from '../webhook-events.js';
import { newSigningSecret } from './signature.js';
import { resolveTarget, urlProblem, UrlRefusedError } from './url-guard.js';

/** An endpoint as the admin API shows it (never the secret). */
export interface WebhookEndpointView {
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
  disabledReason: string | null;
  createdAt: string;
}

/** What the emitter needs to address an event: per project, read on every event, cached. */
export interface Subscriber {
  id: string;
  url: string;
  wants(type: WebhookEventType): boolean;
}

/** What the webhook worker needs for one attempt. */
export interface DeliveryTarget {
  url: string;
  secret: string;
  enabled: boolean;
}

interface EndpointRow {
  id: string;
  project_id: string;
  url: string;
  events: string[] | string;
  secret_sealed: string;
  enabled: boolean;
  disabled_reason: string | null;
  created_at: Date;
}

const notFound = () => apiError('NOT_FOUND', { message: 'No webhook with this id in this project.' });

/**
 * Project webhook endpoints (`/admin/projects/:id/webhooks`) and the project's callback secret.
 * Signing secrets are shown once and kept sealed (AES-GCM under the server secret): they must be
 * recovered to sign. The per-project subscriber list is cached and evicted across processes on
 * every change, so projects without webhooks cost one map lookup per event.
 */
@injectable()
export class WebhookEndpoints {
  private readonly cache = new TtlCache<Subscriber[]>(60_000);
  private readonly sealer: Sealer;

  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    @inject(TOKENS.Config) private readonly config: RuntimeConfig,
    private readonly projects: ProjectService,
    private readonly bus: CacheBus,
  ) {
    this.sealer = new Sealer(config.secret);
    bus.on('webhooks', (projectId) => this.cache.delete(projectId));
    bus.on('project', (projectId) => this.cache.delete(projectId));
  }

  /** Registers an endpoint after checking its URL (and where its host resolves to now). The secret is in the answer only. */
  async create(
    projectId: string,
    url: string,
    events: string[] | undefined,
  ): Promise<WebhookEndpointView & { secret: string }> {
    await this.projects.get(projectId);
    await this.checkUrl(url, 'url', false);
    const subscribed =
      !events || events.length === 0 || events.includes(ALL_EVENTS) ? [ALL_EVENTS] : [...new Set(events)];
    const secret = newSigningSecret();
    const now = new Date();
    const row: EndpointRow = {
      id: newId('whk'),
      project_id: projectId,
      url,
      events: subscribed,
      secret_sealed: this.sealer.seal(secret),
      enabled: true,
      disabled_reason: null,
      created_at: now,
    };
    await this.db('webhook_endpoints').insert({ ...row, events: JSON.stringify(subscribed), updated_at: now });
    await this.bus.invalidate('webhooks', projectId);
    return { ...toView(row), secret };
  }

  async list(projectId: string): Promise<WebhookEndpointView[]> {
    await this.projects.get(projectId);
    const rows: EndpointRow[] = await this.db('webhook_endpoints')
      .where({ project_id: projectId })
      .orderBy('created_at', 'asc');
    return rows.map(toView);
  }

  /** The endpoint, if it is this project's (another project's answers NOT_FOUND). */
  async get(projectId: string, endpointId: string): Promise<WebhookEndpointView> {
    if (!isId('whk', endpointId)) throw notFound();
    const row: EndpointRow | undefined = await this.db('webhook_endpoints')
      .where({ id: endpointId, project_id: projectId })
      .first();
    if (!row) throw notFound();
    return toView(row);
  }

  /** Deletes the endpoint and its attempt log; its pending deliveries are dropped when they come up. */
  async remove(projectId: string, endpointId: string): Promise<void> {
    if (!isId('whk', endpointId)) throw notFound();
    const count = await this.db('webhook_endpoints').where({ id: endpointId, project_id: projectId }).delete();
    if (count === 0) throw notFound();
    await this.bus.invalidate('webhooks', projectId);
  }

  /** The project's enabled endpoints (cached; an empty list is cached too). */
  async subscribers(projectId: string): Promise<Subscriber[]> {
    const list = await this.cache.getOrLoad(projectId, async () => {
      const rows: EndpointRow[] = await this.db('webhook_endpoints')
        .where({ project_id: projectId, enabled: true })
        .select('id', 'url', 'events');
      return rows.map((r) => {
        const events = new Set(parseEvents(r.events));
        return { id: r.id, url: r.url, wants: (type: WebhookEventType) => events.has(ALL_EVENTS) || events.has(type) };
      });
    });
    return list ?? [];
  }

  /** URL and secret of an endpoint for one attempt; undefined once it is deleted. */
  async target(endpointId: string): Promise<DeliveryTarget | undefined> {
    const row: EndpointRow | undefined = await this.db('webhook_endpoints').where({ id: endpointId }).first();
    return row ? { url: row.url, secret: this.sealer.open(row.secret_sealed), enabled: row.enabled } : undefined;
  }

  /** Stops deliveries to an endpoint (its receiver answered 410 Gone). */
  async disable(endpointId: string, reason: string): Promise<void> {
    const [row] = await this.db('webhook_endpoints')
      .where({ id: endpointId })
      .update({ enabled: false, disabled_reason: reason, updated_at: new Date() }, ['project_id']);
    if (row) await this.bus.invalidate('webhooks', row.project_id as string);
  }

  /** A new secret for the project's per-request callback URLs (replacing the old one), shown once. */
  async rotateCallbackSecret(projectId: string): Promise<{ secret: string; createdAt: string }> {
    await this.projects.get(projectId);
    const secret = newSigningSecret();
    const now = new Date();
    await this.db('webhook_callback_secrets')
      .insert({ project_id: projectId, secret_sealed: this.sealer.seal(secret), created_at: now })
      .onConflict('project_id')
      .merge();
    return { secret, createdAt: now.toISOString() };
  }

  /**
   * The project's callback secret. Made on first use if the operator has not made one, so a
   * callback is always delivered and signed; the operator learns it by rotating it (shown once).
   * Undefined only when the project is gone.
   */
  async callbackSecret(projectId: string): Promise<string | undefined> {
    const read = async () =>
      (await this.db('webhook_callback_secrets').where({ project_id: projectId }).first()) as
        { secret_sealed: string } | undefined;
    let row = await read();
    if (!row) {
      if (!(await this.db('projects').where({ id: projectId }).first('id'))) return undefined;
      // Concurrent first uses agree on one secret: the first insert wins, the others read it.
      await this.db('webhook_callback_secrets')
        .insert({ project_id: projectId, secret_sealed: this.sealer.seal(newSigningSecret()), created_at: new Date() })
        .onConflict('project_id')
        .ignore();
      row = await read();
    }
    return row ? this.sealer.open(row.secret_sealed) : undefined;
  }

  /**
   * Refuses a URL with VALIDATION_FAILED on `field`: its shape, and (with `resolve`) every address
   * its host resolves to now. Per-request callback URLs skip DNS on the request path; they are
   * checked against DNS at every send.
   */
  async checkUrl(url: string, field: string, callback: boolean): Promise<void> {
    const detail = await this.urlProblem(url, field, callback);
    if (detail) throw apiError('VALIDATION_FAILED', { details: [detail] });
  }

  /** checkUrl's finding as a validation detail (null when the URL is fine), to join a request's other details. */
  async urlProblem(url: string, field: string, callback: boolean): Promise<ErrorDetail | null> {
    const problem = urlProblem(url, {
      allowPrivate: this.config.webhookAllowPrivate,
      httpsOnly: callback && !this.config.webhookAllowPrivate,
    });
    if (problem) return { field, message: `${field} ${problem}` };
    if (callback) return null;
    try {
      await resolveTarget(new URL(url), this.config.webhookAllowPrivate);
      return null;
    } catch (error) {
      if (!(error instanceof UrlRefusedError)) throw error;
      return { field, message: `${field} is refused: ${error.message}` };
    }
  }

  /** The shape check of a per-request callback URL, as a validation detail (null when fine). */
  callbackProblem(url: string | undefined, field = 'callbackUrl'): { field: string; message: string } | null {
    if (url === undefined) return null;
    const problem = urlProblem(url, {
      allowPrivate: this.config.webhookAllowPrivate,
      httpsOnly: !this.config.webhookAllowPrivate,
    });
    return problem ? { field, message: `${field} ${problem}` } : null;
  }
}

function parseEvents(raw: string[] | string): string[] {
  return typeof raw === 'string' ? (JSON.parse(raw) as string[]) : raw;
}

function toView(row: EndpointRow): WebhookEndpointView {
  return {
    id: row.id,
    url: row.url,
    events: parseEvents(row.events),
    enabled: row.enabled,
    disabledReason: row.disabled_reason,
    createdAt: new Date(row.created_at).toISOString(),
  };
}
