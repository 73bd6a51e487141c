import { inject, injectable } from '../di.js';
import type { Logger } from '../logger.js';
import type { TransportName } from '../services/devices.js';
import type { OutboundMessage } from '../services/messages.js';
import { TOKENS } from '../tokens.js';

export type { TransportName };

/**
 * The device transport seam. Routing, pacing, TTL/expiry and status handling are one code path
 * for every device; only "hand the messages to the phone" differs. A push transport (MQTT) gets
 * batches from the dispatcher, which reads, paces and marks them; a pull transport (SMSGate) is
 * only woken, and its phone fetches the messages itself (pacing and the DISPATCHED marks happen
 * on that fetch). A third transport is one more module registered in {@link DeviceTransports}.
 */
interface TransportBase {
  readonly name: TransportName;
  /** True while the phone can be reached (a live connection, or an open event stream). */
  isOnline(deviceId: string): Promise<boolean>;
  /** Tells the phone not to send these messages (withdrawn, or re-routed to another phone). Best effort. */
  cancel(deviceId: string, messageIds: string[]): Promise<void>;
  /** Tells the phone it was unlinked and drops its connections (its credentials are dead already). */
  disconnect(deviceId: string): Promise<void>;
}

export interface PushTransport extends TransportBase {
  readonly mode: 'push';
  /** Hands a batch to the phone; resolves once the broker (or the phone) took it. */
  publish(deviceId: string, batch: OutboundMessage[]): Promise<void>;
}

export interface PullTransport extends TransportBase {
  readonly mode: 'pull';
  /** Tells the phone there are messages to fetch. */
  wake(deviceId: string): Promise<void>;
}

export type DeviceTransport = PushTransport | PullTransport;

/** The device transports by name, as the composition root registers them (core/container.ts). */
@injectable()
export class DeviceTransports {
  private readonly byName = new Map<string, DeviceTransport>();

  constructor(@inject(TOKENS.Logger) private readonly log: Logger) {}

  register(transport: DeviceTransport): void {
    this.byName.set(transport.name, transport);
    this.log.debug({ transport: transport.name }, 'device transport registered');
  }

  /** The transport of a device; MQTT for a name nobody registered (the protocol every phone may speak). */
  of(device: { transport: string }): DeviceTransport {
    return this.byName.get(device.transport) ?? this.byName.get('mqtt')!;
  }
}
