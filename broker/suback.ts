import { ErrorWithSubackPacket, type MqttClient } from 'mqtt';

/** The SUBACK return code of a refused subscription (MQTT 3.1.1 §3.9.3). */
export const SUBACK_FAILURE = 128;

/**
 * Subscribes and returns the SUBACK return codes, one per filter in order. mqtt.js rejects the
 * whole subscribe when any code is a failure; the codes are then read from the SUBACK it carries.
 */
export async function subscribeCodes(
  client: MqttClient,
  filters: string | string[],
  qos: 0 | 1 = 1,
): Promise<number[]> {
  const list = Array.isArray(filters) ? filters : [filters];
  try {
    const grants = await client.subscribeAsync(list, { qos });
    return list.map((filter) => grants.find((g) => g.topic === filter)?.qos ?? SUBACK_FAILURE);
  } catch (error) {
    if (error instanceof ErrorWithSubackPacket && Array.isArray(error.packet.granted))
      return error.packet.granted.map(Number);
    throw error;
  }
}
