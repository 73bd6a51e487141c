import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { apiError, type ErrorCode } from '../errors.js';
import type { HealthReport } from '../health.js';
import { requestIdOf } from './response-headers.js';

export interface OpsServerOptions {
  port: number;
  host: string;
  registry: Registry;
  /** Bearer token `/metrics` requires (the admin token, as on the API's `/metrics`). */
  adminToken: string;
  /** What this process depends on, each `up` or `down`. */
  ready: () => Promise<Partial<HealthReport>>;
}

export interface OpsServer {
  /** The bound port (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

/**
 * The operations listener (`SMX_METRICS_PORT`): `/health/live`, `/health/ready` and `/metrics`
 * on a port of their own, answered as the API answers them (same envelope, same admin token).
 * `smx worker` and `smx broker` serve no HTTP API, so this is how their counters are scraped
 * and how an orchestrator checks them; any role may run it. Plain `node:http`: three fixed
 * routes need no framework, and it stays up whatever the API is doing.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server = createServer((request, response) => {
    void answer(options, request, response).catch(() => {
      if (!response.headersSent) send(response, requestIdOf(request), 500, errorBody('INTERNAL', requestIdOf(request)));
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function answer(options: OpsServerOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const requestId = requestIdOf(request);
  const path = (request.url ?? '/').split('?')[0];
  if (request.method !== 'GET' && request.method !== 'HEAD')
    return send(response, requestId, 404, errorBody('NOT_FOUND', requestId));
  if (path === '/health/live') return send(response, requestId, 200, { success: true, data: { status: 'ok' } });
  if (path === '/health/ready') {
    const checks = await options.ready();
    const down = Object.entries(checks).filter(([, state]) => state === 'down');
    if (down.length === 0) return send(response, requestId, 200, { success: true, data: { status: 'ok', checks } });
    response.setHeader('retry-after', '5');
    return send(
      response,
      requestId,
      503,
      errorBody(
        'UNAVAILABLE',
        requestId,
        down.map(([field]) => ({ field, message: `${field} is unreachable` })),
      ),
    );
  }
  if (path === '/metrics') {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
    if (token === undefined || !sameSecret(token, options.adminToken)) {
      response.setHeader('www-authenticate', 'Bearer');
      return send(response, requestId, 401, errorBody('UNAUTHORIZED', requestId));
    }
    const text = await options.registry.metrics();
    response.writeHead(200, {
      'content-type': options.registry.contentType,
      'cache-control': 'no-store',
      'x-request-id': requestId,
    });
    response.end(request.method === 'HEAD' ? undefined : text);
    return;
  }
  return send(response, requestId, 404, errorBody('NOT_FOUND', requestId));
}

function errorBody(code: ErrorCode, requestId: string, details?: Array<{ field: string; message: string }>) {
  return { success: false, error: apiError(code, details ? { details } : {}).toJSON(), requestId };
}

function send(response: ServerResponse, requestId: string, status: number, body: unknown): void {
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'x-request-id': requestId,
  });
  response.end(JSON.stringify(body));
}

/** Constant-time equality of two strings of any length (hash both first). */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}
