import type { MqttClient } from 'mqtt';

/**
 * Turns Nagle's algorithm off on an mqtt.js client's socket at each (re)connect: its publishes
 * are small and latency-bound, and must not wait for the ACK of the previous one. (A WebSocket
 * stream has no such switch; its underlying socket is left as it is.)
 */
export function noDelayOnConnect(client: MqttClient): MqttClient {
  client.on('connect', () => (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true));
  return client;
}
