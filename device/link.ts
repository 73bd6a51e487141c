/**
 * Linking (docs/device-protocol.md §1): read the QR payload, then `POST {server}/v1/devices/link`.
 */
import { DEVICE_CAPABILITIES, deviceTopics, type Channel, type LinkResult, type Sim } from '../protocol/index.js';
import { ApiError, apiUrl, callApi, isRecord } from './api-client.js';

/** What the link QR code encodes: `{"v":1,"server":"https://...","token":"lt_..."}`. */
export interface LinkPayload {
  v: 1;
  server: string;
  token: string;
}

/**
 * Parses the QR JSON. Pure: the CLI reads a file first when given a path.
 * Unknown fields are ignored; an unknown `v` is refused because its meaning may differ.
 * @throws Error with a message that says which field is wrong.
 */
export function parseLinkPayload(input: string): LinkPayload {
  let value: unknown;
  try {
    value = JSON.parse(input.trim());
  } catch (err) {
    throw new Error('Link payload is not JSON (expected {"v":1,"server":"...","token":"lt_..."})', { cause: err });
  }
  if (!isRecord(value)) throw new Error('Link payload must be a JSON object');
  if (value.v !== 1)
    throw new Error(`Unsupported link payload version ${JSON.stringify(value.v)} (this device speaks v1)`);
  const { server, token } = value;
  if (typeof server !== 'string' || !isHttpUrl(server)) throw new Error('Link payload "server" must be an http(s) URL');
  if (typeof token !== 'string' || token.length === 0)
    throw new Error('Link payload "token" must be a non-empty string');
  return { v: 1, server: server.replace(/\/+$/, ''), token };
}

export interface LinkDeviceOptions {
  /** Server base URL from the QR payload. */
  server: string;
  /** The single-use link token (`lt_...`). */
  token: string;
  /** Name shown to the operator. */
  name: string;
  model?: string;
  appVersion?: string;
  sims?: Sim[];
  /** What this device can do beyond texts. @defaultValue DEVICE_CAPABILITIES (the reference device sends binary SMS) */
  capabilities?: string[];
}

/**
 * Links this device: `POST {server}/v1/devices/link` (no API key) and returns the 201 `data`.
 * @throws {@link ApiError} with the envelope's `code` (a used, expired or unknown token is `UNAUTHORIZED`),
 *   `NETWORK_ERROR` when the server does not answer, `BAD_RESPONSE` when the answer lacks credentials.
 */
export async function linkDevice(options: LinkDeviceOptions): Promise<LinkResult> {
  const body: Record<string, unknown> = { token: options.token, name: options.name };
  if (options.model !== undefined) body.model = options.model;
  if (options.appVersion !== undefined) body.appVersion = options.appVersion;
  if (options.sims !== undefined) body.sims = options.sims;
  body.capabilities = options.capabilities ?? [...DEVICE_CAPABILITIES];
  const data = await callApi<unknown>(apiUrl(options.server, '/v1/devices/link'), { method: 'POST', body });
  try {
    return validateLinkResult(data);
  } catch (err) {
    throw new ApiError(
      'BAD_RESPONSE',
      `The server linked the device but its answer is incomplete: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/**
 * Checks that `value` has every field of a {@link LinkResult} and returns only those fields.
 * Used on the link answer and on a credentials file read back from disk.
 */
export function validateLinkResult(value: unknown): LinkResult {
  if (!isRecord(value)) throw new Error('link result must be an object');
  const { deviceId, projectId, mqtt } = value;
  if (typeof deviceId !== 'string' || !deviceId.startsWith('dev_')) throw new Error('"deviceId" must be a dev_ id');
  if (typeof projectId !== 'string' || projectId.length === 0) throw new Error('"projectId" must be a string');
  if (!isRecord(mqtt)) throw new Error('"mqtt" must be an object');
  for (const field of ['url', 'wsUrl', 'clientId', 'username', 'password'] as const) {
    // An empty wsUrl: the server offers no MQTT over WebSocket (an external broker, SMX_MQTT_URL).
    if (typeof mqtt[field] !== 'string' || (mqtt[field] === '' && field !== 'wsUrl'))
      throw new Error(`"mqtt.${field}" must be a non-empty string`);
  }
  // The topics are fixed by the protocol; the server's copy is checked, not trusted blindly.
  const expected = deviceTopics(deviceId);
  const topics = isRecord(value.topics) ? value.topics : {};
  for (const channel of Object.keys(expected) as Channel[]) {
    if (topics[channel] !== expected[channel]) throw new Error(`"topics.${channel}" must be ${expected[channel]}`);
  }
  const m = mqtt as Record<'url' | 'wsUrl' | 'clientId' | 'username' | 'password', string>;
  return {
    deviceId,
    projectId,
    mqtt: { url: m.url, wsUrl: m.wsUrl, clientId: m.clientId, username: m.username, password: m.password },
    topics: expected,
  };
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
