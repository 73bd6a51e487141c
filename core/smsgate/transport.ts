import { inject, injectable } from '../di.js';
import type { Logger } from '../logger.js';
import type { Device, Transport } from '../services/devices.js';
import { TOKENS } from '../tokens.js';
import { SmsGateEvents } from './events.js';

/**
 * The device transport seam (issue 5). Routing, pacing, TTL/expiry and status handling are one
 * code path for every device; only "hand the messages to the phone" differs. The native MQTT
 * transport is the dispatcher's own push loop (workers/device-dispatcher.ts), used when no
 * transport is registered for a device's `transport`. A registered transport is called by the
 * dispatcher instead, for an online device with QUEUED messages, and returns a short job result.
 *
 * A third transport is one more module: implement this interface and register it in
 * {@link DeviceTransports}.
 */
export interface DeviceTransport {
  readonly name: Transport;
  handOver(device: Device): Promise<string>;
  /** Tells the phone not to send these messages (withdrawn, or re-routed to another phone). */
  cancel(deviceId: string, messageIds: string[]): Promise<void>;
  /** Drops the phone's connections (it was unlinked; its credentials are dead already). */
  disconnect(deviceId: string): Promise<void>;
}

/**
 * SMSGate (capcom6/android-sms-gateway, private-server mode) pulls: the dispatcher only sends a
 * `MessageEnqueued` event on the phone's SSE stream; `GET /message` (SmsGateService.pull) takes
 * the messages under the device's pace and marks them DISPATCHED.
 */
export class SmsGatePullTransport implements DeviceTransport {
  readonly name = 'smsgate' as const;

  constructor(private readonly events: SmsGateEvents) {}

  async handOver(device: Device): Promise<string> {
    await this.events.publish(device.id, 'MessageEnqueued');
    return 'smsgate: woken';
  }

  async disconnect(deviceId: string): Promise<void> {
    await this.events.disconnect(deviceId);
  }

  /** One `MessageCancelled` per message: that is the event the app understands. */
  async cancel(deviceId: string, messageIds: string[]): Promise<void> {
    for (const messageId of messageIds) await this.events.publish(deviceId, 'MessageCancelled', { messageId });
  }
}

/** The registered non-MQTT transports, by name. */
@injectable()
export class DeviceTransports {
  private readonly byName = new Map<string, DeviceTransport>();

  constructor(events: SmsGateEvents, @inject(TOKENS.Logger) private readonly log: Logger) {
    this.register(new SmsGatePullTransport(events));
  }

  register(transport: DeviceTransport): void {
    this.byName.set(transport.name, transport);
    this.log.debug({ transport: transport.name }, 'device transport registered');
  }

  get(name: string): DeviceTransport | undefined {
    return this.byName.get(name);
  }
}
