import { injectable, inject } from '../di.js';
import type { Logger } from '../logger.js';
import type { VerificationView } from '../plugin-api.js';
import { HookRunner } from '../plugins/hook-runner.js';
import { TOKENS } from '../tokens.js';
import { WebhookEmitter } from '../webhooks/emitter.js';
import { WebhookEndpoints } from '../webhooks/endpoints.js';
import { ChallengeRecords, toView, type VerificationRow } from './challenge-records.js';

/** What a notice needs: a row already read, or the ids to read it by. */
export type ChallengeRef = VerificationRow | { projectId: string; verificationId: string; callbackUrl: string | null };

/**
 * Tells `onVerification` plugins and webhooks (`verification.*`, to the project's endpoints and
 * the challenge's callbackUrl) that a challenge reached an end state. Not awaited on request
 * paths (an observer must not slow or fail the API call); the view never holds the code.
 */
@injectable()
export class ChallengeNotices {
  constructor(
    private readonly records: ChallengeRecords,
    private readonly hooks: HookRunner,
    private readonly webhooks: WebhookEmitter,
    private readonly endpoints: WebhookEndpoints,
    @inject(TOKENS.Logger) private readonly log: Logger,
  ) {}

  /** Never rejects. */
  ended(source: ChallengeRef): Promise<void> {
    const projectId = 'id' in source ? source.project_id : source.projectId;
    const callbackUrl = 'id' in source ? source.callback_url : source.callbackUrl;
    const hooks = this.hooks.has('onVerification');
    const run = async () => {
      const listened = callbackUrl !== null || (await this.endpoints.subscribers(projectId)).length > 0;
      if (!hooks && !listened) return;
      const view: VerificationView = 'id' in source ? toView(source) : toView(await this.records.row(source.projectId, source.verificationId));
      if (hooks) await this.hooks.notify('onVerification', view);
      if (listened) await this.webhooks.emit(projectId, [{ type: `verification.${view.status.toLowerCase()}` as `verification.${'verified' | 'failed' | 'expired' | 'canceled'}`, data: view, callbackUrl }]);
    };
    const verificationId = 'id' in source ? source.id : source.verificationId;
    return run().catch((error) => this.log.warn({ err: error, projectId, verificationId }, 'onVerification: cannot read the verification'));
  }
}
