import { AsyncLocalStorage } from 'node:async_hooks';
import type { Knex } from 'knex';
import { inject, injectable } from '../di.js';
import { sha256 } from '../crypto.js';
import { apiError } from '../errors.js';
import type { RuntimeConfig } from '../secrets.js';
import { TOKENS } from '../tokens.js';
import { DependencyTimeoutError } from '../unavailable.js';

/** Records live 24 hours (docs/api.md "Idempotency"). */
export const IDEMPOTENCY_RETENTION_MS = 24 * 3600 * 1000;
/**
 * How long a first request owns its key. After that it is presumed dead and a retry may take it
 * over, so the request itself gives up before accepting once its lease has run out (see
 * answerOnAccept). Every dependency call a request makes is bounded by SMX_DEPENDENCY_TIMEOUT_MS,
 * so five of them fit in a lease, and never less than 10 s.
 */
export function idempotencyLeaseMs(dependencyTimeoutMs: number): number {
  return Math.max(10_000, 5 * dependencyTimeoutMs);
}

export type IdempotencyStart = { kind: 'new'; leaseUntil: Date } | { kind: 'replay'; status: number; body: unknown };

/** Stable hash of what makes two requests "the same": method, route and the JSON body, keys sorted. */
export function requestFingerprint(method: string, route: string, body: unknown): string {
  return sha256(`${method} ${route}\n${canonicalJson(body ?? null)}`);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The answer of a request under an Idempotency-Key, stored by the same statement that accepts it. */
export interface IdempotentAnswer {
  projectId: string;
  key: string;
  status: number;
  body: unknown;
}

/** The request running under an Idempotency-Key (see {@link runUnderKey}). */
interface KeyedRequest {
  projectId: string;
  key: string;
  /** The answer if the request is accepted: its status and how its data is enveloped. */
  acceptedStatus: number;
  /** When the key may be taken over by a retry: the request must not accept after this. */
  leaseUntil: Date;
  envelope: (data: unknown) => unknown;
  /** Set once an accept carried the answer into its statement. */
  answered: boolean;
}

const keyedRequest = new AsyncLocalStorage<KeyedRequest>();

/**
 * Runs `work` (an HTTP handler) so that an accept inside it can store the request's answer in its
 * own statement ({@link answerOnAccept}). Resolves with the work's result and whether that happened.
 */
export async function runUnderKey<T>(
  request: Omit<KeyedRequest, 'answered'>,
  work: () => Promise<T>,
): Promise<{ result: T; answered: boolean }> {
  const context: KeyedRequest = { ...request, answered: false };
  const result = await keyedRequest.run(context, work);
  return { result, answered: context.answered };
}

/**
 * The answer to store with an accept whose result is `data`, when the current request runs under an
 * Idempotency-Key; undefined otherwise. Committing the answer with the accept means a request
 * whose outcome the client never saw (a 503 after the commit) is replayed on retry, not run twice.
 */
export function answerOnAccept(data: unknown): IdempotentAnswer | undefined {
  const context = keyedRequest.getStore();
  if (!context) return undefined;
  // Past its lease a retry may already run under this key: accepting now could send twice.
  if (Date.now() >= context.leaseUntil.getTime())
    throw new DependencyTimeoutError('the request outlived its Idempotency-Key lease');
  context.answered = true;
  return {
    projectId: context.projectId,
    key: context.key,
    status: context.acceptedStatus,
    body: context.envelope(data),
  };
}

/** A CTE body that marks the keys done with their answers (only while their first request still runs). */
export function answersSql(answers: IdempotentAnswer[]): { sql: string; bindings: Knex.Value[] } {
  return {
    sql: `update idempotency_keys as k set state = 'done', response_status = v.status, response_body = v.body
      from (values ${answers.map(() => '(?, ?, ?::int, ?::json)').join(', ')}) as v(project_id, key, status, body)
      where k.project_id = v.project_id and k.key = v.key and k.state = 'running'`,
    bindings: answers.flatMap((a) => [a.projectId, a.key, a.status, JSON.stringify(a.body)]),
  };
}

/**
 * Idempotency-Key records, per project. `begin` claims the key atomically (INSERT ... ON CONFLICT),
 * `finish` stores the response to replay (or forgets it after a 5xx so a retry runs anew).
 */
@injectable()
export class IdempotencyService {
  private readonly leaseMs: number;

  constructor(
    @inject(TOKENS.Knex) private readonly db: Knex,
    @inject(TOKENS.Config) config: RuntimeConfig,
  ) {
    this.leaseMs = idempotencyLeaseMs(config.dependencyTimeoutMs);
  }

  async begin(projectId: string, key: string, fingerprint: string, now = new Date()): Promise<IdempotencyStart> {
    for (let tries = 0; tries < 3; tries++) {
      const claimed = await this.db('idempotency_keys')
        .insert({
          project_id: projectId,
          key,
          request_hash: fingerprint,
          state: 'running',
          created_at: now,
          locked_until: new Date(now.getTime() + this.leaseMs),
          expires_at: new Date(now.getTime() + IDEMPOTENCY_RETENTION_MS),
        })
        .onConflict(['project_id', 'key'])
        .ignore()
        .returning(['key']);
      const leaseUntil = new Date(now.getTime() + this.leaseMs);
      if (claimed.length > 0) return { kind: 'new', leaseUntil };

      const row = await this.db('idempotency_keys').where({ project_id: projectId, key }).first();
      if (!row) continue; // deleted between the two statements (a 5xx finished): claim again
      if (new Date(row.expires_at) <= now) {
        await this.db('idempotency_keys').where({ project_id: projectId, key, expires_at: row.expires_at }).delete();
        continue;
      }
      if (row.request_hash !== fingerprint) throw apiError('IDEMPOTENCY_KEY_MISMATCH');
      if (row.state === 'done') {
        const body = typeof row.response_body === 'string' ? JSON.parse(row.response_body) : row.response_body;
        return { kind: 'replay', status: row.response_status, body };
      }
      if (new Date(row.locked_until) > now) throw apiError('IDEMPOTENCY_IN_PROGRESS');
      // The first request died without finishing: take the key over, if nobody else just did.
      const taken = await this.db('idempotency_keys')
        .where({ project_id: projectId, key, state: 'running', locked_until: row.locked_until })
        .update({ locked_until: leaseUntil });
      if (taken > 0) return { kind: 'new', leaseUntil };
      throw apiError('IDEMPOTENCY_IN_PROGRESS');
    }
    throw apiError('IDEMPOTENCY_IN_PROGRESS');
  }

  async finish(projectId: string, key: string, status: number, body: unknown): Promise<void> {
    if (status >= 500) {
      // Only a record still running is dropped: one whose accept committed is 'done' (its answer
      // went in with the accept). If that accept is still in flight, this waits for its row lock.
      await this.db('idempotency_keys').where({ project_id: projectId, key, state: 'running' }).delete();
      return;
    }
    await this.db('idempotency_keys')
      .where({ project_id: projectId, key })
      .update({ state: 'done', response_status: status, response_body: JSON.stringify(body) });
  }

  /** Drops records past retention (maintenance queue). */
  async sweep(now = new Date()): Promise<number> {
    return this.db('idempotency_keys').where('expires_at', '<=', now).delete();
  }
}
