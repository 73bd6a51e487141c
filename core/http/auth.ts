import type { FastifyReply, FastifyRequest } from 'fastify';
import { timingSafeEqual, createHash } from 'node:crypto';
import { apiError } from '../errors.js';
import type { ApiKeyService } from '../services/api-keys.js';
import { sendError } from './error-handler.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the API-key guard on /v1 routes. */
    projectId?: string;
  }
}

/** A request header's (first) value. */
export function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The credential of `Authorization: Bearer <credential>`. */
export function bearer(request: FastifyRequest): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(header(request, 'authorization') ?? '')?.[1];
}

/** `X-SMX-API-Key`, or `Authorization: Bearer` as an alias. */
export function apiKeyGuard(keys: ApiKeyService, adminToken: string) {
  return async (request: FastifyRequest): Promise<void> => {
    const key = header(request, 'x-smx-api-key') ?? bearer(request);
    if (!key) throw apiError('UNAUTHORIZED', { message: 'Send your project API key in the X-SMX-API-Key header.' });
    const auth = await keys.authenticate(key.trim());
    if (auth) {
      request.projectId = auth.projectId;
      return;
    }
    // The admin token is a valid credential without rights here (as an API key is on /admin).
    if (sameSecret(key.trim(), adminToken))
      throw apiError('FORBIDDEN', { message: 'The admin token cannot use the project API; send a project API key.' });
    throw apiError('UNAUTHORIZED', { message: 'The API key is unknown or revoked.' });
  };
}

/** Constant-time equality of two strings of any length (hash both first). */
function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** The password of `Authorization: Basic` (any user name): how a browser sends the admin token. */
function basicPassword(request: FastifyRequest): string | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(request.headers.authorization ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

/** Under `prefix` (the path itself, or below it). */
function under(url: string, prefix: string): boolean {
  return url === prefix || url.startsWith(`${prefix}/`) || url.startsWith(`${prefix}?`);
}

/** Methods that change nothing (RFC 9110 §9.2.1): a browser may send them from anywhere. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * True when a browser says the request comes from a page of this server: `Sec-Fetch-Site:
 * same-origin` when sent, and an `Origin` (when sent) whose host is this request's host or the
 * public URL's. A request that sends neither is not trusted: every browser that caches Basic
 * credentials sends at least `Origin` on a non-GET.
 */
function sameOrigin(request: FastifyRequest, publicUrl: string | undefined): boolean {
  const site = header(request, 'sec-fetch-site');
  const origin = header(request, 'origin');
  if (site === undefined && origin === undefined) return false;
  if (site !== undefined && site !== 'same-origin') return false;
  if (origin === undefined) return true;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false;
  }
  const hosts = [request.host];
  try {
    if (publicUrl) hosts.push(new URL(publicUrl).host);
  } catch {
    // Config validated it; an unparsable one just is not a trusted origin.
  }
  return hosts.includes(host);
}

export interface AdminGuardOptions {
  /** Where browsers are served (Bull Board): Basic auth with the admin token as password is accepted there too. */
  browserPrefix?: string;
  /** SMX_PUBLIC_URL: its origin counts as this server's for the browser's write actions. */
  publicUrl?: string;
}

/**
 * `Authorization: Bearer <SMX_ADMIN_TOKEN>` for /admin, Bull Board and /metrics. Browsers cannot
 * send a bearer token, so under `browserPrefix` (Bull Board) Basic auth with the admin token as
 * password is accepted too, and a refusal asks the browser for it. A browser sends cached Basic
 * credentials with any request, also one another site's page makes (CSRF): Bull Board's write
 * actions (any method but GET/HEAD/OPTIONS) with Basic credentials need the browser to say they
 * come from this server's own page (Sec-Fetch-Site / Origin), else 403 FORBIDDEN; with the
 * bearer token they need nothing more. The refusal is sent here rather than thrown: Bull Board
 * installs its own error handler in its scope.
 */
export function adminGuard(adminToken: string, keys: ApiKeyService, options: AdminGuardOptions = {}) {
  const { browserPrefix, publicUrl } = options;
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | void> => {
    const forBrowser = browserPrefix !== undefined && under(request.url, browserPrefix);
    const bearerToken = bearer(request);
    const basicToken = bearerToken === undefined && forBrowser ? basicPassword(request) : undefined;
    const token = bearerToken ?? basicToken;
    if (!token || !sameSecret(token, adminToken)) {
      // A project API key is a valid credential without rights here: FORBIDDEN, not UNAUTHORIZED.
      const apiKey = bearerToken ?? header(request, 'x-smx-api-key');
      if (apiKey && (await keys.authenticate(apiKey.trim()))) {
        return sendError(
          request,
          reply,
          apiError('FORBIDDEN', { message: 'A project API key cannot use the admin API; send the admin token.' }),
        );
      }
      if (forBrowser)
        void reply.header('www-authenticate', 'Basic realm="SMX admin (password: the admin token)", charset="UTF-8"');
      return sendError(
        request,
        reply,
        apiError('UNAUTHORIZED', { message: 'Send the admin token as Authorization: Bearer <token>.' }),
      );
    }
    if (basicToken !== undefined && !SAFE_METHODS.has(request.method) && !sameOrigin(request, publicUrl)) {
      return sendError(
        request,
        reply,
        apiError('FORBIDDEN', {
          message:
            'Queue actions with browser (Basic) credentials must come from the SMX page itself; scripts send the admin token as Authorization: Bearer.',
        }),
      );
    }
  };
}

/** The project id a /v1 guard established (routes behind apiKeyGuard only). */
export function projectOf(request: FastifyRequest): string {
  if (!request.projectId) throw apiError('UNAUTHORIZED');
  return request.projectId;
}
