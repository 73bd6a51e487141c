/**
 * The one "wait until" of the tests: polls a check until it answers a truthy value, or fails
 * with what it was waiting for. Polls start fast (a state that is already there costs ~nothing)
 * and slow down to 50 ms, so a check that reads the database does not hammer it.
 *
 * Proving that something did NOT happen is not a job for a sleep: wait for a later event that
 * must come after it (a marker through the same path), or for the state in which it can no
 * longer happen, with this helper.
 */

/** What a check may answer while the condition does not hold yet. */
type NotYet = undefined | null | false | 0 | '';

/**
 * Polls `check` until it returns (or resolves to) a truthy value and resolves with that value;
 * rejects with "timed out waiting for `what`" once `timeoutMs` has passed. A throwing check fails
 * at once (a broken check should not look like a slow condition).
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<Exclude<T, NotYet>> {
  const deadline = Date.now() + timeoutMs;
  let pause = 5;
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, NotYet>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, 50);
  }
}
