/**
 * Errors that mean a dependency (Redis, PostgreSQL) is down, hung or saturated, not that the
 * request or the data is wrong: the client should retry later (503 UNAVAILABLE), and a batch that
 * failed with one must not be retried item by item (each item would wait for the same outage).
 */
const NETWORK_CODES = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH'];
/** PostgreSQL SQLSTATEs: admin/crash shutdown, cannot connect now, connection failures, too many connections. */
const POSTGRES_CODES = ['57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53300'];
const MESSAGES =
  /Connection is closed|Stream isn't writeable|Connection terminated|Command timed out|Connection ended unexpectedly|Client has encountered a connection error|timed out after \d+ ms/i;

export function isDependencyDown(error: unknown): boolean {
  const e = error as { code?: string; name?: string; message?: string; cause?: unknown } | undefined;
  if (!e) return false;
  if (NETWORK_CODES.includes(e.code ?? '') || POSTGRES_CODES.includes(e.code ?? '')) return true;
  if (e.name === 'KnexTimeoutError' || e.name === 'MaxRetriesPerRequestError' || e.name === 'DependencyTimeoutError')
    return true;
  if (MESSAGES.test(e.message ?? '')) return true;
  return e.cause !== undefined && e.cause !== error && isDependencyDown(e.cause);
}

/** A dependency did not answer within SMX_DEPENDENCY_TIMEOUT_MS. */
export class DependencyTimeoutError extends Error {
  override name = 'DependencyTimeoutError';
}

/** Resolves with `work`, or rejects with DependencyTimeoutError after `ms` (the work itself goes on). */
export function withinDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    work.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new DependencyTimeoutError(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}
