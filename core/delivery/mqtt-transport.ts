import type { OutboxItem } from '../../protocol/index.js';
import { inject, injectable } from '../di.js';
import { PresenceView } from '../presence/view.js';
import type { OutboundMessage } from '../services/messages.js';
import { TOKENS } from '../tokens.js';
import type { DevicePublisher } from './publisher.js';
import type { PushTransport } from './transports.js';

/** Messages per outbox publish (device-protocol.md §3: 1..100). */
export const MAX_PER_PUBLISH = 100;

/** The outbox payload item of device-protocol.md §3: a text's `body`, or a binary SMS's `data` and `port`. */
export function toOutboxItem(m: OutboundMessage): OutboxItem {
  const base = { id: m.id, to: m.to, simSlot: m.simSlot, expiresAt: m.expiresAt.toISOString(), priority: m.priority };
  return m.dataPort === null ? { ...base, body: m.body } : { ...base, data: m.body, port: m.dataPort };
}

/**
 * SMX's own device protocol: batches go to the phone's `outbox` topic at QoS 1 in payloads of up
 * to {@link MAX_PER_PUBLISH}, cancels and the unlink notice to its `control` topic. The phone is
 * online while the broker holds its connection (PresenceStore, read through the PresenceView).
 */
@injectable()
export class MqttTransport implements PushTransport {
  readonly name = 'mqtt' as const;
  readonly mode = 'push' as const;

  constructor(
    @inject(TOKENS.DevicePublisher) private readonly publisher: DevicePublisher,
    /** Read on every dispatch: the in-process view, told of each online/offline change at once. */
    private readonly presence: PresenceView,
  ) {}

  async publish(deviceId: string, batch: OutboundMessage[]): Promise<void> {
    // One payload after the other: the phone sees them in the dispatcher's order.
    for (let i = 0; i < batch.length; i += MAX_PER_PUBLISH) {
      await this.publisher.publish(deviceId, 'outbox', {
        messages: batch.slice(i, i + MAX_PER_PUBLISH).map(toOutboxItem),
      });
    }
  }

  async isOnline(deviceId: string): Promise<boolean> {
    return (await this.presence.get(deviceId)).online;
  }

  async cancel(deviceId: string, messageIds: string[]): Promise<void> {
    await this.publisher.publish(deviceId, 'control', { type: 'cancel', ids: messageIds });
  }

  async disconnect(deviceId: string): Promise<void> {
    // Each step on its own: a phone that misses the notice is still kicked.
    await this.publisher.publish(deviceId, 'control', { type: 'unlink' }).catch(() => undefined);
    await this.publisher.disconnect(deviceId);
  }
}
