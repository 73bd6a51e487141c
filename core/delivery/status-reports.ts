import { MicroBatcher } from '../batching/micro-batcher.js';
import { inject, injectable } from '../di.js';
import { isId } from '../ids.js';
import type { Logger } from '../logger.js';
import { MessageTransitions, type DeviceReport } from './transitions.js';
import type { StatusUpdate } from '../services/messages.js';
import { TOKENS } from '../tokens.js';
import type { MessageChanged } from '../message-changed.js';

/** A change a report made, with the report's update that made it. */
export interface AppliedUpdate extends MessageChanged {
  update: StatusUpdate;
}

/** Longest `error` a status update keeps (a code such as RADIO_OFF, or the SMSGate app's short text). */
export const STATUS_ERROR_MAX = 100;
/** Longest `at` read (an ISO 8601 time is 24 to 30 characters). */
export const STATUS_AT_MAX = 64;
const STATES: ReadonlySet<string> = new Set(['sent', 'delivered', 'failed']);
/** C0 and C1 control characters, NUL included: never part of an id, an error code or a time. */
export const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** Which part of a status update is unusable. */
export type StatusUpdateProblem = 'shape' | 'id' | 'state' | 'error' | 'at';

/**
 * What makes a status update unusable, or null. Checked before any SQL: a NUL byte or an odd id
 * in one update must not fail the statement that carries its neighbours. The id must be one SMX
 * made (`msg_` and 22 base64url characters), the state one of the protocol's three, `error` a
 * short string without control characters, `at` a short string (an unreadable time is replaced
 * by the receipt time later, see MessageTransitions).
 */
export function statusUpdateProblem(u: unknown): StatusUpdateProblem | null {
  if (typeof u !== 'object' || u === null || Array.isArray(u)) return 'shape';
  const { id, state, error, at } = u as Record<string, unknown>;
  if (!isId('msg', id)) return 'id';
  if (typeof state !== 'string' || !STATES.has(state)) return 'state';
  if (
    error !== undefined &&
    (typeof error !== 'string' || error.length > STATUS_ERROR_MAX || CONTROL_CHARS.test(error))
  )
    return 'error';
  if (at !== undefined && (typeof at !== 'string' || at.length > STATUS_AT_MAX)) return 'at';
  return null;
}

/** Counts per problem, for one log line (never the payload itself). */
export function countProblems(problems: Iterable<string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const p of problems) counts[p] = (counts[p] ?? 0) + 1;
  return counts;
}

/**
 * A database error without its SQL: knex puts the statement, values included, in `message`, and
 * PostgreSQL's `detail`/`where` can quote values too. This keeps the error code (SQLSTATE, or a
 * connection errno) and a fixed message. There is deliberately no `cause`: the logger prints
 * causes, and the cause is exactly what must not be printed.
 */
export class DatabaseFailure extends Error {
  override name = 'DatabaseFailure';
  readonly dbCode: string | null;

  constructor(what: string, error: unknown) {
    const raw = (error as { code?: unknown } | null)?.code;
    const dbCode = typeof raw === 'string' && /^[A-Z0-9_]{1,40}$/.test(raw) ? raw : null;
    super(`${what}: database error${dbCode ? ` ${dbCode}` : ''}`);
    this.dbCode = dbCode;
  }

  /** Data exceptions (SQLSTATE class 22) and constraint violations (23) fail the same way on every retry. */
  get permanent(): boolean {
    return this.dbCode !== null && /^2[23][0-9A-Z]{3}$/.test(this.dbCode);
  }

  /**
   * An error from the database driver (node-postgres and PGlite errors carry `severity` and a
   * SQLSTATE `code`; knex has prefixed its message with the statement) or knex's pool timeout.
   */
  static isDatabaseError(error: unknown): boolean {
    if (typeof error !== 'object' || error === null) return false;
    const e = error as { severity?: unknown; code?: unknown; name?: unknown };
    return (typeof e.severity === 'string' && typeof e.code === 'string') || e.name === 'KnexTimeoutError';
  }

  /** `error` as a DatabaseFailure (itself if it already is one). */
  static from(what: string, error: unknown): DatabaseFailure {
    return error instanceof DatabaseFailure ? error : new DatabaseFailure(what, error);
  }
}

/**
 * Group commit for phones' status reports. Reports that wait while earlier ones are being
 * written go out together in one statement, whichever phones made them: under load the `sent`
 * and `delivered` reports of the same messages usually share one write instead of two (a message
 * row is written once for both), and a fleet's phones share it too. Each report resolves only
 * after its group committed, with the messages its own updates moved. Unusable updates are
 * dropped before SQL; should a group's statement fail anyway, its reports are retried one by
 * one, so one bad report fails only itself.
 */
@injectable()
export class StatusReports {
  private readonly batcher = new MicroBatcher<DeviceReport, AppliedUpdate[]>({
    flush: (reports) => this.flush(reports),
    maxSize: 200,
    concurrency: 2,
  });

  constructor(
    private readonly transitions: MessageTransitions,
    @inject(TOKENS.Logger) private readonly log: Logger,
  ) {}

  /** Applies a device's report; rejects only with a {@link DatabaseFailure}. */
  apply(deviceId: string, updates: StatusUpdate[], receivedAt: Date): Promise<AppliedUpdate[]> {
    const problems: string[] = [];
    const usable = updates.filter((u) => {
      const problem = statusUpdateProblem(u);
      if (problem) problems.push(problem);
      return problem === null;
    });
    if (problems.length > 0)
      this.log.warn(
        { deviceId, dropped: problems.length, problems: countProblems(problems) },
        'status updates dropped: malformed',
      );
    if (usable.length === 0) return Promise.resolve([]);
    return this.batcher.add({ deviceId, updates: usable, receivedAt });
  }

  private async flush(reports: DeviceReport[]): Promise<Array<AppliedUpdate[] | Error>> {
    try {
      return await this.write(reports);
    } catch (error) {
      if (reports.length === 1) return [DatabaseFailure.from('status report not applied', error)];
      // Whatever failed the group (a bad value that got past the checks, a deadlock), the
      // others should not share its fate: each report alone.
      const results: Array<AppliedUpdate[] | Error> = [];
      for (const report of reports) {
        try {
          results.push((await this.write([report]))[0]!);
        } catch (alone) {
          results.push(DatabaseFailure.from('status report not applied', alone));
        }
      }
      return results;
    }
  }

  /** One statement for these reports; each change goes to the report that made it. */
  private async write(reports: DeviceReport[]): Promise<AppliedUpdate[][]> {
    const results: AppliedUpdate[][] = reports.map(() => []);
    for (const row of await this.transitions.reportedByDevices(reports)) {
      // The change belongs to the (last) report of its device whose update reached that status.
      const reached = (u: StatusUpdate) => u.id === row.id && u.state.toUpperCase() === row.status;
      const owner = reports.findLastIndex((r) => r.deviceId === row.deviceId && r.updates.some(reached));
      if (owner === -1) continue;
      results[owner]!.push({ ...row, update: reports[owner]!.updates.findLast(reached)! });
    }
    return results;
  }
}
