import type { Aedes, PublishPacket } from 'aedes';
import { deviceTopic, type ServerChannel } from '../protocol/index.js';
import type { DevicePublisher } from '../core/index.js';
import { KICK_TOPIC, kickPayload } from './bridge.js';

/**
 * Publishes in-process on an embedded Aedes broker (no network hop). A QoS 1 publish resolves
 * once aedes stored it for every persistent session subscribed to the topic (so an offline phone
 * gets it on reconnect) and handed it to the live subscribers.
 */
export class EmbeddedPublisher implements DevicePublisher {
  constructor(private readonly aedes: Aedes) {}

  publish(deviceId: string, channel: ServerChannel, payload: object): Promise<void> {
    return this.send(deviceTopic(deviceId, channel), Buffer.from(JSON.stringify(payload), 'utf8'), 1);
  }

  /**
   * Asks every broker node (this one included, and the others through the cluster emitter) to
   * close the device's connection; resolves when the request is published, not when it is done.
   */
  disconnect(deviceId: string): Promise<void> {
    return this.send(KICK_TOPIC, kickPayload(deviceId), 0);
  }

  ready(): boolean {
    return !this.aedes.closed;
  }

  private send(topic: string, payload: Buffer, qos: 0 | 1): Promise<void> {
    const packet: PublishPacket = { cmd: 'publish', topic, payload, qos, retain: false, dup: false };
    return new Promise((resolve, reject) => {
      if (this.aedes.closed) return reject(new Error('the embedded MQTT broker is closed'));
      this.aedes.publish(packet, (error) => (error ? reject(error) : resolve()));
    });
  }
}
