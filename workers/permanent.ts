import { UnrecoverableError } from 'bullmq';
import { PermanentFailure } from '../core/index.js';

/** Runs a job's work; a {@link PermanentFailure} ends the job without the retries it would waste. */
export async function failPermanentlyOn<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof PermanentFailure) throw new UnrecoverableError(error.message);
    throw error;
  }
}
