import type { IncomingMessage, ServerResponse } from 'node:http';
import { newId } from '../ids.js';

/**
 * Headers every answer carries (issue 10): the request id, `nosniff`, `no-store` on what can
 * hold a secret, and the framing and script policy of the two HTML pages (Swagger UI at /docs,
 * Bull Board at /admin/queues).
 */

/** An incoming `X-Request-Id` SMX keeps (a proxy's or client's trace id); anything else gets a new `req_` id. */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request id: the client's `X-Request-Id` when it is 1-128 of `[A-Za-z0-9._:-]`, else a new `req_…` id. */
export function requestIdOf(request: IncomingMessage): string {
  const sent = request.headers['x-request-id'];
  const value = Array.isArray(sent) ? sent[0] : sent;
  return value !== undefined && CLIENT_REQUEST_ID.test(value) ? value : newId('req');
}

/**
 * The UIs' own hashed, public assets may be cached; every other answer is `no-store`: API keys,
 * link tokens, webhook secrets, access tokens and OTP state are in /admin, /v1 and /compat
 * answers, and nothing else is worth a rule of its own.
 */
const CACHEABLE = [/^\/docs\/static\//, /^\/admin\/queues\/static\//];

/** Headers for every answer, set on the raw response so hijacked streams and framework errors carry them too. */
export function setBaseHeaders(res: ServerResponse, requestId: string, url: string | undefined): void {
  res.setHeader('x-request-id', requestId);
  res.setHeader('x-content-type-options', 'nosniff');
  const path = (url ?? '').split('?')[0]!;
  if (!CACHEABLE.some((pattern) => pattern.test(path))) res.setHeader('cache-control', 'no-store');
}

/**
 * The policy of SMX's HTML pages. Both load scripts only from their own origin (Bull Board's
 * `__UI_CONFIG__` is a JSON data block, which CSP does not treat as script); both style with
 * inline `style` attributes (hence `'unsafe-inline'` for styles only); Bull Board links IBM Plex
 * from Google Fonts. `connect-src` allows the public URL too: Swagger UI's "Try it out" calls the
 * OpenAPI `servers` URL, which behind a proxy may be another origin than the one the page came from.
 */
export function htmlSecurityPolicy(publicUrl: string | undefined): string {
  let publicOrigin = '';
  try {
    if (publicUrl) publicOrigin = ` ${new URL(publicUrl).origin}`;
  } catch {
    // Config validated it already; an unparsable one just is not added.
  }
  return [
    "default-src 'self'",
    "base-uri 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline' https://fonts.googleapis.com",
    "font-src 'self' data: https://fonts.gstatic.com",
    "img-src 'self' data:",
    `connect-src 'self'${publicOrigin}`,
  ].join('; ');
}

/** For an HTML answer: no framing anywhere (clickjacking) and the policy above. */
export function htmlHeaders(publicUrl: string | undefined): Record<string, string> {
  return { 'x-frame-options': 'DENY', 'content-security-policy': htmlSecurityPolicy(publicUrl) };
}
