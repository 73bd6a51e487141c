import { injectable, inject } from '../di.js';
import type { Logger } from '../logger.js';
import { HookRunner } from '../hook-runner.js';
import { TOKENS } from '../tokens.js';
import { ChallengeRecords, toView, type VerificationRow } from './challenge-records.js';

/** What a notice needs: a row already read, or the ids to read it by. */
export type ChallengeRef = VerificationRow | { projectId: string; verificationId: string };

/**
 * Tells `onVerification` plugins that a challenge reached an end state (its `verification.*`
 * webhooks were written to the outbox with the change, see ChallengeRecords). Not awaited on
 * request paths (an observer must not slow or fail the API call); the view never holds the code.
 */
@injectable()
export class ChallengeNotices {
  constructor(
    private readonly records: ChallengeRecords,
    private readonly hooks: HookRunner,
    @inject(TOKENS.Logger) private readonly log: Logger,
  ) {}

  /** Never rejects. */
  ended(source: ChallengeRef): Promise<void> {
    if (!this.hooks.has('onVerification')) return Promise.resolve();
    const run = async () => {
      const view = toView('id' in source ? source : await this.records.row(source.projectId, source.verificationId));
      await this.hooks.notify('onVerification', view);
    };
    const [projectId, verificationId] =
      'id' in source ? [source.project_id, source.id] : [source.projectId, source.verificationId];
    return run().catch((error) =>
      this.log.warn({ err: error, projectId, verificationId }, 'onVerification: cannot read the verification'),
    );
  }
}
