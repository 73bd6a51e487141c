import { timingSafeEqual } from 'node:crypto';
import { hmac } from '../core/index.js';

/** MQTT user name of server-side components (API, workers, bridges); never a device id. */
export const INTERNAL_USERNAME = 'smx-internal';

/** Client ids internal clients must use, so one can never take over a device session (`dev_...`). */
export const INTERNAL_CLIENT_ID_PREFIX = 'smx-';

/** Credentials server-side MQTT clients present to the broker. */
export interface InternalCredentials {
  username: string;
  password: string;
}

/**
 * The internal credentials derived from the server secret: every process that shares
 * `SMX_SECRET` derives the same password, so nothing else has to be distributed.
 * password = HMAC-SHA256(secret, 'mqtt-internal'), hex.
 */
export function internalCredentials(secret: string): InternalCredentials {
  return { username: INTERNAL_USERNAME, password: hmac(secret, 'mqtt-internal') };
}

/**
 * True when `username`/`password` are the internal credentials. The password comparison is
 * constant-time over equal lengths (the expected length, 64 hex characters, is public anyway).
 */
export function isInternalCredential(
  secret: string,
  username: string | undefined,
  password: Buffer | string | undefined,
): boolean {
  if (username !== INTERNAL_USERNAME || password === undefined) return false;
  const given = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  const expected = Buffer.from(internalCredentials(secret).password, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
