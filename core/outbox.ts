/**
 * The transactional outbox of message status changes. The statement that changes messages also
 * writes their {@link MessageChanged} events here (one row per statement, only the changes someone
 * follows: a callback URL, or a project with webhook endpoints), so the events commit or roll back
 * with the change. The relay hands rows to its listeners (webhooks, the SMSGate surface) and
 * deletes them: at least once, and a row relayed twice (a crash between the queueing and the
 * delete) gives the same event ids, which the webhooks queue de-duplicates by job id, so each
 * receiver gets one delivery per webhook-id.
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { inject, injectable } from './di.js';
import type { Logger } from './logger.js';
import { TOKENS } from './tokens.js';
import { withinDeadline } from './unavailable.js';
import type { MessageChanged } from './message-changed.js';
import type { WebhookEvent } from './webhook-events.js';

/** The outbox row kind of message status changes. */
const MESSAGE_CHANGES = 'message.changes';
/** The outbox row kind of other webhook events (verifications, inbound SMS), ids fixed when written. */
const WEBHOOK_EVENTS = 'webhook.events';

/** A webhook event as the outbox keeps it: its id is fixed when written, so every relay repeats it. */
export type OutboxWebhookEvent = WebhookEvent & { id: string };

/**
 * The projects whose events someone outside the process follows, as SQL subqueries of
 * `project_id`s: a change is written to the outbox only if it has a callback URL or its project is
 * in one of these. A durable listener that follows other projects adds its subquery with
 * {@link followProjects} (the container does, for the SMSGate webhooks).
 */
const FOLLOWED_PROJECTS_SQL: string[] = ['select e.project_id from webhook_endpoints e where e.enabled'];

/** Adds a subquery of followed projects (once, however many containers are built). */
export function followProjects(sql: string): void {
  if (!FOLLOWED_PROJECTS_SQL.includes(sql)) FOLLOWED_PROJECTS_SQL.push(sql);
}

const followed = () => FOLLOWED_PROJECTS_SQL.join(' union ');

/**
 * A data-modifying CTE body that writes the message changes of `source` (a CTE or subquery with
 * the columns of {@link MessageChanged}: `id`, `project_id`, `kind`, `device_id`, `callback_url`,
 * `status`, `error`, `at`, `origin`) into the outbox as one row. Only changes someone follows go
 * in (see {@link FOLLOWED_PROJECTS_SQL}); with none, nothing is written.
 */
export function outboxInsertSql(source: string): string {
  return `insert into outbox (kind, payload)
    select '${MESSAGE_CHANGES}', jsonb_agg(jsonb_build_object('id', c.id, 'projectId', c.project_id, 'kind', c.kind, 'deviceId', c.device_id, 'callbackUrl', c.callback_url, 'status', c.status, 'error', c.error, 'at', c.at, 'origin', c.origin) order by c.at, c.id)
    from ${source} c
    -- IN (not a correlated EXISTS): the followed projects are read once per statement, not per row
    where c.callback_url is not null or c.project_id in (${followed()})
    having count(*) > 0
    returning id`;
}

/**
 * A column for the final SELECT of a statement whose CTE `outboxed` is {@link outboxInsertSql}:
 * true on every row when it wrote the outbox row, so the caller pokes the relay only then (a
 * change nobody follows needs no relay run).
 */
export const OUTBOXED_COLUMN = 'exists (select from outboxed) as outboxed';

/**
 * Writes `changes` into the outbox (inside the caller's transaction); one JSON binding whatever
 * their number. True when an outbox row was written (someone follows one of the changes).
 */
export async function writeOutbox(trx: Knex | Knex.Transaction, changes: MessageChanged[]): Promise<boolean> {
  if (changes.length === 0) return false;
  const rows = changes.map((c) => ({
    id: c.id,
    project_id: c.projectId,
    kind: c.kind,
    device_id: c.deviceId,
    callback_url: c.callbackUrl,
    status: c.status,
    error: c.error,
    at: c.at.toISOString(),
    origin: c.origin,
  }));
  const result = (await trx.raw(
    outboxInsertSql(
      `(select * from jsonb_to_recordset(?::jsonb) as r(id text, project_id text, kind text, device_id text, callback_url text, status text, error text, at timestamptz, origin text))`,
    ),
    [JSON.stringify(rows)],
  )) as { rows: unknown[] };
  return result.rows.length > 0;
}

/**
 * Writes webhook events of one project into the outbox, inside the transaction of the change
 * they tell of; only if someone listens (an event's callback URL, or a followed project),
 * decided by the same statement.
 */
export async function writeWebhookEvents(
  trx: Knex | Knex.Transaction,
  projectId: string,
  events: OutboxWebhookEvent[],
): Promise<void> {
  if (events.length === 0) return;
  const anyCallback = events.some((e) => e.callbackUrl);
  await trx.raw(
    `insert into outbox (kind, payload)
     select '${WEBHOOK_EVENTS}', ?::jsonb
     where ?::boolean or ? in (${followed()})`,
    [JSON.stringify({ projectId, events }), anyCallback, projectId],
  );
}

/** A durable listener of webhook events: like {@link MessageChangeListener}, the events carry their ids. */
export type WebhookEventsListener = (projectId: string, events: OutboxWebhookEvent[]) => Promise<void>;

/**
 * A durable listener of message changes: called after the commit, at least once per change
 * (again after a crash before the relay finished), with an event id that is the same on every
 * relay of that change. Rejecting makes the relay retry the row later.
 */
export type MessageChangeListener = (
  changes: MessageChanged[],
  eventIdOf: (change: MessageChanged) => string,
) => Promise<void>;

/** How long queueing a row's events may take before the relay gives up on this round. */
const QUEUE_DEADLINE_MS = 5000;
/** Rows relayed per transaction. */
const BATCH = 200;
/** How often the relay looks for rows written by a process that died before relaying them. @defaultValue 1000 */
export const OUTBOX_SWEEP_MS = 1000;

type OutboxRow =
  | {
      id: string | number;
      kind: typeof MESSAGE_CHANGES;
      payload: Array<Omit<MessageChanged, 'at'> & { at: string }> | string;
    }
  | {
      id: string | number;
      kind: typeof WEBHOOK_EVENTS;
      payload: { projectId: string; events: OutboxWebhookEvent[] } | string;
    };

/** Hands outbox rows to the listeners (webhooks, SMSGate). Any process may run one: rows are claimed with SKIP LOCKED. */
@injectable()
export class OutboxRelay {
  private readonly log: Logger;
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly changeListeners: MessageChangeListener[] = [];
  private readonly eventListeners: WebhookEventsListener[] = [];

  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    @inject(TOKENS.Logger) logger: Logger,
  ) {
    this.log = logger.child({ component: 'outbox' });
  }

  /** Adds a durable listener of message changes (the composition root wires them: core/container.ts). */
  onMessageChanges(listener: MessageChangeListener): void {
    this.changeListeners.push(listener);
  }

  /** Adds a durable listener of the other webhook events. */
  onWebhookEvents(listener: WebhookEventsListener): void {
    this.eventListeners.push(listener);
  }

  /** Relays soon (after this process committed changes): coalesced, never concurrent with itself. */
  poke(): void {
    // After stop() another process, or the next start, relays what is left.
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.relayAll()
      .catch((error: unknown) => this.log.warn({ err: error }, 'outbox relay failed; retried on the next sweep'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  /** Sweeps periodically for rows of processes that died before relaying them. */
  start(everyMs = OUTBOX_SWEEP_MS): void {
    this.stopped = false;
    this.timer ??= setInterval(() => this.poke(), everyMs);
    this.timer.unref();
  }

  /** Stops sweeping and waits for a relay in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Relays until the outbox is empty (or another process holds what is left). */
  async relayAll(): Promise<void> {
    while ((await this.relayBatch()) === BATCH);
  }

  /** One transaction: claim rows, queue their events, delete them. Returns how many rows it relayed. */
  async relayBatch(): Promise<number> {
    return this.db.transaction(async (trx) => {
      const rows: OutboxRow[] = await trx('outbox')
        .select('id', 'kind', 'payload')
        .whereIn('kind', [MESSAGE_CHANGES, WEBHOOK_EVENTS])
        .orderBy('id')
        .limit(BATCH)
        .forUpdate()
        .skipLocked();
      if (rows.length === 0) return 0;
      for (const row of rows) {
        // Bounded: the rows stay locked meanwhile, and a Redis outage must not hold them (they are retried).
        await withinDeadline(this.relayRow(row), QUEUE_DEADLINE_MS, 'outbox relay');
      }
      await trx('outbox')
        .whereIn(
          'id',
          rows.map((r) => r.id),
        )
        .delete();
      return rows.length;
    });
  }

  private async relayRow(row: OutboxRow): Promise<void> {
    if (row.kind === WEBHOOK_EVENTS) {
      const { projectId, events } =
        typeof row.payload === 'string'
          ? (JSON.parse(row.payload) as Exclude<typeof row.payload, string>)
          : row.payload;
      await Promise.all(this.eventListeners.map((listener) => listener(projectId, events)));
      return;
    }
    const payload =
      typeof row.payload === 'string' ? (JSON.parse(row.payload) as Exclude<typeof row.payload, string>) : row.payload;
    const changes: MessageChanged[] = payload.map((c) => ({ ...c, at: new Date(c.at) }));
    const eventIdOf = (change: MessageChanged) => eventId(row.id, change);
    await Promise.all(this.changeListeners.map((listener) => listener(changes, eventIdOf)));
  }
}

/** The event id of a change in an outbox row: the same on every relay of that row, unguessable (the message id is random). */
export function eventId(rowId: string | number, change: Pick<MessageChanged, 'id' | 'status'>): string {
  return `evt_${createHash('sha256').update(`${rowId}:${change.id}:${change.status}`).digest('base64url').slice(0, 22)}`;
}
