import { createHmac, randomBytes } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the secret is `whsec_` + base64
 * of the key bytes; the signed content is `${webhook-id}.${webhook-timestamp}.${body}`; the
 * `webhook-signature` header is `v1,` + base64 of HMAC-SHA256 over it with the key.
 */
export const SECRET_PREFIX = 'whsec_';

/** A new signing secret: 32 random bytes. */
export function newSigningSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

/** The `webhook-signature` value for one attempt. `timestamp` is in whole seconds. */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** The three headers of a signed delivery; the id stays the same across retries, the timestamp is the attempt's. */
export function webhookHeaders(secret: string, id: string, body: string, now = new Date()): Record<string, string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signWebhook(secret, id, timestamp, body),
  };
}

// SMSGate's way (its app signs webhooks so; SMX's SMSGate 3rd-party surface does too).

/**
 * The signing key of a project's SMSGate webhooks, derived from its webhook callback secret
 * (core/webhooks: sealed, made on first use, rotated with `POST /admin/projects/:id/webhook-secret`).
 * Hex, so receivers can paste it as SMSGate's `webhooks.signing_key`.
 */
export function smsgateSigningKey(callbackSecret: string): string {
  return createHmac('sha256', callbackSecret).update('smx:smsgate-webhooks:v1').digest('hex');
}

/** `X-Signature`: hex HMAC-SHA256 keyed with the signing key (as UTF-8 text) over body + timestamp. */
export function signSmsGate(signingKey: string, body: string, timestamp: string): string {
  return createHmac('sha256', signingKey)
    .update(body + timestamp)
    .digest('hex');
}

/** The headers of one delivery attempt (`X-Timestamp` in Unix seconds, fresh on each attempt). */
export function smsgateHeaders(signingKey: string, body: string, now = new Date()): Record<string, string> {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  return { 'x-timestamp': timestamp, 'x-signature': signSmsGate(signingKey, body, timestamp) };
}
