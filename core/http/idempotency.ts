import type { FastifyReply, FastifyRequest } from 'fastify';
import { apiError } from '../errors.js';
import { requestFingerprint, type IdempotencyService } from '../services/idempotency.js';
import { toApiError } from './error-handler.js';

export interface HandlerResult {
  status: number;
  body: unknown;
}

const PRINTABLE_ASCII = /^[\x20-\x7E]{1,255}$/;

/**
 * Runs a POST handler under the request's Idempotency-Key (spec/api.md "Idempotency"): a replay
 * returns the stored status and body with `Idempotent-Replayed: true`; a 5xx is not stored.
 */
export async function runIdempotent(
  service: IdempotencyService,
  projectId: string,
  request: FastifyRequest,
  reply: FastifyReply,
  handler: () => Promise<HandlerResult>,
): Promise<FastifyReply> {
  const header = request.headers['idempotency-key'];
  const key = Array.isArray(header) ? header[0] : header;
  if (key === undefined) {
    const result = await handler();
    return reply.status(result.status).send(result.body);
  }
  if (!PRINTABLE_ASCII.test(key)) {
    throw apiError('VALIDATION_FAILED', { details: [{ field: 'Idempotency-Key', message: 'Idempotency-Key must be 1-255 printable ASCII characters' }] });
  }
  const start = await service.begin(projectId, key, requestFingerprint(request.method, request.routeOptions.url ?? request.url, request.body));
  if (start.kind === 'replay') {
    return reply.header('idempotent-replayed', 'true').status(start.status).send(start.body);
  }
  let result: HandlerResult;
  try {
    result = await handler();
  } catch (error) {
    const apiErr = toApiError(error);
    await service.finish(projectId, key, apiErr.status, { success: false, error: apiErr.toJSON(), requestId: request.id });
    throw error;
  }
  await service.finish(projectId, key, result.status, result.body);
  return reply.status(result.status).send(result.body);
}
