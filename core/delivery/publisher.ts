import type { ServerChannel } from '../../protocol/index.js';

/**
 * How the core reaches a phone. The embedded broker publishes in-process; split deployments and
 * external brokers publish through an MQTT client with internal credentials (see broker/).
 * core/ depends only on this interface, never on the broker.
 */
export interface DevicePublisher {
  /** Publishes a JSON payload at QoS 1 to the device's `outbox` or `control` topic; resolves when the broker accepted it. */
  publish(deviceId: string, channel: ServerChannel, payload: object): Promise<void>;
  /** Drops the device's live connection, if any (after unlink). */
  disconnect(deviceId: string): Promise<void>;
  /** True while the publisher can reach the broker (readiness). */
  ready(): boolean;
}
