/**
 * Raw mqtt.js clients for the e2e tests that must see the broker's answers themselves (CONNACK
 * refusals, SUBACK return codes, being disconnected) rather than through the reference device.
 */
import { subscribeCodes } from '../../broker/suback.js';
import type { ExecutionContext } from 'ava';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/** A CONNACK refusal as mqtt.js reports it: `code` is the return code (3.1.1: 4 bad user/password, 5 not authorized). */
export interface ConnackRefusal extends Error {
  code: number;
}

/**
 * Connects once (no reconnects) and resolves on CONNACK success; rejects with the refusal or the
 * network error otherwise. The client is ended at teardown of `t` either way.
 */
export function connectRaw(t: ExecutionContext, url: string, options: IClientOptions): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10_000, protocolVersion: 4, ...options });
  t.teardown(() => closeRaw(client));
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      client.off('connect', onConnect);
      reject(error);
    };
    const onConnect = () => {
      client.off('error', onError);
      resolve(client);
    };
    client.once('error', onError);
    client.once('connect', onConnect);
  });
}

/** Ends a client at once (also one that is already closed or never connected). */
export async function closeRaw(client: MqttClient): Promise<void> {
  await client.endAsync(true).catch(() => undefined);
}

/** Resolves when the client's connection closes (at once if it is already closed). */
export function closed(client: MqttClient): Promise<void> {
  if (client.disconnected || (!client.connected && !client.reconnecting)) return Promise.resolve();
  return new Promise((resolve) => client.once('close', () => resolve()));
}

/** The credentials of a linked device as raw-client options (device-protocol.md §2). */
export function deviceOptions(
  credentials: { mqtt: { clientId: string; username: string; password: string } },
  overrides: IClientOptions = {},
): IClientOptions {
  return {
    clientId: credentials.mqtt.clientId,
    username: credentials.mqtt.username,
    password: credentials.mqtt.password,
    clean: true,
    ...overrides,
  };
}

/** Subscribes and returns the SUBACK return codes in order (128 = refused). */
export function subscribeGrants(client: MqttClient, topics: string | string[], qos: 0 | 1 = 1): Promise<number[]> {
  return subscribeCodes(client, topics, qos);
}
