import { Redis, type RedisOptions } from 'ioredis';

/** A connection error that names the variable to fix; start-up prints it without a stack trace. */
export class RedisUnreachableError extends Error {
  override name = 'RedisUnreachableError';
}

/**
 * Opens a Redis connection and waits until it answers PING.
 * `maxRetriesPerRequest: null` is what BullMQ workers require; commands wait for a reconnect
 * instead of failing, and readiness checks use their own timeout.
 */
export async function connectRedis(url: string, options: RedisOptions = {}, timeoutMs = 5000): Promise<Redis> {
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    lazyConnect: true,
    enableAutoPipelining: true,
    ...options,
  });
  redis.on('error', () => {}); // reconnects are automatic; readiness and callers report failures
  try {
    await withTimeout(
      redis.connect().then(() => redis.ping()),
      timeoutMs,
    );
  } catch (error) {
    redis.disconnect();
    throw new RedisUnreachableError(
      `REDIS_URL: cannot reach Redis at ${redactUrl(url)} (${(error as Error).message})`,
      { cause: error },
    );
  }
  return redis;
}

/** Resolves with the promise, or rejects after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]);
}

/** The URL without its password, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '<invalid url>';
  }
}
