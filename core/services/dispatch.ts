import { inject, injectable } from 'tsyringe';
import type { Logger } from '../logger.js';
import type { DevicePublisher } from '../publisher.js';
import type { Queues } from '../queues.js';
import { TOKENS } from '../tokens.js';
import { MessageService } from './messages.js';

/** The core's side of delivery: put accepted messages on the dispatch queue, or withdraw them. */
@injectable()
export class DispatchService {
  constructor(
    @inject(TOKENS.Queues) private readonly queues: Queues,
    @inject(TOKENS.DevicePublisher) private readonly publisher: DevicePublisher,
    @inject(TOKENS.Logger) private readonly log: Logger,
    private readonly messages: MessageService,
  ) {}

  /**
   * Enqueues one dispatch job per message. The job id is the message id, so enqueuing the same
   * message twice (a retry, the recovery sweep) never makes a second job while the first exists.
   */
  async enqueue(messageIds: string[], priority = 0): Promise<void> {
    if (messageIds.length === 0) return;
    await this.queues.dispatch.addBulk(
      messageIds.map((messageId) => ({ name: 'dispatch', data: { messageId }, opts: { jobId: messageId, ...(priority > 0 ? { priority } : {}) } })),
    );
  }

  /**
   * Withdraws a message that should no longer be sent: FAILED with `reason` unless already final,
   * and a `cancel` on the device's control topic in case the phone has it already.
   */
  async withdraw(messageId: string, reason: string): Promise<void> {
    const [message] = await this.messages.loadOutbound([messageId]);
    if (!message) return;
    const changed = await this.messages.markFailed([messageId], reason);
    if (changed > 0 && message.deviceId && message.status === 'DISPATCHED') {
      await this.publisher
        .publish(message.deviceId, 'control', { type: 'cancel', ids: [messageId] })
        .catch((error) => this.log.warn({ err: error, messageId }, 'cancel not published'));
    }
  }
}
