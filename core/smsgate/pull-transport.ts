import type { PullTransport } from '../delivery/transports.js';
import { injectable } from '../di.js';
import { PresenceStore } from '../presence/store.js';
import { SmsGateEvents } from './events.js';

/**
 * SMSGate (capcom6/android-sms-gateway, private-server mode) pulls: the dispatcher only sends a
 * `MessageEnqueued` event on the phone's SSE stream; `GET /message` (SmsGateService.pull) takes
 * the messages under the device's pace and marks them DISPATCHED. The phone is online while an
 * API process holds its event stream (PresenceStore).
 */
@injectable()
export class SmsGatePullTransport implements PullTransport {
  readonly name = 'smsgate' as const;
  readonly mode = 'pull' as const;

  constructor(
    private readonly events: SmsGateEvents,
    private readonly presence: PresenceStore,
  ) {}

  async wake(deviceId: string): Promise<void> {
    await this.events.publish(deviceId, 'MessageEnqueued');
  }

  async isOnline(deviceId: string): Promise<boolean> {
    return (await this.presence.get(deviceId)).online;
  }

  /** One `MessageCancelled` per message: that is the event the app understands. */
  async cancel(deviceId: string, messageIds: string[]): Promise<void> {
    for (const messageId of messageIds) await this.events.publish(deviceId, 'MessageCancelled', { messageId });
  }

  async disconnect(deviceId: string): Promise<void> {
    await this.events.disconnect(deviceId);
  }
}
