/**
 * A job that fails the same way on every retry (bad data, a refused target): the queue adapter
 * (workers/) ends it at once instead of retrying it. Its message is kept with the job, so it
 * must not hold SQL, payloads or secrets.
 */
export class PermanentFailure extends Error {
  override name = 'PermanentFailure';
}
